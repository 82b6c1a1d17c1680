"""Judged-scorer orchestrators: a judge model asked about each answer, one value per row.

Each class stores its parameters under their own names, builds its scorer (a
:mod:`lmuq.scoring.judged` spec bound to its judge) and calls the scoring engine; the judge
calls go through the one draw path, batched across rows. Every scorer returns one value per
question, in question order: a judge call that fails, or a reply that cannot be read,
gives NaN on *its own row* with the reason kept in :class:`JudgedScore` (never a dropped or
shifted row).

* :class:`PTrueScorer` — P(True), Kadavath et al. 2022.
* :class:`VerbalizedConfidenceScorer` — stated confidence, Xiong et al. 2024.
* :class:`LLMJudge` — a judge model grades the answer (binary / ternary / continuous).
* :class:`LLMPanel` — several judges, aggregated (mean / median / min / max).

Each has ``score(questions, answers, samples=None) -> list[float]`` and
``score_details(...) -> list[JudgedScore]`` (value, reason, the judge's reply and prompt),
and async twins ``ascore`` / ``ascore_details`` that use the judge's ``agenerate`` when it
has one (otherwise the blocking ``generate`` runs in a worker thread).
"""

from __future__ import annotations

import math
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Literal

from lmuq.scoring.context import ScoringContext
from lmuq.scoring.engine import ascore, score
from lmuq.scoring.functional.llm_judge import JudgeScale, PanelAggregate
from lmuq.scoring.judged import (
    P_TRUE_PARAMS,
    JudgedScore,
    PTrueMethod,
    llm_judge_scorer,
    p_true_continuation,
    p_true_scorer,
    panel_scorer,
    verbalized_confidence_scorer,
)
from lmuq.scoring.spec import ScorerSpec
from lmuq.twins import async_twin
from lmuq.types import Generation, SampleSet, SamplingParams

__all__ = [
    "UQLM_TEMPLATES",
    "JudgedScore",
    "LLMJudge",
    "LLMPanel",
    "PTrueScorer",
    "VerbalizedConfidenceScorer",
    "judge_scale",
]


def _sample_sets(
    questions: Sequence[str],
    answers: Sequence[str],
    samples: Sequence[Sequence[str]] | None = None,
    references: Sequence[str] | None = None,
) -> list[SampleSet]:
    """Validated inputs as sample sets (one per question)."""
    if isinstance(questions, str) or isinstance(answers, str):
        raise TypeError("questions and answers must be lists of str, not a single str")
    questions, answers = list(questions), list(answers)
    if not questions:
        raise ValueError("questions is empty: pass at least one question")
    if len(questions) != len(answers):
        raise ValueError(
            f"questions has {len(questions)} items but answers has {len(answers)}; they must "
            "match one to one"
        )
    for what, texts in (("questions", questions), ("answers", answers)):
        for i, t in enumerate(texts):
            if not isinstance(t, str):
                raise TypeError(f"{what}[{i}] is a {type(t).__name__}, expected str")
    rows: list[list[str]] = [[] for _ in questions]
    if samples is not None:
        if isinstance(samples, str) or len(samples) != len(questions):
            raise ValueError("samples must be one list of str per question")
        for i, row in enumerate(samples):
            if isinstance(row, str) or not isinstance(row, Sequence):
                raise TypeError(f"samples[{i}] must be a list of str")
            rows[i] = list(row)
    refs: list[str | None] = [None] * len(questions)
    if references is not None:
        if isinstance(references, str) or len(references) != len(questions):
            raise ValueError("references must be one str per question")
        refs = list(references)
    return [
        SampleSet(q, Generation(a), [Generation(s) for s in row], reference=r)
        for q, a, row, r in zip(questions, answers, rows, refs, strict=True)
    ]


def _details(result: Any, name: str) -> list[JudgedScore]:
    return list(result.details[name])


