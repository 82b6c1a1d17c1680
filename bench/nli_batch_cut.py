"""A / B: how HFNLIModel cuts each clustering round into batches, on lmuq's own rounds.

lmuq's scenario c (noncontradiction + semantic negentropy + cosine, ``use_best=True``) on
``workload.py``'s 75 prompts x 10 samples asks the NLI model in dependent rounds (6 since
the clustering look-ahead: 426, 331, ... pairs). Each round is sorted by token length and
cut into the fewest passes; this script times two cuts of the same rounds through the
simulated NLI model of ``bench_blackbox.py`` (random init, fp32), interleaved A B A B ...
so drift hits both:

* A ``chunks``: fixed chunks of ``--batch-size``, longest first (lmuq before 2026-12-03;
  ``max_padding=1e9`` selects it);
* B ``fewest``: the cut with the fewest tokens among those with the fewest passes (the
  default, ``length_batches``).

It prints per repeat the wall of all rounds, passes and tokens run for each, and the B / A
ratio per pair with their median.

    .venv/bin/python bench/nli_batch_cut.py --layers 24 --hidden 1024 --repeats 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from nli_rounds import record_rounds
from nli_sim import build_simulated_nli, make_tiny_nli_folder


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--layers", type=int, default=6)
    ap.add_argument("--hidden", type=int, default=384)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    import torch

    from lmuq.statistics.embeddings import default_sentence_model_path
    from lmuq.statistics.nli import HFNLIModel

    torch.set_num_threads(args.threads)
    minilm = default_sentence_model_path()
    sim = build_simulated_nli(minilm, layers=args.layers, hidden=args.hidden)
    calls = record_rounds("c")
    print(
        f"{len(calls)} rounds of {[len(c) for c in calls]} pairs "
        f"({sum(len(c) for c in calls)} in all); NLI {args.layers} x {args.hidden}, "
        f"batch {args.batch_size}, {args.threads} threads"
    )
    tiny = make_tiny_nli_folder(minilm)
    cuts = {"chunks": 1e9, "fewest": None}
    models = {}
    for name, padding in cuts.items():
        m = HFNLIModel(str(tiny), device="cpu", batch_size=args.batch_size, max_padding=padding)
        m.model = sim
        m.predict_proba(*zip(*calls[0][:8], strict=True))  # warm up
        models[name] = m

    def run(name: str) -> tuple[float, int, int]:
        model = models[name]
        sim.counter.reset()
        model.forward_passes = 0
        t0 = time.perf_counter()
        for call in calls:
            premises, hypotheses = zip(*call, strict=True)
            model.predict_proba(list(premises), list(hypotheses))
        wall = time.perf_counter() - t0
        return wall, model.forward_passes, sum(r * w for r, w in sim.counter.shapes)

    ratios = []
    for rep in range(args.repeats):
        order = ("chunks", "fewest") if rep % 2 == 0 else ("fewest", "chunks")
        got = {name: run(name) for name in order}
        a, b = got["chunks"], got["fewest"]
        ratios.append(b[0] / a[0])
        print(
            f"rep {rep + 1} ({' then '.join(order)}): chunks {a[0]:.2f} s, {a[1]} passes, "
            f"{a[2]} tokens | fewest {b[0]:.2f} s, {b[1]} passes, {b[2]} tokens | "
            f"fewest / chunks {ratios[-1]:.3f}",
            flush=True,
        )
    print(
        f"fewest / chunks wall: median {statistics.median(ratios):.3f} "
        f"(per repeat {', '.join(f'{r:.3f}' for r in ratios)})"
    )


if __name__ == "__main__":
    main()
