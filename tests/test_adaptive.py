"""Adaptive sampling replayed on stored samples (issue 11): the samples it draws and the
decisions it makes, worked out by hand from the stopping rule."""

from __future__ import annotations

import math

import pytest

from lmuq.evaluation.adaptive import replay_adaptive
from lmuq.evaluation.policy import Calibrator, PolicySampling, TrustPolicy
from lmuq.types import Generation, SampleSet

IDENTITY = Calibrator("isotonic", x=(0.0, 1.0), y=(0.0, 1.0))


def policy(threshold: float) -> TrustPolicy:
    return TrustPolicy(
        ("sequence_probability", "exact_match"),
        (0.5, 0.5),
        IDENTITY,
        0.1,
        threshold,
        sampling=PolicySampling(num_samples=4, batch_size=2),
    )


def sample_set(logprob: float, agree: list[bool]) -> SampleSet:
    answer = Generation("paris", logprobs=[logprob])
    return SampleSet("q", answer, [Generation("paris" if a else "rome") for a in agree])


def test_replay_stops_where_the_rule_says_and_keeps_every_decision():
    # threshold 0.6. c = 0.5 p + 0.5 em; after k of 4 samples with j agreeing:
    # c- = 0.5 p + 0.5 j/4, c+ = 0.5 p + 0.5 (j + 4 - k)/4.
    sets = [
        # p = 1: c- at k=0 is 0.5 < 0.6; after 2 agreeing, c- = 0.5 + 0.25 = 0.75 >= 0.6
        sample_set(0.0, [True, True, False, False]),
        # p = e^-5 = 0.0067: c+ at k=0 is 0.503 < 0.6: flagged with no sample
        sample_set(-5.0, [True, True, True, True]),
        # p = e^-0.5 = 0.607: c- = 0.303, c+ = 0.803; after 2 (1 agrees): c- = 0.428,
        # c+ = 0.678; after 4 (2 agree): c = 0.553 < 0.6
        sample_set(-0.5, [True, False, True, False]),
    ]
    r = replay_adaptive(policy(0.6), sets)
    assert r.samples_used.tolist() == [2, 0, 4]
    assert r.calls.tolist() == [2, 1, 3]
    assert r.accept.tolist() == [True, False, False]
    assert r.full_confidence == pytest.approx(
        [0.5 + 0.5 * 0.5, 0.5 * math.exp(-5) + 0.5, 0.5 * math.exp(-0.5) + 0.25]
    )
    # where it stopped early the confidence is the estimate on what was drawn
    assert r.confidence[0] == pytest.approx(0.5 + 0.5 * 1.0)  # 2 of 2 agree
    assert r.samples_saved == pytest.approx(1 - 6 / 12)
    assert r.calls_saved(2) == pytest.approx(1 - 6 / 6)
    assert r.calls_saved(5) == pytest.approx(1 - 6 / 15)


def test_a_white_box_only_policy_draws_no_samples():
    p = TrustPolicy(("sequence_probability",), (1.0,), IDENTITY, 0.1, 0.5)
    r = replay_adaptive(p, [sample_set(0.0, [True] * 5), sample_set(-3.0, [True] * 5)])
    assert r.samples_used.tolist() == [0, 0]
    assert r.accept.tolist() == [True, False]


def test_too_few_stored_samples_is_refused():
    with pytest.raises(ValueError, match="the policy's m is 4"):
        replay_adaptive(policy(0.6), [sample_set(0.0, [True, True])])