def _warn_nan(details: Sequence[JudgedScore], who: str) -> None:
    bad = [(i, d.error) for i, d in enumerate(details) if math.isnan(d.value)]
    if bad:
        i, why = bad[0]
        warnings.warn(
            f"{who}: {len(bad)} of {len(details)} rows have no score (NaN); first, row {i}: "
            f"{why}. score_details() gives every reason.",
            RuntimeWarning,
            stacklevel=3,
        )


def _check_backend(backend: Any) -> Any:
    if not (
        callable(getattr(backend, "generate", None))
        or callable(getattr(backend, "agenerate", None))
    ):
        raise TypeError(
            f"backend must implement GenerationBackend (a generate method), got "
            f"{type(backend).__name__}"
        )
    return backend


class _Judged(ABC):
    """``score`` / ``score_details`` and their async twins over :meth:`spec`."""

    _who: str

    @abstractmethod
    def spec(self) -> ScorerSpec:
        """The judged scorer this object runs (bound to its judge and settings)."""

    def score_details(
        self,
        questions: Sequence[str],
        answers: Sequence[str],
        samples: Sequence[Sequence[str]] | None = None,
        references: Sequence[str] | None = None,
    ) -> list[JudgedScore]:
        """One :class:`JudgedScore` per question, in order."""
        spec = self.spec()
        sets = _sample_sets(questions, answers, samples, references)
        return _details(score(sets, [spec], ScoringContext(), on_error="nan"), spec.name)

    @async_twin(score_details)
    async def ascore_details(self, *args: Any, **kwargs: Any) -> list[JudgedScore]:
        """Async twin of :meth:`score_details` (same arguments, same rows)."""
        spec = self.spec()
        sets = _sample_sets(*args, **kwargs)
        result = await ascore(sets, [spec], ScoringContext(), on_error="nan")
        return _details(result, spec.name)

    def score(
        self,
        questions: Sequence[str],
        answers: Sequence[str],
        samples: Sequence[Sequence[str]] | None = None,
        references: Sequence[str] | None = None,
    ) -> list[float]:
        """Scores in [0, 1] per question; NaN (with a warning) where there is none."""
        details = self.score_details(questions, answers, samples, references)
        _warn_nan(details, self._who)
        return [d.value for d in details]

    @async_twin(score)
    async def ascore(self, *args: Any, **kwargs: Any) -> list[float]:
        """Async twin of :meth:`score` (same arguments, same behaviour)."""
        details = await self.ascore_details(*args, **kwargs)
        _warn_nan(details, self._who)
        return [d.value for d in details]


class VerbalizedConfidenceScorer(_Judged):
    """Ask the model how confident it is that the answer is correct (Xiong et al. 2024).

    The prompt and the reader are in :mod:`lmuq.scoring.functional.verbalized_confidence`
    ("Confidence: 0.8", "80%", "8/10", …). ``samples`` and ``references`` are accepted so
    every judged scorer has the same signature, and unused.

    Args:
        backend: any lmuq backend.
        params: decoding for the judge call; greedy, 32 new tokens by default.
    """

    _who = "VerbalizedConfidenceScorer"

    def __init__(self, backend: Any, params: SamplingParams | None = None) -> None:
        self.backend = _check_backend(backend)
        if params is not None and not isinstance(params, SamplingParams):
            raise TypeError(f"params must be SamplingParams, got {type(params).__name__}")
        self.params = params or SamplingParams(temperature=0.0, max_new_tokens=32)

    def spec(self) -> ScorerSpec:
        return verbalized_confidence_scorer(self.backend, params=self.params)


#: UQLM's judge template names and the lmuq scale each is.
UQLM_TEMPLATES: dict[str, JudgeScale] = {
    "true_false_uncertain": "ternary",
    "true_false": "binary",
    "continuous": "continuous",
    "likert": "likert",
}


def judge_scale(template: str) -> JudgeScale:
    """The scale of a UQLM judge template name (``"true_false_uncertain"`` → ternary,
    ``"true_false"`` → binary, ``"continuous"``, ``"likert"``) or of an lmuq scale name."""
    if template in UQLM_TEMPLATES:
        return UQLM_TEMPLATES[template]
    if template in ("binary", "ternary", "continuous", "likert"):
        return template  # type: ignore[return-value]
    raise ValueError(
        f"unknown judge scale or template {template!r}: choose from "
        f"{', '.join(UQLM_TEMPLATES)} (UQLM) or binary, ternary, continuous, likert"
    )


