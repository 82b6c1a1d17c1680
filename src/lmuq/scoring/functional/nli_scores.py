"""NLI-based scores as pure functions of NLI probability arrays.

NLI probabilities are arrays whose last axis is (entailment, neutral, contradiction) — the
canonical order of :mod:`lmuq.statistics.nli`. ``probs[i, j]`` is NLI(premise = response i,
hypothesis = response j).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np
from scipy.linalg import expm

from lmuq.constants import CONTRADICTION, ENTAILMENT, NEUTRAL

__all__ = [
    "affinity_matrix",
    "degree_confidence",
    "eccentricity_confidence",
    "eigv_uncertainty",
    "entailment_probability",
    "kernel_language_entropy",
    "luq_confidence",
    "noncontradiction_probability",
    "split_sentences",
]

E, N, C = ENTAILMENT, NEUTRAL, CONTRADICTION


def _pair_probs(forward: np.ndarray, backward: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    f = np.asarray(forward, dtype=np.float64).reshape(-1, 3)
    b = np.asarray(backward, dtype=np.float64).reshape(-1, 3)
    if f.shape != b.shape or f.shape[0] == 0:
        raise ValueError(f"need matching non-empty (m, 3) arrays, got {f.shape} and {b.shape}")
    return f, b


def noncontradiction_probability(forward: np.ndarray, backward: np.ndarray) -> float:
    """NCP = (1/m) Σ_j (1 − (p_c(y→ỹ_j) + p_c(ỹ_j→y)) / 2)  (Lin et al. 2024; UQLM).

    ``forward[j]`` = NLI(y, ỹ_j), ``backward[j]`` = NLI(ỹ_j, y). Confidence; range [0, 1].
    """
    f, b = _pair_probs(forward, backward)
    return float(np.mean(1.0 - (f[:, C] + b[:, C]) / 2.0))


def entailment_probability(forward: np.ndarray, backward: np.ndarray) -> float:
    """(1/m) Σ_j (p_e(y→ỹ_j) + p_e(ỹ_j→y)) / 2  (Lin et al. 2024; UQLM). Confidence; [0, 1]."""
    f, b = _pair_probs(forward, backward)
    return float(np.mean((f[:, E] + b[:, E]) / 2.0))


def affinity_matrix(probs: np.ndarray, kind: str = "entail") -> np.ndarray:
    """Symmetric similarity W from an (n, n, 3) NLI array (Lin et al. 2024).

    ``kind="entail"``: W_ij = (p_e(i→j) + p_e(j→i)) / 2; ``"contra"``: W_ij = 1 −
    (p_c(i→j) + p_c(j→i)) / 2. The diagonal is 1.
    """
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 3 or p.shape[0] != p.shape[1] or p.shape[2] != 3:
        raise ValueError(f"expected an (n, n, 3) NLI array, got {p.shape}")
    if kind == "entail":
        w = (p[:, :, E] + p[:, :, E].T) / 2.0
    elif kind == "contra":
        w = 1.0 - (p[:, :, C] + p[:, :, C].T) / 2.0
    else:
        raise ValueError(f"kind must be 'entail' or 'contra', got {kind!r}")
    np.fill_diagonal(w, 1.0)
    return w


def _normalized_laplacian(w: np.ndarray) -> np.ndarray:
    d = w.sum(axis=1)
    inv = 1.0 / np.sqrt(d)
    return np.eye(len(w)) - inv[:, None] * w * inv[None, :]


def eigv_uncertainty(w: np.ndarray) -> float:
    """EigV (Lin et al. 2024): U = Σ_k max(0, 1 − λ_k) over the eigenvalues of the normalised
    Laplacian I − D^{-1/2} W D^{-1/2}; a soft count of semantic sets. Range [1, n]."""
    lam = np.linalg.eigvalsh(_normalized_laplacian(np.asarray(w, dtype=np.float64)))
    return float(np.clip(1.0 - lam, 0.0, None).sum())


def degree_confidence(w: np.ndarray, index: int = 0) -> float:
    """Degree (Lin et al. 2024): C(s_index) = D_ii / n, D_ii = Σ_j W_ij (self included).
    Confidence; range [1/n, 1]."""
    w = np.asarray(w, dtype=np.float64)
    return float(w[index].sum() / len(w))


def eccentricity_confidence(
    w: np.ndarray, index: int = 0, threshold: float = 0.9
) -> tuple[float, float]:
    """Eccentricity (Lin et al. 2024), as (confidence of response ``index``, uncertainty).

    Responses are embedded by the eigenvectors of the normalised Laplacian whose eigenvalues
    are below ``threshold`` (at least one; LM-Polygraph's default 0.9); v_j is row j centred
    on the mean row. Uncertainty U = ‖[v_1 … v_n]‖ (Frobenius); confidence of response i is
    max(0, 1 − ‖v_i‖) (Lin et al. use −‖v_i‖; the map to [0, 1] is monotone). Row norms are
    invariant to the eigenbasis chosen inside the selected subspace.
    """
    lam, vec = np.linalg.eigh(_normalized_laplacian(np.asarray(w, dtype=np.float64)))
    k = max(1, int((lam < threshold).sum()))
    emb = vec[:, :k]
    centred = emb - emb.mean(axis=0, keepdims=True)
    norms = np.linalg.norm(centred, axis=1)
    return float(max(0.0, 1.0 - norms[index])), float(np.linalg.norm(centred))


def kernel_language_entropy(w: np.ndarray, t: float = 1.0) -> float:
    """Kernel language entropy (Nikitin et al. 2024): the von Neumann entropy of a unit-trace
    heat kernel on the semantic graph.

    K = exp(−t L) with L = D − W the graph Laplacian; ρ = K / tr K; KLE = −Σ λ log λ over the
    eigenvalues of ρ. Nats; range [0, log n] (log n when no two responses agree). The paper
    tunes t; t = 1 makes full agreement score near 0 for n ≈ 5–10.
    """
    w = np.asarray(w, dtype=np.float64)
    if t <= 0:
        raise ValueError(f"t must be > 0, got {t}")
    lap = np.diag(w.sum(axis=1)) - w
    k = expm(-t * lap)
    rho = k / np.trace(k)
    lam = np.clip(np.linalg.eigvalsh((rho + rho.T) / 2.0), 0.0, None)
    lam = lam[lam > 0]
    return float(-(lam * np.log(lam)).sum())


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")


def split_sentences(text: str) -> list[str]:
    """Split on sentence-final punctuation followed by whitespace, and on newlines; a text
    without a boundary is one sentence. Empty pieces are dropped."""
    parts = [p.strip() for p in _SENTENCE_END.split(text)]
    parts = [p for p in parts if p]
    return parts or [text.strip() or text]


def luq_confidence(sentence_probs: Sequence[np.ndarray]) -> float:
    """LUQ (Zhang et al. 2024): for each sample ỹ_j, the mean over the answer's sentences s of
    P(entail) / (P(entail) + P(contradict)) with premise ỹ_j and hypothesis s; averaged over
    samples. ``sentence_probs[j]`` is the (n_sentences, 3) NLI array for sample j.
    Confidence; range [0, 1]. A sentence with p_e + p_c = 0 counts 0.5 (no evidence).
    """
    if len(sentence_probs) == 0:
        raise ValueError("LUQ needs at least one sample")
    per_sample = []
    for probs in sentence_probs:
        p = np.asarray(probs, dtype=np.float64).reshape(-1, 3)
        denom = p[:, E] + p[:, C]
        ratio = np.where(denom > 0, p[:, E] / np.where(denom > 0, denom, 1.0), 0.5)
        per_sample.append(ratio.mean())
    return float(np.mean(per_sample))


def _unit(x: float) -> float:
    return min(1.0, max(0.0, x))


def eigv_confidence(u: float, n: int) -> float:
    """Map EigV's U ∈ [1, n] to a confidence (n − U) / (n − 1) ∈ [0, 1]."""
    return 1.0 if n == 1 else _unit((n - u) / (n - 1))


def kle_confidence(kle: float, n: int) -> float:
    """Map KLE ∈ [0, log n] to a confidence 1 − KLE / log n ∈ [0, 1]."""
    return 1.0 if n == 1 else _unit(1.0 - kle / math.log(n))
