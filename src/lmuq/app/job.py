"""The main job, end to end: generate, score, grade, evaluate once, write, render.

``lmuq demo`` (and ``lmuq run``) asks a chat model (by default the embedded
SmolLM2-135M-Instruct) a built-in set of factual questions with gold answers, draws a greedy
answer and m samples per question with token log-probs, computes every white-box scorer and
the black-box scorers its inputs allow, grades the answers, evaluates every score once (the
evaluation protocol of :mod:`lmuq.evaluation.protocol`: AUROC / PRR / AUARC with bootstrap
intervals, held-out calibration, thresholds, conformal abstention), writes the results
table and renders the HTML report from that same evaluation.
"""

from __future__ import annotations

import json
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lmuq.app.config import ConfigError, DemoConfig
from lmuq.app.model_loading import load_backend
from lmuq.app.stored_draw import JobInterrupted, draw_for_job, job_sampling
from lmuq.datasets import Question, load_questions
from lmuq.evaluation.protocol import ReportData, build_report_data
from lmuq.evaluation.summary import ScorerSummary, format_summary
from lmuq.grading import grade_question
from lmuq.grading.extraction import extract_answer, extracted_sample_sets
from lmuq.scoring.blackbox import CLUSTER_ONLY
from lmuq.scoring.internals import needs_internals
from lmuq.secrets import redact_settings
from lmuq.storage.files import atomic_write, write_jsonl, write_table
from lmuq.uq.scorer import UQScorer

__all__ = [
    "EMBEDDING_WHITEBOX",
    "INTERNALS_WHITEBOX",
    "LENGTH_BASELINE",
    "NLI_WHITEBOX",
    "ConfigError",
    "DemoConfig",
    "DemoResult",
    "JobInterrupted",
    "blackbox_scorers_for",
    "run_demo",
    "whitebox_scorers_for",
]

PROMPT_TEMPLATE = "{question} Answer with just the name."
#: Not a scorer: shorter answers are right more often, so any scorer should beat this. A
#: results column (minus the answer's token count), evaluated like the scorers.
LENGTH_BASELINE = "baseline:short_answer"


@dataclass
class DemoResult:
    """What the job produced: the evaluation (``report_data``), the files, the timings."""

    config: DemoConfig
    accuracy: float
    summaries: list[ScorerSummary]
    files: dict[str, Path]
    timings: dict[str, float] = field(default_factory=dict)
    model_label: str = ""
    n_questions: int = 0
    equivalence: str = "nli"
    report_data: ReportData | None = None
    #: generations drawn / failed, and the first failures' errors
    n_generations: int = 0
    n_failed: int = 0
    first_errors: list[str] = field(default_factory=list)
    #: rows left out of every metric because their answer failed
    rows_left_out: int = 0

    def table(self) -> str:
        table = format_summary(self.summaries, self.config.max_rejection)
        clustered = [s.name for s in self.summaries if s.name in CLUSTER_ONLY]
        if clustered and self.equivalence != "nli":
            table += (
                f"\n({', '.join(clustered)} cluster the responses by {self.equivalence}, "
                "not NLI: pass --nli-model for NLI clustering)"
            )
        return table


#: Black-box scorers the demo runs without an NLI model; the semantic ones cluster with the
#: labelled non-NLI equivalence "normalized_match".
NLI_FREE_BLACKBOX = (
    "exact_match",
    "rouge_l",
    "cosine_sim",
    "bert_score",
    "semantic_negentropy",
    "semantic_sets_confidence",
    "semantic_entropy",
)
#: With an NLI model, every black-box scorer.
NLI_BLACKBOX = (
    *NLI_FREE_BLACKBOX,
    "noncontradiction",
    "entailment",
    "eigv",
    "degree",
    "eccentricity",
    "kernel_language_entropy",
    "luq",
)


#: White-box scorers that also compare texts (CoCoA, Vashurin et al. 2025; TokenSAR and
#: SentenceSAR, Duan et al. 2024; UQLM's consistency_and_confidence) by embedding similarity:
#: the job runs them by default whenever it loads the embedder for the black-box scorers.
#: Not ``sar``: it embeds every sample once per token (about 6,200 extra texts on the
#: default demo, minutes on 2 cores) for an AUROC of 0.58 there; ask for it with --scorers.
EMBEDDING_WHITEBOX = (
    "consistency_and_confidence",
    "cocoa_msp",
    "cocoa_ppl",
    "cocoa_entropy",
    "token_sar",
    "sentence_sar",
)
#: White-box scorers that read an NLI model: by default whenever --nli-model is given.
NLI_WHITEBOX = ("semantic_density",)
#: White-box scorers that read the model's internals (RAUQ, Vazhentsev et al. 2025; the
#: attention score, Sriramanan et al. 2024; EigenScore, Chen et al. 2024): the job runs them
#: by default with a local model, whose backend then captures attention and hidden states in
#: the same generation pass; a server (--base-url) cannot return them.
INTERNALS_WHITEBOX = ("rauq", "attention_score", "attention_score_response", "eigenscore")


