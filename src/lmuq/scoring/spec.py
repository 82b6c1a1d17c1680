"""What every scorer declares: its name, family, inputs, direction and range, and its paper.

One convention across lmuq: the result column named after a scorer holds a *confidence* in
[0, 1] (higher = more likely correct). A scorer whose natural value lives elsewhere (an
entropy in nats, a perplexity) reports it as ``raw`` in extra columns named in
``raw_columns``, and documents the monotone map it uses to get the confidence
(``confidence_map``). The README's scorer tables are generated from these declarations.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from lmuq.types import SampleSet

__all__ = ["FAMILIES", "Family", "Needs", "ScoreValue", "ScorerSpec"]

#: The scorer families, in the order the docs list them.
Family = Literal["white-box", "black-box", "judged", "long-form"]
FAMILIES: tuple[Family, ...] = ("white-box", "black-box", "judged", "long-form")

Needs = Literal[
    "answer",
    "answer_logprobs",
    "answer_top_logprobs",
    "answer_tokens",
    "sample_logprobs",
    "sample_tokens",
    "answer_internals",
    "sample_internals",
    "samples",
    "nli",
    "embeddings",
    "bertscore",
    "bleurt",
    "judge",
    "token_decoder",
    "context",
]


@dataclass(frozen=True)
class ScoreValue:
    """A scorer's output for one prompt.

    Attributes:
        confidence: in [0, 1]; NaN when there is none (then ``error`` says why).
        raw: raw values by column name (see ``ScorerSpec.raw_columns``).
        detail: a per-row record kept in ``UQResult.details[scorer]`` (e.g. a judge's reply
            and the prompt it answered).
        error: why ``confidence`` is NaN, when the scorer ran but found no value (an
            unreadable judge reply); recorded in ``score_errors``.
    """

    confidence: float
    raw: Mapping[str, float] = field(default_factory=dict)
    detail: Any = None
    error: str | None = None


@dataclass(frozen=True)
class ScorerSpec:
    """A scorer's declaration.

    Attributes:
        name: the result column holding the confidence.
        family: ``"white-box"`` (token log-probs), ``"black-box"`` (agreement between
            sampled responses), ``"judged"`` (a model asked about the answer) or
            ``"long-form"`` (a confidence per claim of a long answer, aggregated).
        needs: which inputs it reads (for clear errors and for planning generation):
            ``answer_tokens`` / ``sample_tokens`` are the generations' token strings,
            ``token_decoder`` the context's ``decode_token`` (token id -> string),
            ``answer_internals`` / ``sample_internals`` the generations' captured model
            internals (:class:`~lmuq.types.ModelInternals`; a local model only).
        raw_direction: whether the raw values grow with confidence or with uncertainty.
        raw_range: closed range of the raw values (``inf`` allowed); the confidence is
            always in [0, 1].
        raw_columns: names of the raw-value columns (empty when raw == confidence).
        compute: pure function of a :class:`SampleSet` and the run's
            :class:`~lmuq.scoring.context.ScoringContext` to a :class:`ScoreValue`.
        confidence_map: the formula taking the inputs to the confidence.
        reference: the paper (and code) the definition follows.
        summary: one line on what it measures.
        embeds: the texts beyond the responses that ``compute`` embeds for a sample set
            (e.g. the answer with one token left out), given the sample set and the
            context; the engine encodes them with the responses, in one call, before
            scoring. None: only the responses.
    """

    name: str
    family: Family
    needs: frozenset[Needs]
    raw_direction: Literal["confidence", "uncertainty"]
    raw_range: tuple[float, float]
    raw_columns: tuple[str, ...]
    compute: Callable[[SampleSet, Any], ScoreValue]
    confidence_map: str
    reference: str
    summary: str
    embeds: Callable[[SampleSet, Any], Iterable[str]] | None = None

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"family must be one of {FAMILIES}, got {self.family!r}")
        lo, hi = self.raw_range
        if not lo <= hi:
            raise ValueError(
                f"raw_range must be (low, high) with low <= high, got {self.raw_range}"
            )
