"""UQLM 0.6's long-form front doors on lmuq's core: ``LongTextUQ``, ``LongTextGraph``,
``LongTextQA``.

Each takes UQLM's constructor parameters with their meanings, so a UQLM long-form notebook
ports by changing its imports; ``generate_and_score`` and ``score`` are coroutines as in
UQLM (``*_sync`` twins run them from plain scripts). Underneath, ``LongTextUQ`` and
``LongTextGraph`` are one :class:`~lmuq.uq.longform.LongFormUQ` (``obj.uq``): every
decomposition of every row drawn in one call, every distinct (response, claim) NLI pair run
once, batched and cached; ``LongTextQA`` asks a question per claim and scores the answers
with lmuq's :class:`~lmuq.compat.uqlm.BlackBoxUQ`.

Scorer names are UQLM's (``"entailment"``, ``"closeness_centrality"``, …) and map onto the
registry's long-form scorers (:data:`LONGTEXT_SCORERS`, :data:`GRAPH_SCORER_NAMES`). The
result is a :class:`~lmuq.uq.longform.LongFormResult` whose columns carry UQLM's names:
``response``, ``sampled_responses``, ``prompt``, one column per scorer, ``claims_data``
(per row, one dict per claim keyed by the granularity — ``"claim"`` or ``"sentence"`` —
with ``removed``, each scorer's value and lmuq's character span ``start`` / ``end`` /
``span``), and with ``response_refinement`` the ``refined_response`` and
``refined_<scorer>`` columns.

Differences from UQLM, on purpose: ``LongTextGraph`` merges the claims of the answer and
its samples by normalised text (no LLM call; UQLM asks the decomposition LLM to
deduplicate), and accepts ``granularity="sentence"`` (keyword-only) so it runs with no
decomposition model; ``nli_llm`` may be any lmuq backend or LangChain model
(:class:`~lmuq.statistics.llm_nli.LLMNLI`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from typing import Any, Literal

from lmuq.backends.sync import run_sync
from lmuq.compat.uqlm import BlackBoxUQ
from lmuq.generation.draws import adraw
from lmuq.scoring.functional import claims as F
from lmuq.scoring.functional.claim_graph import CENTRALITIES
from lmuq.statistics.llm_nli import LLMNLI
from lmuq.statistics.shared import DEFAULT_NLI_MODEL
from lmuq.types import Generation, SampleSet, SamplingParams
from lmuq.uq.longform import LongFormResult, LongFormUQ

__all__ = [
    "GRAPH_SCORER_NAMES",
    "LONGTEXT_SCORERS",
    "LongTextGraph",
    "LongTextQA",
    "LongTextUQ",
    "claim_answer_prompt",
    "claim_question_prompt",
]

#: UQLM's LongTextUQ scorer names per mode -> lmuq's registered long-form scorers.
LONGTEXT_SCORERS: dict[str, dict[str, str]] = {
    "unit_response": {
        "entailment": "claim_entailment",
        "noncontradiction": "claim_noncontradiction",
        "contrasted_entailment": "claim_contrasted_entailment",
    },
    "matched_unit": {
        "entailment": "claim_entailment_matched",
        "noncontradiction": "claim_noncontradiction_matched",
        "contrasted_entailment": "claim_contrasted_entailment_matched",
        "bert_score": "claim_bert_score",
        "cosine_sim": "claim_cosine_sim",
    },
}
#: UQLM's LongTextGraph scorer names -> lmuq's registered graph scorers.
GRAPH_SCORER_NAMES: dict[str, str] = {m: f"claim_{m}" for m in CENTRALITIES}


def _backend(llm: Any, system_prompt: str | None, max_calls_per_min: int | None, use_n: bool):
    """An lmuq backend for a LangChain chat model (wrapped, never mutated) or an lmuq one."""
    if llm is None:
        return None
    from lmuq.backends.langchain import LangChainBackend, is_langchain_chat_model

    if is_langchain_chat_model(llm):
        return LangChainBackend(
            llm, system_prompt=system_prompt, max_calls_per_min=max_calls_per_min, use_n=use_n
        )
    if callable(getattr(llm, "generate", None)) or callable(getattr(llm, "agenerate", None)):
        return llm
    raise TypeError(f"expected a LangChain chat model or an lmuq backend, got {type(llm).__name__}")


def _check_scored(responses: Sequence[str], sampled: Sequence[Sequence[str]] | None) -> None:
    if isinstance(responses, str) or not isinstance(responses, Sequence) or not responses:
        raise TypeError("responses must be a non-empty list of str")
    if sampled is None:
        return
    if len(sampled) != len(responses):
        raise ValueError(
            f"responses has {len(responses)} items but sampled_responses has {len(sampled)}"
        )
    for i, s in enumerate(sampled):
        if isinstance(s, str) or not isinstance(s, Sequence) or not s:
            raise ValueError(f"sampled_responses[{i}] must be a non-empty list of str")


def _check_unit_settings(granularity: str, aggregation: str, response_refinement: bool) -> None:
    """The settings every long-form front door shares, checked with UQLM's messages."""
    if granularity not in ("claim", "sentence"):
        raise ValueError(f'Invalid granularity: {granularity}. Must be "sentence" or "claim"')
    if aggregation not in F.AGGREGATIONS:
        raise ValueError(f"aggregation must be 'mean' or 'min', got {aggregation!r}")
    if response_refinement and granularity != "claim":
        raise ValueError(
            "response_refinement needs granularity='claim' (as in UQLM): set "
            "granularity='claim' or response_refinement=False"
        )