def blackbox_scorers_for(nli_model: str | None) -> tuple[str, ...]:
    return NLI_BLACKBOX if nli_model else NLI_FREE_BLACKBOX


#: White-box scorers whose text comparisons read the response's text alone (not its tokens):
#: with answer extraction they compare the extracted answers. TokenSAR and SAR remove the
#: response's tokens one by one, so they stay on the whole text.
_ANSWER_COMPARING_WHITEBOX = frozenset(
    {
        "consistency_and_confidence",
        "cocoa_msp",
        "cocoa_ppl",
        "cocoa_entropy",
        "sentence_sar",
        "semantic_density",
    }
)


def _compares_answers(name: str) -> bool:
    """Whether ``name`` compares responses' texts (so it should see the extracted answers)."""
    from lmuq.scoring.registry import get_scorer

    return get_scorer(name).family == "black-box" or name in _ANSWER_COMPARING_WHITEBOX


def _joined(parts: list[Any], sets: list, *, extracted: bool) -> Any:
    """One result from the passes over the whole texts and over the extracted answers: the
    response columns are the whole texts; scores, raw columns and errors are the union."""
    from lmuq.results import UQResult

    columns: dict[str, list[Any]] = {
        "prompt": [ss.prompt for ss in sets],
        "response": [ss.answer.text for ss in sets],
        "sampled_responses": [ss.sample_texts for ss in sets],
    }
    scorers: list[str] = []
    raw: dict[str, tuple[str, ...]] = {}
    metadata: dict[str, Any] = {}
    errors: list[dict[str, str]] = [{} for _ in sets]
    details: dict[str, list[Any]] = {}
    for part in parts:
        scorers += part.scorers
        raw.update(part.raw_columns)
        metadata.update(part.metadata)
        details.update(part.details)
        for name, values in part.columns.items():
            if name not in ("prompt", "response", "sampled_responses", "score_errors"):
                columns[name] = values
        for row, errs in zip(errors, part.columns["score_errors"], strict=True):
            row.update(errs)
    columns["score_errors"] = errors
    metadata["extracted_answers"] = extracted
    return UQResult(columns, scorers, list(sets), metadata, raw, details)


def whitebox_scorers_for(cfg: DemoConfig) -> tuple[str, ...]:
    """``--scorers`` as given; by default the model-free white-box scorers, plus those that
    compare texts when the black-box scorers load the embedder (and the NLI model)."""
    if cfg.scorers is not None:
        return tuple(cfg.scorers)
    extra = () if cfg.base_url else INTERNALS_WHITEBOX
    extra = (*extra, *(EMBEDDING_WHITEBOX if cfg.blackbox else ()))
    if cfg.blackbox and cfg.nli_model:
        extra = (*extra, *NLI_WHITEBOX)
    return (*cfg.whitebox_scorers(), *extra)


def _equivalence(cfg: DemoConfig) -> str:
    return "nli" if cfg.nli_model else "normalized_match"


def _backend(cfg: DemoConfig, echo=print):
    if cfg.base_url and not cfg.model:
        raise ConfigError("--base-url needs --model NAME (the model name the server serves)")
    return load_backend(
        cfg.model,
        cfg.base_url,
        batch_size=cfg.batch_size,
        top_logprobs=cfg.top_logprobs,
        internals=needs_internals(whitebox_scorers_for(cfg)),
        echo=echo,
    )


