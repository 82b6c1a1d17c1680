"""The long-form scorers: a confidence for every claim of a long answer, and its aggregate.

An answer is split into units (:class:`Decomposition`: sentences, with no model, or atomic
claims extracted by an LLM through any lmuq backend, a judge whose replies are drawn once
and cached); each unit gets a confidence from the sampled responses (or from the context
passages given with the prompt), and the row's column holds the mean or the minimum over
the units. The per-unit values, with each unit's character span in the answer, are the
row's :class:`ClaimScores` detail (``UQResult.details[scorer]``); the long-form
orchestrator (:class:`~lmuq.uq.longform.LongFormUQ`) lays them out as a claim table.

Every scorer is a pure function of the sample set and the context's lookups: the NLI pairs
(sample ⊨ unit, or passage ⊨ unit) and the decomposer's replies. In planning mode the
lookups raise :class:`~lmuq.statistics.missing.MissingStatistics`, so the scoring engine
draws every decomposition of every row in one backend call, then runs every distinct
(premise, unit) pair of every row and scorer through the NLI model once, batched.

Registered names use sentence units (no model) and the mean; :func:`claim_scorer` makes the
same scorers bound to other settings (claim units from a decomposer, the minimum, …). The
formulas are in :mod:`lmuq.scoring.functional.claims`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from lmuq.claims import (
    DecompositionPrompt,
    align_claims,
    drop_prompt_echoes,
    parse_claims,
    resolve_decomposition_prompt,
    split_sentences,
)
from lmuq.constants import ENTAILMENT
from lmuq.scoring.context import ScoringContext
from lmuq.scoring.functional import claims as F
from lmuq.scoring.functional.claim_graph import (
    CENTRALITIES,
    DEFAULT_EDGE_THRESHOLD,
    claim_centralities,
)
from lmuq.scoring.spec import ScorerSpec, ScoreValue
from lmuq.statistics.missing import MissingStatistics
from lmuq.types import SampleSet, SamplingParams

__all__ = [
    "DECOMPOSITION_PARAMS",
    "GRANULARITIES",
    "GRAPH_SCORERS",
    "LONGFORM_SCORERS",
    "MATCHED_UNIT_SCORERS",
    "SPECS",
    "UNIT_RESPONSE_SCORERS",
    "Claim",
    "ClaimScores",
    "Decomposition",
    "Granularity",
    "claim_scorer",
    "decompose",
    "merge_claims",
]

Granularity = Literal["sentence", "claim"]
GRANULARITIES: tuple[Granularity, ...] = ("sentence", "claim")

#: How a decomposer is asked: greedy, long enough for a paragraph's claims.
DECOMPOSITION_PARAMS = SamplingParams(temperature=0.0, max_new_tokens=512)


@dataclass(frozen=True)
class Claim:
    """One unit of a response.

    Attributes:
        text: the sentence or claim.
        start, end: its character span in the response (``-1, -1`` when a claim could not
            be placed).
        span: ``"exact"`` (the span is the unit's own text: sentences, verbatim claims),
            ``"sentence"`` (the sentence that holds most of the claim's words) or
            ``"none"``.
        origin: ``"response"``, or ``"sample"`` for a claim a claim graph took from a
            sampled response.
    """

    text: str
    start: int
    end: int
    span: Literal["exact", "sentence", "none"] = "exact"
    origin: Literal["response", "sample"] = "response"


@dataclass(frozen=True)
class ClaimScores:
    """A long-form scorer's per-unit values for one row (its ``UQResult.details`` entry).

    Attributes:
        claims: the units, in order.
        values: one confidence per unit (NaN where undefined).
        context: per unit, how the context passages bear on it (grounding scorers only).
        decomposition: the decomposer's reply the claims were read from (None for sentences).
        claim_format: the format the reply was read in (``"###"``, ``"list"``,
            ``"sentences"``, ``"none"``), or ``"sentences"`` for sentence units.
    """

    claims: tuple[Claim, ...]
    values: tuple[float, ...]
    context: tuple[F.ContextSupport, ...] = ()
    decomposition: str | None = None
    claim_format: str = "sentences"


@dataclass(frozen=True)
class Decomposition:
    """How responses become units.

    Attributes:
        granularity: ``"sentence"`` (the model-free splitter,
            :func:`lmuq.claims.split_sentences`) or ``"claim"`` (an LLM's atomic claims).
        decomposer: the backend that extracts claims (None: the context's ``judge``).
        prompt: a preset of :data:`lmuq.claims.DECOMPOSITION_PROMPTS` or a callable
            ``(response) -> prompt``.
        params: how the decomposer decodes (greedy by default, so claims are reproducible).
    """

    granularity: Granularity = "sentence"
    decomposer: Any = field(default=None, compare=False)
    prompt: str | DecompositionPrompt = "zhang_2025"
    params: SamplingParams = DECOMPOSITION_PARAMS

    def __post_init__(self) -> None:
        if self.granularity not in GRANULARITIES:
            raise ValueError(
                f"granularity must be one of {GRANULARITIES}, got {self.granularity!r}"
            )
        resolve_decomposition_prompt(self.prompt)  # refuse a bad preset now
        if not isinstance(self.params, SamplingParams):
            raise TypeError("decomposition params must be a SamplingParams")

    def reply_prompt(self, text: str) -> str:
        """The prompt sent to the decomposer for ``text``."""
        return resolve_decomposition_prompt(self.prompt)(text)

    def units(self, text: str, ctx: ScoringContext) -> tuple[tuple[Claim, ...], str | None, str]:
        """``text``'s units, the decomposer's reply (None for sentences) and its format.

        Raises ``MissingStatistics`` in planning mode while the reply is not drawn, and
        ``ValueError`` when the decomposer's call failed."""
        if self.granularity == "sentence":
            units = tuple(Claim(s.text, s.start, s.end) for s in split_sentences(text))
            return units, None, "sentences"
        backend = ctx.judge_for(self.decomposer, "claim decomposition")
        prompt = self.reply_prompt(text)
        reply = ctx.judge_reply(backend, self.params, prompt)
        if reply.failed:
            raise ValueError(f"claim decomposition failed: {reply.error}")
        parsed = parse_claims(reply.text)
        claims = drop_prompt_echoes(parsed.claims, prompt, text)
        spans = align_claims(text, claims)
        units = tuple(Claim(c, s.start, s.end, s.kind) for c, s in zip(claims, spans, strict=True))
        return units, reply.text, parsed.format


def units_of(
    texts: Sequence[str], decomposition: Decomposition, ctx: ScoringContext
) -> list[tuple[tuple[Claim, ...], str | None, str]]:
    """:meth:`Decomposition.units` of several texts; in planning mode every missing reply
    is asked for at once (one ``MissingStatistics``), so they are drawn in one round."""
    out, missing = [], []
    for text in texts:
        try:
            out.append(decomposition.units(text, ctx))
        except MissingStatistics as exc:
            missing.append(exc)
    if missing:
        raise MissingStatistics.merge(missing)
    return out


def decompose(
    responses: Sequence[str],
    decomposition: Decomposition | None = None,
    *,
    judge: Any = None,
) -> list[tuple[Claim, ...]]:
    """The units of each response, every decomposer reply drawn in one batched call.

    >>> [c.text for c in decompose(["Paris is big. It is old."])[0]]
    ['Paris is big.', 'It is old.']
    """
    decomposition = decomposition or Decomposition()
    if isinstance(responses, str):
        raise TypeError("responses must be a list of str, not one str")
    texts = list(responses)
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise TypeError(f"responses[{i}] is a {type(t).__name__}, expected str")
    ctx = ScoringContext(judge=judge)
    try:
        units_of(texts, decomposition, ctx.planning())
    except MissingStatistics as exc:
        grouped: dict[int, tuple[Any, list[Any]]] = {}
        for source, keys in exc.requests:
            grouped.setdefault(id(source), (source, []))[1].extend(keys)
        for source, keys in grouped.values():
            source.fill(keys)  # one batched call per source
    return [units for units, _, _ in units_of(texts, decomposition, ctx)]


# ----------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class _Settings:
    decomposition: Decomposition
    aggregation: F.Aggregation
    edge_threshold: float = DEFAULT_EDGE_THRESHOLD


def _samples(ss: SampleSet) -> list[str]:
    if not ss.samples:
        raise ValueError("this long-form scorer needs at least one sampled response")
    return ss.sample_texts


def _result(
    claims: tuple[Claim, ...],
    values: list[float],
    settings: _Settings,
    reply: str | None,
    fmt: str,
    *,
    context: tuple[F.ContextSupport, ...] = (),
    raw: dict[str, float] | None = None,
) -> ScoreValue:
    detail = ClaimScores(claims, tuple(values), context, reply, fmt)
    if not claims:
        why = "the response has no claims" if reply is None else "the decomposer found no claims"
        return ScoreValue(math.nan, raw=raw or {}, detail=detail, error=why)
    return ScoreValue(
        F.aggregate_claim_scores(values, settings.aggregation), raw=raw or {}, detail=detail
    )


def _answer_units(ss: SampleSet, ctx: ScoringContext, settings: _Settings):
    ((claims, reply, fmt),) = units_of([ss.answer.text], settings.decomposition, ctx)
    return claims, reply, fmt


# ------------------------------------------------------------------------ unit-response


def _unit_response(measure: str) -> Callable[[SampleSet, ScoringContext, _Settings], ScoreValue]:
    def compute(ss: SampleSet, ctx: ScoringContext, settings: _Settings) -> ScoreValue:
        samples = _samples(ss)
        claims, reply, fmt = _answer_units(ss, ctx, settings)
        view = ctx.view(ss)
        view.prefetch((s, c.text) for c in claims for s in samples)
        values = [
            F.unit_response_scores(np.stack([view(s, c.text) for s in samples]))[measure]
            for c in claims
        ]
        return _result(claims, values, settings, reply, fmt)

    return compute


# ------------------------------------------------------------------------- matched-unit


def _sample_units(ss: SampleSet, ctx: ScoringContext, settings: _Settings):
    """The answer's units and every sample's units, all decompositions asked at once."""
    texts = [ss.answer.text, *_samples(ss)]
    (claims, reply, fmt), *rest = units_of(texts, settings.decomposition, ctx)
    return claims, reply, fmt, [[u.text for u in units] for units, _, _ in rest]


def _matched_nli(measure: str) -> Callable[[SampleSet, ScoringContext, _Settings], ScoreValue]:
    def compute(ss: SampleSet, ctx: ScoringContext, settings: _Settings) -> ScoreValue:
        claims, reply, fmt, sample_units = _sample_units(ss, ctx, settings)
        view = ctx.view(ss)
        view.prefetch((u, c.text) for c in claims for units in sample_units for u in units)
        values = []
        for c in claims:
            per_sample = [
                np.stack([view(u, c.text) for u in units]) if units else np.zeros((0, 3))
                for units in sample_units
            ]
            values.append(F.matched_unit_nli_scores(per_sample)[measure])
        return _result(claims, values, settings, reply, fmt)

    return compute


def _matched_cosine(ss: SampleSet, ctx: ScoringContext, settings: _Settings) -> ScoreValue:
    if ctx.embedder is None:
        raise ValueError("claim_cosine_sim needs a sentence embedder, and none is configured")
    claims, reply, fmt, sample_units = _sample_units(ss, ctx, settings)
    texts = list(dict.fromkeys([c.text for c in claims] + [u for us in sample_units for u in us]))
    emb = np.asarray(ctx.embedder.encode(texts), dtype=np.float64).reshape(len(texts), -1)
    emb = emb / np.linalg.norm(emb, axis=1, keepdims=True).clip(1e-12)
    row = {t: i for i, t in enumerate(texts)}
    values = []
    for c in claims:
        e = emb[row[c.text]]
        per_sample = [
            [(float(e @ emb[row[u]]) + 1.0) / 2.0 for u in units] for units in sample_units
        ]
        values.append(F.matched_unit_similarity(per_sample))
    return _result(claims, values, settings, reply, fmt)


def _matched_bertscore(ss: SampleSet, ctx: ScoringContext, settings: _Settings) -> ScoreValue:
    if ctx.bertscorer is None:
        raise ValueError("claim_bert_score needs a BERTScore encoder, and none is configured")
    claims, reply, fmt, sample_units = _sample_units(ss, ctx, settings)
    cands = [u for _ in claims for units in sample_units for u in units]
    refs = [c.text for c in claims for units in sample_units for _ in units]
    f1 = iter(np.asarray(ctx.bertscorer.f1(cands, refs), dtype=np.float64) if cands else [])
    values = []
    for _ in claims:
        per_sample = [[float(next(f1)) for _ in units] for units in sample_units]
        values.append(F.matched_unit_similarity(per_sample))
    return _result(claims, values, settings, reply, fmt)


# -------------------------------------------------------------------------- claim graph


def _merge_key(text: str) -> str:
    return " ".join(text.lower().split()).rstrip(" .!?;")


def merge_claims(answer: Sequence[Claim], samples: Sequence[Sequence[str]]) -> list[Claim]:
    """The distinct claims of the answer and its samples: the answer's first (with their
    spans), then each sample claim not already there, compared case-, space- and
    end-punctuation-insensitively (UQLM asks an LLM to deduplicate; this needs no model)."""
    seen = {_merge_key(c.text) for c in answer}
    out = list(answer)
    for units in samples:
        for u in units:
            key = _merge_key(u)
            if key and key not in seen:
                seen.add(key)
                out.append(Claim(u, -1, -1, "none", "sample"))
    return out


def _graph(measure: str) -> Callable[[SampleSet, ScoringContext, _Settings], ScoreValue]:
    def compute(ss: SampleSet, ctx: ScoringContext, settings: _Settings) -> ScoreValue:
        claims, reply, fmt, sample_units = _sample_units(ss, ctx, settings)
        nodes = merge_claims(claims, sample_units)
        responses = [ss.answer.text, *ss.sample_texts]
        view = ctx.view(ss)
        view.prefetch((r, c.text) for c in nodes for r in responses)
        if not nodes:
            return _result((), [], settings, reply, fmt)
        w = np.array([[view(r, c.text)[ENTAILMENT] for r in responses] for c in nodes])
        values = claim_centralities(w, settings.edge_threshold)[measure]
        detail = ClaimScores(tuple(nodes), tuple(float(v) for v in values), (), reply, fmt)
        own = [float(v) for c, v in zip(nodes, values, strict=True) if c.origin == "response"]
        if not own:
            return ScoreValue(math.nan, detail=detail, error="the answer has no claims")
        return ScoreValue(F.aggregate_claim_scores(own, settings.aggregation), detail=detail)

    return compute


# ------------------------------------------------------------------------------ context


def _context_support(ss: SampleSet, ctx: ScoringContext, settings: _Settings) -> ScoreValue:
    passages = [p for p in ss.context if p.strip()]
    if not passages:
        raise ValueError(
            "claim_context_support needs the context passages given with the prompt: this "
            "row has none (pass context=[...], or a 'context' field in the input file)"
        )
    claims, reply, fmt = _answer_units(ss, ctx, settings)
    view = ctx.view(ss)
    view.prefetch((p, c.text) for c in claims for p in passages)
    support = tuple(
        F.context_support(np.stack([view(p, c.text) for p in passages])) for c in claims
    )
    contradicted = sum(s.label == "contradicted" for s in support)
    raw = {"context_contradicted_share": contradicted / len(support) if support else math.nan}
    values = [s.entailment for s in support]
    return _result(claims, values, settings, reply, fmt, context=support, raw=raw)


# ------------------------------------------------------------------------ declarations

_LUQ = "Zhang et al. 2024 (LUQ; arXiv:2403.20279); UQLM LongTextUQ"
_AGG = "mean over units of "


@dataclass(frozen=True)
class _Kind:
    compute: Callable[[SampleSet, ScoringContext, _Settings], ScoreValue]
    needs: frozenset[str]
    formula: str
    reference: str
    summary: str
    raw_columns: tuple[str, ...] = ()
    raw_direction: Literal["confidence", "uncertainty"] = "confidence"


_KINDS: dict[str, _Kind] = {
    "claim_entailment": _Kind(
        _unit_response("entailment"),
        frozenset({"answer", "samples", "nli"}),
        _AGG + "c(s) = (1/m) Σ_j p_e(ỹ_j ⊨ s)",
        _LUQ + " (unit_response, entailment)",
        "How strongly the samples entail each unit of the answer.",
    ),
    "claim_noncontradiction": _Kind(
        _unit_response("noncontradiction"),
        frozenset({"answer", "samples", "nli"}),
        _AGG + "c(s) = (1/m) Σ_j (1 − p_c(ỹ_j, s))",
        _LUQ + " (unit_response, noncontradiction)",
        "How little the samples contradict each unit of the answer.",
    ),
    "claim_contrasted_entailment": _Kind(
        _unit_response("contrasted_entailment"),
        frozenset({"answer", "samples", "nli"}),
        _AGG + "c(s) = (1/m) Σ_j p_e/(p_e + p_c) (1/2 when both are 0)",
        _LUQ + " (LUQ's ratio)",
        "Entailment against contradiction of each unit by the samples, neutral ignored.",
    ),
    "claim_entailment_matched": _Kind(
        _matched_nli("entailment"),
        frozenset({"answer", "samples", "nli"}),
        _AGG + "c(s) = (1/m) Σ_j max_{u ∈ U_j} p_e(u ⊨ s)",
        "Zhang et al. 2024 (LUQ-pair); UQLM LongTextUQ (matched_unit)",
        "Entailment of each unit by the best-matching unit of each sample.",
    ),
    "claim_noncontradiction_matched": _Kind(
        _matched_nli("noncontradiction"),
        frozenset({"answer", "samples", "nli"}),
        _AGG + "c(s) = (1/m) Σ_j max_{u ∈ U_j} (1 − p_c(u, s))",
        "Zhang et al. 2024 (LUQ-pair); UQLM LongTextUQ (matched_unit)",
        "Noncontradiction of each unit by the best-matching unit of each sample.",
    ),
    "claim_contrasted_entailment_matched": _Kind(
        _matched_nli("contrasted_entailment"),
        frozenset({"answer", "samples", "nli"}),
        _AGG + "c(s) = (1/m) Σ_j max_{u ∈ U_j} p_e/(p_e + p_c)",
        "Zhang et al. 2024 (LUQ-pair); UQLM LongTextUQ (matched_unit)",
        "Contrasted entailment of each unit by the best-matching unit of each sample.",
    ),
    "claim_cosine_sim": _Kind(
        _matched_cosine,
        frozenset({"answer", "samples", "embeddings"}),
        _AGG + "c(s) = (1/m) Σ_j max_{u ∈ U_j} (cos(e(s), e(u)) + 1)/2",
        "Bouchard et al. 2026 (generalised LUQ-pair); UQLM LongTextUQ (matched_unit)",
        "Embedding similarity of each unit to the closest unit of each sample.",
    ),
    "claim_bert_score": _Kind(
        _matched_bertscore,
        frozenset({"answer", "samples", "bertscore"}),
        _AGG + "c(s) = (1/m) Σ_j max_{u ∈ U_j} BERTScore-F1(u, s)",
        "Bouchard et al. 2026 (generalised LUQ-pair); Zhang et al. 2020 (BERTScore)",
        "BERTScore of each unit against the closest unit of each sample.",
    ),
    **{
        f"claim_{measure}": _Kind(
            _graph(measure),
            frozenset({"answer", "samples", "nli"}),
            _AGG + f"the answer's claims of c(s) = {measure}(s) on the claim–response "
            "graph (edges p_e(y_j ⊨ s) ≥ τ; formulas in lmuq.scoring.functional.claim_graph)",
            "Jiang et al. 2024 (arXiv:2410.20783); UQLM LongTextGraph",
            f"The {measure.replace('_', ' ')} of each claim in the bipartite graph of claims "
            "entailed by the answer and its samples.",
        )
        for measure in CENTRALITIES
    },
    "claim_context_support": _Kind(
        _context_support,
        frozenset({"answer", "nli", "context"}),
        _AGG + "c(s) = max_k p_e(P_k ⊨ s) over the context passages P_k",
        "lmuq (grounding in the given context; NLI as in Honovich et al. 2022, TRUE)",
        "How well the context passages given with the prompt support each unit.",
        ("context_contradicted_share",),
        "uncertainty",
    ),
}

#: UQLM's unit-response scorers (LongTextUQ ``mode="unit_response"``).
UNIT_RESPONSE_SCORERS = (
    "claim_entailment",
    "claim_noncontradiction",
    "claim_contrasted_entailment",
)
#: The matched-unit scorers (LongTextUQ ``mode="matched_unit"``).
MATCHED_UNIT_SCORERS = (
    "claim_entailment_matched",
    "claim_noncontradiction_matched",
    "claim_contrasted_entailment_matched",
    "claim_cosine_sim",
    "claim_bert_score",
)

#: The claim-graph scorers (LongTextGraph), one per centrality.
GRAPH_SCORERS = tuple(f"claim_{m}" for m in CENTRALITIES)


def claim_scorer(
    kind: str,
    *,
    granularity: Granularity = "sentence",
    decomposer: Any = None,
    decomposition_prompt: str | DecompositionPrompt = "zhang_2025",
    decomposition_params: SamplingParams = DECOMPOSITION_PARAMS,
    aggregation: F.Aggregation = "mean",
    edge_threshold: float = DEFAULT_EDGE_THRESHOLD,
    name: str | None = None,
) -> ScorerSpec:
    """A long-form scorer bound to its settings.

    Args:
        kind: a registered long-form scorer name (see :data:`LONGFORM_SCORERS`).
        granularity: ``"sentence"`` (no model) or ``"claim"`` (an LLM's atomic claims).
        decomposer: the backend that extracts claims (None: the context's judge).
        decomposition_prompt: a preset name or a callable ``(response) -> prompt``.
        decomposition_params: the decomposer's decoding settings.
        aggregation: ``"mean"`` or ``"min"`` of the unit scores.
        edge_threshold: the claim graph's edge threshold τ (graph scorers only).
        name: the result column (default: ``kind``).
    """
    if not 0.0 <= edge_threshold <= 1.0:
        raise ValueError(f"edge_threshold must be in [0, 1], got {edge_threshold}")
    if kind not in _KINDS:
        raise ValueError(f"unknown long-form scorer {kind!r}; choose from: {', '.join(_KINDS)}")
    if aggregation not in F.AGGREGATIONS:
        raise ValueError(f"aggregation must be one of {F.AGGREGATIONS}, got {aggregation!r}")
    spec_kind = _KINDS[kind]
    settings = _Settings(
        Decomposition(granularity, decomposer, decomposition_prompt, decomposition_params),
        aggregation,
        edge_threshold,
    )
    needs = set(spec_kind.needs)
    if granularity == "claim" and decomposer is None:
        needs.add("judge")

    def compute(ss: SampleSet, ctx: ScoringContext) -> ScoreValue:
        return spec_kind.compute(ss, ctx, settings)

    agg = "min" if aggregation == "min" else "mean"
    return ScorerSpec(
        name=name or kind,
        family="long-form",
        needs=frozenset(needs),  # type: ignore[arg-type]
        raw_direction=spec_kind.raw_direction,
        raw_range=(0.0, 1.0),
        raw_columns=spec_kind.raw_columns,
        compute=compute,
        confidence_map=spec_kind.formula.replace("mean over", f"{agg} over", 1),
        reference=spec_kind.reference,
        summary=spec_kind.summary,
    )


#: Every long-form scorer, registered with sentence units and the mean.
SPECS: list[ScorerSpec] = [claim_scorer(kind) for kind in _KINDS]
LONGFORM_SCORERS = tuple(_KINDS)