class _LongTextBase:
    """What LongTextUQ and LongTextGraph share: generation, decomposition, UQLM names."""

    _kind = "LongTextUQ"
    #: the answers' and samples' token limit when generating (a LangChain model's own
    #: settings apply to it); set it on the object to change it.
    max_new_tokens = 256

    def _setup(
        self,
        *,
        llm: Any,
        granularity: str,
        names: dict[str, str],
        scorers: Sequence[str],
        aggregation: str,
        response_refinement: bool,
        claim_filtering_scorer: str | None,
        claim_decomposition_llm: Any,
        claim_decomposition_prompt: str | Callable[[str], str],
        nli_llm: Any,
        device: Any,
        nli_model_name: str | None,
        system_prompt: str | None,
        max_calls_per_min: int | None,
        sampling_temperature: float,
        use_n_param: bool,
        max_length: int,
        nli_model: Any,
        embedder: Any,
        bertscorer: Any,
        nli_batch_size: int,
        edge_threshold: float | None = None,
    ) -> None:
        unknown = [s for s in scorers if s not in names]
        if unknown:
            raise ValueError(f"Invalid scorers: {unknown}. Must be a subset of {list(names)}")
        if not scorers:
            raise ValueError("scorers is empty")
        _check_unit_settings(granularity, aggregation, response_refinement)
        if sampling_temperature <= 0:
            raise ValueError(f"sampling_temperature must be > 0, got {sampling_temperature}")
        if max_length < 1:
            raise ValueError(f"max_length must be >= 1, got {max_length}")
        self.llm = llm
        self.granularity = granularity
        self.scorers = list(scorers)
        self.aggregation = aggregation
        self.response_refinement = response_refinement
        # UQLM falls back to the first scorer when the filtering scorer is not one of them
        self.claim_filtering_scorer = claim_filtering_scorer
        self.uad_scorer = (
            claim_filtering_scorer if claim_filtering_scorer in self.scorers else self.scorers[0]
        )
        self.claim_decomposition_llm = claim_decomposition_llm
        self.claim_decomposition_prompt = claim_decomposition_prompt
        self.nli_llm = nli_llm
        self.device = device
        self.nli_model_name = nli_model_name
        self.system_prompt = system_prompt
        self.max_calls_per_min = max_calls_per_min
        self.sampling_temperature = sampling_temperature
        self.use_n_param = use_n_param
        self.max_length = max_length
        self.response_refinement_threshold: float | None = None
        self._names = {s: names[s] for s in self.scorers}
        self._generator = _backend(llm, system_prompt, max_calls_per_min, use_n_param)
        self._decomposer = (
            _backend(claim_decomposition_llm, system_prompt, max_calls_per_min, False)
            or self._generator
        )
        if granularity == "claim" and self._decomposer is None:
            raise ValueError(
                "granularity='claim' needs an LLM to extract claims: pass llm= or "
                "claim_decomposition_llm=, or use granularity='sentence' (no model)"
            )
        if nli_llm is not None:
            nli_model = LLMNLI(_backend(nli_llm, None, max_calls_per_min, False))
        extra = {} if edge_threshold is None else {"edge_threshold": edge_threshold}
        from lmuq.scoring.longform import claim_scorer

        specs = [
            claim_scorer(
                lm,
                granularity=granularity,  # type: ignore[arg-type]
                decomposer=self._decomposer,
                decomposition_prompt=claim_decomposition_prompt,
                aggregation=aggregation,  # type: ignore[arg-type]
                **extra,
            )
            for lm in self._names.values()
        ]
        #: lmuq's long-form orchestrator (its ``statistics`` hold the models and caches).
        self.uq = LongFormUQ(
            specs,
            granularity=granularity,  # type: ignore[arg-type]
            decomposer=self._decomposer,
            decomposition_prompt=claim_decomposition_prompt,
            aggregation=aggregation,  # type: ignore[arg-type]
            nli_model_name=nli_model_name,
            nli_model=nli_model,
            embedder=embedder,
            bertscorer=bertscorer,
            device=device,
            nli_batch_size=nli_batch_size,
            refine_scorer=self._names[self.uad_scorer],
            refiner=self._decomposer if self._decomposer is not None else "auto",
        )

    @property
    def statistics(self):
        """The models and caches behind the scores."""
        return self.uq.statistics

    # ------------------------------------------------------------------ scoring

    async def score(
        self,
        responses: Sequence[str],
        sampled_responses: Sequence[Sequence[str]],
        response_refinement_threshold: float = 1 / 3,
        show_progress_bars: bool = True,
    ) -> LongFormResult:
        """Score responses generated elsewhere (UQLM's ``score``)."""
        _check_scored(responses, sampled_responses)
        sets = [
            SampleSet("", Generation(r), [Generation(s) for s in sampled_responses[i]])
            for i, r in enumerate(responses)
        ]
        return await self._score_sets(sets, response_refinement_threshold, has_prompts=False)

    def score_sync(
        self,
        responses: Sequence[str],
        sampled_responses: Sequence[Sequence[str]],
        response_refinement_threshold: float = 1 / 3,
        show_progress_bars: bool = True,
    ) -> LongFormResult:
        """Synchronous twin of :meth:`score`."""
        return run_sync(
            lambda: self.score(
                responses, sampled_responses, response_refinement_threshold, show_progress_bars
            )
        )

    async def generate_and_score(
        self,
        prompts: Sequence[str],
        num_responses: int = 5,
        response_refinement_threshold: float = 1 / 3,
        show_progress_bars: bool = True,
    ) -> LongFormResult:
        """Generate an answer and ``num_responses`` samples per prompt, then score them."""
        if self._generator is None:
            raise ValueError(f"no llm given: pass llm= to {self._kind}, or use score()")
        if not isinstance(num_responses, int) or num_responses < 1:
            raise ValueError(f"num_responses must be an int >= 1, got {num_responses!r}")
        temp = getattr(self.llm, "temperature", None)
        answer = SamplingParams(
            temperature=float(temp) if temp is not None else 0.0,
            max_new_tokens=self.max_new_tokens,
        )
        sample = SamplingParams(
            temperature=self.sampling_temperature, max_new_tokens=self.max_new_tokens
        )
        sets = await adraw(
            self._generator,
            list(prompts),
            num_responses,
            answer_params=answer,
            sample_params=sample,
            progress=show_progress_bars,
        )
        return await self._score_sets(sets, response_refinement_threshold, has_prompts=True)

    def generate_and_score_sync(
        self,
        prompts: Sequence[str],
        num_responses: int = 5,
        response_refinement_threshold: float = 1 / 3,
        show_progress_bars: bool = True,
    ) -> LongFormResult:
        """Synchronous twin of :meth:`generate_and_score`."""
        return run_sync(
            lambda: self.generate_and_score(
                prompts, num_responses, response_refinement_threshold, show_progress_bars
            )
        )

    def _truncate(self, ss: SampleSet) -> SampleSet:
        def cut(g: Generation) -> Generation:
            return g if g.failed else g.with_text(g.text[: self.max_length])

        return SampleSet(
            ss.prompt,
            cut(ss.answer),
            [cut(s) for s in ss.samples],
            dict(ss.params),
            ss.reference,
            list(ss.context),
        )

    async def _score_sets(
        self, sets: list[SampleSet], threshold: float, has_prompts: bool
    ) -> LongFormResult:
        sets = [self._truncate(ss) for ss in sets]
        result = await self.uq.ascore(sets)
        if self.response_refinement:
            self.response_refinement_threshold = threshold
            result = await self.uq.arefine(result, threshold=threshold)
        return self._uqlm_view(result, has_prompts, len(sets[0].samples) if sets else 0)

    def _uqlm_view(self, result: LongFormResult, has_prompts: bool, m: int) -> LongFormResult:
        back = {lm: name for name, lm in self._names.items()}
        columns: dict[str, list[Any]] = {}
        for key, values in result.columns.items():
            if key == "prompt" and not has_prompts:
                continue
            if key.startswith("refined_") and key[8:] in back:
                key = "refined_" + back[key[8:]]
            columns[back.get(key, key)] = values
        columns["claims_data"] = [
            [self._claim_view(c, back) for c in claims] for claims in result.columns["claims_data"]
        ]
        metadata = {
            **result.metadata,
            "granularity": self.granularity,
            "aggregation": self.aggregation,
            "temperature": getattr(self.llm, "temperature", None),
            "sampling_temperature": self.sampling_temperature,
            "num_responses": m,
            "response_refinement_threshold": self.response_refinement_threshold,
        }
        raw = {back.get(k, k): v for k, v in result.raw_columns.items()}
        details = {back.get(k, k): v for k, v in result.details.items()}
        return LongFormResult(
            columns=columns,
            scorers=list(self.scorers),
            sample_sets=result.sample_sets,
            metadata=metadata,
            raw_columns=raw,
            details=details,
            granularity=self.granularity,
            claim_scorers=list(self.scorers),
        )

    def _claim_view(self, claim: dict[str, Any], back: dict[str, str]) -> dict[str, Any]:
        out: dict[str, Any] = {self.granularity: claim["claim"], "removed": claim["removed"]}
        for lm, name in back.items():
            out[name] = claim.get(lm, math.nan)
        out.update(start=claim["start"], end=claim["end"], span=claim["span"])
        return out


