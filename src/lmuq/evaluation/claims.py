"""Claim-level evaluation of long-form scores: AUROC and PRR with bootstrap intervals.

Each claim i of response r has a confidence c_ri (a long-form scorer's unit value) and a
label y_ri ∈ {0, 1, None} (right, wrong, unverifiable); unverifiable claims are left out.

* Claim level: AUROC(c, y) over every labelled claim (P(c⁺ > c⁻) + ½ P(tie)), and PRR
  (LM-Polygraph's prediction–rejection ratio, :func:`lmuq.evaluation.metrics.prr`) with
  quality y.
* Response level, after aggregation: the response's score (the scorer's row value, the mean
  or min of its claims) against "every labelled claim of it is right" (a response with no
  labelled claim is left out) — FActScore's all-correct reading.

The claims of one response share its sample set and are not independent, so the intervals
come from a **cluster bootstrap** (Field & Welsh 2007): resample responses with
replacement, keep all their claims, recompute the metric; the percentile interval of
``n_boot`` resamples (resamples where the metric is undefined, e.g. one class only, are
dropped; more than half dropped gives NaN bounds).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from lmuq.evaluation.bootstrap import Interval
from lmuq.evaluation.metrics import auroc, prr

__all__ = ["ClaimEvaluation", "claim_level_metrics", "cluster_bootstrap"]


@dataclass(frozen=True)
class ClaimEvaluation:
    """Claim- and response-level results of one scorer.

    Attributes:
        scorer: the scorer evaluated.
        claims: labelled claims used; claim_accuracy: their share right.
        claim_auroc / claim_prr: claim-level metrics with intervals.
        responses: responses with at least one labelled claim.
        response_auroc / response_prr: response-level metrics after aggregation.
    """

    scorer: str
    claims: int
    claim_accuracy: float
    claim_auroc: Interval
    claim_prr: Interval
    responses: int
    response_auroc: Interval
    response_prr: Interval


def cluster_bootstrap(
    metric: Callable[[np.ndarray, np.ndarray], float],
    confidence: Sequence[np.ndarray],
    correct: Sequence[np.ndarray],
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> Interval:
    """Percentile interval of ``metric`` over resampled clusters (one cluster per response:
    its claims' confidences and labels)."""
    if n_boot < 1 or not 0 < level < 1:
        raise ValueError("n_boot must be >= 1 and level in (0, 1)")
    if len(confidence) != len(correct) or not confidence:
        raise ValueError("confidence and correct need the same, non-zero number of clusters")
    flat_c = np.concatenate(confidence)
    flat_y = np.concatenate(correct)
    estimate = _safe(metric, flat_c, flat_y)
    rng = np.random.default_rng(seed)
    values = []
    k = len(confidence)
    for _ in range(n_boot):
        idx = rng.integers(0, k, size=k)
        c = np.concatenate([confidence[i] for i in idx])
        y = np.concatenate([correct[i] for i in idx])
        values.append(_safe(metric, c, y))
    valid = np.array([v for v in values if not math.isnan(v)])
    if valid.size * 2 < n_boot:
        low = high = math.nan
    else:
        alpha = (1 - level) / 2
        low, high = (float(v) for v in np.quantile(valid, [alpha, 1 - alpha]))
    return Interval(estimate=estimate, low=low, high=high, level=level, n_boot=n_boot)


def _safe(metric: Callable[[np.ndarray, np.ndarray], float], c: np.ndarray, y: np.ndarray):
    if c.size == 0 or np.unique(y).size < 2:
        return math.nan
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(metric(c, y))


def claim_level_metrics(
    claims_data: Sequence[Sequence[dict[str, Any]]],
    labels: Sequence[Sequence[bool | None]],
    scorer: str,
    response_scores: Sequence[float] | None = None,
    *,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> ClaimEvaluation:
    """AUROC and PRR of ``scorer`` at claim level and, after aggregation, at response level.

    Args:
        claims_data: per response, its claims (a result's ``columns["claims_data"]``).
        labels: per response, one label per claim (True right, False wrong, None
            unverifiable), aligned with ``claims_data``.
        scorer: the column holding each claim's confidence.
        response_scores: each response's aggregate (default: the mean of its claims'
            values).

    >>> data = [[{"s": 0.9}, {"s": 0.2}], [{"s": 0.8}, {"s": 0.1}]]
    >>> ev = claim_level_metrics(data, [[True, False], [True, None]], "s", n_boot=50)
    >>> ev.claims, ev.claim_auroc.estimate
    (3, 1.0)
    """
    if len(claims_data) != len(labels):
        raise ValueError("claims_data and labels need one entry per response")
    conf_c, y_c, conf_r, y_r = [], [], [], []
    for r, (claims, labs) in enumerate(zip(claims_data, labels, strict=True)):
        if len(claims) != len(labs):
            raise ValueError(f"response {r}: {len(claims)} claims but {len(labs)} labels")
        keep = [
            (float(c[scorer]), bool(lab))
            for c, lab in zip(claims, labs, strict=True)
            if lab is not None and not math.isnan(float(c[scorer]))
        ]
        if not keep:
            continue
        conf_c.append(np.array([k[0] for k in keep]))
        y_c.append(np.array([float(k[1]) for k in keep]))
        if response_scores is not None:
            agg = float(response_scores[r])
        else:
            agg = float(np.mean([float(c[scorer]) for c in claims]))
        if not math.isnan(agg):
            conf_r.append(np.array([agg]))
            y_r.append(np.array([float(all(k[1] for k in keep))]))
    if not conf_c:
        raise ValueError(f"no labelled claim has a {scorer} value")
    kw = {"n_boot": n_boot, "level": level, "seed": seed}
    flat_y = np.concatenate(y_c)
    return ClaimEvaluation(
        scorer=scorer,
        claims=int(flat_y.size),
        claim_accuracy=float(flat_y.mean()),
        claim_auroc=cluster_bootstrap(auroc, conf_c, y_c, **kw),
        claim_prr=cluster_bootstrap(prr, conf_c, y_c, **kw),
        responses=len(conf_r),
        response_auroc=cluster_bootstrap(auroc, conf_r, y_r, **kw)
        if conf_r
        else _nan_interval(level, n_boot),
        response_prr=cluster_bootstrap(prr, conf_r, y_r, **kw)
        if conf_r
        else _nan_interval(level, n_boot),
    )


def _nan_interval(level: float, n_boot: int) -> Interval:
    return Interval(math.nan, math.nan, math.nan, level, n_boot)
