"""SAR, TokenSAR and SentenceSAR (Duan et al. 2024), as pure functions.

Duan, J., Cheng, H., Wang, S., Zavalny, A., Wang, C., Xu, R., Kailkhura, B. and Xu, K.
(2024). "Shifting Attention to Relevance: Towards the Predictive Uncertainty Quantification
of Free-Form Large Language Models". ACL 2024, arXiv:2307.01379; code
github.com/jinhaoduan/SAR.

Not every token or sampled sentence carries the meaning equally, so SAR re-weights the
surprisal of each by its relevance, measured with a sentence-similarity model g ∈ [0, 1]:

* **Token relevance.** For a response s = (z_1..z_L),
  R_T(z_i) = 1 − g(s, s \\ {z_i}) (how much the meaning changes when z_i is left out),
  normalised R̃_T(z_i) = R_T(z_i) / Σ_j R_T(z_j).
* **TokenSAR** (one response): E_T(s) = Σ_i R̃_T(z_i) · (−log p(z_i | z_<i, x)), a
  relevance-weighted mean token surprisal (nats).
* **Sentence relevance** over K responses s_1..s_K:
  R_S(s_j) = Σ_{k≠j} g(s_j, s_k) p(s_k | x).
* **SentenceSAR**: E_S = (1/K) Σ_j −log(p(s_j | x) + R_S(s_j) / t), with the temperature
  t (0.001 in the authors' code).
* **SAR**: SentenceSAR with every p(s | x) replaced by the token-shifted probability
  p'(s | x) = exp(−E_T(s)).

The paper's g is the cross-encoder ``cross-encoder/stsb-roberta-large`` and it prepends the
question to both texts of the token relevance; lmuq's scorers take g from
``ScoringContext.similarity`` (:mod:`lmuq.scoring.functional.similarity`). Everything here is
in log space (``logsumexp``), so p(s | x) of long sentences never underflows.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.special import expit, logsumexp

from lmuq.types import check_logprobs

__all__ = [
    "DEFAULT_TEMPERATURE",
    "sar_confidence",
    "sentence_sar",
    "token_relevance",
    "token_sar",
]

#: Duan et al.'s temperature t of the sentence relevance (their code's default).
DEFAULT_TEMPERATURE = 0.001


def _check_similarities(values: np.ndarray | Sequence[float], what: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if not np.isfinite(arr).all() or (arr < 0).any() or (arr > 1).any():
        raise ValueError(f"{what} must be similarities in [0, 1]")
    return arr


def token_relevance(similarities_without_token: np.ndarray | Sequence[float]) -> np.ndarray:
    """R̃_T(z_i) = (1 − g_i) / Σ_j (1 − g_j), g_i = g(s, s without token i).

    Returns weights that sum to one. When no token changes the meaning (every g_i = 1)
    relevance carries no information and the weights are uniform, 1/L, so TokenSAR falls
    back to the mean surprisal (LM-Polygraph 0.7 returns 0 there; the authors' code NaN).
    """
    g = _check_similarities(similarities_without_token, "similarities_without_token")
    if g.ndim != 1 or g.size == 0:
        raise ValueError(f"need one similarity per token, got shape {g.shape}")
    relevance = 1.0 - g
    total = relevance.sum()
    if total <= 0.0:
        return np.full(g.size, 1.0 / g.size)
    return relevance / total


def token_sar(
    logprobs: np.ndarray | Sequence[float],
    similarities_without_token: np.ndarray | Sequence[float],
) -> float:
    """TokenSAR E_T(s) = Σ_i R̃_T(z_i) · (−log p(z_i | z_<i, x))  (Duan et al. 2024).

    Args:
        logprobs: ``(L,)`` token log-probabilities of the response.
        similarities_without_token: ``(L,)``, g(s, s with token i left out) ∈ [0, 1].

    Returns:
        Nats, uncertainty, in [0, ∞): a relevance-weighted mean of token surprisals.
    """
    lp = check_logprobs(logprobs, "the response")
    weights = token_relevance(similarities_without_token)
    if weights.shape != lp.shape:
        raise ValueError(
            f"{lp.size} token log-probs but {weights.size} token similarities: one per token"
        )
    surprisal = -lp
    # A token of probability 0 with no relevance contributes nothing (not 0 · inf = NaN).
    return float(np.sum(np.where(weights > 0, weights * surprisal, 0.0)))


def sentence_sar(
    log_likelihoods: np.ndarray | Sequence[float],
    similarities: np.ndarray | Sequence[Sequence[float]],
    temperature: float = DEFAULT_TEMPERATURE,
) -> float:
    """SentenceSAR E_S = (1/K) Σ_j −log(p_j + (1/t) Σ_{k≠j} g_jk p_k)  (Duan et al. 2024).

    With ``log_likelihoods[j] = log p(s_j | x)`` this is SentenceSAR; with
    ``log_likelihoods[j] = −E_T(s_j)`` (TokenSAR of each response) it is SAR.

    Args:
        log_likelihoods: ``(K,)``, log p_j of each response (−inf allowed).
        similarities: ``(K, K)``, g_jk = g(s_j, s_k) ∈ [0, 1]; the diagonal is ignored.
        temperature: t > 0.

    Returns:
        Nats, uncertainty: relevance from similar responses adds to p_j, so the log can
        exceed 0 and the value be negative, down to −log(1 + (K − 1)/t); +∞ when a response
        has zero probability and no similar response has any.
    """
    ll = np.asarray(log_likelihoods, dtype=np.float64)
    if ll.ndim != 1 or ll.size == 0:
        raise ValueError(f"log_likelihoods must be a non-empty 1-D array, got {ll.shape}")
    if np.isnan(ll).any() or np.isposinf(ll).any():
        raise ValueError("log_likelihoods contain NaN or +inf")
    g = _check_similarities(similarities, "similarities")
    k = ll.size
    if g.shape != (k, k):
        raise ValueError(f"similarities must have shape ({k}, {k}), got {g.shape}")
    if not (isinstance(temperature, (int, float)) and temperature > 0):
        raise ValueError(f"temperature must be a number > 0, got {temperature!r}")
    weights = g / float(temperature)
    np.fill_diagonal(weights, 1.0)  # p_j itself, with weight 1
    # log(p_j + Σ_{k≠j} (g_jk / t) p_k) = logsumexp_k(ℓ_k, b = weights[j, k])
    log_q = np.array([logsumexp(ll, b=weights[j]) for j in range(k)])
    return float(np.mean(-log_q))


def sar_confidence(uncertainty: float) -> float:
    """Map a SentenceSAR / SAR value e ∈ ℝ to a confidence σ(−e) = 1 / (1 + e^e) ∈ [0, 1].

    Monotone decreasing in e; σ(−e) = q / (1 + q) for the geometric-mean relevance-shifted
    probability q = exp(−e).
    """
    return float(expit(-float(uncertainty)))