class LongTextUQ(_LongTextBase):
    """Long-text UQ (LUQ, Zhang et al. 2024, arXiv:2403.20279; UQLM's ``LongTextUQ``).

    Each unit s of the answer (a claim, or a sentence) gets a confidence from the m sampled
    responses; ``mode="unit_response"`` compares s with each whole sample,
    c(s) = (1/m) Σ_j f(ỹ_j, s), and ``mode="matched_unit"`` with the best-matching unit
    of each sample, c(s) = (1/m) Σ_j max_{u ∈ U_j} f(u, s), f among entailment
    (p_e), noncontradiction (1 − p_c), contrasted entailment (p_e/(p_e + p_c)) and, for
    matched units, cosine similarity and BERTScore. The response's score is the mean or
    the minimum over its units. Formulas: :mod:`lmuq.scoring.functional.claims`.

    UQLM's parameters, same meanings; lmuq's (keyword-only): ``nli_model`` / ``embedder``
    / ``bertscorer`` (ready objects, e.g. a test double or a loaded model) and
    ``nli_batch_size``.
    """

    def __init__(
        self,
        llm: Any = None,
        granularity: Literal["claim", "sentence"] = "claim",
        mode: Literal["unit_response", "matched_unit"] = "unit_response",
        scorers: Sequence[str] | None = None,
        aggregation: Literal["mean", "min"] = "mean",
        response_refinement: bool = False,
        claim_filtering_scorer: str | None = None,
        claim_decomposition_llm: Any = None,
        claim_decomposition_prompt: str | Callable[[str], str] = "zhang_2025",
        nli_llm: Any = None,
        device: Any = None,
        nli_model_name: str | None = DEFAULT_NLI_MODEL,
        system_prompt: str | None = "You are a helpful assistant.",
        max_calls_per_min: int | None = None,
        sampling_temperature: float = 1.0,
        use_n_param: bool = False,
        max_length: int = 2000,
        *,
        nli_model: Any = None,
        embedder: Any = None,
        bertscorer: Any = None,
        nli_batch_size: int = 32,
    ) -> None:
        if mode not in LONGTEXT_SCORERS:
            raise ValueError(
                f'Invalid mode: {mode}. Must be one of "unit_response", "matched_unit"'
            )
        self.mode = mode
        self._setup(
            llm=llm,
            granularity=granularity,
            names=LONGTEXT_SCORERS[mode],
            scorers=["entailment"] if not scorers else list(scorers),
            aggregation=aggregation,
            response_refinement=response_refinement,
            claim_filtering_scorer=claim_filtering_scorer,
            claim_decomposition_llm=claim_decomposition_llm,
            claim_decomposition_prompt=claim_decomposition_prompt,
            nli_llm=nli_llm,
            device=device,
            nli_model_name=nli_model_name,
            system_prompt=system_prompt,
            max_calls_per_min=max_calls_per_min,
            sampling_temperature=sampling_temperature,
            use_n_param=use_n_param,
            max_length=max_length,
            nli_model=nli_model,
            embedder=embedder,
            bertscorer=bertscorer,
            nli_batch_size=nli_batch_size,
        )

    def _uqlm_view(self, result: LongFormResult, has_prompts: bool, m: int) -> LongFormResult:
        out = super()._uqlm_view(result, has_prompts, m)
        out.metadata["mode"] = self.mode
        return out


