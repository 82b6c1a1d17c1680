"""The one place the evaluation functions validate their inputs, with messages that name
the argument and what to fix."""

from __future__ import annotations

import warnings

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["MetricWarning", "ScoreArray", "as_1d_float", "prepare", "undefined"]

ScoreArray = ArrayLike  # list, numpy array, pandas Series, ...


class MetricWarning(UserWarning):
    """A metric input was cleaned (rows dropped) or the metric is undefined (returned NaN)."""


def as_1d_float(x: ScoreArray, name: str) -> np.ndarray:
    """``x`` as a 1-D float array; a ``ValueError`` naming ``name`` otherwise."""
    try:
        arr = np.asarray(x, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric, could not convert: {exc}") from exc
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    return arr


def prepare(
    confidence: ScoreArray,
    target: ScoreArray,
    *,
    target_name: str,
    binary: bool,
    stacklevel: int = 3,
) -> tuple[np.ndarray, np.ndarray]:
    """Validate and align ``confidence`` / ``target``; drop rows with non-finite confidence.

    Returns float arrays (possibly empty after dropping).
    """
    conf = as_1d_float(confidence, "confidence")
    tgt = as_1d_float(target, target_name)
    if conf.shape[0] != tgt.shape[0]:
        raise ValueError(
            f"confidence and {target_name} must have the same length, "
            f"got len(confidence)={conf.shape[0]} and len({target_name})={tgt.shape[0]}"
        )
    if conf.shape[0] == 0:
        raise ValueError(f"confidence and {target_name} are empty; need at least one example")
    if not np.all(np.isfinite(tgt)):
        bad = int(np.count_nonzero(~np.isfinite(tgt)))
        raise ValueError(f"{target_name} contains {bad} non-finite value(s)")
    if binary and not np.all((tgt == 0) | (tgt == 1)):
        bad_vals = np.unique(tgt[(tgt != 0) & (tgt != 1)])[:5]
        raise ValueError(f"{target_name} must be 0/1 (or bool), found values like {bad_vals}")
    finite = np.isfinite(conf)
    n_bad = int(conf.shape[0] - np.count_nonzero(finite))
    if n_bad:
        warnings.warn(
            f"dropped {n_bad} of {conf.shape[0]} row(s) with non-finite confidence",
            MetricWarning,
            stacklevel=stacklevel,
        )
        conf, tgt = conf[finite], tgt[finite]
    return conf, tgt


def undefined(message: str, stacklevel: int = 3) -> float:
    """NaN, with a :class:`MetricWarning` saying why the metric is undefined."""
    warnings.warn(message, MetricWarning, stacklevel=stacklevel)
    return float("nan")
