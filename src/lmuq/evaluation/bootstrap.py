"""Paired percentile-bootstrap confidence intervals for the metrics in :mod:`.metrics`.

Rows (confidence, correct) are resampled together with replacement, the metric is recomputed
on each resample, and the interval is the ``(1 - level)/2`` and ``(1 + level)/2`` quantiles
of the resampled values (Efron & Tibshirani, *An Introduction to the Bootstrap*, 1993,
ch. 13). For :func:`~lmuq.evaluation.metrics.auroc` a vectorised rank-based computation is
used (identical values, same resamples); any other metric is called once per resample.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import rankdata

from lmuq.evaluation.inputs import MetricWarning, as_1d_float
from lmuq.evaluation.metrics import auroc

__all__ = ["Interval", "auroc_of_rows", "bootstrap_metric", "resample_index_blocks"]

# Upper bound on the number of resampled indices held in memory at once.
_CHUNK_ELEMENTS = 2_000_000


@dataclass(frozen=True)
class Interval:
    """A point estimate with a bootstrap confidence interval.

    Attributes:
        estimate: the metric on the full data.
        low, high: percentile-bootstrap bounds (``nan`` if too many resamples were
            undefined).
        level: nominal coverage, e.g. 0.95.
        n_boot: number of bootstrap resamples drawn.
    """

    estimate: float
    low: float
    high: float
    level: float
    n_boot: int

    def __str__(self) -> str:
        return f"{self.estimate:.3f} [{self.low:.3f}, {self.high:.3f}]"


def resample_index_blocks(rng: np.random.Generator, n: int, n_boot: int) -> Iterator[np.ndarray]:
    """Yield ``(rows, n)`` blocks of resample indices, ``n_boot`` rows in total.

    The block sizes depend only on ``n`` and ``n_boot``, so every code path draws the same
    resamples for the same seed.
    """
    rows_per_chunk = max(1, _CHUNK_ELEMENTS // n)
    done = 0
    while done < n_boot:
        rows = min(rows_per_chunk, n_boot - done)
        yield rng.integers(0, n, size=(rows, n))
        done += rows


def auroc_of_rows(conf: np.ndarray, y: np.ndarray) -> np.ndarray:
    """AUROC of each row of ``conf`` (B, n) against ``y`` (B, n) via Mann–Whitney U.

    Ties get average ranks (1/2 credit), matching :func:`sklearn.metrics.roc_auc_score`.
    Rows with a single class give ``nan``.
    """
    ranks = rankdata(conf, axis=1)
    n = conf.shape[1]
    n_pos = y.sum(axis=1)
    n_neg = n - n_pos
    u = (ranks * y).sum(axis=1) - n_pos * (n_pos + 1) / 2.0
    denom = n_pos * n_neg
    out = np.full(conf.shape[0], np.nan)
    ok = denom > 0
    out[ok] = u[ok] / denom[ok]
    return out


def bootstrap_metric(
    metric: Callable[[np.ndarray, np.ndarray], float],
    confidence: ArrayLike,
    correct: ArrayLike,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int | np.random.Generator | None = 0,
) -> Interval:
    """Paired percentile bootstrap interval for ``metric(confidence, correct)``.

    Args:
        metric: e.g. :func:`~lmuq.evaluation.metrics.auroc`, or
            ``functools.partial(prr, max_rejection=0.3)``.
        confidence, correct: as accepted by ``metric`` (lists, arrays, Series).
        n_boot: number of resamples (>= 1).
        level: nominal coverage in (0, 1).
        seed: seed (or Generator) for the resampling; ``None`` for fresh entropy.

    Returns:
        :class:`Interval` whose ``estimate`` is the metric on the full data. Resamples on
        which the metric is ``nan`` (e.g. a single class for AUROC) are discarded; if more
        than half are, ``low`` and ``high`` are ``nan`` (with a :class:`MetricWarning`).
        Warnings raised by the metric inside resamples are suppressed; those from the
        full-data estimate are not.

    Raises:
        ValueError: bad ``n_boot`` / ``level``, or whatever ``metric`` raises on the full
            data (length mismatch, empty input, ...).
    """
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 1:
        raise ValueError(f"n_boot must be an int >= 1, got {n_boot!r}")
    if not (isinstance(level, (int, float)) and 0.0 < level < 1.0):
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    n_boot = int(n_boot)

    # The full-data estimate validates the inputs (raising or warning as the metric does).
    estimate = float(metric(confidence, correct))
    conf = as_1d_float(confidence, "confidence")
    y = as_1d_float(correct, "correct")
    n = conf.shape[0]

    rng = np.random.default_rng(seed)
    values = np.empty(n_boot)
    filled = 0
    fast_auroc = metric is auroc and bool(np.all(np.isfinite(conf)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for idx in resample_index_blocks(rng, n, n_boot):
            rows = idx.shape[0]
            if fast_auroc:
                values[filled : filled + rows] = auroc_of_rows(conf[idx], y[idx])
            else:
                for r in range(rows):
                    values[filled + r] = metric(conf[idx[r]], y[idx[r]])
            filled += rows

    valid = values[~np.isnan(values)]
    if valid.size * 2 < n_boot:
        warnings.warn(
            f"bootstrap interval undefined: the metric was nan on {n_boot - valid.size} "
            f"of {n_boot} resamples",
            MetricWarning,
            stacklevel=2,
        )
        low = high = math.nan
    else:
        alpha = (1.0 - level) / 2.0
        low, high = (float(v) for v in np.quantile(valid, [alpha, 1.0 - alpha]))
    return Interval(estimate=estimate, low=low, high=high, level=float(level), n_boot=n_boot)
