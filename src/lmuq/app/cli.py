"""``lmuq`` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

__all__ = ["main"]


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _build_parser() -> argparse.ArgumentParser:
    from lmuq.app.job import DemoConfig

    d = DemoConfig()
    parser = argparse.ArgumentParser(
        prog="lmuq", description="Uncertainty quantification for LLMs."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo",
        help="run the end-to-end demo on the embedded model and a built-in question set",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    _add_run_arguments(demo, d)
    run = sub.add_parser(
        "run",
        help="generate, score, grade and evaluate with any model on a built-in question set",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    _add_run_arguments(run, d)

    score = sub.add_parser(
        "score",
        help="score responses from a JSONL file (no generation)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description='Each input line: {"prompt", "response", "sampled_responses": [...], '
        'optional "logprobs", "sampled_logprobs"}. Output: the same records plus one '
        "field per scorer.",
    )
    score.add_argument("input", help="input JSONL")
    score.add_argument("-o", "--out", required=True, help="output JSONL")
    score.add_argument("--scorers", nargs="+", default=["exact_match", "rouge_l", "cosine_sim"])
    score.add_argument("--nli-model", default=None, help="NLI model folder or hub id")
    score.add_argument(
        "--equivalence",
        default="nli",
        choices=["nli", "normalized_match", "numeric", "embedding"],
        help="how semantic scorers decide two responses mean the same",
    )
    score.add_argument("--lenient", action="store_true", help="lenient bidirectional entailment")
    score.add_argument("--condition-on-question", action="store_true")
    score.add_argument(
        "--use-best", action="store_true", help="judge the largest cluster's response"
    )
    score.add_argument("--chunk-size", type=_positive_int, default=512)
    score.add_argument(
        "--prefix",
        default="",
        help="prefix for every field scoring adds (when input fields have those names)",
    )
    score.add_argument("--no-progress", action="store_true")

    report = sub.add_parser("report", help="write report.html for a demo/run output folder")
    report.add_argument("run_dir", help="a folder written by lmuq demo / lmuq run")
    report.add_argument(
        "-o", "--out", default=None, help="output HTML (default: RUN_DIR/report.html)"
    )
    report.add_argument("--n-boot", type=_positive_int, default=None)

    export = sub.add_parser("export", help="export a stored run to .parquet, .csv or .jsonl")
    export.add_argument("store", help="the SQLite run store")
    export.add_argument("run", nargs="?", help="run name (omit to list the runs)")
    export.add_argument("-o", "--out", help="output file; the suffix picks the format")
    return parser


def _add_run_arguments(demo: argparse.ArgumentParser, d) -> None:
    from lmuq.uq.whitebox import DEFAULT_WHITEBOX_SCORERS

    demo.add_argument(
        "--dataset",
        default=d.dataset,
        choices=["capitals", "currencies", "continents", "geography"],
    )
    demo.add_argument("-n", "--n-questions", type=_positive_int, default=d.n_questions)
    demo.add_argument("-m", "--num-samples", type=_positive_int, default=d.num_samples)
    demo.add_argument("--seed", type=int, default=d.seed)
    demo.add_argument("--max-new-tokens", type=_positive_int, default=d.max_new_tokens)
    demo.add_argument(
        "--temperature", type=float, default=d.sample_temperature, help="sampling temperature"
    )
    demo.add_argument("--top-p", type=float, default=None, help="sampling top-p (default: none)")
    demo.add_argument("--top-k", type=int, default=None, help="sampling top-k (default: none)")
    demo.add_argument("--batch-size", type=_positive_int, default=d.batch_size)
    demo.add_argument(
        "--model",
        default=None,
        help="model folder or hub id (default: embedded SmolLM2-135M-Instruct)",
    )
    demo.add_argument(
        "--base-url",
        default=None,
        help="generate through an OpenAI-compatible server (vLLM, llama.cpp, Ollama, OpenAI) "
        "serving --model; the API key is read from OPENAI_API_KEY",
    )
    demo.add_argument(
        "--scorers", nargs="+", default=list(DEFAULT_WHITEBOX_SCORERS), metavar="NAME"
    )
    demo.add_argument(
        "--nli-model",
        default=None,
        help="NLI model folder or hub id for the NLI black-box scorers "
        "(default: the NLI-free scorers only)",
    )
    demo.add_argument("--no-blackbox", action="store_true", help="white-box scorers only")
    demo.add_argument(
        "--store",
        default=None,
        help="SQLite run store: save generations as they arrive; re-run to resume",
    )
    demo.add_argument("--run-name", default=None, help="run name in the store (default: derived)")
    demo.add_argument("--n-boot", type=_positive_int, default=d.n_boot, help="bootstrap resamples")
    demo.add_argument("--out", default=d.out_dir, help="output folder")
    demo.add_argument("--no-progress", action="store_true", help="hide progress bars")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.command in ("demo", "run"):
        return _demo(args)
    if args.command == "score":
        return _score(args)
    if args.command == "export":
        return _export(args)
    if args.command == "report":
        return _report(args)
    parser.error(f"unknown command {args.command}")
    return 2


def _demo(args: argparse.Namespace) -> int:
    from lmuq.app.job import DemoConfig, run_demo
    from lmuq.extras import MissingExtraError

    cfg = DemoConfig(
        dataset=args.dataset,
        n_questions=args.n_questions,
        num_samples=args.num_samples,
        seed=args.seed,
        max_new_tokens=args.max_new_tokens,
        sample_temperature=args.temperature,
        sample_top_p=args.top_p,
        sample_top_k=args.top_k,
        batch_size=args.batch_size,
        model=args.model,
        base_url=args.base_url,
        out_dir=args.out,
        n_boot=args.n_boot,
        scorers=tuple(args.scorers),
        blackbox=not args.no_blackbox,
        nli_model=args.nli_model,
        store=args.store,
        run_name=args.run_name,
        progress=not args.no_progress,
    )
    try:
        result = run_demo(cfg)
    except (MissingExtraError, FileNotFoundError, OSError, ValueError) as exc:
        print(f"lmuq demo: error: {exc}", file=sys.stderr)
        return 2
    print()
    print(f"Accuracy of the greedy answers: {result.accuracy:.3f} ({result.n_questions} questions)")
    print()
    print(result.table())
    print()
    t = result.timings
    print(
        f"Time: load {t['load_model_s']:.1f} s, generate {t['generate_s']:.1f} s, "
        f"scores {t['score_s']:.1f} s, evaluate {t['evaluate_s']:.1f} s"
    )
    print("Results written:")
    for kind, path in result.files.items():
        print(f"  {kind:<8} {path}")
    return 0


def _report(args: argparse.Namespace) -> int:
    from lmuq.app.run_folder import report_from_run_dir
    from lmuq.extras import MissingExtraError

    try:
        path = report_from_run_dir(args.run_dir, out=args.out, n_boot=args.n_boot)
    except (MissingExtraError, FileNotFoundError, OSError, ValueError) as exc:
        print(f"lmuq report: error: {exc}", file=sys.stderr)
        return 2
    print(f"Report written: {path}")
    return 0


def _export(args: argparse.Namespace) -> int:
    from pathlib import Path

    from lmuq.storage.run_store import RunStore, StoreError

    if not Path(args.store).exists():
        print(f"lmuq export: error: no store at {args.store}", file=sys.stderr)
        return 2
    try:
        with RunStore(args.store) as store:
            if args.run is None:
                for info in store.runs():
                    print(info)
                return 0
            if not args.out:
                print("lmuq export: error: give -o/--out FILE", file=sys.stderr)
                return 2
            print(f"Exported run {args.run!r} to {store.export(args.run, args.out)}")
    except (StoreError, ValueError, OSError) as exc:
        print(f"lmuq export: error: {exc}", file=sys.stderr)
        return 2
    return 0


def _score(args: argparse.Namespace) -> int:
    from lmuq.app.score_file import score_jsonl
    from lmuq.extras import MissingExtraError

    try:
        summary = score_jsonl(
            args.input,
            args.out,
            args.scorers,
            nli_model=args.nli_model,
            equivalence=args.equivalence,
            use_best=args.use_best,
            strict_entailment=not args.lenient,
            condition_on_question=args.condition_on_question,
            chunk_size=args.chunk_size,
            prefix=args.prefix,
            progress=not args.no_progress,
        )
    except (MissingExtraError, FileNotFoundError, OSError, ValueError, TypeError) as exc:
        print(f"lmuq score: error: {exc}", file=sys.stderr)
        return 2
    print(
        f"Scored {summary.rows} rows with {', '.join(summary.scorers)} "
        f"({summary.rows_with_errors} with undefined scores) -> {summary.output}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
