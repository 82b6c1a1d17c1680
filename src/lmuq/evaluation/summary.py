"""One table that says how well each scorer separates right from wrong answers."""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from lmuq.evaluation.bootstrap import Interval, bootstrap_metric
from lmuq.evaluation.metrics import MetricWarning, auarc, auroc, prr

__all__ = ["ScorerSummary", "format_summary", "summarize_scores"]


@dataclass(frozen=True)
class ScorerSummary:
    """AUROC, PRR (up to ``max_rejection``) and AUARC of one score, with bootstrap intervals."""

    name: str
    auroc: Interval
    prr: Interval
    auarc: Interval
    n_scored: int

    def to_dict(self) -> dict[str, float | str | int]:
        out: dict[str, float | str | int] = {"scorer": self.name, "n_scored": self.n_scored}
        for metric in ("auroc", "prr", "auarc"):
            iv: Interval = getattr(self, metric)
            out[metric] = iv.estimate
            out[f"{metric}_low"] = iv.low
            out[f"{metric}_high"] = iv.high
        return out


def summarize_scores(
    scores: Mapping[str, Sequence[float]],
    correct: Sequence[bool] | np.ndarray,
    *,
    n_boot: int = 1000,
    level: float = 0.95,
    max_rejection: float = 0.5,
    seed: int | None = 0,
) -> list[ScorerSummary]:
    """Evaluate each confidence score in ``scores`` against the 0/1 ``correct`` labels.

    NaN scores are left out of that scorer's metrics (``n_scored`` says how many remain);
    a metric that is undefined (one class only) is NaN, with a :class:`MetricWarning`.
    """
    y = np.asarray(correct, dtype=float)
    prr_at = functools.partial(prr, max_rejection=max_rejection)
    out = []
    for name, values in scores.items():
        conf = np.asarray(values, dtype=float)
        if conf.shape != y.shape:
            raise ValueError(f"score {name!r} has {conf.size} values for {y.size} labels")
        keep = np.isfinite(conf)
        c, t = conf[keep], y[keep]
        if keep.sum() == 0:
            nan = Interval(math.nan, math.nan, math.nan, level, n_boot)
            out.append(ScorerSummary(name, nan, nan, nan, 0))
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MetricWarning)
            ivs = [
                bootstrap_metric(m, c, t, n_boot=n_boot, level=level, seed=seed)
                for m in (auroc, prr_at, auarc)
            ]
        out.append(ScorerSummary(name, *ivs, n_scored=int(keep.sum())))
    return out


def format_summary(rows: Sequence[ScorerSummary], max_rejection: float = 0.5) -> str:
    """A plain-text table, best AUROC first (laid out by pandas' ``DataFrame.to_string``)."""
    import pandas as pd  # imported on use: `import lmuq` stays light

    ordered = sorted(rows, key=lambda r: -np.nan_to_num(r.auroc.estimate, nan=-1.0))
    table = pd.DataFrame(
        {
            "scorer": [r.name for r in ordered],
            "AUROC [95% CI]": [_iv(r.auroc) for r in ordered],
            f"PRR@{max_rejection:g} [95% CI]": [_iv(r.prr) for r in ordered],
            "AUARC": [f"{r.auarc.estimate:.3f}" for r in ordered],
            "n": [r.n_scored for r in ordered],
        }
    )
    # to_string right-aligns text; the names and intervals read better flush left
    widths = {c: int(table[c].str.len().max()) for c in table.columns[:3]}
    left = {c: (lambda v, w=w: v.ljust(w)) for c, w in widths.items()}
    return table.to_string(index=False, justify="left", formatters=left)


def _iv(iv: Interval) -> str:
    if not math.isfinite(iv.estimate):
        return "n/a (one class)"
    return f"{iv.estimate:.3f} [{iv.low:.3f}, {iv.high:.3f}]"
