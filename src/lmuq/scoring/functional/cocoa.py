"""CoCoA: model confidence times output consistency (Vashurin et al. 2025), as pure functions.

Vashurin, R., Goloburda, M., Ilina, A., Rubashevskii, A., Nakov, P., Shelmanov, A. and
Panov, M. (2025). "Uncertainty Quantification for LLMs through Minimum Bayes Risk: Bridging
Confidence and Consistency" (arXiv:2502.04964; NeurIPS 2025 as "CoCoA: A Minimum Bayes Risk
Framework Bridging Confidence and Consistency for Uncertainty Quantification in LLMs").

From the minimum-Bayes-risk view, the uncertainty of the answer y* combines an
information-based uncertainty u(y* | x) of the answer with its expected dissimilarity to
the model's other outputs, estimated on M samples y_1..y_M:

    Ū(y*)      = (1/M) Σ_i (1 − s(y*, y_i)),      s ∈ [0, 1] a similarity
    U_CoCoA(y*) = u(y* | x) · Ū(y*)

with three choices of u:

* MSP: u = −log p(y* | x) = −ℓ(y*)                      (``cocoa_msp``)
* PPL: u = −ℓ(y*) / L(y*), the log-perplexity            (``cocoa_ppl``)
* MTE: u = mean token entropy of y*                      (``cocoa_entropy``)

The paper computes s with an STS cross-encoder; lmuq offers sentence-embedding cosine or
NLI entailment instead (:mod:`lmuq.scoring.functional.similarity`), and its token entropy
is over the top-k alternatives renormalised (the paper's is over the full vocabulary).

UQLM's ``consistency_and_confidence`` (0.6) is a different combination of the same two
signals, a product of confidences: LNTP(y*) · NCS(y*), with LNTP = exp(ℓ/L) the
length-normalised probability and NCS = (1/M) Σ_i (cos(e(y*), e(y_i)) + 1) / 2 the
normalised cosine similarity (:func:`confidence_times_consistency`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["average_dissimilarity", "cocoa_uncertainty", "confidence_times_consistency"]


def _check_unit(values: np.ndarray | Sequence[float], what: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{what} must be a non-empty 1-D array (one per sample), got {arr.shape}")
    if not np.isfinite(arr).all() or (arr < 0).any() or (arr > 1).any():
        raise ValueError(f"{what} must lie in [0, 1]")
    return arr


def average_dissimilarity(similarities: np.ndarray | Sequence[float]) -> float:
    """Ū(y*) = (1/M) Σ_i (1 − s(y*, y_i)) for similarities s ∈ [0, 1]. In [0, 1]."""
    return float(np.mean(1.0 - _check_unit(similarities, "similarities")))


def cocoa_uncertainty(information: float, similarities: np.ndarray | Sequence[float]) -> float:
    """U_CoCoA(y*) = u(y* | x) · (1/M) Σ_i (1 − s(y*, y_i))  (Vashurin et al. 2025).

    Args:
        information: the information-based uncertainty u >= 0 of the answer (−ℓ for MSP,
            −ℓ/L for PPL, a mean token entropy for MTE).
        similarities: s(y*, y_i) ∈ [0, 1] for each sample.

    Returns:
        An uncertainty in [0, u] (0 when every sample means the same as the answer).

    Raises:
        ValueError: if ``information`` is negative or NaN, or a similarity is outside [0, 1].
    """
    u = float(information)
    if math.isnan(u) or u < 0:
        raise ValueError(f"information must be a number >= 0, got {information!r}")
    dissimilarity = average_dissimilarity(similarities)
    # 0 · inf: a zero-probability answer that every sample repeats has no defined score;
    # read it as the limit of the product along finite u, i.e. 0.
    return 0.0 if dissimilarity == 0.0 else u * dissimilarity


def confidence_times_consistency(
    log_likelihood: float, num_tokens: int, cosines: np.ndarray | Sequence[float]
) -> float:
    """UQLM's ``consistency_and_confidence``: exp(ℓ/L) · (1/M) Σ_i (cos_i + 1) / 2.

    Args:
        log_likelihood: ℓ(y*) <= 0, the answer's log-likelihood.
        num_tokens: L(y*) >= 1.
        cosines: cos(e(y*), e(y_i)) ∈ [−1, 1] for each sample.

    Returns:
        A confidence in [0, 1].
    """
    ll = float(log_likelihood)
    if math.isnan(ll) or ll > 0:
        raise ValueError(f"log_likelihood must be <= 0, got {log_likelihood!r}")
    if not isinstance(num_tokens, int) or num_tokens < 1:
        raise ValueError(f"num_tokens must be an int >= 1, got {num_tokens!r}")
    cos = np.asarray(cosines, dtype=np.float64)
    if cos.ndim != 1 or cos.size == 0 or not np.isfinite(cos).all():
        raise ValueError(f"cosines must be a non-empty 1-D finite array, got shape {cos.shape}")
    ncs = float(np.mean((np.clip(cos, -1.0, 1.0) + 1.0) / 2.0))
    return math.exp(ll / num_tokens) * ncs
