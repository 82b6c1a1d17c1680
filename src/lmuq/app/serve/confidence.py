"""The trust policy applied to one answer, with adaptive sampling.

:class:`ChoiceJudge` scores the answer with the policy's answer-only (white-box) scorers,
asks :meth:`~lmuq.evaluation.policy.TrustPolicy.assess` whether the decision is already
certain, and otherwise draws samples in batches of ``policy.sampling.batch_size`` until it
is, or until all m = ``policy.sampling.num_samples`` are drawn.

**Stopping rule** (the policy's, see :mod:`lmuq.evaluation.policy`): after each batch, each
scorer's value with all m samples is bounded (answer-only scorers are known; a sample-mean
scorer with value v on k samples ends in ``[k v / m, (k v + m − k) / m]``; any other
sample-based scorer in ``[0, 1]``); the bounds on the calibrated confidence are compared with
the threshold; sampling stops when the lower bound is >= the threshold (accept) or the
upper bound is below it (not accepted). The decision is the one m samples would give.

When samples cannot be drawn (the upstream fails), the object says so: ``complete`` is
false, ``error`` holds the reason and the decision is the not-accepted one; it never
reports a confidence as if the missing samples had been drawn.
"""

from __future__ import annotations

import asyncio
import math
import threading
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from lmuq.app.serve.errors import UpstreamError
from lmuq.evaluation.policy import Assessment, TrustPolicy
from lmuq.types import Generation, SampleSet

__all__ = ["ChoiceJudge", "Verdict"]

#: Draws ``k`` samples of the request's prompt (raises UpstreamError when it cannot).
SampleDrawer = Callable[[int], Awaitable[list[Generation]]]


def _num(x: float) -> float | None:
    return None if x is None or math.isnan(x) else float(x)


@dataclass(frozen=True)
class Verdict:
    """The judgement of one answer: ``accept`` and the ``lmuq`` object returned with it."""

    accept: bool
    decision: str
    lmuq: dict[str, Any]


class ChoiceJudge:
    """Applies ``policy`` to answers (``abstain``: the name of a non-accepted decision,
    ``"flag"`` or ``"abstain"``)."""

    def __init__(self, policy: TrustPolicy, *, abstain: str = "flag") -> None:
        self.policy = policy
        self.abstain = abstain
        self._full = policy.scorer()
        # sample steps score in worker threads; one at a time, since the scorer's shared
        # statistics (NLI and embedding caches) are not meant for concurrent use
        self._lock = threading.Lock()
        self._answer = _subset_scorer(policy) if policy.answer_scorers else None

    def _scores(self, prompt: str, answer: Generation, samples: Sequence[Generation]) -> Any:
        if samples:
            with self._lock:
                result = self._full.score([SampleSet(prompt, answer, list(samples))])
        elif self._answer is None:  # no answer-only scorer: nothing is known yet
            return {}, {}
        else:
            result = self._answer.score([SampleSet(prompt, answer, [])])
        cols = result.columns
        scores = {s: float(cols[s][0]) for s in self.policy.scorers if s in cols}
        errors = dict(cols["score_errors"][0] or {})
        if not samples:  # sample-based scorers are not known yet: not an error
            for name in self.policy.sample_scorers:
                scores.pop(name, None)
                errors.pop(name, None)
        return scores, errors

    async def judge(self, prompt: str, answer: Generation, draw: SampleDrawer | None) -> Verdict:
        """Score ``answer``; draw samples with ``draw`` while the decision can change."""
        policy = self.policy
        m = policy.sampling.num_samples
        sampled = bool(policy.sample_scorers)
        scores, errors = self._scores(prompt, answer, [])
        samples: list[Generation] = []
        a = policy.assess(scores, len(samples) if sampled else m)
        failure: str | None = None
        while sampled and not a.decided and len(samples) < m:
            if draw is None:
                failure = "this request cannot be sampled"
                break
            want = min(policy.sampling.batch_size, m - len(samples))
            try:
                new = await draw(want)
            except UpstreamError as exc:
                failure = f"drawing samples failed: {exc}"
                break
            new = [g for g in new if g.error is None][:want]
            if not new:
                failure = "the upstream returned no samples"
                break
            samples.extend(new)
            scores, errors = await asyncio.to_thread(self._scores, prompt, answer, samples)
            a = policy.assess(scores, len(samples))
        return self._verdict(a, len(samples), errors, failure)

    def unreadable(self, why: str) -> Verdict:
        """The verdict on an answer that cannot be read: not accepted, and says why."""
        a = Assessment(math.nan, math.nan, math.nan, False, False, 0, {})
        return self._verdict(a, 0, {}, why)

    def _verdict(
        self, a: Assessment, used: int, errors: dict[str, str], failure: str | None
    ) -> Verdict:
        accept = a.decided and a.accept
        decision = "accept" if accept else self.abstain
        obj: dict[str, Any] = {
            "policy_id": self.policy.id,
            "confidence": _num(a.confidence),
            "decision": decision,
            "threshold": self.policy.threshold,
            "scores": {s: _num(v) for s, v in a.scores.items()},
            "samples_used": used,
            "max_samples": self.policy.sampling.num_samples if self.policy.sample_scorers else 0,
            "complete": a.decided,
        }
        if not a.decided:
            obj["confidence_bounds"] = [_num(a.low), _num(a.high)]
        if errors:
            obj["score_errors"] = errors
        if failure is None and (not a.decided or math.isnan(a.confidence)):
            failure = "the policy's scores are undefined for this answer (no log-probs?)"
        if failure is not None:
            obj["error"] = failure
        return Verdict(accept, decision, obj)


def _subset_scorer(policy: TrustPolicy) -> Any:
    """A scorer of the policy's answer-only scorers, with its scoring options."""
    from dataclasses import replace

    sub = replace(
        policy,
        scorers=policy.answer_scorers,
        weights=tuple(
            w
            for s, w in zip(policy.scorers, policy.weights, strict=True)
            if s in policy.answer_scorers
        ),
    )
    return sub.scorer()
