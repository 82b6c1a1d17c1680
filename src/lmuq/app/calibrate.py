"""``lmuq calibrate``: fit a trust policy on a graded run and save it as JSON.

Reads the run (:func:`lmuq.app.graded.load_graded`), fits the policy
(:func:`lmuq.evaluation.policy.fit_policy`) with the run's sampling settings and scoring
options, writes the file and says what it guarantees and how it did on each split.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Literal

from lmuq.app.graded import load_graded
from lmuq.evaluation.policy import (
    PolicySampling,
    PolicyScoring,
    TrustPolicy,
    fit_policy,
)

__all__ = ["calibrate_run", "describe_policy"]


def _lmuq_version() -> str:
    try:
        return version("lmuq")
    except PackageNotFoundError:
        return "unknown"


def calibrate_run(
    source: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    alpha: float = 0.1,
    calibrator: Literal["platt", "isotonic"] = "platt",
    scorers: Sequence[str] | None = None,
    run: str | None = None,
    fit_fraction: float = 0.5,
    holdout: float = 0.2,
    seed: int = 0,
    batch_size: int = 2,
    equivalence: str | None = None,
    nli_model: str | None = None,
) -> TrustPolicy:
    """Fit a policy on the graded run at ``source`` (folder or store) and write ``out``.

    ``equivalence`` / ``nli_model`` replace the recorded scoring options (a store records
    none: the default is ``normalized_match``, no NLI model). ``batch_size`` is the number
    of samples drawn per step of adaptive sampling.
    """
    graded = load_graded(
        source, run=run, scoring={"equivalence": equivalence, "nli_model": nli_model}
    )
    refused = [s for s in scorers or () if s in graded.extracted]
    if refused:
        raise ValueError(
            f"{', '.join(refused)} in {source} were computed on answers extracted with the "
            "question's help, which live traffic lacks, so a policy could not reproduce "
            "them; rerun with --no-extract-answers, or choose other scorers"
        )
    sampling = PolicySampling(**{**graded.sampling, "batch_size": batch_size})
    scoring = PolicyScoring(**graded.scoring)
    policy = fit_policy(
        graded.table,
        graded.correct,
        scorers=scorers,
        alpha=alpha,
        calibrator=calibrator,
        fit_fraction=fit_fraction,
        holdout=holdout,
        seed=seed,
        sampling=sampling,
        scoring=scoring,
        source=graded.source,
        lmuq_version=_lmuq_version(),
    )
    policy.save(Path(out))
    return policy


def _pct(x: Any) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.3f}"


def describe_policy(policy: TrustPolicy) -> list[str]:
    """Lines that say what the policy is and how it did on each split."""
    weights = ", ".join(f"{s} {w:.2f}" for s, w in zip(policy.scorers, policy.weights, strict=True))
    t = "none (accepts nothing)" if policy.threshold is None else f"{policy.threshold:.4f}"
    lines = [
        f"Policy {policy.id}: {weights}; {policy.calibrator.kind} calibration; "
        f"accept when confidence >= {t}",
    ]
    if policy.sample_scorers:
        s = policy.sampling
        lines.append(
            f"Samples: up to m = {s.num_samples}, {s.batch_size} at a time, only while the "
            "decision can still change"
        )
    else:
        lines.append("Samples: none (the policy's scorers read only the answer)")
    r = policy.report
    for name in ("fit", "conformal", "holdout"):
        if name not in r:
            continue
        e = r[name]
        line = (
            f"  {name:<9} n={e['n']:<4} AUROC {_pct(e['auroc'])}  accepted {e['accepted']} "
            f"({_pct(e['coverage'])})  accepted-and-wrong {e['accepted_wrong']} "
            f"(risk {_pct(e['risk'])}, 95% CI [{_pct(e['risk_low'])}, {_pct(e['risk_high'])}])"
        )
        if name == "conformal":
            line += f"  bound (W+1)/(n+1) = {_pct(e['risk_bound'])}"
        if name == "holdout":
            ok = "within" if e["alpha_within_interval"] else "NOT within"
            line += f"  -> alpha {policy.alpha:g} is {ok} the interval"
        lines.append(line)
    lines.append("Guarantee: " + policy.guarantee)
    return lines
