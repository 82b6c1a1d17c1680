"""The white-box scorers: declarations that bind the pure functions to a :class:`SampleSet`.

Single-generation scorers read the answer's token log-probs (and top-k log-probs); sample
scorers read the sampled responses' log-probs. Names of the single-generation scorers match
UQLM's white-box scorers so ported code finds the same columns.
"""

from __future__ import annotations

import math

from lmuq.scoring.functional import whitebox as F
from lmuq.scoring.spec import ScorerSpec, ScoreValue
from lmuq.types import SampleSet

__all__ = ["SPECS", "WHITEBOX_SCORERS"]

_INF = math.inf


def _answer_lp(ss: SampleSet):
    return ss.answer.logprobs


def _answer_top(ss: SampleSet):
    if ss.answer.top_logprobs is None:
        raise ValueError(
            "the answer has no top-k log-probs; this scorer needs them (generate with "
            "top_logprobs >= 2)"
        )
    return ss.answer.top_logprobs


def _sample_lps(ss: SampleSet):
    return [s.logprobs for s in ss.samples]


def _unit(x: float) -> float:
    """Clamp float rounding (e.g. 1 − log k / log k = −2e-16) into [0, 1]."""
    return min(1.0, max(0.0, x))


def _negentropy(h: float, k: int) -> float:
    return _unit(1.0 - h / math.log(k))


def _sequence_probability(ss: SampleSet, ctx: object = None) -> ScoreValue:
    return ScoreValue(F.sequence_probability(_answer_lp(ss)))


def _normalized_probability(ss: SampleSet, ctx: object = None) -> ScoreValue:
    lp = _answer_lp(ss)
    return ScoreValue(
        F.sequence_probability(lp, length_normalized=True), {"perplexity": F.perplexity(lp)}
    )


def _min_probability(ss: SampleSet, ctx: object = None) -> ScoreValue:
    return ScoreValue(F.min_token_probability(_answer_lp(ss)))


def _mean_token_negentropy(ss: SampleSet, ctx: object = None) -> ScoreValue:
    top = _answer_top(ss)
    h = F.mean_token_entropy(top)
    return ScoreValue(_negentropy(h, top.shape[1]), {"mean_token_entropy_nats": h})


def _min_token_negentropy(ss: SampleSet, ctx: object = None) -> ScoreValue:
    top = _answer_top(ss)
    h = F.max_token_entropy(top)
    return ScoreValue(_negentropy(h, top.shape[1]), {"max_token_entropy_nats": h})


def _probability_margin(ss: SampleSet, ctx: object = None) -> ScoreValue:
    return ScoreValue(F.probability_margin(_answer_top(ss)))


def _pe_mc(length_normalized: bool, column: str):
    def compute(ss: SampleSet, ctx: object = None) -> ScoreValue:
        pe = F.predictive_entropy_mc(_sample_lps(ss), length_normalized=length_normalized)
        return ScoreValue(math.exp(-pe), {column: pe})

    return compute


def _pe_renormalized(ss: SampleSet, ctx: object = None) -> ScoreValue:
    m = len(ss.samples)
    if m < 2:
        raise ValueError(f"predictive_entropy_renormalized needs at least 2 samples, got {m}")
    pe = F.predictive_entropy_renormalized(_sample_lps(ss))
    return ScoreValue(_unit(1.0 - pe / math.log(m)), {"predictive_entropy_renormalized_nats": pe})


def _monte_carlo_probability(ss: SampleSet, ctx: object = None) -> ScoreValue:
    return ScoreValue(F.monte_carlo_sequence_probability(_sample_lps(ss)))


