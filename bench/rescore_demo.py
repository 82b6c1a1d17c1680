"""Score a finished demo run's generations with more scorers, and evaluate them all together.

Reads ``results.jsonl`` of ``lmuq demo`` / ``lmuq run`` (every answer and sample with its
token log-probs), rebuilds the sample sets, computes the named scorers on them (no model is
re-run: the embedder or NLI model they need is loaded), and prints every score's AUROC and
PRR with bootstrap intervals next to the run's own columns and the length baseline, plus
the paired bootstrap test of the best scorer against each other one. The answers, samples
and labels are the run's, so the numbers sit beside the run's own table.

    python bench/rescore_demo.py lmuq-out/results.jsonl
    python bench/rescore_demo.py lmuq-out/results.jsonl --scorers cocoa_msp,sar
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def main() -> None:
    from lmuq.app.job import EMBEDDING_WHITEBOX, LENGTH_BASELINE

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", type=Path)
    ap.add_argument("--scorers", default=",".join([*EMBEDDING_WHITEBOX, "sar"]))
    ap.add_argument("--n-boot", type=int, default=1000)
    ap.add_argument(
        "--extract",
        action="store_true",
        help="score the answers extracted from the responses (lmuq.grading.extraction)",
    )
    args = ap.parse_args()

    import pandas as pd

    from lmuq.codec import generation_from_json
    from lmuq.evaluation.protocol import build_report_data
    from lmuq.evaluation.summary import format_summary
    from lmuq.types import SampleSet
    from lmuq.uq.scorer import UQScorer

    records = [json.loads(line) for line in args.results.read_text().splitlines()]
    sets = [
        SampleSet(
            r.get("prompt") or r["question"],
            generation_from_json(json.dumps(r["answer"])),
            [generation_from_json(json.dumps(s)) for s in r["samples"]],
        )
        for r in records
    ]
    names = [n.strip() for n in args.scorers.split(",") if n.strip()]
    if args.extract:
        from lmuq.datasets import load_questions
        from lmuq.grading.extraction import extracted_sample_sets

        run = json.loads((args.results.parent / "run.json").read_text())
        by_id = {q.id: q for q in load_questions(run["config"]["dataset"])}
        sets = extracted_sample_sets(sets, [by_id[r["id"]] for r in records])
    t0 = time.perf_counter()
    result = UQScorer(names, use_best=False, equivalence="normalized_match").score(
        sets, progress=True
    )
    print(
        f"scored {len(sets)} sample sets with {len(names)} scorers in "
        f"{time.perf_counter() - t0:.1f} s"
    )

    table = pd.DataFrame(records)
    own = [c for c in table.columns if c in _run_scorers(args.results)]
    for name in names:
        table[name] = result.columns[name]
    table[LENGTH_BASELINE] = [-len(r["answer"]["logprobs"] or []) for r in records]
    table = table[table["answer"].map(lambda a: not a.get("error"))]
    data = build_report_data(
        table, scorers=[*own, *names, LENGTH_BASELINE], n_boot=args.n_boot, seed=0
    )
    print(format_summary([s.summary for s in data.scorers], data.max_rejection))
    print(f"\npaired bootstrap, {data.paired[0].a} against each (AUROC difference):")
    for d in data.paired:
        print(f"  {d.b:<34} {d.estimate:+.3f} [{d.low:+.3f}, {d.high:+.3f}]  p {d.p_text}")


def _run_scorers(results: Path) -> list[str]:
    """The scorers the run evaluated (its summary.csv), baselines left out."""
    import csv

    with open(results.parent / "summary.csv", newline="", encoding="utf-8") as fh:
        # runs before lmuq 0.2 named some scorers "name[equivalence]"
        names = [row["scorer"].split("[")[0] for row in csv.DictReader(fh)]
    return [n for n in names if ":" not in n]


if __name__ == "__main__":
    main()
