"""Tune an acceptance threshold and ensemble weights on graded data (UQLM's ``Tuner`` API).

Convention: a confidence score is higher = more likely correct, and an answer is *accepted*
(predicted correct) when ``score >= threshold``. ``correct_indicators`` are 0/1 (or bool);
the positive class of every classification objective is "correct".

:class:`Tuner` mirrors ``uqlm.utils.tuner.Tuner`` (same method names, argument names and
defaults, same objective names and the same ``{"weights": ..., "thresh": ...}`` result) but
is deterministic, needs no ``optuna`` and differs in a few documented details:

* predictions are ``score >= t`` (UQLM: ``score > t``);
* the threshold grid is ``lo, lo + step, ...`` up to and *including* ``hi`` when it falls on
  the grid (UQLM uses ``np.arange(lo, hi, step)``, which leaves ``hi`` out);
* ties between thresholds go to the lowest one (as UQLM's ``argmin``); ties between weight
  vectors go to the one closest to equal weighting (UQLM: the first one in its grid order,
  which depends on the order of the scorers);
* weight search: an exact grid on the simplex (multiples of ``step_size``) for two or three
  scorers; for four or more, ``n_trials`` seeded Dirichlet draws plus the vertices and the
  equal weighting, then a Nelder–Mead polish of the best point (UQLM: optuna's sampler);
* joint weight/threshold search (threshold objectives) evaluates every threshold of the
  grid for each weight vector rather than sampling them;
* inputs are validated (lengths, empty input, NaN scores, bounds, step, objective names).

The objectives have exactly the definitions of :mod:`sklearn.metrics` (``fbeta_score`` and
friends with ``zero_division=0``, ``roc_auc_score``, ``average_precision_score``,
``log_loss``, ``brier_score_loss``) but are computed here with numpy, vectorised over all
thresholds of the grid and over many weight vectors at once: a scikit-learn metric call
costs milliseconds of input checking, and a three-scorer weight grid has 5151 points (times
101 thresholds for the joint objectives). The tests check every objective against
scikit-learn.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import minimize
from scipy.stats import rankdata
from sklearn.metrics import precision_recall_fscore_support

from lmuq.evaluation.inputs import MetricWarning, as_1d_float

__all__ = [
    "THRESHOLD_OBJECTIVES",
    "WEIGHTS_OBJECTIVES",
    "Tuner",
    "ensemble_scores",
    "precision_recall_f1",
]

#: Objectives :meth:`Tuner.tune_threshold` maximises (UQLM's names).
THRESHOLD_OBJECTIVES: tuple[str, ...] = ("fbeta_score", "accuracy_score", "balanced_accuracy_score")

#: Objectives :meth:`Tuner.tune_params` optimises the weights for (UQLM's names).
WEIGHTS_OBJECTIVES: tuple[str, ...] = (
    *THRESHOLD_OBJECTIVES,
    "roc_auc",
    "log_loss",
    "average_precision",
    "brier_score",
)

#: Weight objectives that are minimised; every other objective is maximised.
_MINIMISED = frozenset({"log_loss", "brier_score"})


# ---------------------------------------------------------------------------------------
# input handling
# ---------------------------------------------------------------------------------------


def _labels(correct_indicators: ArrayLike, n: int | None = None) -> np.ndarray:
    y = as_1d_float(correct_indicators, "correct_indicators")
    if n is not None and y.shape[0] != n:
        raise ValueError(
            f"y_scores and correct_indicators must have the same length, got {n} and {y.shape[0]}"
        )
    if not np.all((y == 0) | (y == 1)):
        bad = np.unique(y[~((y == 0) | (y == 1))])[:5]
        raise ValueError(f"correct_indicators must be 0/1 (or bool), found values like {bad}")
    return y.astype(int)


def _scores_and_labels(
    y_scores: ArrayLike, correct_indicators: ArrayLike
) -> tuple[np.ndarray, np.ndarray]:
    s = as_1d_float(y_scores, "y_scores")
    y = _labels(correct_indicators, s.shape[0])
    if s.shape[0] == 0:
        raise ValueError("y_scores and correct_indicators are empty; need at least one example")
    n_nan = int(np.count_nonzero(np.isnan(s)))
    if n_nan:
        raise ValueError(
            f"y_scores contains {n_nan} NaN value(s) out of {s.shape[0]}; drop or impute them first"
        )
    return s, y


def _threshold_grid(bounds: Sequence[float], step_size: float) -> np.ndarray:
    try:
        lo, hi = (float(b) for b in bounds)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"bounds must be a pair of numbers (lo, hi), got {bounds!r}") from exc
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"bounds must be finite with lo < hi, got {bounds!r}")
    step = float(step_size)
    if not (math.isfinite(step) and 0 < step <= hi - lo):
        raise ValueError(f"step_size must be in (0, hi - lo] = (0, {hi - lo:g}], got {step_size!r}")
    m = math.floor((hi - lo) / step + 1e-9) + 1
    # Rounding keeps grid values equal to the decimals they stand for (0.07, not 0.0700...01),
    # so a score of exactly 0.07 passes the threshold 0.07.
    return np.round(lo + step * np.arange(m), 12)


def _check_objective(name: str, allowed: Sequence[str], what: str) -> None:
    if name not in allowed:
        raise ValueError(f"unknown {what} {name!r}; valid names: {list(allowed)}")


# ---------------------------------------------------------------------------------------
# threshold objectives for a whole grid at once
# ---------------------------------------------------------------------------------------


def _confusion_counts(
    s: np.ndarray, y: np.ndarray, thresholds: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(tp, fp, fn, tn) of the predictions ``s >= t`` for every ``t`` in ``thresholds``."""
    order = np.argsort(s, kind="stable")
    s_sorted, y_sorted = s[order], y[order]
    # suffix[k] = number of correct answers among the n - k largest scores
    suffix = np.concatenate([np.cumsum(y_sorted[::-1])[::-1], [0]])
    below = np.searchsorted(s_sorted, thresholds, side="left")  # count of s < t
    n, n_pos = s.shape[0], int(y.sum())
    predicted = n - below
    tp = suffix[below]
    fp = predicted - tp
    fn = n_pos - tp
    tn = (n - n_pos) - fp
    return tp, fp, fn, tn