def run_demo(cfg: DemoConfig | None = None, echo=print) -> DemoResult:
    """Run the demo; ``echo`` receives progress lines (``print`` by default)."""
    cfg = cfg or DemoConfig()
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    cfg.check()  # imports torch and transformers for a local model (its extras' check)
    timings["import_s"] = time.perf_counter() - t0
    questions: list[Question] = load_questions(cfg.dataset, n=cfg.n_questions, seed=cfg.seed)

    t0 = time.perf_counter()
    backend, label = _backend(cfg, echo)
    timings["load_model_s"] = time.perf_counter() - t0
    loaded = f"loaded in {timings['load_model_s']:.1f} s"
    if not cfg.base_url:
        # Said apart: importing the libraries is a large part of a local model's start-up.
        loaded += f", after {timings['import_s']:.1f} s importing the model libraries"
    echo(f"Model: {label}  ({loaded})")
    echo(
        f"Questions: {len(questions)} from '{cfg.dataset}'; samples per question: {cfg.num_samples}"
    )

    prompts = [PROMPT_TEMPLATE.format(question=q.question) for q in questions]
    answer_params, sample_params = job_sampling(
        cfg.max_new_tokens, cfg.sample_temperature, cfg.sample_top_p, cfg.seed, cfg.sample_top_k
    )
    t0 = time.perf_counter()
    sets, stored = draw_for_job(
        backend,
        prompts,
        cfg.num_samples,
        answer_params,
        sample_params,
        store=cfg.store,
        run_name=cfg.run_name,
        settings=_generation_settings(cfg, label, answer_params, sample_params),
        extras=[{"id": q.id, "gold": q.answer} for q in questions],
        on_failure="ignore",  # the job reports failures itself, with their count
        progress=cfg.progress,
        echo=echo,
    )
    timings["generate_s"] = time.perf_counter() - t0

    equivalence = _equivalence(cfg)
    white = list(whitebox_scorers_for(cfg))
    black = list(blackbox_scorers_for(cfg.nli_model)) if cfg.blackbox else []
    if black:
        echo(
            "Black-box scorers with "
            f"{'NLI model ' + cfg.nli_model if cfg.nli_model else 'no NLI model'}"
            f" (semantic clustering: {equivalence})"
        )
    t0 = time.perf_counter()
    # The judged answer stays the greedy one (use_best=False), for every family alike.
    names = [*white, *(b for b in black if b not in white)]
    on_answers = [n for n in names if cfg.extract_answers and _compares_answers(n)]
    on_texts = [n for n in names if n not in on_answers]

    loaded: dict[str, Any] = {}  # models the first pass loaded, handed to the second

    def scored(scorers: list[str], sample_sets: list) -> Any:
        scorer = UQScorer(
            scorers,
            nli_model_name=cfg.nli_model,
            equivalence=equivalence,
            use_best=False,
            **loaded,
        )
        result = scorer.score(sample_sets, progress=cfg.progress)
        stats = scorer.statistics
        for name, value in (
            ("nli_model", stats.nli),
            ("embedder", stats.embedder),
            ("bertscorer", stats.bertscorer),
        ):
            if value is not None:
                loaded[name] = value
        return result

    extracted = extracted_sample_sets(sets, questions) if on_answers else None
    if on_answers:
        echo(
            f"The {len(on_answers)} scorers that compare responses compare the answers "
            "extracted from them (--no-extract-answers: the whole texts)"
        )
    parts = [scored(n, ss) for n, ss in ((on_texts, sets), (on_answers, extracted)) if n]
    result = _joined(parts, sets, extracted=bool(on_answers))
    timings["score_s"] = time.perf_counter() - t0

    gens = [g for ss in sets for g in (ss.answer, *ss.samples)]
    failures = [g.error for g in gens if g.failed]
    answered = np.array([not ss.answer.failed for ss in sets])
    if failures:
        echo(
            f"{len(failures)} of {len(gens)} generations failed; first: "
            + "; ".join(dict.fromkeys(failures[:3]))
        )
    correct = np.array(
        [grade_question(ss.answer.text, q) for ss, q in zip(sets, questions, strict=True)]
    )
    # A failed answer is not a wrong answer: its row is left out of accuracy and every metric.
    accuracy = float(correct[answered].mean()) if answered.any() else float("nan")
    if stored is not None:
        stored.store.record_scores(stored.run_id, result)
        stored.store.record_labels(
            stored.run_id,
            [bool(c) if ok else None for c, ok in zip(correct, answered, strict=True)],
        )
        stored.store.close()
    if not answered.all():
        echo(f"{int((~answered).sum())} row(s) whose answer failed are left out of every metric")
    if not answered.any():
        raise RuntimeError(
            f"every answer failed ({failures[0]}); nothing to evaluate. Check the model or "
            "server and run again"
            + (" (the store keeps what succeeded)" if stored is not None else "")
        )

    rows = _rows(questions, sets, result, correct, extracted=bool(on_answers))
    run = _run_info(cfg, label, sets, result, correct[answered], timings)
    evaluated = [*result.scorers, LENGTH_BASELINE]
    run["evaluated"] = evaluated
    run["generations"] = {"total": len(gens), "failed": len(failures)}
    run["rows_left_out"] = int((~answered).sum())
    echo(
        f"Evaluating {len(evaluated)} scores on {int(answered.sum())} questions "
        f"({cfg.n_boot} bootstrap resamples each) ..."
    )
    t0 = time.perf_counter()
    import pandas as pd

    data = build_report_data(
        pd.DataFrame([row for row, ok in zip(rows, answered, strict=True) if ok]),
        scorers=evaluated,
        run_info=run,
        n_boot=cfg.n_boot,
        seed=cfg.seed,
        max_rejection=cfg.max_rejection,
    )
    timings["evaluate_s"] = time.perf_counter() - t0
    summaries = [r.summary for r in data.scorers]

    files = _write(cfg, questions, rows, sets, summaries, equivalence, run)
    try:
        from lmuq.reporting.html import write_report

        echo("Writing the HTML report ...")
        t0 = time.perf_counter()
        files["report"] = write_report(
            data, Path(cfg.out_dir) / "report.html", title=f"lmuq report: {label}"
        )
        timings["report_s"] = time.perf_counter() - t0
    except ImportError as exc:  # jinja2/matplotlib not installed: the tables still stand
        echo(f"(no HTML report: {exc})")
    return DemoResult(
        cfg,
        accuracy,
        summaries,
        files,
        timings,
        label,
        len(questions),
        equivalence,
        data,
        n_generations=len(gens),
        n_failed=len(failures),
        first_errors=list(dict.fromkeys(failures))[:3],
        rows_left_out=int((~answered).sum()),
    )


