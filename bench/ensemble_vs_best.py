"""Does a tuned ensemble beat the best single scorer on held-out questions?

Reads a demo run's ``results.csv`` (one column per scorer, ``correct``) and, for each of
``--splits`` stratified 50/50 splits of the questions:

1. on the calibration half, picks the best single scorer by AUROC and tunes ensemble
   weights over the components with lmuq's ``Tuner.tune_params`` (objective ``roc_auc``,
   weights on the simplex: UQLM's ensemble tuning);
2. on the held-out half, measures both AUROCs with bootstrap intervals and a paired
   bootstrap test of their difference (the same resamples for both).

Prints the first split in full and, over all splits, the mean difference and how often the
ensemble won. Nothing here is tuned to the result: the components are every scorer of the
run whose scores are probabilities in [0, 1] (the ensemble is a weighted mean).

    python bench/ensemble_vs_best.py lmuq-out/results.csv --splits 20
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", type=Path)
    ap.add_argument("--splits", type=int, default=20)
    ap.add_argument("--n-boot", type=int, default=1000)
    args = ap.parse_args()

    import pandas as pd

    from lmuq.evaluation import (
        Tuner,
        auroc,
        bootstrap_metric,
        ensemble_scores,
        paired_bootstrap,
    )
    from lmuq.evaluation.protocol import calibration_mask

    table = pd.read_csv(args.results)
    y = table["correct"].astype(float).to_numpy()
    summary = pd.read_csv(args.results.parent / "summary.csv")
    names = [
        n.split("[")[0]
        for n in summary["scorer"]
        if ":" not in n and n.split("[")[0] in table.columns
    ]
    scores = {n: table[n].astype(float).to_numpy() for n in names}
    components = [n for n in names if np.nanmin(scores[n]) >= 0.0 and np.nanmax(scores[n]) <= 1.0]
    print(f"{len(y)} questions, {int(y.sum())} correct; {len(components)} components:")
    print("  " + ", ".join(components))

    diffs, wins = [], 0
    for split in range(args.splits):
        cal = calibration_mask(y, 0.5, seed=split)
        test = ~cal
        best = max(components, key=lambda n: auroc(scores[n][cal], y[cal]))
        tuned = Tuner().tune_params(
            [scores[n][cal] for n in components], y[cal], weights_objective="roc_auc"
        )
        matrix = np.column_stack([scores[n] for n in components])
        ens = ensemble_scores(matrix, tuned["weights"])
        d = paired_bootstrap(
            ens[test],
            scores[best][test],
            y[test],
            names=("ensemble", best),
            n_boot=args.n_boot,
            seed=split,
        )
        diffs.append(d.estimate)
        wins += d.estimate > 0
        if split == 0:
            e_iv = bootstrap_metric(auroc, ens[test], y[test], n_boot=args.n_boot, seed=0)
            b_iv = bootstrap_metric(auroc, scores[best][test], y[test], n_boot=args.n_boot)
            top = sorted(zip(tuned["weights"], components, strict=True), reverse=True)[:4]
            print(f"\nsplit 0 ({int(cal.sum())} calibration, {int(test.sum())} held out):")
            print("  weights: " + ", ".join(f"{n} {w:.2f}" for w, n in top) + ", ...")
            print(f"  ensemble AUROC {e_iv}; best single ({best}) {b_iv}")
            print(f"  difference {d.estimate:+.3f} [{d.low:+.3f}, {d.high:+.3f}], p {d.p_text}")
    diffs = np.array(diffs)
    print(
        f"\nover {args.splits} splits: ensemble minus best single AUROC on the held-out half, "
        f"mean {diffs.mean():+.3f} (min {diffs.min():+.3f}, max {diffs.max():+.3f}); "
        f"ensemble ahead on {wins} of {args.splits}"
    )


if __name__ == "__main__":
    main()
