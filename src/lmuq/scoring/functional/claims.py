"""Long-form claim scores as pure functions of NLI probabilities or similarities.

A long answer y is split into units s_1..s_K (sentences, or atomic claims); each unit gets a
confidence from the m sampled responses ỹ_1..ỹ_m, and the answer a response-level
aggregate. NLI arrays are ``(…, 3)`` in lmuq's label order (entailment, neutral,
contradiction) with the **sample as premise and the unit as hypothesis**: "does ỹ_j
support s?".

Unit-response scores (LUQ, Zhang et al. 2024, *LUQ: Long-text Uncertainty Quantification
for LLMs*, arXiv:2403.20279; UQLM's ``LongTextUQ(mode="unit_response")``), ``probs`` of
shape ``(m, 3)``, one row per sample:

* entailment:            c(s) = (1/m) Σ_j p_e(ỹ_j ⊨ s)
* noncontradiction:      c(s) = (1/m) Σ_j (1 − p_c(ỹ_j, s))
* contrasted entailment: c(s) = (1/m) Σ_j p_e / (p_e + p_c)   (LUQ's own ratio; a pair with
  p_e + p_c = 0, i.e. pure neutral, counts 1/2: no evidence either way)

Matched-unit scores (LUQ-pair, Zhang et al. 2024; UQLM's ``mode="matched_unit"``): each
sample is split too, and sample j's support of s is the best over its units u ∈ U_j; a
sample with no unit supports nothing (0). Each measure takes its own maximum, as UQLM does:

    c(s) = (1/m) Σ_j max_{u ∈ U_j} f(u, s),  f ∈ {p_e, 1 − p_c, p_e/(p_e + p_c),
                                                  (cos(e(s), e(u)) + 1)/2, BERTScore-F1}

Context support (lmuq's grounding; no samples): passages P_1..P_k given with the prompt,
``probs`` of shape ``(k, 3)`` with the passage as premise:
support(s) = max_k p_e(P_k ⊨ s), contradiction(s) = max_k p_c(P_k, s); the verdict is
``"entailed"`` when some passage's most likely label is entailment, else
``"contradicted"`` when some passage's is contradiction, else ``"not_addressed"``.

Aggregation (UQLM): the mean or the minimum of the unit scores. Refinement (Jiang et al.
2024, *Graph-based Uncertainty Metrics for Long-form Language Model Outputs*,
arXiv:2410.20783; UQLM's ``response_refinement``): a unit is kept when its score is
*strictly above* the threshold (UQLM's rule: a score equal to the threshold is dropped).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from lmuq.constants import CONTRADICTION, ENTAILMENT

__all__ = [
    "AGGREGATIONS",
    "Aggregation",
    "ContextSupport",
    "aggregate_claim_scores",
    "context_support",
    "contrasted_entailment",
    "kept_claims",
    "matched_unit_nli_scores",
    "matched_unit_similarity",
    "rebuild_from_spans",
    "unit_response_scores",
]

Aggregation = Literal["mean", "min"]
AGGREGATIONS: tuple[Aggregation, ...] = ("mean", "min")
_E, _C = ENTAILMENT, CONTRADICTION


def _probs(probs: np.ndarray | Sequence[Sequence[float]], what: str) -> np.ndarray:
    arr = np.asarray(probs, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise ValueError(f"{what} must have shape (n, 3), got {arr.shape}")
    if arr.size and (np.isnan(arr).any() or arr.min() < 0 or arr.max() > 1 + 1e-9):
        raise ValueError(f"{what} must hold probabilities in [0, 1]")
    return arr


def contrasted_entailment(probs: np.ndarray) -> np.ndarray:
    """p_e / (p_e + p_c) per row of an ``(n, 3)`` array; 1/2 where p_e + p_c = 0."""
    p = _probs(probs, "probs")
    denom = p[:, _E] + p[:, _C]
    return np.where(denom > 0, p[:, _E] / np.where(denom > 0, denom, 1.0), 0.5)


def unit_response_scores(probs: np.ndarray | Sequence[Sequence[float]]) -> dict[str, float]:
    """One unit's entailment, noncontradiction and contrasted-entailment confidences from
    its ``(m, 3)`` NLI array against the m samples (module docstring; Zhang et al. 2024)."""
    p = _probs(probs, "probs")
    if p.shape[0] == 0:
        raise ValueError("a unit needs at least one sampled response to be scored")
    return {
        "entailment": float(p[:, _E].mean()),
        "noncontradiction": float((1.0 - p[:, _C]).mean()),
        "contrasted_entailment": float(contrasted_entailment(p).mean()),
    }


def matched_unit_nli_scores(per_sample: Sequence[np.ndarray]) -> dict[str, float]:
    """One unit's matched-unit confidences: ``per_sample[j]`` is the ``(|U_j|, 3)`` NLI
    array of the unit against sample j's units; each measure is maximised over U_j (0 for
    an empty U_j) and averaged over j (LUQ-pair, Zhang et al. 2024)."""
    if len(per_sample) == 0:
        raise ValueError("a unit needs at least one sampled response to be scored")
    best = np.zeros((len(per_sample), 3))
    for j, probs in enumerate(per_sample):
        p = _probs(np.asarray(probs, dtype=np.float64).reshape(-1, 3), f"per_sample[{j}]")
        if p.shape[0]:
            best[j] = (p[:, _E].max(), (1.0 - p[:, _C]).max(), contrasted_entailment(p).max())
    entail, noncontra, contrast = best.mean(axis=0)
    return {
        "entailment": float(entail),
        "noncontradiction": float(noncontra),
        "contrasted_entailment": float(contrast),
    }


def matched_unit_similarity(per_sample: Sequence[Sequence[float]]) -> float:
    """(1/m) Σ_j max_{u ∈ U_j} sim(u, s), with ``per_sample[j]`` the similarities in [0, 1]
    of the unit to sample j's units (0 for an empty U_j). For cosine similarity pass
    (cos + 1)/2 (UQLM's map); for BERTScore its F1."""
    if len(per_sample) == 0:
        raise ValueError("a unit needs at least one sampled response to be scored")
    best = []
    for j, sims in enumerate(per_sample):
        s = np.asarray(sims, dtype=np.float64).reshape(-1)
        if s.size and (np.isnan(s).any() or s.min() < -1e-9 or s.max() > 1 + 1e-9):
            raise ValueError(f"per_sample[{j}] must hold similarities in [0, 1]")
        best.append(float(np.clip(s, 0.0, 1.0).max()) if s.size else 0.0)
    return float(np.mean(best))


def aggregate_claim_scores(scores: Sequence[float], how: Aggregation = "mean") -> float:
    """The response-level confidence: the mean or the minimum of the unit scores.

    NaN unit scores are ignored; a response with no scored unit has no confidence (a
    ``ValueError`` naming the reason, which the scorers record on the row)."""
    if how not in AGGREGATIONS:
        raise ValueError(f"aggregation must be one of {AGGREGATIONS}, got {how!r}")
    values = [float(s) for s in scores if not math.isnan(float(s))]
    if not values:
        raise ValueError("the response has no scored claim to aggregate")
    return float(np.mean(values)) if how == "mean" else float(min(values))


def kept_claims(scores: Sequence[float], threshold: float) -> list[bool]:
    """Which units refinement keeps: score > threshold (a NaN score is not kept)."""
    if not (isinstance(threshold, (int, float)) and 0.0 <= threshold <= 1.0):
        raise ValueError(f"the refinement threshold must be in [0, 1], got {threshold!r}")
    return [not math.isnan(float(s)) and float(s) > threshold for s in scores]


def rebuild_from_spans(
    response: str, spans: Sequence[tuple[int, int]], kept: Sequence[bool]
) -> str:
    """The response with only its kept units, in their original wording and order.

    Kept spans are joined by the whitespace that separated them in the response when it
    holds a newline, else by one space (refinement without an LLM, for sentence units)."""
    if len(spans) != len(kept):
        raise ValueError(f"{len(spans)} spans but {len(kept)} kept flags")
    chosen = sorted((s, e) for (s, e), k in zip(spans, kept, strict=True) if k and s >= 0)
    pieces: list[str] = []
    last_end = None
    for start, end in chosen:
        if last_end is not None:
            gap = response[last_end:start]
            pieces.append("\n" if "\n" in gap else " ")
        pieces.append(response[start:end])
        last_end = end
    return "".join(pieces)


@dataclass(frozen=True)
class ContextSupport:
    """How the given context passages bear on one unit.

    Attributes:
        entailment: max over passages of p_e(passage ⊨ unit) (the unit's context support).
        contradiction: max over passages of p_c(passage, unit).
        label: ``"entailed"``, ``"contradicted"`` or ``"not_addressed"``.
        passage: index of the passage that entails (or contradicts) the unit most, or -1.
    """

    entailment: float
    contradiction: float
    label: Literal["entailed", "contradicted", "not_addressed"]
    passage: int


def context_support(probs: np.ndarray | Sequence[Sequence[float]]) -> ContextSupport:
    """A unit's support by the context from its ``(k, 3)`` NLI array against the k
    passages (passage as premise): see the module docstring for the verdict rule."""
    p = _probs(probs, "probs")
    if p.shape[0] == 0:
        raise ValueError("no context passages: grounding needs at least one passage")
    labels = p.argmax(axis=1)
    if (labels == _E).any():
        k = int(np.argmax(np.where(labels == _E, p[:, _E], -1.0)))
        label: Literal["entailed", "contradicted", "not_addressed"] = "entailed"
    elif (labels == _C).any():
        k = int(np.argmax(np.where(labels == _C, p[:, _C], -1.0)))
        label = "contradicted"
    else:
        k, label = -1, "not_addressed"
    return ContextSupport(float(p[:, _E].max()), float(p[:, _C].max()), label, k)