def _threshold_objective_curve(
    s: np.ndarray, y: np.ndarray, thresholds: np.ndarray, objective: str, beta: float
) -> np.ndarray:
    """Value of ``objective`` for the predictions ``s >= t`` at every threshold ``t``.

    Same definitions as scikit-learn with ``zero_division=0``:

    * ``fbeta_score`` = (1+β²)·TP / ((1+β²)·TP + β²·FN + FP), 0 when the denominator is 0;
    * ``accuracy_score`` = (TP + TN) / n;
    * ``balanced_accuracy_score`` = mean of the recall of each class present in the labels.
    """
    tp, fp, fn, tn = (c.astype(float) for c in _confusion_counts(s, y, thresholds))
    if objective == "fbeta_score":
        b2 = beta * beta
        denom = (1 + b2) * tp + b2 * fn + fp
        return np.divide((1 + b2) * tp, denom, out=np.zeros_like(tp), where=denom > 0)
    if objective == "accuracy_score":
        return (tp + tn) / s.shape[0]
    # balanced accuracy
    n_pos = int(y.sum())
    n_neg = y.shape[0] - n_pos
    recalls = []
    if n_pos:
        recalls.append(tp / n_pos)
    if n_neg:
        recalls.append(tn / n_neg)
    return np.mean(recalls, axis=0)


def _best_threshold(curve: np.ndarray, thresholds: np.ndarray) -> tuple[float, float]:
    """(threshold, value) of the maximum; ties go to the lowest threshold."""
    i = int(np.argmax(curve))  # argmax returns the first maximum = the lowest threshold
    return float(thresholds[i]), float(curve[i])


# ---------------------------------------------------------------------------------------
# ensembling
# ---------------------------------------------------------------------------------------


def _ensemble(matrix: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """NaN-aware weighted mean of the rows of ``matrix`` (no validation)."""
    valid = ~np.isnan(matrix)
    w = np.where(valid, weights[None, :], 0.0)
    total = w.sum(axis=1)
    num = (np.where(valid, matrix, 0.0) * w).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, num / np.where(total > 0, total, 1.0), np.nan)


