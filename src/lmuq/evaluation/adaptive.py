"""Adaptive sampling replayed on stored samples: how many samples (and LLM calls) a trust
policy's stopping rule needs, against always drawing all m.

For each answer with m stored samples, :func:`replay_adaptive` does what the gateway does
live (:meth:`~lmuq.evaluation.policy.TrustPolicy.assess` after the answer alone, then after
each batch of ``policy.sampling.batch_size`` samples, in stored order) and stops where the
gateway would. Because the stopping rule only stops when the decision with all m samples is
certain, the replayed decisions equal the full ones; :func:`replay_adaptive` checks this
and raises if it ever fails. The confidences differ where sampling stopped early (the
estimate from fewer samples, clipped to the bounds), so their AUROC is reported beside the
full one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from lmuq.evaluation.policy import TrustPolicy
from lmuq.types import SampleSet

__all__ = ["AdaptiveReplay", "replay_adaptive"]


@dataclass(frozen=True)
class AdaptiveReplay:
    """What adaptive sampling did on each answer, and what always drawing m did.

    Attributes:
        samples_used: samples drawn per answer.
        calls: LLM calls per answer (the answer, plus one call per batch drawn).
        confidence: the adaptive confidence (the estimate where it stopped).
        full_confidence: the confidence with all m samples.
        accept: the decision (equal with all m samples).
        m: samples per answer when always drawing them all.
    """

    samples_used: np.ndarray
    calls: np.ndarray
    confidence: np.ndarray
    full_confidence: np.ndarray
    accept: np.ndarray
    m: int

    @property
    def samples_saved(self) -> float:
        """Fraction of the samples always drawing m would draw that were not drawn."""
        n = len(self.samples_used)
        return 1.0 - float(self.samples_used.sum()) / (n * self.m) if n and self.m else 0.0

    def calls_saved(self, calls_per_full: int) -> float:
        """Fraction of LLM calls saved against ``calls_per_full`` calls per answer when
        always drawing m (2: the answer and one call with ``n = m``; ``1 + m``: one call per
        sample)."""
        n = len(self.calls)
        return 1.0 - float(self.calls.sum()) / (n * calls_per_full) if n else 0.0


def replay_adaptive(
    policy: TrustPolicy, sample_sets: Sequence[SampleSet], *, scorer: Any = None
) -> AdaptiveReplay:
    """Replay the policy's adaptive sampling on stored answers and samples.

    Every sample set must hold at least ``policy.sampling.num_samples`` samples (only the
    first m are used).

    Raises:
        ValueError: a set with fewer than m samples.
        AssertionError: a replayed decision that differs from the full one (the stopping
            rule's guarantee broken).
    """
    m = policy.sampling.num_samples
    b = policy.sampling.batch_size
    scorer = scorer or policy.scorer()
    sampled = bool(policy.sample_scorers)
    used, calls, conf, full_conf, accept = [], [], [], [], []
    for i, ss in enumerate(sample_sets):
        if len(ss.samples) < m:
            raise ValueError(f"set {i} has {len(ss.samples)} samples; the policy's m is {m}")
        samples = list(ss.samples[:m])
        full = _scores(policy, scorer, ss, samples)
        final = policy.assess(full, m)
        k = 0
        if sampled:
            a = policy.assess(_scores(policy, scorer, ss, []), 0)
            while not a.decided:
                k = min(k + b, m)
                a = policy.assess(full if k == m else _scores(policy, scorer, ss, samples[:k]), k)
        else:
            a = final
        if a.accept != final.accept:
            raise AssertionError(f"set {i}: adaptive decision {a.accept} != full {final.accept}")
        used.append(k)
        calls.append(1 + (k + b - 1) // b)
        conf.append(a.confidence)
        full_conf.append(final.confidence)
        accept.append(final.accept)
    return AdaptiveReplay(
        np.array(used, dtype=int),
        np.array(calls, dtype=int),
        np.array(conf, dtype=float),
        np.array(full_conf, dtype=float),
        np.array(accept, dtype=bool),
        m if sampled else 0,
    )


def _scores(policy: TrustPolicy, scorer: Any, ss: SampleSet, samples: list) -> dict[str, float]:
    result = scorer.score([SampleSet(ss.prompt, ss.answer, samples)])
    out = {s: float(result.columns[s][0]) for s in policy.scorers}
    if not samples:
        for name in policy.sample_scorers:
            out.pop(name, None)
    return out