class LongTextGraph(_LongTextBase):
    """Graph-based long-form UQ (Jiang et al. 2024, arXiv:2410.20783; UQLM's
    ``LongTextGraph``).

    The answer and its samples (m responses in all) are split into claims; their distinct
    claims and the responses form a bipartite graph with an edge where p_e(y_j ⊨ s) ≥
    ``edge_threshold`` (0.5), weighted by p_e. Each claim's confidence is a centrality —
    degree, betweenness, closeness, PageRank, Laplacian or harmonic (formulas in
    :mod:`lmuq.scoring.functional.claim_graph`) — and the response's score aggregates
    the centralities of the answer's own claims. ``claims_data`` lists every graph claim,
    ``original_response`` saying whether it is the answer's.

    UQLM's parameters, same meanings; lmuq's (keyword-only): ``granularity`` (``"claim"``,
    UQLM's only choice, or ``"sentence"``: no decomposition model), ``edge_threshold``,
    ``nli_model``, ``nli_batch_size``.
    """

    _kind = "LongTextGraph"

    def __init__(
        self,
        llm: Any = None,
        scorers: Sequence[str] | None = None,
        aggregation: Literal["mean", "min"] = "mean",
        response_refinement: bool = False,
        claim_decomposition_llm: Any = None,
        claim_decomposition_prompt: str | Callable[[str], str] = "zhang_2025",
        nli_llm: Any = None,
        claim_filtering_scorer: str | None = None,
        device: Any = None,
        nli_model_name: str | None = DEFAULT_NLI_MODEL,
        system_prompt: str | None = "You are a helpful assistant.",
        max_calls_per_min: int | None = None,
        sampling_temperature: float = 1.0,
        use_n_param: bool = False,
        max_length: int = 2000,
        *,
        granularity: Literal["claim", "sentence"] = "claim",
        edge_threshold: float = 0.5,
        nli_model: Any = None,
        nli_batch_size: int = 32,
    ) -> None:
        self.edge_threshold = edge_threshold
        self._setup(
            llm=llm,
            granularity=granularity,
            names=GRAPH_SCORER_NAMES,
            scorers=["closeness_centrality"] if not scorers else list(scorers),
            aggregation=aggregation,
            response_refinement=response_refinement,
            claim_filtering_scorer=claim_filtering_scorer,
            claim_decomposition_llm=claim_decomposition_llm,
            claim_decomposition_prompt=claim_decomposition_prompt,
            nli_llm=nli_llm,
            device=device,
            nli_model_name=nli_model_name,
            system_prompt=system_prompt,
            max_calls_per_min=max_calls_per_min,
            sampling_temperature=sampling_temperature,
            use_n_param=use_n_param,
            max_length=max_length,
            nli_model=nli_model,
            embedder=None,
            bertscorer=None,
            nli_batch_size=nli_batch_size,
            edge_threshold=edge_threshold,
        )

    def _claim_view(self, claim: dict[str, Any], back: dict[str, str]) -> dict[str, Any]:
        out = super()._claim_view(claim, back)
        out["claim"] = out.pop(self.granularity)  # UQLM's graph rows say "claim" always
        out["original_response"] = claim["origin"] == "response"
        return out