def ensemble_scores(score_matrix: ArrayLike, weights: ArrayLike) -> np.ndarray:
    r"""Weighted mean of several scorers' confidences, one value per example, NaN-aware.

    Row :math:`i` of ``score_matrix`` holds the scores of example :math:`i`, one column per
    scorer (shape ``(n_examples, n_scorers)``; note that :meth:`Tuner.tune_params` takes the
    transposed layout, one list per scorer, as UQLM does). With :math:`V_i` the scorers whose
    score for example :math:`i` is not NaN,

    .. math::

        e_i = \frac{\sum_{j \in V_i} w_j s_{ij}}{\sum_{j \in V_i} w_j},

    i.e. a NaN score's weight is dropped and the remaining weights renormalised for that row.
    The result is NaN where every score is NaN, or where every available score has weight 0.
    Nothing is clipped: a weighted mean of scores in ``[0, 1]`` stays in ``[0, 1]``.

    Args:
        score_matrix: 2-D array-like, ``(n_examples, n_scorers)``.
        weights: ``n_scorers`` finite, non-negative weights, not all zero (they need not
            sum to 1; only their ratios matter).

    Raises:
        ValueError: wrong shapes, infinite scores, or invalid weights.
    """
    try:
        matrix = np.asarray(score_matrix, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"score_matrix must be numeric, could not convert: {exc}") from exc
    if matrix.ndim != 2:
        raise ValueError(f"score_matrix must be 2-D (n_examples, n_scorers), got {matrix.shape}")
    if np.isinf(matrix).any():
        raise ValueError(f"score_matrix contains {int(np.isinf(matrix).sum())} infinite value(s)")
    w = as_1d_float(weights, "weights")
    if w.shape[0] != matrix.shape[1]:
        raise ValueError(
            f"need one weight per scorer (column): got {w.shape[0]} weights for "
            f"{matrix.shape[1]} columns"
        )
    if not np.all(np.isfinite(w)) or np.any(w < 0) or not w.sum() > 0:
        raise ValueError(f"weights must be finite, non-negative and not all zero, got {w}")
    return _ensemble(matrix, w)


# ---------------------------------------------------------------------------------------
# precision / recall at a threshold
# ---------------------------------------------------------------------------------------


def precision_recall_f1(
    y_scores: ArrayLike, correct_indicators: ArrayLike, threshold: float
) -> dict[str, float]:
    """How well "accept when ``score >= threshold``" separates correct from wrong answers.

    Returns a dict with

    * ``precision``: fraction correct among the accepted answers (NaN if none accepted);
    * ``recall``: fraction of the correct answers that are accepted (NaN if none correct);
    * ``f1``: ``2 TP / (2 TP + FP + FN)``, the harmonic mean of the two where both are
      defined (0 when nothing correct is accepted; NaN only when no answer is accepted
      and none is correct);
    * ``accuracy``: fraction of answers where "accepted" equals "correct";
    * ``fraction_kept``: fraction of answers accepted;
    * ``n_kept``: number accepted (as a float, like the others).

    Undefined values are NaN with a :class:`~lmuq.evaluation.MetricWarning`. Computed by
    :func:`sklearn.metrics.precision_recall_fscore_support` (``zero_division=nan``).

    Raises:
        ValueError: lengths differ, empty input, NaN scores, labels not 0/1, or a NaN
            threshold.
    """
    s, y = _scores_and_labels(y_scores, correct_indicators)
    t = float(threshold)
    if math.isnan(t):
        raise ValueError("threshold must not be NaN")
    kept = s >= t
    n_kept = int(kept.sum())
    if n_kept == 0:
        warnings.warn(
            f"precision undefined: no answer has score >= {t:g}", MetricWarning, stacklevel=2
        )
    if not y.any():
        warnings.warn("recall undefined: no answer is correct", MetricWarning, stacklevel=2)
    precision, recall, f1, _ = precision_recall_fscore_support(
        y.astype(int), kept.astype(int), average="binary", zero_division=np.nan
    )
    return {
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
        "accuracy": float(np.mean(kept == (y == 1))),
        "fraction_kept": n_kept / s.shape[0],
        "n_kept": float(n_kept),
    }


# ---------------------------------------------------------------------------------------
# the tuner
# ---------------------------------------------------------------------------------------


def _batch_ensemble(matrix: np.ndarray, weight_rows: np.ndarray) -> np.ndarray:
    """:func:`ensemble_scores` for many weight vectors at once: shape (n, n_vectors)."""
    valid = ~np.isnan(matrix)
    num = np.where(valid, matrix, 0.0) @ weight_rows.T
    den = valid.astype(float) @ weight_rows.T
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def _roc_auc_columns(y: np.ndarray, e: np.ndarray) -> np.ndarray:
    """AUROC of every column of ``e``: the Mann–Whitney statistic, ties counting 1/2."""
    ranks = rankdata(e, axis=0)  # average ranks for ties
    n1 = int(y.sum())
    n0 = y.shape[0] - n1
    return (ranks[y == 1].sum(axis=0) - n1 * (n1 + 1) / 2) / (n1 * n0)


