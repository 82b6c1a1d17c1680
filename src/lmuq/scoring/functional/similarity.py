"""Similarity of two texts in [0, 1], from sentence embeddings or from NLI probabilities.

Several published scorers need a graded similarity s(a, b) ∈ [0, 1] between two responses:
CoCoA's consistency term (Vashurin et al. 2025) and SAR's token and sentence relevance (Duan
et al. 2024). Both papers use an STS cross-encoder (``cross-encoder/stsb-roberta-large``),
which scores unrelated sentences near 0 and paraphrases near 1. No cross-encoder ships
offline, so lmuq offers two documented stand-ins (``ScoringContext.similarity``):

* ``"embedding"``: the cosine of sentence embeddings clipped below at 0,
  s = max(0, cos(e(a), e(b))) — unrelated sentences (cos ≈ 0) score ≈ 0 as with an STS
  model; this differs from UQLM's ``(cos + 1) / 2`` map, which scores them 0.5.
* ``"nli"``: the symmetric entailment probability s = (p_e(a→b) + p_e(b→a)) / 2, the
  entailment affinity of Lin et al. (2024).
"""

from __future__ import annotations

import numpy as np

from lmuq.constants import ENTAILMENT

__all__ = ["clipped_cosine", "nli_similarity"]


def clipped_cosine(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Row-wise s_i = max(0, cos(left_i, right_i)) for two ``(n, d)`` embedding arrays.

    The rows need not be normalised. A zero vector has no direction: its similarity to
    anything is 0.

    Raises:
        ValueError: on mismatched or non-2-D shapes, or non-finite values.
    """
    a = np.asarray(left, dtype=np.float64)
    b = np.asarray(right, dtype=np.float64)
    if a.ndim != 2 or a.shape != b.shape:
        raise ValueError(
            f"left and right must be (n, d) arrays of the same shape, got {a.shape} and {b.shape}"
        )
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("embeddings contain NaN or infinite values")
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    dots = np.einsum("ij,ij->i", a, b)
    cos = np.divide(dots, norms, out=np.zeros_like(dots), where=norms > 0)
    return np.clip(cos, 0.0, 1.0)


def nli_similarity(forward: np.ndarray, backward: np.ndarray) -> np.ndarray:
    """s_i = (p_e(a_i→b_i) + p_e(b_i→a_i)) / 2 from two ``(n, 3)`` NLI arrays (last axis
    entailment, neutral, contradiction). In [0, 1].

    Raises:
        ValueError: on mismatched shapes or probabilities outside [0, 1].
    """
    f = np.asarray(forward, dtype=np.float64)
    b = np.asarray(backward, dtype=np.float64)
    if f.ndim != 2 or f.shape[1:] != (3,) or f.shape != b.shape:
        raise ValueError(
            f"forward and backward must be (n, 3) NLI arrays of the same shape, got {f.shape} "
            f"and {b.shape}"
        )
    if not (np.all((f >= 0) & (f <= 1)) and np.all((b >= 0) & (b <= 1))):
        raise ValueError("NLI probabilities must lie in [0, 1]")
    return (f[:, ENTAILMENT] + b[:, ENTAILMENT]) / 2.0
