"""Constants shared across layers: one home, so that copies cannot drift apart."""

from __future__ import annotations

__all__ = [
    "ATTENTION_EPS",
    "CONTRADICTION",
    "ENTAILMENT",
    "LOGPROB_TOLERANCE",
    "NEUTRAL",
    "NLI_LABELS",
]

#: Log-probabilities up to this much above zero are float rounding in a log-softmax (and
#: are clamped to 0); anything larger is not a log-probability.
LOGPROB_TOLERANCE = 1e-4

#: The canonical label order of every NLI probability array in lmuq: the last axis is
#: (entailment, neutral, contradiction). Models' own orders are read from their config.
ENTAILMENT, NEUTRAL, CONTRADICTION = 0, 1, 2
NLI_LABELS = ("entailment", "neutral", "contradiction")

#: Added to an attention weight before its log (the attention score, Sriramanan et al. 2024,
#: as LM-Polygraph computes it): a float32 softmax can underflow to exactly 0.
ATTENTION_EPS = 1e-12