def _average_precision(y: np.ndarray, e: np.ndarray) -> float:
    """Step-wise average precision, one point per distinct score (scikit-learn's AP)."""
    order = np.argsort(-e, kind="stable")
    e_sorted, y_sorted = e[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(e_sorted) != 0), e_sorted.shape[0] - 1]
    tps = np.cumsum(y_sorted)[last]
    precision = tps / (last + 1)
    recall = tps / tps[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def _weights_objective_columns(objective: str, y: np.ndarray, e: np.ndarray) -> np.ndarray:
    """Weight objective of every column of ensemble scores ``e``, signed: larger = better.

    Same definitions as ``roc_auc_score``, ``average_precision_score``, ``log_loss``
    (predictions clipped to ``[eps, 1 - eps]``) and ``brier_score_loss`` of scikit-learn
    (the tests check the agreement), evaluated for many weight vectors at once.
    """
    if objective == "roc_auc":
        return _roc_auc_columns(y, e)
    if objective == "average_precision":
        return np.array([_average_precision(y, col) for col in e.T])
    yy = y[:, None].astype(float)
    if objective == "log_loss":
        eps = np.finfo(float).eps
        p = np.clip(e, eps, 1 - eps)
        return np.mean(yy * np.log(p) + (1 - yy) * np.log1p(-p), axis=0)
    return -np.mean((np.clip(e, 0.0, 1.0) - yy) ** 2, axis=0)  # brier_score


def _simplex_grid(k: int, m: int) -> np.ndarray:
    """All weight vectors of ``k`` non-negative multiples of ``1/m`` summing to 1."""
    if k == 2:
        i = np.arange(m + 1)
        return np.stack([i, m - i], axis=1) / m
    rows = [(i, j, m - i - j) for i in range(m + 1) for j in range(m + 1 - i)]
    return np.asarray(rows, dtype=float) / m


class Tuner:
    """Tune a threshold, and ensemble weights plus a threshold, on graded responses.

    Same interface as ``uqlm.utils.tuner.Tuner`` (see the module docstring for the
    differences). The object keeps no state between calls.
    """

    def tune_threshold(
        self,
        y_scores: ArrayLike,
        correct_indicators: ArrayLike,
        thresh_objective: str = "fbeta_score",
        fscore_beta: float = 1,
        bounds: tuple[float, float] = (0, 1),
        step_size: float = 0.01,
        progress_bar: Any = None,
    ) -> float:
        """Grid search for the threshold that best separates correct from wrong answers.

        The grid is ``bounds[0], bounds[0] + step_size, ...`` up to ``bounds[1]`` (included
        when it is on the grid). For each grid value ``t`` the answers with
        ``y_scores >= t`` are predicted correct, and the objective of those predictions
        against ``correct_indicators`` is computed; the ``t`` with the largest value is
        returned, the lowest such ``t`` on ties.

        Args:
            y_scores: confidence scores, higher = more likely correct. No NaN.
            correct_indicators: 0/1 (or bool), 1 = correct.
            thresh_objective: ``"fbeta_score"``, ``"accuracy_score"`` or
                ``"balanced_accuracy_score"``.
            fscore_beta: β of the F-beta score (> 0).
            bounds: ``(lo, hi)`` of the grid, finite, ``lo < hi``.
            step_size: grid spacing, in ``(0, hi - lo]``.
            progress_bar: accepted for compatibility with UQLM; not used.

        Returns:
            The chosen threshold, as a float.

        Raises:
            ValueError: unknown objective, invalid bounds/step/β, lengths differ, empty
                input, NaN scores (the message says how many), labels not 0/1.
        """
        _check_objective(thresh_objective, THRESHOLD_OBJECTIVES, "thresh_objective")
        beta = self._check_beta(fscore_beta)
        s, y = _scores_and_labels(y_scores, correct_indicators)
        grid = _threshold_grid(bounds, step_size)
        curve = _threshold_objective_curve(s, y, grid, thresh_objective, beta)
        return _best_threshold(curve, grid)[0]

    def tune_params(
        self,
        score_lists: Sequence[ArrayLike],
        correct_indicators: ArrayLike,
        weights_objective: str = "roc_auc",
        thresh_objective: str = "fbeta_score",
        thresh_bounds: tuple[float, float] = (0, 1),
        n_trials: int = 100,
        step_size: float = 0.01,
        fscore_beta: float = 1,
        progress_bar: Any = None,
        *,
        random_state: int = 0,
    ) -> dict[str, Any]:
        """Tune ensemble weights (and the acceptance threshold) on graded responses.

        The ensemble score of example ``i`` is :func:`ensemble_scores` of its component
        scores. The weights are chosen on the simplex (non-negative, summing to 1) to
        optimise ``weights_objective`` of the ensemble scores against
        ``correct_indicators`` in the right direction: ``roc_auc``, ``average_precision``,
        ``fbeta_score``, ``accuracy_score`` and ``balanced_accuracy_score`` are maximised,
        ``log_loss`` and ``brier_score`` minimised.

        If ``weights_objective`` is one of the threshold objectives it must equal
        ``thresh_objective`` and weights and threshold are optimised jointly (for each
        candidate weight vector the best threshold of the grid is taken). Otherwise the
        weights are tuned first and the threshold then by :meth:`tune_threshold` on the
        resulting ensemble scores.

        Search: for 2 or 3 scorers, every weight vector whose entries are multiples of
        ``1/round(1/step_size)``; for 4 or more, the vertices, the equal weighting and
        ``n_trials`` Dirichlet(1, ..., 1) draws (seeded by ``random_state``), followed by a
        Nelder–Mead polish (``scipy.optimize.minimize``, at most ``50 * k`` evaluations,
        softmax-parametrised) of the best one. Weight vectors
        under which some example has no usable score (all its non-NaN scores weighted 0)
        are skipped. Ties go to the weights closest to equal weighting.

        Args:
            score_lists: one list of scores per scorer (UQLM's layout: ``k`` lists of ``n``
                scores), higher = more confident. NaN marks a missing score; every example
                needs at least one. For ``log_loss`` and ``brier_score`` the scores must be
                probabilities in ``[0, 1]``.
            correct_indicators: 0/1 (or bool) per example.
            weights_objective: one of :data:`WEIGHTS_OBJECTIVES`.
            thresh_objective: one of :data:`THRESHOLD_OBJECTIVES`.
            thresh_bounds, step_size, fscore_beta: as in :meth:`tune_threshold`;
                ``step_size`` is also the weight-grid spacing.
            n_trials: number of random candidates for 4 or more scorers.
            progress_bar: accepted for compatibility with UQLM; not used.
            random_state: seed of the random search (4 or more scorers).

        Returns:
            ``{"weights": [w_1, ..., w_k], "thresh": t}`` with floats, the weights
            non-negative and summing to 1.

        Raises:
            ValueError: fewer than two scorers, unknown or incompatible objectives, ragged
                or mismatched inputs, an example with no score, a single class for
                ``roc_auc``/``average_precision``, scores outside ``[0, 1]`` for
                ``log_loss``/``brier_score``, invalid bounds/step/β/n_trials.
        """
        _check_objective(weights_objective, WEIGHTS_OBJECTIVES, "weights_objective")
        _check_objective(thresh_objective, THRESHOLD_OBJECTIVES, "thresh_objective")
        joint = weights_objective in THRESHOLD_OBJECTIVES
        if joint and weights_objective != thresh_objective:
            raise ValueError(
                f"weights_objective {weights_objective!r} depends on the threshold, so it "
                f"must equal thresh_objective (got {thresh_objective!r}); weights and "
                "threshold are then tuned jointly"
            )
        beta = self._check_beta(fscore_beta)
        if isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 1:
            raise ValueError(f"n_trials must be a positive int, got {n_trials!r}")
        matrix, y = self._score_matrix(score_lists, correct_indicators, weights_objective)
        grid = _threshold_grid(thresh_bounds, step_size)
        k = matrix.shape[1]

        def evaluate(ws: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            """(values to maximise, best thresholds or nan) of weight rows ``ws``."""
            values = np.full(ws.shape[0], -math.inf)
            threshs = np.full(ws.shape[0], math.nan)
            chunk = max(1, 2_000_000 // matrix.shape[0])
            for start in range(0, ws.shape[0], chunk):
                block = ws[start : start + chunk]
                e = _batch_ensemble(matrix, block)  # (n, len(block))
                usable = ~np.isnan(e).any(axis=0)
                if not usable.any():
                    continue
                idx = start + np.flatnonzero(usable)
                if joint:
                    for j, col in zip(idx, e[:, usable].T, strict=True):
                        curve = _threshold_objective_curve(col, y, grid, weights_objective, beta)
                        threshs[j], values[j] = _best_threshold(curve, grid)
                else:
                    values[idx] = _weights_objective_columns(weights_objective, y, e[:, usable])
            return values, threshs

        if k <= 3:
            m = max(1, round(1 / float(step_size)))
            candidates = _simplex_grid(k, m)
        else:
            rng = np.random.default_rng(random_state)
            candidates = np.vstack(
                [np.eye(k), np.full((1, k), 1 / k), rng.dirichlet(np.ones(k), size=n_trials)]
            )
        values, threshs = evaluate(candidates)
        if not np.isfinite(values).any():
            raise ValueError("no weighting gives every example a score")
        best = float(values.max())
        tied = np.flatnonzero(values >= best - 1e-12 * max(1.0, abs(best)))
        spread = np.linalg.norm(candidates[tied] - 1 / k, axis=1)
        pick = int(tied[int(np.argmin(spread))])
        weights, value, thresh = candidates[pick], values[pick], threshs[pick]

        if k > 3:
            weights, thresh = self._polish(evaluate, weights, value, thresh)

        weights = weights / weights.sum()
        if not joint:
            e = _ensemble(matrix, weights)
            curve = _threshold_objective_curve(e, y, grid, thresh_objective, beta)
            thresh = _best_threshold(curve, grid)[0]
        return {"weights": [float(w) for w in weights], "thresh": float(thresh)}

    # -- helpers --------------------------------------------------------------------------

    @staticmethod
    def _check_beta(fscore_beta: float) -> float:
        beta = float(fscore_beta)
        if not (math.isfinite(beta) and beta > 0):
            raise ValueError(f"fscore_beta must be a positive number, got {fscore_beta!r}")
        return beta

    @staticmethod
    def _score_matrix(
        score_lists: Sequence[ArrayLike], correct_indicators: ArrayLike, objective: str
    ) -> tuple[np.ndarray, np.ndarray]:
        lists = [as_1d_float(sl, f"score_lists[{j}]") for j, sl in enumerate(score_lists)]
        if len(lists) < 2:
            raise ValueError(f"tuning needs at least two scorers (score lists), got {len(lists)}")
        lengths = {sl.shape[0] for sl in lists}
        if len(lengths) != 1:
            raise ValueError(f"all score lists must have the same length, got {sorted(lengths)}")
        matrix = np.stack(lists, axis=1)  # (n_examples, k)
        n = matrix.shape[0]
        if n == 0:
            raise ValueError("score lists are empty; need at least one example")
        y = _labels(correct_indicators)
        if y.shape[0] != n:
            raise ValueError(
                f"score lists have {n} examples but correct_indicators has {y.shape[0]}"
            )
        if np.isinf(matrix).any():
            raise ValueError(f"score lists contain {int(np.isinf(matrix).sum())} infinite value(s)")
        no_score = int(np.isnan(matrix).all(axis=1).sum())
        if no_score:
            raise ValueError(f"{no_score} example(s) have a NaN score from every scorer")
        if objective in ("roc_auc", "average_precision") and np.unique(y).size < 2:
            raise ValueError(f"{objective} needs both correct and wrong answers")
        if objective in _MINIMISED:
            finite = matrix[~np.isnan(matrix)]
            if finite.min() < 0 or finite.max() > 1:
                raise ValueError(f"{objective} needs scores that are probabilities in [0, 1]")
        return matrix, y

    @staticmethod
    def _polish(evaluate, weights, value, thresh):
        """Nelder–Mead on softmax-parametrised weights, started at ``weights``."""
        z0 = np.log(np.maximum(weights, 1e-6))
        best = {"value": value, "w": weights, "t": thresh}

        def loss(z: np.ndarray) -> float:
            w = np.exp(z - z.max())
            w = w / w.sum()
            v, t = (float(a[0]) for a in evaluate(w[None, :]))
            if v > best["value"]:
                best.update(value=v, w=w, t=t)
            return -v if math.isfinite(v) else 1e300

        k = weights.shape[0]
        minimize(loss, z0, method="Nelder-Mead", options={"maxfev": 50 * k, "maxiter": 50 * k})
        return best["w"], best["t"]
