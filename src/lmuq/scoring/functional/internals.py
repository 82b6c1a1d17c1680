"""Scores from a model's internals: RAUQ, the attention score and EigenScore.

Pure functions of arrays a local model computed while generating (see
:class:`~lmuq.types.ModelInternals`); the scorers in :mod:`lmuq.scoring.internals` bind them
to a sample set. Each returns an *uncertainty* (higher = less confident), in the papers' and
LM-Polygraph's convention.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from lmuq.constants import ATTENTION_EPS

__all__ = [
    "attention_score",
    "default_rauq_layers",
    "eigenscore",
    "rauq",
    "rauq_layer_uncertainty",
]


def eigenscore(embeddings: np.ndarray, alpha: float = 1e-3) -> float:
    """EigenScore of K responses' embeddings (Chen et al. 2024, INSIDE, ICLR).

        ES = (1/K) log det(Σ + α I_K) = (1/K) Σ_k log λ_k,   Σ = Z J_d Zᵀ

    with Z the (K, d) embeddings (one row per sampled response: the hidden state of its last
    token at a middle layer) and J_d = I_d − (1/d) 1 1ᵀ, which centres each embedding over
    its d features. Consistent responses have embeddings in few directions, so Σ has few
    large eigenvalues and ES is low; diverse (likely hallucinated) ones raise it. The
    eigenvalues of Σ + αI are at least α, so ES >= log α. LM-Polygraph's ``EigenScore``
    computes the same (it replaces eigenvalues <= 0, which cannot occur for α > 0, by 1e-10).

    Args:
        embeddings: shape (K, d), K >= 1.
        alpha: the ridge α > 0 (the paper's 1e-3).
    """
    z = np.asarray(embeddings, dtype=np.float64)
    if z.ndim != 2 or z.shape[0] < 1 or z.shape[1] < 1:
        raise ValueError(f"embeddings must have shape (K, d) with K, d >= 1, got {z.shape}")
    if not np.isfinite(z).all():
        raise ValueError("embeddings contain NaN or inf")
    if not alpha > 0:
        raise ValueError(f"alpha must be > 0, got {alpha!r}")
    centred = z - z.mean(axis=1, keepdims=True)  # Z J_d, since J_d is idempotent
    covariance = centred @ centred.T
    eig = np.linalg.eigvalsh(covariance + alpha * np.eye(z.shape[0]))
    # Σ is positive semi-definite: eigenvalues below α are round-off
    return float(np.mean(np.log(np.maximum(eig, alpha))))


def attention_score(
    token_attention: np.ndarray,
    prompt_log_attention: np.ndarray | None = None,
) -> float:
    """The attention score of one layer (Sriramanan et al. 2024, LLM-Check, NeurIPS).

        u = −(1/H) Σ_h Σ_i log(A^h_ii + ε),   ε = 1e-12

    the mean over heads h of the log-determinant of the (lower-triangular) attention map,
    whose diagonal A_ii is the attention of position i to itself; a hallucinating model
    attends less to the tokens it produces. Positions i: the prompt's (their sum is
    ``prompt_log_attention``, per head) and the response's tokens except the last, which the
    model never reads.

    LM-Polygraph's ``AttentionScore`` runs a second forward pass over prompt and response
    and so also includes the last token's diagonal entry; lmuq reads the generation pass and
    has none for it (``bench/polygraph_agreement.py`` compares on the same positions).

    Args:
        token_attention: shape (H, n), A_ii of the response's positions for each head.
        prompt_log_attention: shape (H,), Σ_i log(A_ii + ε) over the prompt; None scores the
            response's positions only (LM-Polygraph's ``gen_only``).
    """
    att = np.asarray(token_attention, dtype=np.float64)
    if att.ndim != 2 or att.shape[0] < 1:
        raise ValueError(f"token_attention must have shape (heads, positions), got {att.shape}")
    per_head = np.log(att + ATTENTION_EPS).sum(axis=1)
    if prompt_log_attention is not None:
        prompt = np.asarray(prompt_log_attention, dtype=np.float64)
        if prompt.shape != (att.shape[0],):
            raise ValueError(
                f"prompt_log_attention must have shape ({att.shape[0]},), got {prompt.shape}"
            )
        per_head = per_head + prompt
    return float(-per_head.mean())


def default_rauq_layers(num_layers: int) -> list[int]:
    """The layers RAUQ takes the maximum over by default, the middle third: ⌊L/3⌋ through
    ⌈2L/3⌉ (LM-Polygraph's ``range(L // 3, ceil(2L / 3) + 1)``; 10..20 of 30 layers)."""
    if num_layers < 1:
        raise ValueError(f"num_layers must be >= 1, got {num_layers}")
    return list(range(num_layers // 3, min(num_layers, math.ceil(num_layers * 2 / 3) + 1)))


def rauq_layer_uncertainty(logprobs: np.ndarray, attention: np.ndarray, alpha: float) -> float:
    """RAUQ's uncertainty for one layer, with its most attentive head chosen.

    ``attention`` is (H, T − 1): a^h_t for t = 1..T−1, the attention of token t to token
    t − 1 (:attr:`ModelInternals.token_attention` of that layer). The head is
    h* = argmax_h mean_t a^h_t; then, with p_t = exp(logprobs[t]),

        c_0 = p_0,   c_t = α p_t + (1 − α) a^{h*}_t c_{t−1},   u = −(1/T) Σ_t log c_t.
    """
    lp = np.asarray(logprobs, dtype=np.float64)
    att = np.asarray(attention, dtype=np.float64)
    if att.ndim != 2 or att.shape[1] != lp.size - 1:
        raise ValueError(
            f"attention must have shape (heads, {lp.size - 1}) for {lp.size} tokens, got "
            f"{att.shape}"
        )
    p = np.exp(lp)
    c = np.empty_like(p)
    c[0] = p[0]
    if lp.size > 1:
        a = att[int(np.argmax(att.mean(axis=1)))]
        for t in range(1, lp.size):
            c[t] = alpha * p[t] + (1.0 - alpha) * a[t - 1] * c[t - 1]
    with np.errstate(divide="ignore"):
        return float(-np.mean(np.log(c)))


def rauq(
    logprobs: np.ndarray,
    token_attention: np.ndarray,
    *,
    alpha: float = 0.2,
    layers: Sequence[int] | None = None,
) -> float:
    """RAUQ, recurrent attention-based uncertainty (Vazhentsev et al. 2025, arXiv 2505.20045).

        u = max_{l ∈ layers} u_l,   u_l = −(1/T) Σ_t log c^l_t   (see
        :func:`rauq_layer_uncertainty`)

    Each token's confidence mixes its own probability with the confidence of the previous
    token, passed on in proportion to how strongly the layer's most "previous-token"
    attentive head looks back at it; a low-probability token thus lowers the confidence of
    the tokens after it. The default layers are the middle third
    (:func:`default_rauq_layers`) and α = 0.2 (LM-Polygraph's default for base models; it
    uses 0.5 for instruction-tuned ones). LM-Polygraph's ``RAUQ`` returns u + 1 (its
    ``1 − mean log c``); the ranking is the same.

    Args:
        logprobs: shape (T,), the response's token log-probs (EOS included when it stopped).
        token_attention: shape (L, H, T − 1), :attr:`ModelInternals.token_attention`.
        alpha: the weight α in (0, 1] of the token's own probability.
        layers: which layers to take the maximum over; default the middle third.
    """
    att = np.asarray(token_attention, dtype=np.float64)
    if att.ndim != 3:
        raise ValueError(f"token_attention must have shape (layers, heads, T - 1), got {att.shape}")
    if not 0.0 < alpha <= 1.0:
        raise ValueError(f"alpha must be in (0, 1], got {alpha!r}")
    chosen = default_rauq_layers(att.shape[0]) if layers is None else list(layers)
    if not chosen:
        raise ValueError("layers is empty: name at least one layer")
    bad = [layer for layer in chosen if not 0 <= layer < att.shape[0]]
    if bad:
        raise ValueError(f"layers {bad} are out of range for a model of {att.shape[0]} layers")
    return max(rauq_layer_uncertainty(logprobs, att[layer], alpha) for layer in chosen)
