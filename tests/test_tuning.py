"""Tests for lmuq.evaluation.tuning: threshold and ensemble-weight tuning.

Expected values come from hand calculations (in comments) or from exhaustive searches
written here with scikit-learn, never from the code under test.
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    balanced_accuracy_score,
    brier_score_loss,
    f1_score,
    fbeta_score,
    log_loss,
    precision_score,
    recall_score,
    roc_auc_score,
)

from lmuq.evaluation.metrics import MetricWarning
from lmuq.evaluation.tuning import (
    THRESHOLD_OBJECTIVES,
    WEIGHTS_OBJECTIVES,
    Tuner,
    _threshold_objective_curve,
    _weights_objective_columns,
    ensemble_scores,
    precision_recall_f1,
)

# ---------------------------------------------------------------------------------------
# references written from the definitions
# ---------------------------------------------------------------------------------------


def _sk_objective(name, y, pred, beta=1.0):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if name == "fbeta_score":
            return fbeta_score(y, pred, beta=beta, zero_division=0)
        if name == "accuracy_score":
            return accuracy_score(y, pred)
        return balanced_accuracy_score(y, pred)


def _grid(lo, hi, step):
    m = round((hi - lo) / step)
    return [round(lo + k * step, 10) for k in range(m + 1)]


def _exhaustive_threshold(scores, y, objective, beta=1.0, lo=0.0, hi=1.0, step=0.02):
    """Lowest grid threshold maximising the sklearn objective of (scores >= t)."""
    best_t, best_v = None, -np.inf
    for t in _grid(lo, hi, step):
        v = _sk_objective(objective, y, (np.asarray(scores) >= t).astype(int), beta)
        if v > best_v + 1e-12:
            best_t, best_v = t, v
    return best_t


def _sk_weights_objective(name, y, e):
    return {
        "roc_auc": lambda: roc_auc_score(y, e),
        "average_precision": lambda: average_precision_score(y, e),
        "log_loss": lambda: log_loss(y, e, labels=[0, 1]),
        "brier_score": lambda: brier_score_loss(y, e),
    }[name]()


def _informative_and_noise(n=400, seed=0):
    """Scorer A is calibrated and informative; scorer B is independent noise."""
    rng = np.random.default_rng(seed)
    a = rng.uniform(0.02, 0.98, n)
    y = (rng.uniform(size=n) < a).astype(int)
    b = rng.uniform(0.02, 0.98, n)
    return a, b, y


# ---------------------------------------------------------------------------------------
# tune_threshold
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("objective", THRESHOLD_OBJECTIVES)
@pytest.mark.parametrize("seed", [0, 1])
def test_tune_threshold_equals_exhaustive_sklearn_search(objective, seed):
    rng = np.random.default_rng(seed)
    scores = rng.uniform(size=120)
    y = (rng.uniform(size=120) < scores**2).astype(int)
    got = Tuner().tune_threshold(scores, y, thresh_objective=objective, step_size=0.02)
    assert got == pytest.approx(_exhaustive_threshold(scores, y, objective), abs=1e-12)


@pytest.mark.parametrize("beta", [0.5, 2.0])
def test_tune_threshold_fbeta_beta_matches_exhaustive(beta):
    rng = np.random.default_rng(7)
    scores = np.round(rng.uniform(size=80), 2)  # many scores exactly on the grid
    y = (rng.uniform(size=80) < scores).astype(int)
    got = Tuner().tune_threshold(scores, y, fscore_beta=beta, step_size=0.02)
    assert got == pytest.approx(_exhaustive_threshold(scores, y, "fbeta_score", beta), abs=1e-12)


@pytest.mark.parametrize("objective", THRESHOLD_OBJECTIVES)
def test_objective_curve_equals_sklearn_at_every_threshold(objective):
    rng = np.random.default_rng(3)
    scores = np.round(rng.uniform(size=60) * 20) / 20  # on the 0.05 grid: ties at t
    cases = [
        (rng.uniform(size=60) < scores).astype(int),
        np.ones(60, dtype=int),  # single class: zero-division conventions
        np.zeros(60, dtype=int),
    ]
    grid = np.array(_grid(0, 1, 0.05))
    for y in cases:
        curve = _threshold_objective_curve(scores, y, grid, objective, 1.5)
        expected = [_sk_objective(objective, y, (scores >= t).astype(int), 1.5) for t in grid]
        np.testing.assert_allclose(curve, expected, atol=1e-12)


def test_tune_threshold_hand_example_uses_ge_and_lowest_tie():
    # F1 = 1 exactly when 0.3 < t <= 0.8 (accept 0.9 and 0.8 only); lowest grid t is 0.31.
    assert Tuner().tune_threshold([0.9, 0.8, 0.3, 0.2], [1, 1, 0, 0]) == pytest.approx(0.31)
    # score exactly on the grid: 0.57 must pass t = 0.57 (np.arange gives 0.5700000000000001)
    assert Tuner().tune_threshold([0.57, 0.56], [1, 0]) == 0.57


def test_tune_threshold_grid_includes_upper_bound():
    # grid 0, 0.25, 0.5: only t = 0.5 separates 0.5 (correct) from 0.4 (wrong)
    got = Tuner().tune_threshold([0.5, 0.4], [1, 0], bounds=(0, 0.5), step_size=0.25)
    assert got == 0.5


def test_tune_threshold_accuracy_hand_example():
    # accept s >= t; accuracy at t in (0.4, 0.6]: [1,1,0? ...] worked out: scores/labels
    # 0.9:1, 0.6:1, 0.4:0, 0.35:1, 0.1:0 -> t in (0.4, 0.6] gives 4/5, t in (0.35, 0.4] 3/5,
    # t in (0.1, 0.35] 4/5 as well -> lowest grid point with 4/5 is 0.11.
    got = Tuner().tune_threshold(
        [0.9, 0.6, 0.4, 0.35, 0.1], [1, 1, 0, 1, 0], thresh_objective="accuracy_score"
    )
    assert got == pytest.approx(0.11)


def test_tune_threshold_validation():
    t = Tuner()
    with pytest.raises(ValueError, match="2 NaN"):
        t.tune_threshold([0.1, np.nan, 0.5, np.nan], [0, 1, 1, 0])
    with pytest.raises(ValueError, match="same length"):
        t.tune_threshold([0.1, 0.2], [1])
    with pytest.raises(ValueError, match="empty"):
        t.tune_threshold([], [])
    with pytest.raises(ValueError, match="0/1"):
        t.tune_threshold([0.1, 0.2], [1, 2])
    with pytest.raises(ValueError, match="lo < hi"):
        t.tune_threshold([0.1], [1], bounds=(1, 0))
    with pytest.raises(ValueError, match="step_size"):
        t.tune_threshold([0.1], [1], step_size=0)
    with pytest.raises(ValueError, match="step_size"):
        t.tune_threshold([0.1], [1], step_size=2)
    with pytest.raises(ValueError, match="valid names"):
        t.tune_threshold([0.1], [1], thresh_objective="roc_auc")
    with pytest.raises(ValueError, match="fscore_beta"):
        t.tune_threshold([0.1], [1], fscore_beta=0)


# ---------------------------------------------------------------------------------------
# tune_params
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("objective", ["roc_auc", "average_precision", "log_loss", "brier_score"])
def test_weight_objectives_equal_sklearn(objective):
    rng = np.random.default_rng(21)
    y = rng.integers(0, 2, 90)
    cols = [
        rng.uniform(size=90),
        np.round(rng.uniform(size=90), 1),  # many ties
        np.where(rng.uniform(size=90) < 0.2, 0.0, 1.0),  # exact 0/1 (log-loss clipping)
    ]
    got = _weights_objective_columns(objective, y, np.stack(cols, axis=1))
    sign = -1 if objective in ("log_loss", "brier_score") else 1
    expected = [sign * _sk_weights_objective(objective, y, c) for c in cols]
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("objective", ["roc_auc", "average_precision", "log_loss", "brier_score"])
def test_tune_params_optimises_each_objective_in_the_right_direction(objective):
    a, b, y = _informative_and_noise()
    out = Tuner().tune_params([a, b], y, weights_objective=objective, step_size=0.05)
    w = np.asarray(out["weights"])
    assert w.min() >= 0 and w.sum() == pytest.approx(1.0)
    # exhaustive evaluation with sklearn on the same 0.05 grid
    values = {
        wa: _sk_weights_objective(objective, y, wa * a + (1 - wa) * b) for wa in _grid(0, 1, 0.05)
    }
    best = (min if objective in ("log_loss", "brier_score") else max)(values.values())
    got = _sk_weights_objective(objective, y, w[0] * a + w[1] * b)
    assert got == pytest.approx(best, abs=1e-12)
    # the clearly better scorer dominates; all weight on the noise would be clearly worse
    assert w[0] > 0.75
    if objective in ("log_loss", "brier_score"):
        assert got < values[0.0] - 0.05
    else:
        assert got > values[0.0] + 0.1


def test_tune_params_joint_threshold_objective_matches_exhaustive_grid():
    a, b, y = _informative_and_noise(n=200, seed=4)
    out = Tuner().tune_params(
        [a, b], y, weights_objective="fbeta_score", thresh_objective="fbeta_score", step_size=0.1
    )
    best = -1.0
    for wa, t in itertools.product(_grid(0, 1, 0.1), _grid(0, 1, 0.1)):
        e = wa * a + (1 - wa) * b
        best = max(best, _sk_objective("fbeta_score", y, (e >= t).astype(int)))
    w, t = out["weights"], out["thresh"]
    e = w[0] * a + w[1] * b
    assert _sk_objective("fbeta_score", y, (e >= t).astype(int)) == pytest.approx(best)
    assert w[0] >= 0.5


def test_tune_params_threshold_is_tuned_on_the_ensemble():
    a, b, y = _informative_and_noise(seed=5)
    out = Tuner().tune_params(
        [a, b], y, weights_objective="roc_auc", thresh_objective="accuracy_score", step_size=0.05
    )
    w = out["weights"]
    e = w[0] * a + w[1] * b
    expected = _exhaustive_threshold(e, y, "accuracy_score", step=0.05)
    assert out["thresh"] == pytest.approx(expected)


def test_tune_params_complementary_scorers_get_mixed_weights():
    rng = np.random.default_rng(11)
    n = 600
    y = rng.integers(0, 2, n)
    a = 0.5 * y + rng.normal(0, 0.5, n)
    b = 0.5 * y + rng.normal(0, 0.5, n)  # same signal, independent noise
    out = Tuner().tune_params([a, b], y, step_size=0.05)
    w = out["weights"]
    assert 0.25 <= w[0] <= 0.75
    e = w[0] * a + w[1] * b
    assert roc_auc_score(y, e) > max(roc_auc_score(y, a), roc_auc_score(y, b)) + 0.02


def test_tune_params_three_and_four_scorers():
    a, b, y = _informative_and_noise(seed=2)
    rng = np.random.default_rng(9)
    c, d = rng.uniform(size=a.size), rng.uniform(size=a.size)
    out3 = Tuner().tune_params([b, a, c], y, weights_objective="brier_score", step_size=0.05)
    assert sum(out3["weights"]) == pytest.approx(1) and np.argmax(out3["weights"]) == 1
    out4 = Tuner().tune_params([c, d, b, a], y, weights_objective="log_loss", n_trials=60)
    w4 = np.asarray(out4["weights"])
    assert w4.min() >= 0 and w4.sum() == pytest.approx(1) and np.argmax(w4) == 3
    assert w4[3] > 0.7
    again = Tuner().tune_params([c, d, b, a], y, weights_objective="log_loss", n_trials=60)
    assert again == out4  # seeded


def test_tune_params_validation():
    a, b, y = _informative_and_noise(n=20)
    t = Tuner()
    with pytest.raises(ValueError, match="at least two"):
        t.tune_params([a], y)
    with pytest.raises(ValueError, match="must equal thresh_objective"):
        t.tune_params([a, b], y, weights_objective="accuracy_score")
    with pytest.raises(ValueError, match="valid names"):
        t.tune_params([a, b], y, weights_objective="auc")
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\]"):
        t.tune_params([a * 3, b], y, weights_objective="log_loss")
    with pytest.raises(ValueError, match="same length"):
        t.tune_params([a, b[:-1]], y)
    with pytest.raises(ValueError, match="1 example"):
        a2 = a.copy()
        b2 = b.copy()
        a2[0] = b2[0] = np.nan
        t.tune_params([a2, b2], y)
    with pytest.raises(ValueError, match="both correct and wrong"):
        t.tune_params([a, b], np.ones_like(y))
    assert set(WEIGHTS_OBJECTIVES) >= {"roc_auc", "log_loss", "brier_score", "average_precision"}


def test_tune_params_handles_missing_scores():
    a, b, y = _informative_and_noise(seed=8)
    b = b.copy()
    b[:50] = np.nan  # scorer B missing for some examples: those use A alone
    out = Tuner().tune_params([a, b], y, step_size=0.05)
    assert out["weights"][0] > 0.75


# ---------------------------------------------------------------------------------------
# ensemble_scores and precision_recall_f1
# ---------------------------------------------------------------------------------------


def test_ensemble_scores_nan_aware_hand_example():
    m = [[0.2, np.nan], [0.4, 0.8], [np.nan, np.nan], [np.nan, 0.6]]
    got = ensemble_scores(m, [1, 3])
    # row 0: only the first scorer -> 0.2; row 1: (1*0.4 + 3*0.8) / 4 = 0.7; row 2: NaN;
    # row 3: only the second -> 0.6
    np.testing.assert_allclose(got, [0.2, 0.7, np.nan, 0.6])
    # an available score with zero weight only: undefined
    assert np.isnan(ensemble_scores([[np.nan, 0.5]], [1, 0])[0])
    # weights need not sum to 1
    np.testing.assert_allclose(ensemble_scores([[0.0, 1.0]], [2, 2]), [0.5])


def test_ensemble_scores_validation():
    with pytest.raises(ValueError, match="2-D"):
        ensemble_scores([0.1, 0.2], [1])
    with pytest.raises(ValueError, match="one weight per scorer"):
        ensemble_scores([[0.1, 0.2]], [1])
    with pytest.raises(ValueError, match="non-negative"):
        ensemble_scores([[0.1, 0.2]], [1, -1])
    with pytest.raises(ValueError, match="not all zero"):
        ensemble_scores([[0.1, 0.2]], [0, 0])
    with pytest.raises(ValueError, match="infinite"):
        ensemble_scores([[0.1, np.inf]], [1, 1])


def test_precision_recall_f1_hand_example_and_sklearn():
    scores = [0.9, 0.8, 0.6, 0.3, 0.1]
    y = [1, 0, 1, 1, 0]
    got = precision_recall_f1(scores, y, 0.6)  # 0.6 itself is kept (>=)
    # kept 0.9, 0.8, 0.6 -> 2 of 3 correct; 2 of 3 correct answers kept
    assert got["precision"] == pytest.approx(2 / 3)
    assert got["recall"] == pytest.approx(2 / 3)
    assert got["f1"] == pytest.approx(2 / 3)
    assert got["accuracy"] == pytest.approx(3 / 5)  # kept==correct for 0.9, 0.6, 0.1
    assert got["fraction_kept"] == pytest.approx(3 / 5)
    pred = (np.asarray(scores) >= 0.6).astype(int)
    assert got["precision"] == pytest.approx(precision_score(y, pred))
    assert got["recall"] == pytest.approx(recall_score(y, pred))
    assert got["f1"] == pytest.approx(f1_score(y, pred))
    assert got["accuracy"] == pytest.approx(accuracy_score(y, pred))


def test_precision_recall_f1_undefined_is_nan_with_warning():
    with pytest.warns(MetricWarning, match="no answer"):
        got = precision_recall_f1([0.1, 0.2], [1, 0], 0.5)
    # 2 TP / (2 TP + FP + FN) = 0 / (0 + 0 + 1): nothing correct is accepted.
    assert np.isnan(got["precision"]) and got["f1"] == 0 and got["recall"] == 0
    assert got["fraction_kept"] == 0
    with pytest.warns(MetricWarning, match="no answer is correct"):
        none = precision_recall_f1([0.1, 0.2], [0, 0], 0.5)
    assert np.isnan(none["precision"]) and np.isnan(none["recall"]) and np.isnan(none["f1"])
    with pytest.raises(ValueError, match="1 NaN"):
        precision_recall_f1([0.1, np.nan], [1, 0], 0.5)
