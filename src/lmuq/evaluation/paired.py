r"""Is one scorer really better than another? A paired bootstrap test of a metric's difference.

Two scorers judged on the same answers are compared on the *same* resamples: rows
``(a_i, b_i, y_i)`` are drawn together with replacement and the difference
:math:`d^{*} = M(a^{*}, y^{*}) - M(b^{*}, y^{*})` of the metric ``M`` (AUROC by default) is
recomputed on each. Pairing removes the variation both scorers share (the same hard and easy
questions), so the difference is resolved far more sharply than two separate intervals
suggest: two overlapping AUROC intervals can still hide a clear difference.

* ``estimate`` is :math:`M(a, y) - M(b, y)` on the answers both scorers scored;
* ``low`` / ``high`` are the percentile bootstrap interval of :math:`d^{*}`
  (Efron & Tibshirani 1993, ch. 13);
* ``p_value`` is the two-sided bootstrap p-value
  :math:`p = \min\{1,\ 2 \min(\hat P(d^{*} \le 0),\ \hat P(d^{*} \ge 0))\}`, the smallest
  :math:`1 - \text{level}` at which the percentile interval would exclude 0 (so ``p <
  0.05`` goes with a 95% interval that excludes 0). It is never reported below
  ``1 / n_valid``: with 1000 resamples, "p < 0.001" is all the data can say.

Resamples that hold one class only leave AUROC undefined and are skipped, as in
:func:`~lmuq.evaluation.bootstrap.bootstrap_metric`; rows where either score is NaN (or
infinite) are left out of both sides, so that the two scorers are judged on the same answers.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from lmuq.evaluation.bootstrap import auroc_of_rows, resample_index_blocks
from lmuq.evaluation.inputs import MetricWarning, as_1d_float
from lmuq.evaluation.metrics import auroc

__all__ = ["PairedDifference", "paired_bootstrap", "paired_comparisons"]


@dataclass(frozen=True)
class PairedDifference:
    """The difference ``metric(a) - metric(b)`` with its paired bootstrap interval and p-value.

    Attributes:
        a, b: the two scorers' names.
        estimate: the difference on the answers both scored.
        low, high: percentile bootstrap interval of the difference.
        p_value: two-sided bootstrap p-value of "no difference" (see the module docstring);
            ``nan`` when too few resamples were defined.
        n: answers both scorers scored.
        n_boot: resamples drawn; ``n_valid`` of them had the metric defined on both sides.
        level: nominal coverage of the interval.
    """

    a: str
    b: str
    estimate: float
    low: float
    high: float
    p_value: float
    n: int
    n_boot: int
    n_valid: int
    level: float

    @property
    def significant(self) -> bool:
        """Whether the interval excludes 0 (a difference at the interval's level)."""
        return bool(self.low > 0 or self.high < 0)

    @property
    def p_floor(self) -> float:
        """The smallest p-value these resamples can show, ``1 / n_valid``."""
        return 1.0 / self.n_valid if self.n_valid else math.nan

    @property
    def p_text(self) -> str:
        """The p-value as a reader should see it: ``0.034``, ``< 0.001`` at the resamples'
        floor, ``n/a`` when undefined."""
        if not math.isfinite(self.p_value):
            return "n/a"
        if self.p_value <= self.p_floor:
            return f"< {self.p_floor:.2g}"
        return f"{self.p_value:.3f}"


def paired_bootstrap(
    a: ArrayLike,
    b: ArrayLike,
    correct: ArrayLike,
    *,
    metric: Callable[[np.ndarray, np.ndarray], float] = auroc,
    names: tuple[str, str] = ("a", "b"),
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int | np.random.Generator | None = 0,
) -> PairedDifference:
    """Paired bootstrap test of ``metric(a, correct) - metric(b, correct)``.

    Args:
        a, b: the two scorers' confidences (higher = more likely correct), one per answer;
            NaN or infinite = not scored (that answer is left out of both).
        correct: 0/1 labels, one per answer.
        metric: any ``metric(confidence, correct) -> float`` of :mod:`lmuq.evaluation`
            (AUROC is computed vectorised; others once per resample).
        names: what to call ``a`` and ``b`` in the result.
        n_boot: resamples (>= 1); level: coverage in (0, 1); seed: for the resampling.

    Raises:
        ValueError: lengths differ, labels are not 0/1, bad ``n_boot`` / ``level``, or no
            answer was scored by both.
    """
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 1:
        raise ValueError(f"n_boot must be an int >= 1, got {n_boot!r}")
    if not (isinstance(level, (int, float)) and 0.0 < level < 1.0):
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    xa = as_1d_float(a, "a")
    xb = as_1d_float(b, "b")
    y = as_1d_float(correct, "correct")
    if not (xa.size == xb.size == y.size):
        raise ValueError(
            f"a, b and correct must have one value per answer; got {xa.size}, {xb.size} and "
            f"{y.size}"
        )
    if not np.all((y == 0) | (y == 1)):
        raise ValueError("correct must hold 0/1 (or bool) labels")
    keep = np.isfinite(xa) & np.isfinite(xb)
    if not keep.any():
        raise ValueError(f"no answer was scored by both {names[0]} and {names[1]}")
    xa, xb, y = xa[keep], xb[keep], y[keep]
    n = int(y.size)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MetricWarning)
        estimate = float(metric(xa, y)) - float(metric(xb, y))
        rng = np.random.default_rng(seed)
        diffs = np.empty(int(n_boot))
        filled = 0
        fast = metric is auroc
        for idx in resample_index_blocks(rng, n, int(n_boot)):
            rows = idx.shape[0]
            if fast:
                d = auroc_of_rows(xa[idx], y[idx]) - auroc_of_rows(xb[idx], y[idx])
            else:
                d = np.array([metric(xa[r], y[r]) - metric(xb[r], y[r]) for r in idx])
            diffs[filled : filled + rows] = d
            filled += rows

    valid = diffs[~np.isnan(diffs)]
    if valid.size * 2 < n_boot:
        low = high = p_value = math.nan
    else:
        alpha = (1.0 - level) / 2.0
        low, high = (float(v) for v in np.quantile(valid, [alpha, 1.0 - alpha]))
        tail = min(np.mean(valid <= 0), np.mean(valid >= 0))
        p_value = float(max(min(1.0, 2.0 * tail), 1.0 / valid.size))
    return PairedDifference(
        a=names[0],
        b=names[1],
        estimate=estimate,
        low=low,
        high=high,
        p_value=p_value,
        n=n,
        n_boot=int(n_boot),
        n_valid=int(valid.size),
        level=float(level),
    )


def paired_comparisons(
    scores: Mapping[str, ArrayLike],
    correct: ArrayLike,
    *,
    reference: str,
    others: Sequence[str] | None = None,
    metric: Callable[[np.ndarray, np.ndarray], float] = auroc,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> list[PairedDifference]:
    """``reference`` against each of ``others`` (default: every other scorer), in order.

    Each comparison is :func:`paired_bootstrap` with the same seed, so on answers every
    scorer scored the resamples are the same for all of them.
    """
    if reference not in scores:
        raise ValueError(f"reference {reference!r} is not among the scores {sorted(scores)}")
    names = [s for s in (others if others is not None else scores) if s != reference]
    missing = [s for s in names if s not in scores]
    if missing:
        raise ValueError(f"no scores for {missing}; known: {sorted(scores)}")
    return [
        paired_bootstrap(
            scores[reference],
            scores[name],
            correct,
            metric=metric,
            names=(reference, name),
            n_boot=n_boot,
            level=level,
            seed=seed,
        )
        for name in names
    ]
