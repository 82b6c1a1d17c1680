"""The judged scorers: a model is asked about the answer, and its reply is read.

Each is a pure function of the sample set and the judge's statistics in the
:class:`~lmuq.scoring.context.ScoringContext` (replies drawn once per prompt, batched
across rows by the scoring engine); the prompts and readers are in
:mod:`lmuq.scoring.functional` (``p_true``, ``verbalized_confidence``, ``llm_judge``). A
reply that cannot be read gives NaN on *its own row*, with the reason in ``score_errors``
and a :class:`JudgedScore` in ``UQResult.details`` (never a dropped or shifted row).

* ``p_true`` — P(True), Kadavath et al. 2022;
* ``verbalized_confidence`` — the stated confidence, Xiong et al. 2024;
* ``llm_judge`` — a judge grades the answer (ternary by default, as UQLM);
* :func:`panel_scorer` — several judges, aggregated (Verga et al. 2024; UQLM's LLMPanel).

The registry's entries use the context's ``judge``; the factories (:func:`p_true_scorer`,
:func:`verbalized_confidence_scorer`, :func:`llm_judge_scorer`, :func:`panel_scorer`)
make scorers bound to their own judge and settings, under a name of your choice. Judges
decode greedily (temperature 0) by default, so a verdict is reproducible.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np

from lmuq.scoring.context import ScoringContext
from lmuq.scoring.functional.llm_judge import (
    JudgeScale,
    PanelAggregate,
    judge_prompt,
    keyword_score,
    panel_aggregate,
    parse_explanation,
    parse_judge_output,
)
from lmuq.scoring.functional.p_true import (
    p_true_from_first_token,
    p_true_from_logprobs,
    p_true_prompt,
)
from lmuq.scoring.functional.verbalized_confidence import (
    parse_verbalized_confidence,
    verbalized_confidence_prompt,
)
from lmuq.scoring.spec import ScorerSpec, ScoreValue
from lmuq.statistics.missing import MissingStatistics
from lmuq.types import Generation, SampleSet, SamplingParams

__all__ = [
    "JUDGED_SCORERS",
    "SPECS",
    "JudgedScore",
    "PTrueMethod",
    "llm_judge_scorer",
    "p_true_scorer",
    "panel_scorer",
    "verbalized_confidence_scorer",
]

PTrueMethod = Literal["auto", "teacher_forced", "top_logprobs", "first_token"]

VERBALIZED_PARAMS = SamplingParams(temperature=0.0, max_new_tokens=32)
JUDGE_PARAMS = SamplingParams(temperature=0.0, max_new_tokens=64)
P_TRUE_PARAMS = SamplingParams(temperature=0.0, max_new_tokens=1)


@dataclass(frozen=True)
class JudgedScore:
    """One row's judged score.

    Attributes:
        value: the confidence in [0, 1]; NaN when there is none.
        error: why ``value`` is NaN (the failed call's error, or the unreadable reply).
        output: the judge's reply text (``None`` for teacher-forced P(True)).
        prompt: the prompt sent to the judge (``None`` for a panel row).
        judges: a panel row's per-judge results, in judge order.
        explanation: the judge's stated reason, when it was asked for one.
    """

    value: float
    error: str | None = None
    output: str | None = None
    prompt: str | None = None
    judges: tuple[JudgedScore, ...] = ()
    explanation: str | None = None


def _value(score: JudgedScore) -> ScoreValue:
    return ScoreValue(score.value, detail=score, error=score.error)


def _ideas(ss: SampleSet) -> list[str] | None:
    """The samples that did not fail, as P(True)'s brainstormed ideas (None: no samples)."""
    ideas = [s.text for s in ss.samples if not s.failed]
    return ideas or None


# ----------------------------------------------------------------------- text judges


def _text_judge(
    scorer: str,
    prompt_of: Callable[[SampleSet], str],
    read: Callable[[str], float | None],
    judge: Any,
    params: SamplingParams,
    explain: Callable[[str], str | None] | None = None,
) -> Callable[[SampleSet, ScoringContext], ScoreValue]:
    def compute(ss: SampleSet, ctx: ScoringContext) -> ScoreValue:
        backend = ctx.judge_for(judge, scorer)
        prompt = prompt_of(ss)
        gen = ctx.judge_reply(backend, params, prompt)
        if gen.failed:
            return _value(
                JudgedScore(math.nan, f"judge call failed: {gen.error}", gen.text, prompt)
            )
        value = read(gen.text)
        why_not = explain(gen.text) if explain is not None else None
        if value is None:
            why = f"could not read a score from the reply {gen.text[:120]!r}"
            return _value(JudgedScore(math.nan, why, gen.text, prompt, explanation=why_not))
        return _value(JudgedScore(float(value), None, gen.text, prompt, explanation=why_not))

    return compute


def _spec(name: str, compute, needs, conf_map: str, ref: str, summary: str) -> ScorerSpec:
    return ScorerSpec(
        name=name,
        family="judged",
        needs=frozenset(needs),
        raw_direction="confidence",
        raw_range=(0.0, 1.0),
        raw_columns=(),
        compute=compute,
        confidence_map=conf_map,
        reference=ref,
        summary=summary,
    )


def verbalized_confidence_scorer(
    judge: Any = None,
    *,
    params: SamplingParams = VERBALIZED_PARAMS,
    name: str = "verbalized_confidence",
) -> ScorerSpec:
    """Ask the judge how confident it is that the answer is correct (Xiong et al. 2024).

    The prompt and the reader are in :mod:`lmuq.scoring.functional.verbalized_confidence`
    ("Confidence: 0.8", "80%", "8/10", …). ``judge=None``: the context's judge.
    """
    compute = _text_judge(
        name,
        lambda ss: verbalized_confidence_prompt(ss.prompt, ss.answer.text),
        parse_verbalized_confidence,
        judge,
        params,
    )
    return _spec(
        name,
        compute,
        {"answer", "judge"},
        "the probability stated in the reply to 'How likely is the answer to be correct?'",
        "Xiong et al. 2024 (verbalised confidence)",
        "The model's own stated confidence that the answer is correct.",
    )


def llm_judge_scorer(
    judge: Any = None,
    *,
    scale: JudgeScale = "ternary",
    params: SamplingParams = JUDGE_PARAMS,
    name: str = "llm_judge",
    explanations: bool = False,
    context: str | None = None,
    instruction: str | None = None,
    keywords_to_scores: Mapping[float, Sequence[str]] | None = None,
) -> ScorerSpec:
    """A judge grades the answer (UQLM's ``LLMJudge``): ``"ternary"`` (correct = 1,
    partially correct or uncertain = 0.5, incorrect = 0), ``"binary"``, ``"continuous"`` or
    ``"likert"`` (1–5, read as (s − 1) / 4). With a ``SampleSet.reference`` the judge
    compares against that reference answer.

    ``explanations`` asks for an ``Explanation:`` line, kept in ``JudgedScore.explanation``
    (the judge then gets at least 256 new tokens); ``context`` opens the prompt (UQLM's
    ``additional_context``). A custom template: ``instruction`` replaces the scale's
    instruction and ``keywords_to_scores`` (UQLM's ``keywords_to_scores_dict``) reads the
    verdict (:func:`~lmuq.scoring.functional.llm_judge.keyword_score`)."""
    if scale not in ("binary", "ternary", "continuous", "likert"):
        raise ValueError(
            f"scale must be 'binary', 'ternary', 'continuous' or 'likert', got {scale!r}"
        )
    if keywords_to_scores is not None:
        if not isinstance(keywords_to_scores, Mapping) or not keywords_to_scores:
            raise TypeError("keywords_to_scores must be a non-empty mapping score -> keywords")
        for v, ks in keywords_to_scores.items():
            if not (isinstance(v, (int, float)) and 0 <= float(v) <= 1):
                raise ValueError(f"keywords_to_scores keys are scores in [0, 1], got {v!r}")
            if isinstance(ks, str) or not all(isinstance(k, str) and k.strip() for k in ks):
                raise TypeError(f"keywords_to_scores[{v!r}] must be a list of non-empty str")
    if instruction is not None and (not isinstance(instruction, str) or not instruction.strip()):
        raise ValueError("instruction must be a non-empty str")
    if explanations and params.max_new_tokens < 256:
        params = replace(params, max_new_tokens=256)

    def read(text: str) -> float | None:
        if keywords_to_scores is not None:
            return keyword_score(text, keywords_to_scores)
        verdict = text.split("Explanation:")[0] if explanations else text
        return parse_judge_output(verdict, scale)

    compute = _text_judge(
        name,
        lambda ss: judge_prompt(
            ss.prompt,
            ss.answer.text,
            reference=ss.reference,
            scale=scale,
            explanations=explanations,
            context=context,
            instruction=instruction,
        ),
        read,
        judge,
        params,
        parse_explanation if explanations else None,
    )
    return _spec(
        name,
        compute,
        {"answer", "judge"},
        "the judge's verdict: "
        + (
            "a custom template's keyword scores"
            if keywords_to_scores is not None
            else f"{scale}; correct 1, partially correct / uncertain 0.5, incorrect 0"
            if scale != "likert"
            else "likert 1..5 as (s − 1) / 4"
        ),
        "Bouchard & Chauhan 2025 (UQLM LLMJudge); Zheng et al. 2023 (LLM-as-a-judge)",
        "A judge model grades the answer.",
    )


# ----------------------------------------------------------------------- P(True)


def _can_force(backend: Any) -> bool:
    return callable(getattr(backend, "score_tokens", None)) and hasattr(backend, "tokenizer")


def p_true_continuation(backend: Any, prompt: str, option: str) -> str:
    """The continuation scored for ``option``: with a leading space when the text the model
    sees (after its chat template) does not end in whitespace, without one when it does."""
    fmt = getattr(backend, "format_prompt", None)
    seen = fmt(prompt) if callable(fmt) else prompt
    return option if (seen and seen[-1].isspace()) else " " + option


def _decoder(backend: Any, decode: Callable[[int], str] | None) -> Callable[[int], str] | None:
    if decode is not None:
        return decode
    tok = getattr(backend, "tokenizer", None)
    if tok is not None and callable(getattr(tok, "decode", None)):
        return lambda i: tok.decode([int(i)])
    return None


def _topk_p_true(
    gen: Generation,
    prompt: str,
    decode: Callable[[int], str] | None,
    true_option: str,
    false_option: str,
    topk_missing: str,
) -> JudgedScore:
    if gen.failed:
        return JudgedScore(math.nan, f"judge call failed: {gen.error}", gen.text, prompt)
    if gen.top_logprobs is None or gen.top_token_ids is None or gen.top_logprobs.size == 0:
        why = "the backend returned no top-k log-probs with token ids for the first token"
        return JudgedScore(math.nan, why, gen.text, prompt)
    if decode is None:
        why = (
            "cannot turn top-k token ids into text: pass decode= or use a backend with a tokenizer"
        )
        return JudgedScore(math.nan, why, gen.text, prompt)
    merged: dict[str, float] = {}
    for tid, lp in zip(gen.top_token_ids[0], gen.top_logprobs[0], strict=True):
        text = decode(int(tid))
        prev = merged.get(text)
        merged[text] = float(lp) if prev is None else float(np.logaddexp(prev, float(lp)))
    bound = min(0.0, float(gen.top_logprobs[0].min())) if topk_missing == "bound" else None
    try:
        value = p_true_from_logprobs(
            merged,
            true_options=(true_option,),
            false_options=(false_option,),
            missing_logprob=bound,
        )
    except ValueError as exc:
        return JudgedScore(math.nan, f"top-k P(True) unavailable: {exc}", gen.text, prompt)
    return JudgedScore(value, None, gen.text, prompt)


def _first_token_p_true(
    gen: Generation, prompt: str, true_option: str, false_option: str
) -> JudgedScore:
    if gen.failed:
        return JudgedScore(math.nan, f"judge call failed: {gen.error}", gen.text, prompt)
    if gen.tokens is None or gen.logprobs is None or gen.num_tokens == 0:
        why = "the backend returned no token log-probs for the reply"
        return JudgedScore(math.nan, why, gen.text, prompt)
    try:
        value = p_true_from_first_token(
            gen.tokens[0],
            float(gen.logprobs[0]),
            true_options=(true_option,),
            false_options=(false_option,),
        )
    except ValueError as exc:
        return JudgedScore(math.nan, f"first-token P(True) unavailable: {exc}", gen.text, prompt)
    return JudgedScore(value, None, gen.text, prompt)


def _has_top_ids(gen: Generation) -> bool:
    return gen.top_token_ids is not None and gen.top_logprobs is not None


def p_true_scorer(
    judge: Any = None,
    *,
    method: PTrueMethod = "auto",
    true_option: str = "A",
    false_option: str = "B",
    decode: Callable[[int], str] | None = None,
    topk_missing: Literal["bound", "zero"] = "bound",
    params: SamplingParams = P_TRUE_PARAMS,
    name: str = "p_true",
    prompt: Callable[[str, str, Sequence[str] | None], str] | None = None,
) -> ScorerSpec:
    """P(True) of Kadavath et al. 2022: the model's probability that its answer is true.

    The prompt (:func:`~lmuq.scoring.functional.p_true.p_true_prompt`) lists the samples
    that did not fail as brainstormed ideas and ends with "The possible answer is:" after
    the choices "(A) True / (B) False"; the confidence is p(A) / (p(A) + p(B)), in log
    space (:func:`~lmuq.scoring.functional.p_true.p_true_from_logprobs`).

    ``method``: ``"teacher_forced"`` (exact; a local judge with ``score_tokens`` and a
    ``tokenizer``: log p(option) = Σ_t log p(token_t | prompt, tokens_<t)), ``"top_logprobs"``
    (any judge that records top-k log-probs with token ids: the first generated token's
    top-k, every token whose text is an option counting for it; a missing option gets the
    smallest top-k log-prob with ``topk_missing="bound"``, probability 0 with ``"zero"``),
    ``"first_token"`` (any judge that returns the reply's token log-probs, e.g. a chat API
    that gives no top-k token ids: p of the first generated token when it is the True
    option, 1 − p when it is the False option, see
    :func:`~lmuq.scoring.functional.p_true.p_true_from_first_token`), or ``"auto"``
    (teacher-forced when the judge can, else top-k when the reply has top-k token ids and a
    decoder is at hand, else first-token). ``prompt`` replaces the prompt builder
    ``(question, answer, samples) -> str`` (e.g.
    :func:`~lmuq.scoring.functional.p_true.p_true_prompt_uqlm` with options True / False).
    """
    if topk_missing not in ("bound", "zero"):
        raise ValueError(f"topk_missing must be 'bound' or 'zero', got {topk_missing!r}")
    if method not in ("auto", "teacher_forced", "top_logprobs", "first_token"):
        raise ValueError(
            "method must be 'auto', 'teacher_forced', 'top_logprobs' or 'first_token', got "
            f"{method!r}"
        )
    for what, opt in (("true_option", true_option), ("false_option", false_option)):
        if not isinstance(opt, str) or not opt.strip():
            raise ValueError(f"{what} must be a non-empty str, got {opt!r}")
    t_opt, f_opt = true_option.strip(), false_option.strip()
    if t_opt == f_opt:
        raise ValueError("true_option and false_option must differ")
    if judge is not None and method == "teacher_forced" and not _can_force(judge):
        raise TypeError(
            "method='teacher_forced' needs a backend with score_tokens() and a tokenizer "
            "(e.g. TransformersBackend); use method='top_logprobs'"
        )

    build = p_true_prompt if prompt is None else prompt
    if not callable(build):
        raise TypeError("prompt must be a callable (question, answer, samples) -> str")

    def compute(ss: SampleSet, ctx: ScoringContext) -> ScoreValue:
        backend = ctx.judge_for(judge, name)
        prompt = build(ss.prompt, ss.answer.text, _ideas(ss))
        forced = method == "teacher_forced" or (method == "auto" and _can_force(backend))
        if not forced:
            gen = ctx.judge_reply(backend, params, prompt)
            decoder = _decoder(backend, decode)
            first = method == "first_token" or (
                method == "auto" and not (gen.failed or (_has_top_ids(gen) and decoder))
            )
            if first:
                return _value(_first_token_p_true(gen, prompt, t_opt, f_opt))
            found = _topk_p_true(gen, prompt, decoder, t_opt, f_opt, topk_missing)
            return _value(found)
        if not _can_force(backend):
            raise TypeError(
                f"{name}: method='teacher_forced' needs a judge with score_tokens() and a "
                "tokenizer (e.g. TransformersBackend); use method='top_logprobs'"
            )
        texts = [p_true_continuation(backend, prompt, o) for o in (t_opt, f_opt)]
        missing, values = [], []
        for text in texts:
            try:
                values.append(ctx.forced_logprob(backend, prompt, text))
            except MissingStatistics as exc:
                missing.append(exc)
            except ValueError as exc:  # the judge failed on this prompt: its row only
                return _value(JudgedScore(math.nan, str(exc), None, prompt))
        if missing:
            raise MissingStatistics.merge(missing)
        try:
            value = p_true_from_logprobs(
                dict(zip(texts, values, strict=True)),
                true_options=(t_opt,),
                false_options=(f_opt,),
            )
        except ValueError as exc:
            return _value(JudgedScore(math.nan, f"{type(exc).__name__}: {exc}", None, prompt))
        return _value(JudgedScore(value, None, None, prompt))

    return _spec(
        name,
        compute,
        {"answer", "judge"},
        "p(A) / (p(A) + p(B)) after '(A) True / (B) False … The possible answer is:'",
        "Kadavath et al. 2022 (P(True))",
        "The model's probability that its own answer is true.",
    )


# ----------------------------------------------------------------------- panel


def panel_scorer(
    members: Sequence[ScorerSpec],
    *,
    aggregate: PanelAggregate = "mean",
    name: str = "llm_panel",
) -> ScorerSpec:
    """A panel of judged scorers aggregated per row: ``mean``, ``median``, ``min`` or
    ``max`` of the members that gave a score
    (:func:`~lmuq.scoring.functional.llm_judge.panel_aggregate`); a row where every member
    failed is NaN with each member's reason. Each member's row is in
    ``JudgedScore.judges``. All members' judge calls are batched together."""
    members = list(members)
    if not members:
        raise ValueError("a panel needs at least one judge")
    if aggregate not in ("mean", "median", "min", "max"):
        raise ValueError(f"aggregate must be mean, median, min or max, got {aggregate!r}")
    for m in members:
        if m.family != "judged":
            raise TypeError(f"panel members must be judged scorers, got {m.name} ({m.family})")

    def compute(ss: SampleSet, ctx: ScoringContext) -> ScoreValue:
        missing, rows = [], []
        for member in members:
            try:
                rows.append(member.compute(ss, ctx).detail)
            except MissingStatistics as exc:
                missing.append(exc)
        if missing:
            raise MissingStatistics.merge(missing)
        value = panel_aggregate([r.value for r in rows], aggregate)
        error = None
        if math.isnan(value):
            error = "every judge failed: " + "; ".join(
                f"judge {k}: {r.error}" for k, r in enumerate(rows)
            )
        return _value(JudgedScore(value, error, None, None, tuple(rows)))

    return _spec(
        name,
        compute,
        {"answer", "judge"},
        f"{aggregate} of the members' scores",
        "Verga et al. 2024 (panels of judges); UQLM LLMPanel",
        "Several judges' scores, aggregated.",
    )


SPECS = [p_true_scorer(), verbalized_confidence_scorer(), llm_judge_scorer()]
JUDGED_SCORERS: dict[str, ScorerSpec] = {s.name: s for s in SPECS}