class LLMJudge(_Judged):
    """A judge model grades each answer (UQLM's ``LLMJudge``).

    Args:
        backend: the judge model: any lmuq backend, or a LangChain chat model (wrapped).
        scale: ``"ternary"`` (default, UQLM's correct = 1 / partially correct or uncertain =
            0.5 / incorrect = 0), ``"binary"`` (1 / 0), ``"continuous"`` (a score in
            [0, 1]) or ``"likert"`` (1–5 as (s − 1) / 4); UQLM's template names are
            accepted too (:func:`judge_scale`). Prompt:
            :func:`~lmuq.scoring.functional.llm_judge.judge_prompt`; reader:
            :func:`~lmuq.scoring.functional.llm_judge.parse_judge_output`.
        params: decoding for the judge call; greedy, 64 new tokens by default.
        explanations: ask for an explanation (``JudgedScore.explanation``).
        additional_context: text that opens every judge prompt (UQLM's).
        instruction / keywords_to_scores: a custom template (UQLM's custom judging
            templates and ``keywords_to_scores_dict``): the instruction replaces the
            scale's, and the verdict is the score of the keyword found in the reply.

    With ``references`` (one per question) the judge compares against the reference answer.
    ``samples`` is unused.
    """

    _who = "LLMJudge"

    def __init__(
        self,
        backend: Any,
        scale: JudgeScale | str = "ternary",
        params: SamplingParams | None = None,
        *,
        explanations: bool = False,
        additional_context: str | None = None,
        instruction: str | None = None,
        keywords_to_scores: Mapping[float, Sequence[str]] | None = None,
    ) -> None:
        judge_scale(scale)
        if params is not None and not isinstance(params, SamplingParams):
            raise TypeError(f"params must be SamplingParams, got {type(params).__name__}")
        from lmuq.backends.langchain import is_langchain_chat_model

        if is_langchain_chat_model(backend):
            from lmuq.backends.resolve import as_backend

            backend = as_backend(backend, owner="LLMJudge")
        self.backend = _check_backend(backend)
        self.scale = scale
        self.params = params or SamplingParams(temperature=0.0, max_new_tokens=64)
        self.explanations = explanations
        self.additional_context = additional_context
        self.instruction = instruction
        self.keywords_to_scores = keywords_to_scores
        self.spec()  # validates the options now

    def spec(self, name: str = "llm_judge") -> ScorerSpec:
        return llm_judge_scorer(
            self.backend,
            scale=judge_scale(self.scale),
            params=self.params,
            name=name,
            explanations=self.explanations,
            context=self.additional_context,
            instruction=self.instruction,
            keywords_to_scores=self.keywords_to_scores,
        )


