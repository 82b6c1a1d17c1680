"""What capturing the model's internals adds to generation (issue 15: < 5%).

The demo's generation workload on the embedded model: N capital questions, a greedy answer
and m samples (T = 1, full vocabulary) each, up to 32 new tokens, batches of 8 prompts,
with ``TransformersBackend(internals=False)`` (the plain path, SDPA attention) and
``internals=True`` (eager attention, attention weights and hidden states kept, the
per-response arrays of :class:`~lmuq.types.ModelInternals` extracted). The two paths run
interleaved batch by batch, R rounds, same seeds (so the same tokens); the ratio of the medians is
printed with the spread of the per-round ratios and the other processes' CPU share (no
ratio is printed when others used more than ``--max-others-cpu``).

    PYTHONPATH=src .venv/bin/python bench/internals_cost.py --questions 24 --rounds 5
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from quiet import OtherLoad, wait_for_idle


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=24)
    parser.add_argument("--samples", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--max-others-cpu", type=float, default=0.10)
    parser.add_argument("--wait-idle", action="store_true")
    args = parser.parse_args(argv)

    from lmuq.app.job import PROMPT_TEMPLATE
    from lmuq.backends.default_model import load_default_model
    from lmuq.backends.transformers import TransformersBackend
    from lmuq.datasets import load_questions
    from lmuq.types import SamplingParams

    tokenizer, model = load_default_model()
    questions = load_questions("capitals", n=args.questions, seed=0)
    prompts = [PROMPT_TEMPLATE.format(question=q.question) for q in questions]
    greedy = SamplingParams(temperature=0.0, max_new_tokens=args.max_new_tokens)
    sampled = SamplingParams(temperature=1.0, max_new_tokens=args.max_new_tokens, seed=0)
    paths = {
        "plain": TransformersBackend(model, tokenizer, batch_size=8),
        "internals": TransformersBackend(model, tokenizer, batch_size=8, internals=True),
    }

    def run(backend, chunk: list[str]) -> tuple[float, int]:
        t0 = time.perf_counter()
        answers = backend.generate(chunk, greedy)
        samples = backend.generate(chunk, sampled, n=args.samples)
        tokens = sum(g.num_tokens for row in (*answers, *samples) for g in row)
        return time.perf_counter() - t0, tokens

    run(paths["plain"], prompts[:8])  # warm-up: first-call allocations and kernels
    if args.wait_idle:
        share = wait_for_idle()
        print(f"waited for idle: others at {100 * share:.1f}%")
    times: dict[str, list[float]] = {name: [] for name in paths}
    tokens: dict[str, int] = {}
    shares = []
    for r in range(args.rounds):
        order = list(paths) if r % 2 == 0 else list(reversed(paths))
        round_times = dict.fromkeys(paths, 0.0)
        round_tokens = dict.fromkeys(paths, 0)
        with OtherLoad() as load:
            # alternate batch by batch, so that a swing in CPU speed hits both paths alike
            for start in range(0, len(prompts), 8):
                for name in order:
                    seconds, n_tok = run(paths[name], prompts[start : start + 8])
                    round_times[name] += seconds
                    round_tokens[name] += n_tok
        for name in paths:
            times[name].append(round_times[name])
            tokens[name] = round_tokens[name]
        shares.append(load.share)
        print(
            f"round {r + 1}: plain {times['plain'][-1]:.2f} s, internals "
            f"{times['internals'][-1]:.2f} s, others {100 * load.share:.1f}% CPU"
        )
    assert tokens["plain"] == tokens["internals"], "the two paths drew different tokens"
    n_gen = args.questions * (1 + args.samples)
    print(f"\n{n_gen} generations, {tokens['plain']} tokens per path and round")
    for name, ts in times.items():
        spread = f"min {min(ts):.2f}, max {max(ts):.2f}"
        print(f"{name:>9}: median {statistics.median(ts):.2f} s ({spread})")
    worst = max(shares)
    if worst > args.max_others_cpu:
        print(
            f"others used up to {100 * worst:.1f}% CPU (> {100 * args.max_others_cpu:.0f}%): "
            "no ratio printed; rerun on a quiet machine (--wait-idle)"
        )
        return 1
    ratios = [b / a for a, b in zip(times["plain"], times["internals"], strict=True)]
    ratio = statistics.median(times["internals"]) / statistics.median(times["plain"])
    print(
        f"internals / plain: {ratio:.3f}× (per-round {min(ratios):.3f}–{max(ratios):.3f}); "
        f"others ≤ {100 * worst:.1f}% CPU"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