# --------------------------------------------------------------------------- claim QA


def claim_question_prompt(claim: str, num_questions: int = 1) -> str:
    """Ask for questions whose answer is ``claim`` (Farquhar et al. 2024's claim-to-question
    step), one per line."""
    many = "a question" if num_questions == 1 else f"{num_questions} different questions"
    return (
        f"Write {many} to which the following statement is the answer. The question must "
        "be answerable on its own, without the statement. Reply with only the question"
        + ("" if num_questions == 1 else "s, one per line")
        + f".\n\nStatement: {claim}"
    )


def claim_answer_prompt(question: str, original_question: str | None = None) -> str:
    """The prompt a claim's question is asked with (the user's question as background)."""
    if original_question:
        return (
            f"Background question: {original_question}\n\nAnswer this question briefly, "
            f"in one sentence: {question}"
        )
    return f"Answer this question briefly, in one sentence: {question}"


def _questions(reply: Generation | None, claim: str, k: int) -> list[str]:
    """The first ``k`` question lines of a reply (numbering stripped); the claim itself
    turned into a yes/no question when the reply has none."""
    lines = []
    if reply is not None and not reply.failed:
        for line in reply.text.splitlines():
            line = re.sub(r"^\s*(?:[-*•]|\d+[.)])\s*", "", line).strip()
            if line:
                lines.append(line)
    if not lines:
        lines = [f"Is it true that {claim.rstrip('.')}?"]
    return lines[:k]


