"""Calibration of confidence scores: recalibration maps and calibration errors.

Convention: a confidence is higher = more likely correct, ``correct`` is 0/1 (or bool). The
recalibrators turn any such score into an estimate of P(correct | score).

* :class:`PlattCalibrator` -- Platt scaling: a logistic regression of ``correct`` on the
  score, :math:`\\hat p(s) = \\sigma(a s + b)` (Platt, "Probabilistic Outputs for Support
  Vector Machines", 1999). Monotone, two parameters, smooth.
* :class:`IsotonicCalibrator` -- isotonic regression: the non-decreasing step function of
  the score closest (least squares) to the labels (Zadrozny & Elkan, KDD 2002). More
  flexible, needs more data.

Both are scikit-learn style estimators (:class:`sklearn.base.BaseEstimator`): ``fit`` returns
``self``, constructor parameters are stored unchanged, fitted attributes end with ``_``, and
``predict`` before ``fit`` raises :class:`sklearn.exceptions.NotFittedError`. Fit on one split
and apply to another; fitting and evaluating on the same answers overstates the gain.

Calibration errors (:func:`expected_calibration_error`, :func:`maximum_calibration_error`)
use equal-width bins over ``[0, 1]``, see :func:`calibration_bins` for the edge convention;
:func:`brier_score` is :func:`sklearn.metrics.brier_score_loss`.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss
from sklearn.utils.validation import check_is_fitted

from lmuq.evaluation.inputs import as_1d_float, prepare, undefined

__all__ = [
    "IsotonicCalibrator",
    "PlattCalibrator",
    "brier_score",
    "calibration_bins",
    "expected_calibration_error",
    "maximum_calibration_error",
]


# ---------------------------------------------------------------------------------------
# recalibration
# ---------------------------------------------------------------------------------------


def _fit_inputs(scores: ArrayLike, correct: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    s = as_1d_float(scores, "scores")
    y = as_1d_float(correct, "correct")
    if s.shape[0] != y.shape[0]:
        raise ValueError(
            f"scores and correct must have the same length, got {s.shape[0]} and {y.shape[0]}"
        )
    if s.shape[0] == 0:
        raise ValueError("scores and correct are empty; need at least one example")
    bad = int(np.count_nonzero(~np.isfinite(s)))
    if bad:
        raise ValueError(f"scores contain {bad} NaN or infinite value(s); drop them before fit")
    if not np.all((y == 0) | (y == 1)):
        raise ValueError("correct must be 0/1 (or bool)")
    return s, y.astype(int)


def _predict_with(scores: ArrayLike, fn) -> np.ndarray:
    s = as_1d_float(scores, "scores")
    out = np.full(s.shape, np.nan)
    ok = ~np.isnan(s)
    if ok.any():
        out[ok] = fn(s[ok])
    return out


class PlattCalibrator(BaseEstimator):
    """Platt scaling: P(correct | score) = sigmoid(coef_ * score + intercept_).

    Fitted with :class:`sklearn.linear_model.LogisticRegression` (lbfgs) on the single
    feature ``score``. ``C`` is scikit-learn's inverse L2 strength on the slope (the
    intercept is not penalised); the large default makes it practically unregularised
    while keeping the slope finite when the scores separate the classes perfectly.

    Args:
        C: inverse regularisation strength, > 0.
        max_iter: lbfgs iterations.

    Attributes (after :meth:`fit`):
        coef_: the slope ``a``. A negative slope means the score is anti-correlated with
            correctness on the calibration data.
        intercept_: the intercept ``b``.
        model_: the fitted :class:`~sklearn.linear_model.LogisticRegression`.
        n_samples_: number of calibration examples.
    """

    def __init__(self, C: float = 1e4, max_iter: int = 1000) -> None:
        self.C = C
        self.max_iter = max_iter

    def fit(self, scores: ArrayLike, correct: ArrayLike) -> PlattCalibrator:
        """Fit on calibration ``scores`` and 0/1 ``correct``; returns ``self``.

        Raises:
            ValueError: lengths differ, empty input, non-finite scores, labels not 0/1, or
                only one class present (a logistic fit needs both).
        """
        s, y = _fit_inputs(scores, correct)
        if np.unique(y).size < 2:
            raise ValueError(
                "Platt scaling needs both correct and wrong answers in the calibration data"
            )
        if not (isinstance(self.C, (int, float)) and self.C > 0):
            raise ValueError(f"C must be a positive number, got {self.C!r}")
        model = LogisticRegression(C=self.C, max_iter=self.max_iter)
        model.fit(s.reshape(-1, 1), y)
        self.model_ = model
        self.coef_ = float(model.coef_[0, 0])
        self.intercept_ = float(model.intercept_[0])
        self.n_samples_ = int(s.shape[0])
        return self

    def predict(self, scores: ArrayLike) -> np.ndarray:
        """Calibrated probabilities of being correct, in ``[0, 1]``; NaN scores give NaN.

        Raises:
            sklearn.exceptions.NotFittedError: called before :meth:`fit`.
        """
        check_is_fitted(self, "model_", msg="PlattCalibrator is not fitted yet; call fit first")
        return _predict_with(scores, lambda s: self.model_.predict_proba(s.reshape(-1, 1))[:, 1])


class IsotonicCalibrator(BaseEstimator):
    """Isotonic recalibration: a non-decreasing step function of the score.

    Fitted with :class:`sklearn.isotonic.IsotonicRegression` (``increasing=True``,
    ``y_min=0``, ``y_max=1``, ``out_of_bounds="clip"``): scores below / above the calibration
    range get the value at the lowest / highest calibration score. Between calibration
    scores the fitted function is interpolated linearly (scikit-learn's behaviour).

    Attributes (after :meth:`fit`):
        model_: the fitted :class:`~sklearn.isotonic.IsotonicRegression`.
        X_min_, X_max_: the calibration score range.
        n_samples_: number of calibration examples.
    """

    def fit(self, scores: ArrayLike, correct: ArrayLike) -> IsotonicCalibrator:
        """Fit on calibration ``scores`` and 0/1 ``correct``; returns ``self``.

        A single class is allowed (the fit is then constant: 0 or 1).

        Raises:
            ValueError: lengths differ, empty input, non-finite scores, labels not 0/1.
        """
        s, y = _fit_inputs(scores, correct)
        model = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip")
        model.fit(s, y.astype(float))
        self.model_ = model
        self.X_min_ = float(s.min())
        self.X_max_ = float(s.max())
        self.n_samples_ = int(s.shape[0])
        return self

    def predict(self, scores: ArrayLike) -> np.ndarray:
        """Calibrated probabilities of being correct, in ``[0, 1]``; NaN scores give NaN.

        Raises:
            sklearn.exceptions.NotFittedError: called before :meth:`fit`.
        """
        check_is_fitted(self, "model_", msg="IsotonicCalibrator is not fitted yet; call fit first")
        return _predict_with(scores, lambda s: np.clip(self.model_.predict(s), 0.0, 1.0))


# ---------------------------------------------------------------------------------------
# calibration errors
# ---------------------------------------------------------------------------------------


def _check_n_bins(n_bins: int) -> None:
    if isinstance(n_bins, bool) or not isinstance(n_bins, (int, np.integer)) or n_bins < 1:
        raise ValueError(f"n_bins must be a positive int, got {n_bins!r}")


def _binned(confidence: ArrayLike, correct: ArrayLike, n_bins: int, stacklevel: int):
    _check_n_bins(n_bins)
    conf, y = prepare(
        confidence, correct, target_name="correct", binary=True, stacklevel=stacklevel
    )
    if conf.size and (conf.min() < 0 or conf.max() > 1):
        raise ValueError(
            "confidence must lie in [0, 1] for calibration errors, got range "
            f"[{conf.min():g}, {conf.max():g}]; map scores to probabilities first "
            "(e.g. with PlattCalibrator)"
        )
    edges = np.arange(n_bins + 1) / n_bins
    idx = np.clip(np.searchsorted(edges, conf, side="right") - 1, 0, n_bins - 1)
    count = np.bincount(idx, minlength=n_bins)
    sum_conf = np.bincount(idx, weights=conf, minlength=n_bins)
    sum_y = np.bincount(idx, weights=y, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.where(count > 0, sum_conf / np.maximum(count, 1), np.nan)
        acc = np.where(count > 0, sum_y / np.maximum(count, 1), np.nan)
    return edges, count, mean_conf, acc


def calibration_bins(
    confidence: ArrayLike, correct: ArrayLike, n_bins: int = 10
) -> dict[str, np.ndarray]:
    """Per-bin counts, mean confidence and accuracy (the data of a reliability diagram).

    Bins are ``n_bins`` equal-width intervals of ``[0, 1]`` with edges ``b / n_bins``:
    ``[0, 1/B), [1/B, 2/B), ..., [(B-1)/B, 1]`` -- left-closed, right-open, except that the
    last bin also contains 1. A confidence exactly on an inner edge (the float nearest
    ``b / B``, e.g. ``0.3`` for ``B = 10``) goes to the upper bin.

    Rows with NaN/infinite confidence are dropped with a
    :class:`~lmuq.evaluation.MetricWarning`.

    Returns:
        dict of arrays of length ``n_bins``: ``lower``, ``upper`` (bin edges), ``count``,
        ``mean_confidence`` and ``accuracy`` (NaN for empty bins).

    Raises:
        ValueError: lengths differ, empty input, ``correct`` not 0/1, confidence outside
            ``[0, 1]``, ``n_bins`` not a positive int.
    """
    edges, count, mean_conf, acc = _binned(confidence, correct, n_bins, stacklevel=4)
    return {
        "lower": edges[:-1],
        "upper": edges[1:],
        "count": count,
        "mean_confidence": mean_conf,
        "accuracy": acc,
    }


def expected_calibration_error(
    confidence: ArrayLike, correct: ArrayLike, n_bins: int = 10
) -> float:
    r"""Expected calibration error with equal-width bins.

    .. math::

        \mathrm{ECE} = \sum_{b=1}^{B} \frac{n_b}{n}\,
            \big|\,\mathrm{acc}_b - \mathrm{conf}_b\,\big|

    where :math:`n_b` is the number of answers whose confidence falls in bin :math:`b`,
    :math:`\mathrm{acc}_b` their fraction correct and :math:`\mathrm{conf}_b` their mean
    confidence; empty bins contribute nothing. Bin edges as in :func:`calibration_bins`
    (``[b/B, (b+1)/B)``, the last bin closed). Source: Naeini, Cooper & Hauskrecht, AAAI
    2015; Guo et al., "On Calibration of Modern Neural Networks", ICML 2017.

    Returns ``nan`` with a :class:`~lmuq.evaluation.MetricWarning` when no finite
    confidence remains.

    Raises:
        ValueError: as :func:`calibration_bins`.
    """
    _, count, mean_conf, acc = _binned(confidence, correct, n_bins, stacklevel=4)
    n = int(count.sum())
    if n == 0:
        return undefined("ECE undefined: no rows with finite confidence remain")
    filled = count > 0
    return float(np.sum(count[filled] / n * np.abs(acc[filled] - mean_conf[filled])))


def maximum_calibration_error(confidence: ArrayLike, correct: ArrayLike, n_bins: int = 10) -> float:
    r"""Maximum calibration error: :math:`\max_b |\mathrm{acc}_b - \mathrm{conf}_b|`.

    The maximum is over the non-empty equal-width bins of :func:`calibration_bins`
    (Naeini et al., AAAI 2015). Returns ``nan`` with a
    :class:`~lmuq.evaluation.MetricWarning` when no finite confidence remains.
    """
    _, count, mean_conf, acc = _binned(confidence, correct, n_bins, stacklevel=4)
    filled = count > 0
    if not filled.any():
        return undefined("MCE undefined: no rows with finite confidence remain")
    return float(np.max(np.abs(acc[filled] - mean_conf[filled])))


def brier_score(confidence: ArrayLike, correct: ArrayLike) -> float:
    r"""Brier score :math:`\frac1n \sum_i (c_i - y_i)^2` (lower is better).

    Computed with :func:`sklearn.metrics.brier_score_loss`; confidence must lie in
    ``[0, 1]``. Rows with NaN/infinite confidence are dropped with a
    :class:`~lmuq.evaluation.MetricWarning`; ``nan`` if none remain.
    """
    conf, y = prepare(confidence, correct, target_name="correct", binary=True)
    if conf.size == 0:
        return undefined("Brier score undefined: no rows with finite confidence remain")
    if conf.min() < 0 or conf.max() > 1:
        raise ValueError(
            f"confidence must lie in [0, 1] for the Brier score, got range "
            f"[{conf.min():g}, {conf.max():g}]"
        )
    # labels=[0, 1] keeps a single-class input well defined.
    return float(brier_score_loss(y.astype(int), conf, labels=[0, 1]))
