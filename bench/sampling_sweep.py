"""Which sampling temperature and top-p should the demo draw its samples at? (issue 15)

On the embedded model and the capitals set: N questions split at random into a calibration
half and a held-out half; one greedy answer per question (shared by every setting) and m
samples per question at each setting of the grid. For each setting the sample-based
scorers (their answers extracted, as the demo does) are scored, and their AUROC computed on
each half. The setting is **chosen on the calibration half** (highest mean AUROC over the
sample-based scorers) and **reported on the held-out half** (AUROC with 95% bootstrap
intervals, per scorer and setting), so that the choice is not tuned to the numbers it is
judged by (:func:`lmuq.evaluation.sweep.sampling_sweep`). Writes ``sweep.json`` (every
AUROC), which ``lmuq report RUN_DIR --sweep sweep.json`` shows, and a markdown table on stdout.

    PYTHONPATH=src .venv/bin/python bench/sampling_sweep.py --questions 160 -o /tmp/sweep
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

#: (temperature, top_p): the demo's T = 1 (full vocabulary) and three truncated settings
GRID = [(1.0, None), (0.7, 0.9), (0.5, 0.9), (0.3, 0.9)]
#: Scorers that read the samples (the ones the setting can change); sequence probability
#: (answer only) is printed for reference: the greedy answers are the same for every setting.
SAMPLE_SCORERS = [
    "monte_carlo_probability",
    "predictive_entropy_mc",
    "exact_match",
    "rouge_l",
    "cosine_sim",
    "semantic_negentropy",
    "cocoa_msp",
    "eigenscore",
]
REFERENCE = "sequence_probability"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--questions", type=int, default=160)
    ap.add_argument("--samples", type=int, default=5)
    ap.add_argument("--max-new-tokens", type=int, default=32)
    ap.add_argument("--n-boot", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("-o", "--out", type=Path, default=Path("sweep-out"))
    args = ap.parse_args(argv)

    import numpy as np

    from lmuq.app.job import PROMPT_TEMPLATE
    from lmuq.backends.default_model import load_default_model
    from lmuq.backends.transformers import TransformersBackend
    from lmuq.datasets import load_questions
    from lmuq.evaluation.sweep import sampling_sweep, setting_label
    from lmuq.grading import grade_question
    from lmuq.grading.extraction import extracted_sample_sets
    from lmuq.types import SampleSet, SamplingParams
    from lmuq.uq.scorer import UQScorer

    args.out.mkdir(parents=True, exist_ok=True)
    questions = load_questions("capitals", n=args.questions, seed=args.seed)
    prompts = [PROMPT_TEMPLATE.format(question=q.question) for q in questions]
    order = np.random.default_rng(args.seed).permutation(len(questions))
    calibration_mask = np.zeros(len(questions), dtype=bool)
    calibration_mask[order[: len(order) // 2]] = True

    tokenizer, model = load_default_model()
    backend = TransformersBackend(model, tokenizer, batch_size=8, internals=True)
    t0 = time.perf_counter()
    answers = [
        row[0]
        for row in backend.generate(
            prompts, SamplingParams(0.0, max_new_tokens=args.max_new_tokens)
        )
    ]
    correct = np.array([grade_question(a.text, q) for a, q in zip(answers, questions, strict=True)])
    print(
        f"{len(questions)} questions ({int(calibration_mask.sum())} calibration, {int((~calibration_mask).sum())} held out), "
        f"accuracy {correct.mean():.3f}; greedy answers in {time.perf_counter() - t0:.0f} s",
        flush=True,
    )

    loaded: dict = {}
    scores: dict[tuple, dict] = {}
    repeats: dict[tuple, float] = {}
    seconds: dict[tuple, float] = {}
    for temperature, top_p in GRID:
        key = (temperature, top_p)
        t0 = time.perf_counter()
        params = SamplingParams(
            temperature, top_p=top_p, max_new_tokens=args.max_new_tokens, seed=args.seed
        )
        samples = backend.generate(prompts, params, n=args.samples)
        sets = [SampleSet(p, a, s) for p, a, s in zip(prompts, answers, samples, strict=True)]
        seconds[key] = time.perf_counter() - t0
        scorer = UQScorer(
            [*SAMPLE_SCORERS, REFERENCE], use_best=False, equivalence="normalized_match", **loaded
        )
        # the consistency scorers compare extracted answers, as the demo does
        result = scorer.score(extracted_sample_sets(sets, questions), progress=False)
        if scorer.statistics.embedder is not None:
            loaded["embedder"] = scorer.statistics.embedder
        scores[key] = {n: result.columns[n] for n in [*SAMPLE_SCORERS, REFERENCE]}
        repeats[key] = float(
            np.mean(
                [s.text == a.text for a, row_s in zip(answers, samples, strict=True) for s in row_s]
            )
        )
        print(f"{setting_label(temperature, top_p)}: drawn in {seconds[key]:.0f} s", flush=True)

    sweep = sampling_sweep(
        scores,
        correct,
        calibration_mask,
        scorers=SAMPLE_SCORERS,
        reference=[REFERENCE],
        samples=args.samples,
        samples_equal_to_answer=repeats,
        seconds=seconds,
        n_boot=args.n_boot,
        seed=0,
    )
    sweep = dataclasses.replace(
        sweep,
        notes={
            "model": "embedded (SmolLM2-135M-Instruct)",
            "dataset": "capitals",
            "seed": args.seed,
            "max_new_tokens": args.max_new_tokens,
            "command": "bench/sampling_sweep.py " + " ".join(argv or sys.argv[1:]),
        },
    )
    (args.out / "sweep.json").write_text(json.dumps(sweep.to_dict(), indent=1), encoding="utf-8")

    labels = [s.label for s in sweep.settings]
    print(
        f"\nheld-out AUROC [95% CI] ({sweep.held_out_questions} questions); "
        f"chosen on calibration: {sweep.chosen}\n"
    )
    print("| scorer | " + " | ".join(labels) + " |")
    print("|---|" + "---:|" * len(labels))
    for name in [*SAMPLE_SCORERS, REFERENCE]:
        cells = []
        for s in sweep.settings:
            a = s.auroc[name]
            cells.append(f"{a.held_out:.3f} [{a.held_out_low:.2f}, {a.held_out_high:.2f}]")
        print(f"| `{name}` | " + " | ".join(cells) + " |")
    means = " | ".join(
        f"{s.mean_calibration_auroc:.3f} / {s.mean_held_out_auroc:.3f}" for s in sweep.settings
    )
    print(f"| mean of the sample scorers (calibration / held out) | {means} |")
    shares = " | ".join(f"{s.samples_equal_to_answer:.2f}" for s in sweep.settings)
    print(f"| share of samples equal to the greedy answer | {shares} |")
    print(f"\nshow it in a report: lmuq report RUN_DIR --sweep {args.out / 'sweep.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