class PTrueScorer(_Judged):
    """P(True) of Kadavath et al. 2022: the model's probability that its answer is true.

    The prompt (:func:`~lmuq.scoring.functional.p_true.p_true_prompt`) ends with "The
    possible answer is:" after the choices "(A) True / (B) False"; the confidence is
    p(A) / (p(A) + p(B)), computed in log space. With ``samples`` (one list per question)
    they are listed as brainstormed ideas, as in the paper.

    ``method``: ``"teacher_forced"`` — exact, for a backend with ``score_tokens`` and a
    ``tokenizer`` (e.g. :class:`~lmuq.backends.transformers.TransformersBackend`): the
    continuations ``true_option`` / ``false_option`` (default ``"A"`` / ``"B"``) are scored
    after the prompt (with a leading space when the text the model sees does not end in
    whitespace); ``"top_logprobs"`` — for any backend that records top-k log-probs with
    token ids: the first generated token's top-k, every top-k token whose text is an option
    counting for it; a missing option gets the smallest top-k log-prob
    (``topk_missing="bound"``, default) or probability zero (``"zero"``); a row with
    neither option in the top-k is NaN with the reason. Token ids become text by
    ``decode`` (default: the backend's ``tokenizer.decode``). ``"auto"`` (default) —
    teacher-forced when the backend can, else top-k.
    """

    _who = "PTrueScorer"

    def __init__(
        self,
        backend: Any,
        *,
        method: PTrueMethod = "auto",
        true_option: str = "A",
        false_option: str = "B",
        decode: Callable[[int], str] | None = None,
        topk_missing: Literal["bound", "zero"] = "bound",
        params: SamplingParams | None = None,
    ) -> None:
        can_force = callable(getattr(backend, "score_tokens", None)) and hasattr(
            backend, "tokenizer"
        )
        if method == "auto":
            method = "teacher_forced" if can_force else "top_logprobs"
        if method in ("top_logprobs", "first_token"):
            _check_backend(backend)
        self.backend = backend
        self.method: PTrueMethod = method
        self.true_option = true_option.strip() if isinstance(true_option, str) else true_option
        self.false_option = false_option.strip() if isinstance(false_option, str) else false_option
        self.decode = decode
        self.topk_missing = topk_missing
        self.params = params or P_TRUE_PARAMS
        self.spec()  # validates the options now

    def spec(self) -> ScorerSpec:
        return p_true_scorer(
            self.backend,
            method=self.method,
            true_option=self.true_option,
            false_option=self.false_option,
            decode=self.decode,
            topk_missing=self.topk_missing,
            params=self.params,
        )

    def continuation(self, prompt: str, option: str) -> str:
        """The continuation text scored for ``option`` after ``prompt`` (see the class doc)."""
        return p_true_continuation(self.backend, prompt, option)


Judge = LLMJudge | PTrueScorer | VerbalizedConfidenceScorer


class LLMPanel(_Judged):
    """A panel of judges whose scores are aggregated per question (UQLM's ``LLMPanel``).

    Args:
        judges: :class:`LLMJudge`, :class:`PTrueScorer` or
            :class:`VerbalizedConfidenceScorer` instances, or backends (each wrapped as
            ``LLMJudge(backend, scale=scale)``).
        aggregate: ``"mean"`` (default), ``"median"``, ``"min"`` or ``"max"`` of the judges
            that gave a score (:func:`~lmuq.scoring.functional.llm_judge.panel_aggregate`); a
            row where every judge failed is NaN, with each judge's reason.
        scale: the scale for judges given as backends.

    ``references`` go to the :class:`LLMJudge` members; ``samples`` to every member (only
    P(True) uses them). Each member's own row is in ``JudgedScore.judges``; the members'
    judge calls are batched together.
    """

    _who = "LLMPanel"

    def __init__(
        self,
        judges: Sequence[Any],
        aggregate: PanelAggregate = "mean",
        scale: JudgeScale = "ternary",
    ) -> None:
        if isinstance(judges, (str, bytes)) or not isinstance(judges, Sequence):
            raise TypeError("judges must be a list of judges or backends")
        if not judges:
            raise ValueError("judges is empty: a panel needs at least one judge")
        if aggregate not in ("mean", "median", "min", "max"):
            raise ValueError(f"aggregate must be mean, median, min or max, got {aggregate!r}")
        members: list[Judge] = []
        for i, j in enumerate(judges):
            if isinstance(j, (LLMJudge, PTrueScorer, VerbalizedConfidenceScorer)):
                members.append(j)
            elif callable(getattr(j, "generate", None)):
                members.append(LLMJudge(j, scale=scale))
            else:
                raise TypeError(f"judges[{i}] is a {type(j).__name__}: not a judge or backend")
        self.judges = members
        self.aggregate = aggregate
        self.scale = scale

    def spec(self) -> ScorerSpec:
        members = [replace(j.spec(), name=f"judge_{k + 1}") for k, j in enumerate(self.judges)]
        return panel_scorer(members, aggregate=self.aggregate)
