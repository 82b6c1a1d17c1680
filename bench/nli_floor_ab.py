"""A / B on real forward passes: lmuq's NLI rounds against the floor, the same pairs in one call.

lmuq's scoring engine asks the NLI model in dependent rounds (semantic clustering can only
choose its next comparisons once it has read the last ones); the floor runs the same
distinct pairs in a single ``predict_proba`` call, as if every pair had been known at the
start. Both go through one ``HFNLIModel`` (the same length-sorted, fewest-token batching)
wrapped around the simulated NLI model of ``bench_blackbox.py`` (a random-init BERT
encoder of the given size, fp32), so the difference is the round structure alone: the
partial pass each round ends in, and the padding of sorting each round on its own.

The rounds are recorded with the free rule NLI (``nli_rounds.py``). Each repeat times both,
in alternating order (floor first on odd repeats) so drift hits both; with ``--wait-idle``
each measurement waits until the other processes use under 5% of the machine, and a repeat
in which they used more is reported and left out of the ratios.

    .venv/bin/python bench/nli_floor_ab.py --layers 24 --hidden 1024 --repeats 6 --wait-idle

Prints, per repeat, wall seconds, passes and tokens run of each side and lmuq / floor;
then the mean of the per-repeat ratios with a bootstrap 95% interval, their median, the
ratio of the total and of the best walls, and a pass-cost fit (a per pass + c per padded
token) on the run's own passes that splits the gap into extra passes and extra tokens.
``--summarize FILE`` prints that summary again from a ``--json`` file.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from nli_rounds import SCENARIOS, floor_pairs, record_rounds
from nli_sim import build_simulated_nli, make_tiny_nli_folder
from quiet import OtherLoad, wait_for_idle


def bootstrap_interval(samples, statistic, paired: bool = False) -> tuple[float, float]:
    """Percentile bootstrap 95% interval of ``statistic`` over resampled repeats (scipy)."""
    from scipy.stats import bootstrap

    res = bootstrap(
        samples,
        statistic,
        paired=paired,
        vectorized=False,
        method="percentile",
        n_resamples=10_000,
        random_state=0,
    )
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def summarize(records: list[dict]) -> None:
    """Print the ratios of the quiet repeats, and split the gap by a pass-cost fit."""
    import numpy as np
    from scipy.optimize import nnls

    kept = [r for r in records if r["kept"]]
    if not kept:
        print("no repeat ran on a quiet machine: no ratio")
        return
    ratios = [r["ratio"] for r in kept]
    walls = np.array([[r["lmuq"]["wall_s"], r["floor"]["wall_s"]] for r in kept])
    lo, hi = bootstrap_interval((ratios,), np.mean)
    tlo, thi = bootstrap_interval(
        (walls[:, 0], walls[:, 1]), lambda lm, fl: lm.sum() / fl.sum(), paired=True
    )
    print(
        f"lmuq / floor over {len(kept)} quiet repeats: mean {np.mean(ratios):.3f} "
        f"[95% bootstrap {lo:.3f}, {hi:.3f}], median {statistics.median(ratios):.3f}, "
        f"total walls {walls[:, 0].sum() / walls[:, 1].sum():.3f} [{tlo:.3f}, {thi:.3f}], "
        f"best walls {walls[:, 0].min() / walls[:, 1].min():.3f}; per repeat "
        + ", ".join(f"{r:.3f}" for r in ratios)
    )
    # Where the gap comes from: t = a + c * padded tokens, fitted on this run's own passes
    # (both sides, every quiet repeat); it splits the measured gap, it does not replace it.
    rows = [
        (side, b, b * width, t)
        for r in kept
        for side in ("floor", "lmuq")
        for (b, width), t in zip(r[side]["shapes"], r[side]["pass_seconds"], strict=True)
    ]
    x = np.array([[1.0, tokens] for _, _, tokens, _ in rows])
    y = np.array([t for *_, t in rows])
    (a, c), _ = nnls(x, y)
    share = {}
    for side in ("floor", "lmuq"):
        sel = [i for i, row in enumerate(rows) if row[0] == side]
        share[side] = (y[sel].sum() / len(kept), (x[sel] @ [a, c]).sum() / len(kept))
    extra_passes = kept[0]["lmuq"]["passes"] - kept[0]["floor"]["passes"]
    extra_tokens = kept[0]["lmuq"]["tokens"] - kept[0]["floor"]["tokens"]
    print(
        f"per pass a = {1000 * a:.0f} ms + c = {1000 * c:.2f} ms per padded token "
        f"(fit on {len(rows)} passes); forward per repeat: floor {share['floor'][0]:.1f} s "
        f"(fit {share['floor'][1]:.1f}), lmuq {share['lmuq'][0]:.1f} s "
        f"(fit {share['lmuq'][1]:.1f}); lmuq's {extra_passes:+d} passes cost "
        f"{extra_passes * a:.2f} s and its {extra_tokens:+d} tokens {extra_tokens * c:.2f} s"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenario", choices=sorted(SCENARIOS), default="c")
    ap.add_argument("--layers", type=int, default=6)
    ap.add_argument("--hidden", type=int, default=384)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=4)
    ap.add_argument("--wait-idle", action="store_true")
    ap.add_argument("--max-others-cpu", type=float, default=0.05)
    ap.add_argument("--json", type=Path, help="write every measurement here")
    ap.add_argument("--summarize", type=Path, help="print the summary of a saved --json run")
    args = ap.parse_args()
    if args.summarize:
        summarize(json.loads(args.summarize.read_text())["records"])
        return
    import torch

    from lmuq.statistics.embeddings import default_sentence_model_path
    from lmuq.statistics.nli import HFNLIModel

    torch.set_num_threads(args.threads)
    minilm = default_sentence_model_path()
    rounds = record_rounds(args.scenario)
    floor = floor_pairs(rounds)
    print(
        f"scenario {args.scenario}: lmuq {len(rounds)} rounds of {[len(r) for r in rounds]} "
        f"pairs; floor {len(floor)} pairs in one call; NLI {args.layers} x {args.hidden}, "
        f"batch {args.batch_size}, {args.threads} threads",
        flush=True,
    )
    assert sorted(floor) == sorted(p for r in rounds for p in r), "a pair was asked twice"
    sim = build_simulated_nli(minilm, layers=args.layers, hidden=args.hidden)
    model = HFNLIModel(str(make_tiny_nli_folder(minilm)), device="cpu", batch_size=args.batch_size)
    model.model = sim
    model.predict_proba(*zip(*floor[:8], strict=True))  # warm up

    def run(calls: list[list[tuple[str, str]]]) -> dict:
        if args.wait_idle:
            wait_for_idle(args.max_others_cpu)
        sim.counter.reset()
        model.forward_passes = 0
        with OtherLoad() as load:
            t0 = time.perf_counter()
            for call in calls:
                premises, hypotheses = zip(*call, strict=True)
                model.predict_proba(list(premises), list(hypotheses))
            wall = time.perf_counter() - t0
        return {
            "wall_s": wall,
            "passes": model.forward_passes,
            "tokens": sum(rows * width for rows, width in sim.counter.shapes),
            "forward_s": sim.counter.seconds,
            "shapes": list(sim.counter.shapes),
            "pass_seconds": list(sim.counter.pass_seconds),
            "others_cpu": load.share,
        }

    sides = {"floor": [floor], "lmuq": rounds}
    records = []
    for rep in range(args.repeats):
        order = ("lmuq", "floor") if rep % 2 else ("floor", "lmuq")
        got = {name: run(sides[name]) for name in order}
        lm, fl = got["lmuq"], got["floor"]
        ratio = lm["wall_s"] / fl["wall_s"]
        busy = max(lm["others_cpu"], fl["others_cpu"])
        quiet = busy <= args.max_others_cpu
        records.append({"repeat": rep + 1, "order": order, **got, "ratio": ratio, "kept": quiet})
        print(
            f"rep {rep + 1} ({' then '.join(order)}): floor {fl['wall_s']:.2f} s "
            f"({fl['forward_s']:.2f} in forward), {fl['passes']} passes, {fl['tokens']} tokens"
            f" | lmuq {lm['wall_s']:.2f} s ({lm['forward_s']:.2f}), {lm['passes']} passes, "
            f"{lm['tokens']} tokens | lmuq / floor {ratio:.3f}"
            + ("" if quiet else f"  (left out: others used {100 * busy:.0f}%)"),
            flush=True,
        )
    summarize(records)
    if args.json:
        args.json.write_text(
            json.dumps(
                {"args": vars(args) | {"json": str(args.json)}, "records": records}, indent=1
            )
        )


if __name__ == "__main__":
    main()
