"""Time HFNLIModel's batchings (``max_padding``) on the benchmark workload's NLI pairs.

The pairs are the 1,117 distinct pairs lmuq's scenario c (noncontradiction + semantic
negentropy + cosine, ``use_best=True``) runs on ``workload.py``'s 75 prompts x 10 samples,
found with the free rule NLI (``bench_blackbox.py`` checks they are the pairs the real path
runs). Each batching runs all of them in one ``predict_proba`` call through the simulated
NLI model of ``bench_blackbox.py`` (random init, fp32); prints wall seconds, passes and the
tokens run (padding included) per batching, in the order given, so repeat a batching to
see the drift.

    /work/venv-bench/bin/python bench/nli_batching.py --layers 24 --hidden 1024 \\
        --batchings none,0,0.1,0,none

``none`` is the default cut (the fewest tokens in the fewest passes of ``--batch-size``,
as the floor of ``bench_blackbox.py`` runs), a number is ``max_padding``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from nli_rounds import floor_pairs, record_rounds
from nli_sim import build_simulated_nli, make_tiny_nli_folder


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--layers", type=int, default=6)
    ap.add_argument("--hidden", type=int, default=384)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batchings", default="none,0,0.1,0.25")
    args = ap.parse_args()
    import torch

    from lmuq.statistics.embeddings import default_sentence_model_path
    from lmuq.statistics.nli import HFNLIModel

    torch.set_num_threads(args.threads)
    minilm = default_sentence_model_path()
    sim = build_simulated_nli(minilm, layers=args.layers, hidden=args.hidden)
    pairs = floor_pairs(record_rounds("c"))
    premises, hypotheses = [p for p, _ in pairs], [h for _, h in pairs]
    print(f"{len(pairs)} distinct pairs; NLI {args.layers} x {args.hidden}, {args.threads} threads")
    tiny = make_tiny_nli_folder(minilm)
    for name in args.batchings.split(","):
        padding = None if name == "none" else float(name)
        model = HFNLIModel(str(tiny), device="cpu", batch_size=args.batch_size, max_padding=padding)
        model.model = sim
        model.predict_proba(premises[:8], hypotheses[:8])  # warm up
        sim.counter.reset()
        model.forward_passes = 0
        t0 = time.perf_counter()
        model.predict_proba(premises, hypotheses)
        wall = time.perf_counter() - t0
        tokens = sum(rows * width for rows, width in sim.counter.shapes)
        print(
            f"max_padding {name:>5}: {wall:7.2f} s, {model.forward_passes} passes, "
            f"{tokens} tokens run",
            flush=True,
        )


if __name__ == "__main__":
    main()