SPECS = [
    ScorerSpec(
        family="white-box",
        name="sequence_probability",
        needs=frozenset({"answer_logprobs"}),
        raw_direction="confidence",
        raw_range=(0.0, 1.0),
        raw_columns=(),
        compute=_sequence_probability,
        confidence_map="p(y) = exp(Σ_t log p_t)",
        reference="Fomicheva et al. 2020 (MSP); Vashurin et al. 2025 (LM-Polygraph)",
        summary="Probability of the whole answer.",
    ),
    ScorerSpec(
        family="white-box",
        name="normalized_probability",
        needs=frozenset({"answer_logprobs"}),
        raw_direction="uncertainty",
        raw_range=(1.0, _INF),
        raw_columns=("perplexity",),
        compute=_normalized_probability,
        confidence_map="exp(ℓ/L) = geometric mean of token probabilities = 1 / perplexity",
        reference="Malinin & Gales 2021; UQLM normalized_probability",
        summary="Length-normalised sequence probability; its raw column is the perplexity.",
    ),
    ScorerSpec(
        family="white-box",
        name="min_probability",
        needs=frozenset({"answer_logprobs"}),
        raw_direction="confidence",
        raw_range=(0.0, 1.0),
        raw_columns=(),
        compute=_min_probability,
        confidence_map="min_t p_t",
        reference="Manakul et al. 2023 (SelfCheckGPT grey-box 'Max(-log p)')",
        summary="Lowest token probability in the answer.",
    ),
    ScorerSpec(
        family="white-box",
        name="mean_token_negentropy",
        needs=frozenset({"answer_top_logprobs"}),
        raw_direction="uncertainty",
        raw_range=(0.0, _INF),
        raw_columns=("mean_token_entropy_nats",),
        compute=_mean_token_negentropy,
        confidence_map="1 − mean_t H_t / log k, H_t over the renormalised top-k",
        reference="Manakul et al. 2023 ('Avg H'); UQLM mean_token_negentropy",
        summary="One minus the mean top-k token entropy, normalised by log k.",
    ),
    ScorerSpec(
        family="white-box",
        name="min_token_negentropy",
        needs=frozenset({"answer_top_logprobs"}),
        raw_direction="uncertainty",
        raw_range=(0.0, _INF),
        raw_columns=("max_token_entropy_nats",),
        compute=_min_token_negentropy,
        confidence_map="1 − max_t H_t / log k",
        reference="Manakul et al. 2023 ('Max H'); UQLM min_token_negentropy",
        summary="One minus the largest top-k token entropy, normalised by log k.",
    ),
    ScorerSpec(
        family="white-box",
        name="probability_margin",
        needs=frozenset({"answer_top_logprobs"}),
        raw_direction="confidence",
        raw_range=(0.0, 1.0),
        raw_columns=(),
        compute=_probability_margin,
        confidence_map="mean_t (p_(1),t − p_(2),t)",
        reference="Farr et al. 2024; UQLM probability_margin",
        summary="Mean gap between the top two token probabilities.",
    ),
    ScorerSpec(
        family="white-box",
        name="predictive_entropy_mc",
        needs=frozenset({"sample_logprobs"}),
        raw_direction="uncertainty",
        raw_range=(0.0, _INF),
        raw_columns=("predictive_entropy_mc_nats",),
        compute=_pe_mc(False, "predictive_entropy_mc_nats"),
        confidence_map="exp(−PE), PE = −(1/m) Σ_i ℓ(ỹ_i)",
        reference="Malinin & Gales 2021; Kuhn et al. 2023",
        summary="Monte-Carlo predictive entropy over the samples.",
    ),
    ScorerSpec(
        family="white-box",
        name="predictive_entropy_mc_normalized",
        needs=frozenset({"sample_logprobs"}),
        raw_direction="uncertainty",
        raw_range=(0.0, _INF),
        raw_columns=("predictive_entropy_mc_normalized_nats",),
        compute=_pe_mc(True, "predictive_entropy_mc_normalized_nats"),
        confidence_map="exp(−PE_norm), PE_norm = −(1/m) Σ_i ℓ(ỹ_i)/L(ỹ_i)",
        reference="Malinin & Gales 2021 (length-normalised); Kuhn et al. 2023",
        summary="Length-normalised Monte-Carlo predictive entropy.",
    ),
    ScorerSpec(
        family="white-box",
        name="predictive_entropy_renormalized",
        needs=frozenset({"sample_logprobs"}),
        raw_direction="uncertainty",
        raw_range=(0.0, _INF),
        raw_columns=("predictive_entropy_renormalized_nats",),
        compute=_pe_renormalized,
        confidence_map="1 − PE / log m, PE = −Σ q_i log q_i, q = softmax(ℓ(ỹ))",
        reference="LUQ PredictiveEntropyEstimator (computed in log space)",
        summary="Entropy of the sample set's probabilities renormalised to sum to one.",
    ),
    ScorerSpec(
        family="white-box",
        name="monte_carlo_probability",
        needs=frozenset({"sample_logprobs"}),
        raw_direction="confidence",
        raw_range=(0.0, 1.0),
        raw_columns=(),
        compute=_monte_carlo_probability,
        confidence_map="(1/m) Σ_i p(ỹ_i)",
        reference="Monte-Carlo estimate of expected sequence probability",
        summary="Mean probability of the sampled responses.",
    ),
]

WHITEBOX_SCORERS: dict[str, ScorerSpec] = {s.name: s for s in SPECS}