class LongTextQA:
    """Claim-QA long-form UQ (adapted from Farquhar et al. 2024, Nature 630; UQLM's
    ``LongTextQA``).

    The answer is split into units; for each unit s an LLM writes ``num_questions``
    questions that s answers, the model answers each question once plus
    ``num_claim_qa_responses`` samples, and a black-box scorer g (any of
    :class:`~lmuq.compat.uqlm.BlackBoxUQ`'s, default semantic negentropy) measures their
    consistency: c(s) = mean over s's questions of g(answer, samples). The response's score
    is the mean or minimum over units.

    UQLM's parameters, same meanings; lmuq's (keyword-only): ``nli_model`` / ``embedder``
    (passed to the black-box scorer) and ``nli_model_name``.
    """

    #: the long answer's token limit when generating (the claims' answers use
    #: BlackBoxUQ's); set it on the object to change it.
    max_new_tokens = 256

    def __init__(
        self,
        llm: Any,
        scorers: Sequence[str] | None = None,
        granularity: Literal["claim", "sentence"] = "claim",
        aggregation: Literal["mean", "min"] = "mean",
        response_refinement: bool = False,
        claim_filtering_scorer: str | None = None,
        system_prompt: str | None = "You are a helpful assistant.",
        claim_decomposition_llm: Any = None,
        claim_decomposition_prompt: str | Callable[[str], str] = "zhang_2025",
        question_generator_llm: Any = None,
        sampling_temperature: float = 1.0,
        max_calls_per_min: int | None = None,
        questioner_max_calls_per_min: int | None = None,
        max_length: int = 1000,
        device: Any = None,
        use_n_param: bool = False,
        *,
        nli_model_name: str | None = DEFAULT_NLI_MODEL,
        nli_model: Any = None,
        embedder: Any = None,
    ) -> None:
        if llm is None:
            raise ValueError("LongTextQA needs llm= (it answers the claims' questions)")
        _check_unit_settings(granularity, aggregation, response_refinement)
        self.llm = llm
        self.scorers = ["semantic_negentropy"] if not scorers else list(scorers)
        self.granularity = granularity
        self.aggregation = aggregation
        self.response_refinement = response_refinement
        self.claim_filtering_scorer = claim_filtering_scorer
        self.uad_scorer = (
            claim_filtering_scorer if claim_filtering_scorer in self.scorers else self.scorers[0]
        )
        self.system_prompt = system_prompt
        self.claim_decomposition_llm = claim_decomposition_llm
        self.claim_decomposition_prompt = claim_decomposition_prompt
        self.question_generator_llm = question_generator_llm
        self.sampling_temperature = sampling_temperature
        self.max_calls_per_min = max_calls_per_min
        self.questioner_max_calls_per_min = questioner_max_calls_per_min
        self.max_length = max_length
        self.device = device
        self.use_n_param = use_n_param
        self.response_refinement_threshold: float | None = None
        self._generator = _backend(llm, system_prompt, max_calls_per_min, use_n_param)
        self._decomposer = (
            _backend(claim_decomposition_llm, system_prompt, max_calls_per_min, False)
            or self._generator
        )
        self._questioner = (
            _backend(question_generator_llm, system_prompt, questioner_max_calls_per_min, False)
            or self._decomposer
        )
        #: decomposition (and refinement) on lmuq's long-form orchestrator
        self.decomposition = LongFormUQ(
            ["claim_entailment"],
            granularity=granularity,
            decomposer=self._decomposer,
            decomposition_prompt=claim_decomposition_prompt,
            aggregation=aggregation,
            nli_model=nli_model,
            refiner=self._decomposer,
        )
        #: the black-box scorer of the claims' answers
        self.bb_object = BlackBoxUQ(
            llm=self._generator,
            scorers=self.scorers,
            device=device,
            nli_model_name=nli_model_name,
            sampling_temperature=sampling_temperature,
            max_length=max_length,
            use_best=False,
            nli_model=nli_model,
            embedder=embedder,
        )

    async def generate_and_score(
        self,
        prompts: Sequence[str],
        num_questions: int = 1,
        num_claim_qa_responses: int = 5,
        response_refinement_threshold: float = 1 / 3,
        show_progress_bars: bool = True,
    ) -> LongFormResult:
        """Answer each prompt, then score the answers claim by claim (:meth:`score`)."""
        temp = getattr(self.llm, "temperature", None)
        answer = SamplingParams(
            temperature=float(temp) if temp is not None else 0.0,
            max_new_tokens=self.max_new_tokens,
        )
        sets = await adraw(
            self._generator, list(prompts), 0, answer_params=answer, progress=show_progress_bars
        )
        responses = [ss.answer.text for ss in sets]
        return await self.score(
            list(prompts),
            responses,
            num_questions,
            num_claim_qa_responses,
            response_refinement_threshold,
            show_progress_bars,
        )

    def generate_and_score_sync(self, prompts: Sequence[str], **kwargs: Any) -> LongFormResult:
        """Synchronous twin of :meth:`generate_and_score`."""
        return run_sync(lambda: self.generate_and_score(prompts, **kwargs))

    def score_sync(
        self, prompts: Sequence[str], responses: Sequence[str], **kwargs: Any
    ) -> LongFormResult:
        """Synchronous twin of :meth:`score`."""
        return run_sync(lambda: self.score(prompts, responses, **kwargs))

    async def score(
        self,
        prompts: Sequence[str],
        responses: Sequence[str],
        num_questions: int = 1,
        num_claim_qa_responses: int = 5,
        response_refinement_threshold: float = 1 / 3,
        show_progress_bars: bool = True,
    ) -> LongFormResult:
        """Decompose, ask a question per unit, answer and sample it, score consistency."""
        _check_scored(responses, None)
        if len(prompts) != len(responses):
            raise ValueError(f"prompts has {len(prompts)} items but responses {len(responses)}")
        if num_questions < 1 or num_claim_qa_responses < 1:
            raise ValueError("num_questions and num_claim_qa_responses must be >= 1")
        from lmuq.scoring.longform import Decomposition, units_of

        responses = [r[: self.max_length] for r in responses]
        decomposition = Decomposition(
            self.granularity,  # type: ignore[arg-type]
            self._decomposer,
            self.claim_decomposition_prompt,
        )
        from lmuq.scoring.context import ScoringContext

        replies = self.decomposition.statistics.judge_replies
        ctx = ScoringContext(judge_replies=replies)
        await self._fill(lambda c: units_of(responses, decomposition, c), ctx)
        units = [u for u, _, _ in units_of(responses, decomposition, ctx)]

        params = SamplingParams(temperature=0.0, max_new_tokens=128)
        asks = {c.text: claim_question_prompt(c.text, num_questions) for us in units for c in us}
        if asks:
            if self._questioner is None:
                raise ValueError("LongTextQA needs a question_generator_llm or an llm")
            await replies.afill([replies.key(self._questioner, params, p) for p in asks.values()])
        questions = [
            [
                _questions(
                    replies.get(self._questioner, params, asks[c.text]), c.text, num_questions
                )
                for c in us
            ]
            for us in units
        ]
        flat = [
            claim_answer_prompt(q, prompts[i] or None)
            for i, qs in enumerate(questions)
            for per_claim in qs
            for q in per_claim
        ]
        bb = (
            await self.bb_object.generate_and_score(flat, num_claim_qa_responses, False)
            if flat
            else None
        )
        result = self._assemble(prompts, responses, units, questions, bb)
        if self.response_refinement:
            self.response_refinement_threshold = response_refinement_threshold
            await self._refine(result.columns, response_refinement_threshold)
            result.metadata["response_refinement_threshold"] = response_refinement_threshold
        return result

    async def _fill(self, plan: Callable[[Any], Any], ctx: Any) -> None:
        from lmuq.statistics.missing import MissingStatistics

        try:
            plan(ctx.planning())
        except MissingStatistics as exc:
            for source, keys in exc.requests:
                await source.afill(list(keys))

    def _assemble(self, prompts, responses, units, questions, bb) -> LongFormResult:
        columns: dict[str, list[Any]] = {
            "prompt": list(prompts),
            "response": list(responses),
            "sampled_responses": [[] for _ in responses],
        }
        pos = 0
        claims_data: list[list[dict[str, Any]]] = []
        per_row: dict[str, list[list[float]]] = {s: [] for s in self.scorers}
        for us, qs in zip(units, questions, strict=True):
            row = []
            values: dict[str, list[float]] = {s: [] for s in self.scorers}
            for claim, per_claim in zip(us, qs, strict=True):
                idx = list(range(pos, pos + len(per_claim)))
                pos += len(per_claim)
                rec: dict[str, Any] = {
                    self.granularity: claim.text,
                    "removed": False,
                    "claim_questions": per_claim,
                    "claim_qa_responses": [bb.columns["response"][k] for k in idx],
                    "claim_qa_sampled_responses": [bb.columns["sampled_responses"][k] for k in idx],
                }
                for s in self.scorers:
                    got = [float(bb.columns[s][k]) for k in idx]
                    rec[s] = float(sum(got) / len(got))
                    values[s].append(rec[s])
                rec.update(start=claim.start, end=claim.end, span=claim.span)
                row.append(rec)
            claims_data.append(row)
            for s in self.scorers:
                per_row[s].append(values[s])
        for s in self.scorers:
            columns[s] = [
                F.aggregate_claim_scores(v, self.aggregation) if v else math.nan for v in per_row[s]
            ]
        columns["claims_data"] = claims_data
        return LongFormResult(
            columns=columns,
            scorers=list(self.scorers),
            metadata={
                "granularity": self.granularity,
                "aggregation": self.aggregation,
                "temperature": getattr(self.llm, "temperature", None),
                "sampling_temperature": self.sampling_temperature,
                "response_refinement_threshold": self.response_refinement_threshold,
            },
            granularity=self.granularity,
            claim_scorers=list(self.scorers),
        )

    async def _refine(self, columns: dict[str, list[Any]], threshold: float) -> None:
        """Drop each unit whose ``uad_scorer`` value is not above ``threshold`` and have the
        decomposition LLM rebuild the answer from the rest (Jiang et al. 2024)."""
        from lmuq.claims import refinement_prompt

        replies = self.decomposition.statistics.judge_replies
        params = self.decomposition.refinement_params
        prompts: list[str | None] = []
        for i, claims in enumerate(columns["claims_data"]):
            kept = F.kept_claims([c[self.uad_scorer] for c in claims], threshold)
            for c, k in zip(claims, kept, strict=True):
                c["removed"] = not k
            texts = [c[self.granularity] for c, k in zip(claims, kept, strict=True) if k]
            prompts.append(refinement_prompt(texts, columns["prompt"][i]) if texts else None)
        wanted = [p for p in prompts if p is not None]
        if wanted:
            await replies.afill([replies.key(self._decomposer, params, p) for p in wanted])
        refined = []
        for p in prompts:
            reply = None if p is None else replies.get(self._decomposer, params, p)
            refined.append("" if reply is None or reply.failed else reply.text.strip())
        columns["refined_response"] = refined
        for s in self.scorers:
            out = []
            for claims in columns["claims_data"]:
                kept = [c[s] for c in claims if not c["removed"]]
                out.append(F.aggregate_claim_scores(kept, self.aggregation) if kept else math.nan)
            columns["refined_" + s] = out
