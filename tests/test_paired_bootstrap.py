"""The paired bootstrap test of a metric's difference, against its definition."""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from lmuq.evaluation import paired_bootstrap, paired_comparisons, prr


def direct_paired(a, b, y, metric, n_boot, seed, level=0.95):
    """The definition, written out: the same resample rows for both scorers, percentile
    interval of the differences, p = 2 min(P(d <= 0), P(d >= 0)) floored at 1 / n_valid."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(y), size=(n_boot, len(y)))  # one block at this size
    diffs = []
    for r in idx:
        if len(set(y[r])) < 2:
            continue  # AUROC undefined on a one-class resample
        diffs.append(metric(a[r], y[r]) - metric(b[r], y[r]))
    d = np.array(diffs)
    lo, hi = np.quantile(d, [(1 - level) / 2, (1 + level) / 2])
    p = max(min(1.0, 2 * min(np.mean(d <= 0), np.mean(d >= 0))), 1 / d.size)
    return metric(a, y) - metric(b, y), lo, hi, p, d.size


def sk_auroc(conf, y):
    return roc_auc_score(y.astype(int), conf)


def test_auroc_difference_matches_the_definition():
    rng = np.random.default_rng(7)
    y = rng.integers(0, 2, 14).astype(float)
    a = y + rng.normal(0, 0.8, 14)
    b = rng.normal(0, 1, 14)
    b[3] = b[5]  # a tie: half credit on both paths
    got = paired_bootstrap(a, b, y, n_boot=300, seed=11, names=("good", "noise"))
    est, lo, hi, p, n_valid = direct_paired(a, b, y, sk_auroc, 300, 11)
    assert got.estimate == pytest.approx(est, abs=1e-12)
    assert got.low == pytest.approx(lo, abs=1e-12) and got.high == pytest.approx(hi, abs=1e-12)
    assert got.p_value == pytest.approx(p, abs=1e-12)
    assert got.n_valid == n_valid and got.n == 14 and got.n_boot == 300
    assert (got.a, got.b) == ("good", "noise")


def test_any_metric_matches_the_definition():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 20).astype(float)
    a = y + rng.normal(0, 1.0, 20)
    b = y + rng.normal(0, 2.0, 20)
    metric = functools.partial(prr, max_rejection=0.5)
    got = paired_bootstrap(a, b, y, metric=metric, n_boot=120, seed=5)
    est, lo, hi, p, _ = direct_paired(a, b, y, metric, 120, 5)
    assert got.estimate == pytest.approx(est, abs=1e-12)
    assert (got.low, got.high, got.p_value) == pytest.approx((lo, hi, p), abs=1e-12)


def test_a_scorer_against_itself_is_no_difference():
    y = np.array([0, 1, 0, 1, 1, 0, 1, 0], float)
    s = np.array([0.2, 0.9, 0.4, 0.7, 0.3, 0.5, 0.8, 0.1])
    got = paired_bootstrap(s, s.copy(), y, n_boot=200)
    assert (got.estimate, got.low, got.high) == (0.0, 0.0, 0.0)
    assert got.p_value == 1.0 and not got.significant


def test_a_perfect_scorer_beats_its_reverse_in_every_resample():
    # a ranks every right answer above every wrong one (AUROC 1), b the opposite (AUROC 0):
    # the difference is 1 on every resample that holds both classes, so p is at its floor
    y = np.array([0, 0, 0, 1, 1, 1, 0, 1], float)
    a = np.array([0.1, 0.2, 0.3, 0.8, 0.9, 0.7, 0.15, 0.95])
    got = paired_bootstrap(a, -a, y, n_boot=400, seed=1)
    assert got.estimate == 1.0 and got.low == 1.0 and got.high == 1.0
    assert got.significant and got.p_value == pytest.approx(1 / got.n_valid)
    assert got.p_floor == pytest.approx(1 / got.n_valid) and got.n_valid <= 400


def test_answers_one_scorer_left_unscored_leave_both_sides():
    y = np.array([0, 1, 0, 1, 1, 0, 1, 0, 1, 0], float)
    a = np.array([0.2, 0.9, np.nan, 0.7, 0.3, 0.5, 0.8, 0.1, 0.6, np.inf])
    b = np.array([0.5, 0.4, 0.3, np.nan, 0.9, 0.1, 0.2, 0.6, 0.7, 0.8])
    got = paired_bootstrap(a, b, y, n_boot=50)
    keep = np.array([1, 1, 0, 0, 1, 1, 1, 1, 1, 0], bool)
    assert got.n == 7
    assert got.estimate == pytest.approx(
        sk_auroc(a[keep], y[keep]) - sk_auroc(b[keep], y[keep]), abs=1e-12
    )


def test_one_class_everywhere_gives_no_interval():
    got = paired_bootstrap([0.1, 0.5, 0.9], [0.3, 0.2, 0.1], [1, 1, 1], n_boot=30)
    assert math.isnan(got.estimate) and math.isnan(got.low) and math.isnan(got.p_value)
    assert got.n_valid == 0 and not got.significant


@pytest.mark.parametrize(
    ("a", "b", "y", "match"),
    [
        ([0.1, 0.2], [0.1], [0, 1], "one value per answer"),
        ([0.1, 0.2], [0.3, 0.4], [0, 2], "0/1"),
        ([np.nan, 0.2], [0.3, np.nan], [0, 1], "no answer was scored by both"),
    ],
)
def test_bad_input_says_what_to_fix(a, b, y, match):
    with pytest.raises(ValueError, match=match):
        paired_bootstrap(a, b, y)


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="n_boot"):
        paired_bootstrap([0.1, 0.2], [0.2, 0.1], [0, 1], n_boot=0)
    with pytest.raises(ValueError, match="level"):
        paired_bootstrap([0.1, 0.2], [0.2, 0.1], [0, 1], level=1.5)


def test_comparisons_run_the_reference_against_each_other_scorer():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 30).astype(float)
    scores = {"best": y + rng.normal(0, 0.5, 30), "mid": y + rng.normal(0, 1.5, 30)}
    scores["noise"] = rng.normal(0, 1, 30)
    rows = paired_comparisons(scores, y, reference="best", n_boot=100, seed=4)
    assert [(r.a, r.b) for r in rows] == [("best", "mid"), ("best", "noise")]
    alone = paired_bootstrap(scores["best"], scores["noise"], y, n_boot=100, seed=4)
    assert rows[1].estimate == alone.estimate and rows[1].low == alone.low
    with pytest.raises(ValueError, match="reference 'nope'"):
        paired_comparisons(scores, y, reference="nope")
    with pytest.raises(ValueError, match="no scores for"):
        paired_comparisons(scores, y, reference="best", others=["mid", "gone"])
