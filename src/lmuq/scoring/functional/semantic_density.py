"""Semantic density (Qiu & Miikkulainen 2024), as pure functions of NLI probabilities.

Qiu, X. and Miikkulainen, R. (2024). "Semantic Density: Uncertainty Quantification for Large
Language Models through Confidence Measurement in Semantic Space". NeurIPS 2024,
arXiv:2405.13845.

The answer y* and M *unique* reference responses y_1..y_M sampled for the prompt x are
points v*, v_i in a semantic space where, read from an NLI model, entailment means distance
0, neutral √2/2 and contradiction 1. So

    E‖v* − v_i‖²  = p_c(y*, y_i | x) + ½ p_n(y*, y_i | x)
    E‖v* − v_i‖   = p_c(y*, y_i | x) + (√2/2) p_n(y*, y_i | x)

and the density at v* is a kernel estimate with the Epanechnikov-style kernel (its constant
dropped, so that K(v*, v*) = 1)

    K(v*, v_i) = (1 − E‖v* − v_i‖²) · 1[E‖v* − v_i‖ ≤ 1]
    SD(y* | x) = Σ_i p̃_i K(v*, v_i) / Σ_i p̃_i,     p̃_i = p(y_i | x)^(1/L_i)

with p̃_i the length-normalised probability of reference i. SD ∈ [0, 1] is a confidence:
1 when every reference is entailed by the answer.

Where the implementations differ (lmuq follows the paper and says so in
:func:`semantic_density`): UQLM's ``SemanticDensity`` (0.6) keeps duplicate samples (each
counted with its own weight) instead of M *unique* references, and always conditions the
NLI on the prompt (``f"{prompt}\\n{response}"``); LM-Polygraph's ``SemanticDensity`` (0.7)
de-duplicates too but adds the answer itself as one more reference (kernel 1, weighted by
the answer's own normalised probability), which pulls every score towards 1.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.special import logsumexp

from lmuq.constants import CONTRADICTION, LOGPROB_TOLERANCE, NEUTRAL

__all__ = ["semantic_density", "semantic_kernel"]

_HALF_SQRT2 = math.sqrt(2.0) / 2.0
# NLI rows are softmax outputs: allow float rounding in their sum.
_SUM_TOLERANCE = 1e-6


def _check_nli(nli_probs: np.ndarray | Sequence[Sequence[float]]) -> np.ndarray:
    p = np.asarray(nli_probs, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != 3 or p.shape[0] == 0:
        raise ValueError(
            f"nli_probs must have shape (M >= 1, 3) (entailment, neutral, contradiction), "
            f"got {p.shape}"
        )
    if not np.isfinite(p).all() or (p < 0).any() or (p > 1).any():
        raise ValueError("nli_probs must be probabilities in [0, 1]")
    if (np.abs(p.sum(axis=1) - 1.0) > _SUM_TOLERANCE).any():
        raise ValueError("each row of nli_probs must sum to 1")
    return p


def semantic_kernel(nli_probs: np.ndarray | Sequence[Sequence[float]]) -> np.ndarray:
    """K(v*, v_i) = (1 − (p_c + p_n/2)) · 1[p_c + (√2/2) p_n ≤ 1] for each row of an
    ``(M, 3)`` NLI array (premise y*, hypothesis y_i). In [0, 1]; 1 for entailment, ½ for
    neutral, 0 for contradiction.

    For valid probabilities E‖v* − v_i‖ = p_c + (√2/2) p_n never exceeds 1, so the indicator
    of Qiu & Miikkulainen's kernel is always 1; it is kept so that the formula is theirs.
    """
    p = _check_nli(nli_probs)
    squared = p[:, CONTRADICTION] + 0.5 * p[:, NEUTRAL]
    distance = p[:, CONTRADICTION] + _HALF_SQRT2 * p[:, NEUTRAL]
    return np.clip(1.0 - squared, 0.0, 1.0) * (distance <= 1.0 + _SUM_TOLERANCE)


def semantic_density(
    nli_probs: np.ndarray | Sequence[Sequence[float]],
    log_likelihoods: np.ndarray | Sequence[float],
) -> float:
    """Semantic density SD(y* | x) = Σ_i p̃_i K(v*, v_i) / Σ_i p̃_i (Qiu & Miikkulainen 2024).

    Args:
        nli_probs: ``(M, 3)``, NLI(premise = the answer y*, hypothesis = reference y_i), for
            the M *unique* reference responses (the caller de-duplicates; see the module
            docstring for how UQLM and LM-Polygraph choose the references).
        log_likelihoods: ``(M,)``, log p̃_i = ℓ(y_i) / L(y_i), the references' length-normalised
            log-likelihoods. The weights p̃_i / Σ_j p̃_j are a softmax of these (log space), so
            nothing underflows on long responses; a reference with −inf has weight 0.

    Returns:
        A confidence in [0, 1].

    Raises:
        ValueError: on shapes that do not match, NaN or positive log-likelihoods, or when
            every reference has probability 0 (no weights).
    """
    kernel = semantic_kernel(nli_probs)
    ll = np.asarray(log_likelihoods, dtype=np.float64)
    if ll.shape != kernel.shape:
        raise ValueError(
            f"log_likelihoods must have one entry per reference ({kernel.size}), got {ll.shape}"
        )
    if np.isnan(ll).any() or (ll > LOGPROB_TOLERANCE).any():
        raise ValueError("log_likelihoods must be <= 0 and not NaN")
    total = logsumexp(ll)
    if not np.isfinite(total):
        raise ValueError("every reference has probability 0: semantic density has no weights")
    weights = np.exp(ll - total)
    return float(np.clip(weights @ kernel, 0.0, 1.0))