def _generation_settings(cfg: DemoConfig, label: str, answer, sample) -> dict[str, Any]:
    """What determines the generations, and so whether a stored run can be resumed: the
    model, the prompts and the sampling settings, not where the server runs (a resume
    against the same model on another host or port continues the same run)."""
    return {
        "model": cfg.model if cfg.base_url else label,
        "dataset": cfg.dataset,
        "n_questions": cfg.n_questions,
        "seed": cfg.seed,
        "num_samples": cfg.num_samples,
        "prompt_template": PROMPT_TEMPLATE,
        "answer_params": answer.to_dict(),
        "sample_params": sample.to_dict(),
        "top_logprobs": cfg.top_logprobs,
        # a run stored without the model's internals cannot feed the scorers that read them
        **({"internals": True} if needs_internals(whitebox_scorers_for(cfg)) else {}),
    }


def _rows(questions, sets, result, correct, *, extracted: bool) -> list[dict[str, Any]]:
    """One flat row per question: texts, correctness, every score column, the baseline."""
    raw_cols = [
        c
        for c in result.columns
        if c not in ("prompt", "response", "sampled_responses", "score_errors")
    ]
    rows = []
    for i, (q, ss) in enumerate(zip(questions, sets, strict=True)):
        row: dict[str, Any] = {
            "id": q.id,
            "question": q.question,
            "gold": q.answer,
            "prompt": ss.prompt,
            "response": ss.answer.text,
            # None where the answer failed: a failure is not a wrong answer
            "correct": None if ss.answer.failed else bool(correct[i]),
            "answer_error": ss.answer.error,
            "response_tokens": ss.answer.num_tokens,
            "finish_reason": ss.answer.finish_reason,
            "sampled_responses": ss.sample_texts,
        }
        if extracted:  # the answer the consistency scorers compared ("" = none found)
            row["extracted_answer"] = extract_answer(ss.answer.text, q) or ""
        row.update({c: result.columns[c][i] for c in raw_cols})
        row[LENGTH_BASELINE] = -float(ss.answer.num_tokens)
        row["score_errors"] = result.columns["score_errors"][i]
        rows.append(row)
    return rows


def _run_info(cfg, label, sets, result, correct, timings) -> dict[str, Any]:
    return {
        "model": label,
        "config": {
            **{k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(cfg).items()},
            "scorers": list(whitebox_scorers_for(cfg)),
        },
        "prompt_template": PROMPT_TEMPLATE,
        "sample_set_params": sets[0].params,
        "scoring_metadata": result.metadata,
        "accuracy": float(np.mean(correct)),
        "timings": timings,
        "python": platform.python_version(),
    }


def _write(cfg, questions, rows, sets, summaries, equivalence, run) -> dict[str, Path]:
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    nested = [
        {
            **{k: v for k, v in row.items() if k != "sampled_responses"},
            "aliases": list(q.aliases),
            # the model internals (attention, hidden states) stay in the run store only
            "answer": ss.answer.to_dict(internals=False),
            "samples": [s.to_dict(internals=False) for s in ss.samples],
        }
        for q, row, ss in zip(questions, rows, sets, strict=True)
    ]
    files: dict[str, Path] = {}
    for path in write_table(rows, out / "results"):
        files[path.suffix.lstrip(".")] = path
    files["jsonl"] = write_jsonl(nested, out / "results.jsonl")
    summary_rows = [
        {**s.to_dict(), "equivalence": equivalence if s.name in CLUSTER_ONLY else ""}
        for s in summaries
    ]
    files["summary"] = write_table(summary_rows, out / "summary", parquet=False)[0]
    files["run"] = out / "run.json"
    text = json.dumps(redact_settings(run), indent=2, default=str)  # no key or URL password
    with atomic_write(files["run"]) as fh:
        fh.write(text)
    return files
