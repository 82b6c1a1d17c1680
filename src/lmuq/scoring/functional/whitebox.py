"""White-box scorers as pure functions of token log-probabilities.

Every function takes plain arrays (one sequence's log-probs, a ``(T, k)`` top-k matrix, or a
list of sequences) and returns a float. All arithmetic is in log space: sequence
probabilities are sums of log-probs exponentiated once at the end, and sums of
probabilities use ``logsumexp``, so nothing underflows on long answers.

Notation: ℓ(s) = Σ_t log p(s_t | s_<t, x) is the sequence log-likelihood, L(s) its token
count, ỹ_1..ỹ_m the sampled responses.

Inputs are validated here (NaN, positive log-probs, empty sequences) so each function is safe
to call directly; the orchestrators add the row context to the messages.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.special import logsumexp

from lmuq.constants import LOGPROB_TOLERANCE
from lmuq.types import check_logprobs

__all__ = [
    "max_renormalized_probability",
    "max_token_entropy",
    "mean_token_entropy",
    "min_token_probability",
    "monte_carlo_sequence_probability",
    "perplexity",
    "predictive_entropy_mc",
    "predictive_entropy_renormalized",
    "probability_gap",
    "probability_margin",
    "renormalized_entropy",
    "renormalized_max",
    "sequence_log_likelihood",
    "sequence_probability",
    "token_entropies",
    "top_k_gap",
]

ArrayLike = Sequence[float] | np.ndarray


# --------------------------------------------------------------------------- one sequence


def _loglik(lp: np.ndarray, length_normalized: bool) -> float:
    total = float(lp.sum())
    return total / lp.size if length_normalized else total


def sequence_log_likelihood(logprobs: ArrayLike, length_normalized: bool = False) -> float:
    """ℓ(y) = Σ_t log p(y_t | y_<t, x), or ℓ(y)/L(y) when ``length_normalized``."""
    return _loglik(check_logprobs(logprobs, "the response"), length_normalized)


def sequence_probability(logprobs: ArrayLike, length_normalized: bool = False) -> float:
    """Sequence probability p(y) = exp(ℓ(y)); length-normalised: exp(ℓ(y)/L(y)).

    The normalised form is the geometric mean of the token probabilities, i.e. the inverse
    perplexity; it is the "maximum sequence probability" (MSP) baseline of Fomicheva et al.
    (2020) and LM-Polygraph in its normalised variant. Confidence; range [0, 1].
    """
    return math.exp(sequence_log_likelihood(logprobs, length_normalized))


def perplexity(logprobs: ArrayLike) -> float:
    """Perplexity exp(−ℓ(y)/L(y)) ∈ [1, ∞). Uncertainty (higher = less confident)."""
    nll = -sequence_log_likelihood(logprobs, length_normalized=True)
    # A mean surprisal above ~709 nats overflows float64: the perplexity is then infinite.
    return math.exp(nll) if nll < 709.0 else math.inf


def min_token_probability(logprobs: ArrayLike) -> float:
    """min_t p(y_t | y_<t, x): the weakest link of the answer (Manakul et al. 2023,
    "Min p" in SelfCheckGPT's grey-box baselines). Confidence; range [0, 1]."""
    return math.exp(float(check_logprobs(logprobs, "the response").min()))


def _check_top(top_logprobs: ArrayLike, min_k: int) -> np.ndarray:
    top = np.asarray(top_logprobs, dtype=np.float64)
    if top.ndim != 2 or top.shape[0] == 0:
        raise ValueError(
            f"top-k log-probs must have shape (tokens >= 1, k), got {top.shape}; generate with "
            "top_logprobs > 0 to record them"
        )
    if top.shape[1] < min_k:
        raise ValueError(f"this scorer needs at least k={min_k} alternatives, got k={top.shape[1]}")
    if np.isnan(top).any():
        raise ValueError("top-k log-probs contain NaN")
    if (top > LOGPROB_TOLERANCE).any():
        raise ValueError("top-k log-probs must be <= 0; got positive values (raw logits?)")
    dead = np.flatnonzero(np.isneginf(top).all(axis=1))
    if dead.size:
        raise ValueError(
            f"top-k log-probs at token(s) {dead[:5].tolist()} are all -inf (no alternative has "
            "any probability): the backend did not record the top-k for those steps"
        )
    return np.minimum(top, 0.0)


def token_entropies(top_logprobs: ArrayLike) -> np.ndarray:
    """Per-token entropy over the top-k alternatives, renormalised to sum to one.

    H_t = −Σ_j q_tj log q_tj with q_t = softmax(top-k log-probs at step t). In nats, range
    [0, log k]. Alternatives reported as −inf (probability 0) contribute nothing.
    """
    top = _check_top(top_logprobs, min_k=2)
    log_q = top - logsumexp(top, axis=1, keepdims=True)
    q = np.exp(log_q)
    # 0·log 0 = 0: mask so that −inf log-probs do not produce NaN.
    plogp = np.where(q > 0, q * np.where(q > 0, log_q, 0.0), 0.0)
    return -plogp.sum(axis=1)


def mean_token_entropy(top_logprobs: ArrayLike) -> float:
    """Mean over tokens of the top-k token entropy H_t (nats; uncertainty).

    The confidence form 1 − mean_t H_t / log k is UQLM's ``mean_token_negentropy``
    (after Manakul et al. 2023's "Avg H"). Range [0, log k].
    """
    return float(token_entropies(top_logprobs).mean())


def max_token_entropy(top_logprobs: ArrayLike) -> float:
    """Max over tokens of the top-k token entropy H_t (nats; uncertainty).

    The confidence form 1 − max_t H_t / log k is UQLM's ``min_token_negentropy``
    (Manakul et al. 2023's "Max H"). Range [0, log k].
    """
    return float(token_entropies(top_logprobs).max())


def probability_margin(top_logprobs: ArrayLike) -> float:
    """Mean over tokens of p_(1) − p_(2), the gap between the two most likely tokens.

    Uses the model's probabilities as reported (not renormalised over the top-k), following
    UQLM's ``probability_margin`` (after Farr et al. 2024). Confidence; range [0, 1].
    """
    top = _check_top(top_logprobs, min_k=2)
    p = np.exp(np.sort(top, axis=1)[:, ::-1])
    return float((p[:, 0] - p[:, 1]).mean())


# ------------------------------------------------------------------- several sequences


def _sample_logliks(samples: Sequence[ArrayLike], length_normalized: bool) -> np.ndarray:
    if len(samples) == 0:
        raise ValueError("no sampled responses given; these scorers need m >= 1 samples")
    return np.array(
        [
            _loglik(check_logprobs(s, f"sample {i}"), length_normalized)
            for i, s in enumerate(samples)
        ]
    )


def predictive_entropy_mc(samples: Sequence[ArrayLike], length_normalized: bool = False) -> float:
    """Monte-Carlo predictive entropy: PE ≈ −(1/m) Σ_i ℓ(ỹ_i) (ℓ/L when length-normalised).

    The estimator of Malinin & Gales (2021) and Kuhn et al. (2023): the samples are draws
    from the model, so the average surprisal estimates H(Y | x). Nats; uncertainty; range
    [0, ∞). It is unbiased only when the samples are drawn at temperature 1 without
    truncation; with other settings it is the entropy of a proxy, as in the papers' code.
    """
    return float(-_sample_logliks(samples, length_normalized).mean())


def renormalized_entropy(log_scores: ArrayLike) -> float:
    """Entropy of scores renormalised over the set: q = softmax(log_scores), −Σ q log q.

    Nats, range [0, log m]. The building block of LUQ's predictive entropy; takes log-scores
    so any sequence-score mode (sum, mean) can feed it without leaving log space.
    """
    ll = _check_scores(log_scores)
    log_q = ll - logsumexp(ll)
    q = np.exp(log_q)
    # 0·log 0 = 0: a zero-probability member adds nothing (and must not add NaN).
    return float(-np.where(q > 0, q * np.where(q > 0, log_q, 0.0), 0.0).sum())


def renormalized_max(log_scores: ArrayLike) -> float:
    """max_i q_i with q = softmax(log_scores). Range [1/m, 1]."""
    ll = _check_scores(log_scores)
    return float(math.exp(ll.max() - logsumexp(ll)))


def probability_gap(log_scores: ArrayLike, k: int = 2) -> float:
    """exp(s_(1)) − exp(s_(k)) for the largest and the k-th largest log-score."""
    if k < 2:
        raise ValueError(f"k must be >= 2, got {k}")
    ll = np.sort(_check_scores(log_scores, log_probabilities=True))[::-1]
    if ll.size < k:
        raise ValueError(f"a top-{k} gap needs at least {k} samples, got {ll.size}")
    return float(math.exp(ll[0]) - math.exp(ll[k - 1]))


def _check_scores(log_scores: ArrayLike, *, log_probabilities: bool = False) -> np.ndarray:
    """A non-empty 1-D array of log-scores: no NaN, no +inf, not all -inf (no mass to
    compare or renormalise); with ``log_probabilities`` also none above 0."""
    ll = np.asarray(log_scores, dtype=np.float64)
    if ll.ndim != 1 or ll.size == 0:
        raise ValueError(f"expected a non-empty 1-D array of log-scores, got shape {ll.shape}")
    if np.isnan(ll).any():
        raise ValueError("log-scores contain NaN")
    if np.isposinf(ll).any():
        raise ValueError("log-scores contain +inf (a probability cannot be infinite)")
    if np.isneginf(ll).all():
        raise ValueError("every log-score is -inf: the scores have no probability mass")
    if log_probabilities:
        if (ll > LOGPROB_TOLERANCE).any():
            raise ValueError(
                f"log-scores must be log-probabilities <= 0, got max {ll.max():.4g} (did you "
                "pass probabilities or raw logits?)"
            )
        ll = np.minimum(ll, 0.0)
    return ll


def predictive_entropy_renormalized(
    samples: Sequence[ArrayLike], length_normalized: bool = False
) -> float:
    """Predictive entropy of the sample set renormalised to a distribution (LUQ's form).

    q_i = p(ỹ_i) / Σ_j p(ỹ_j), computed as softmax of the log-likelihoods;
    PE = −Σ_i q_i log q_i. Nats; uncertainty; range [0, log m]. LUQ computes q in linear
    space and gets NaN when every p(ỹ_i) underflows (~110 tokens); here it stays exact.
    Identical samples are counted separately, as in LUQ.
    """
    return renormalized_entropy(_sample_logliks(samples, length_normalized))


def monte_carlo_sequence_probability(
    samples: Sequence[ArrayLike], length_normalized: bool = False
) -> float:
    """Mean sequence probability of the sampled responses: (1/m) Σ_i p(ỹ_i).

    With length normalisation each p(ỹ_i) is exp(ℓ(ỹ_i)/L(ỹ_i)). A sample-based analogue
    of sequence probability (the "Monte-Carlo probability" of the sampling-based
    white-box scorers). Computed as exp(logsumexp ℓ − log m). Confidence; range [0, 1].
    """
    ll = _sample_logliks(samples, length_normalized)
    return float(math.exp(logsumexp(ll) - math.log(ll.size)))


def max_renormalized_probability(
    samples: Sequence[ArrayLike], length_normalized: bool = False
) -> float:
    """max_i q_i with q the sample-set-renormalised probabilities (see above).

    LUQ's ``MaxProbabilityEstimator`` returns 1 − this value. Confidence; range [1/m, 1].
    """
    return renormalized_max(_sample_logliks(samples, length_normalized))


def top_k_gap(samples: Sequence[ArrayLike], k: int = 2, length_normalized: bool = False) -> float:
    """Gap p_(1) − p_(k) between the most and the k-th most probable sampled sequences.

    Uses unnormalised sequence probabilities, as LUQ's ``TopKGapEstimator`` (which returns
    1 − gap). Confidence; range [0, 1]. Needs m >= k samples.
    """
    return probability_gap(_sample_logliks(samples, length_normalized), k)
