#!/usr/bin/env python
"""Adaptive sampling against always drawing m samples, on a graded run folder.

Replays a trust policy's stopping rule (:func:`lmuq.evaluation.adaptive.replay_adaptive`)
on the answers and samples stored in ``RUN_DIR/results.jsonl`` (``lmuq demo`` / ``lmuq
run`` write it) and prints: samples drawn and LLM calls made against always drawing m
(calls counted both ways: one call with ``n = m``, or one call per sample), whether every
decision equals the full one, and the AUROC of the adaptive and of the full confidence with
bootstrap 95% intervals, on the policy's holdout rows (rows it never saw) and on all rows.

  PYTHONPATH=src python bench/bench_adaptive.py lmuq-out policy.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from lmuq.codec import sample_set_from_record  # noqa: E402
from lmuq.evaluation.adaptive import replay_adaptive  # noqa: E402
from lmuq.evaluation.bootstrap import bootstrap_metric  # noqa: E402
from lmuq.evaluation.metrics import auroc  # noqa: E402
from lmuq.evaluation.policy import load_policy  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("policy", type=Path)
    ap.add_argument("--n-boot", type=int, default=1000)
    args = ap.parse_args()
    policy = load_policy(args.policy)
    sets, correct = [], []
    with open(args.run_dir / "results.jsonl", encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            rec = json.loads(line)
            if rec.get("correct") is None:
                continue  # unlabelled (a failed answer): left out, as calibrate does
            sets.append(sample_set_from_record(rec, f"line {lineno}"))
            correct.append(int(bool(rec["correct"])))
    y = np.array(correct)
    r = replay_adaptive(policy, sets)
    m = policy.sampling.num_samples
    print(
        f"policy {policy.id}: {', '.join(policy.scorers)}; m = {m}, "
        f"batch {policy.sampling.batch_size}"
    )
    print(f"{len(sets)} graded answers; every adaptive decision equals the m-sample one")
    hold = np.asarray(policy.data.holdout if policy.data else (), dtype=int)
    splits = [("all", np.arange(len(sets)))]
    if hold.size and hold.max() < len(sets):
        splits.insert(0, ("holdout", hold))
    for name, rows in splits:
        sub_used = r.samples_used[rows]
        sub_calls = r.calls[rows]
        n = len(rows)
        print(f"  {name} ({n} answers):")
        print(
            f"    samples drawn {sub_used.sum()} of {n * m} "
            f"({1 - sub_used.sum() / (n * m):.1%} saved); answers with no sample "
            f"{int((sub_used == 0).sum())}"
        )
        print(
            f"    LLM calls {sub_calls.sum()} vs {2 * n} (answer + one n=m call: "
            f"{1 - sub_calls.sum() / (2 * n):.1%} saved) or {(1 + m) * n} (one call per "
            f"sample: {1 - sub_calls.sum() / ((1 + m) * n):.1%} saved)"
        )
        for label, c in (("adaptive", r.confidence[rows]), ("always m", r.full_confidence[rows])):
            ok = ~np.isnan(c)
            iv = bootstrap_metric(auroc, c[ok], y[rows][ok], n_boot=args.n_boot, seed=0)
            print(f"    AUROC {label:<9} {iv.estimate:.3f} [{iv.low:.3f}, {iv.high:.3f}]")


if __name__ == "__main__":
    main()
