"""A graded run, read from an output folder (``lmuq demo`` / ``lmuq run``) or a run store.

What :func:`load_graded` returns, :class:`GradedRun`, is what a trust policy is fitted on:
one row per question with its score columns and its correctness label, and the settings
the answers, samples and scores were made with.

* A folder holds ``results.parquet`` or ``results.csv`` (columns ``correct`` and one per
  scorer) and ``run.json`` (``sample_set_params``: how answers and samples were drawn;
  ``scoring_metadata``: the scoring options; ``config.top_logprobs``).
* A store (SQLite, ``--store``) holds scores (``RunStore.record_scores``) and labels
  (``RunStore.record_labels``) per run; its settings hold the sampling parameters. A store
  records no scoring options: pass them (``equivalence``, ``nli_model``).

Rows without a label (their answer failed) are left out.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["GradedRun", "load_graded", "read_results", "read_run_info"]


@dataclass
class GradedRun:
    """Score columns and labels of one graded run, and how it was made.

    Attributes:
        table: one row per labelled question (score columns; ``correct`` as 0/1).
        correct: the labels, 0/1.
        sampling: ``num_samples``, ``temperature``, ``top_p``, ``top_k``,
            ``max_new_tokens``, ``top_logprobs``, ``answer_temperature``,
            ``answer_max_new_tokens`` (what was recorded).
        scoring: ``equivalence``, ``nli_model``, ``strict_entailment``,
            ``condition_on_question``.
        source: where it was read from (a folder, or ``store#run``).
        extracted: score columns left out because the run computed them on answers
            extracted from the responses with the question's help (``lmuq demo`` / ``lmuq
            run`` without ``--no-extract-answers``): live traffic has no question record,
            so the gateway and ``lmuq score --policy`` score the whole texts and could not
            reproduce them.
    """

    table: pd.DataFrame
    correct: list[int]
    sampling: dict[str, Any] = field(default_factory=dict)
    scoring: dict[str, Any] = field(default_factory=dict)
    source: str = ""
    extracted: tuple[str, ...] = ()


def read_results(run_dir: str | os.PathLike[str]) -> pd.DataFrame:
    """The results table of a run folder (Parquet when readable, else CSV)."""
    run_dir = Path(run_dir)
    parquet, csv = run_dir / "results.parquet", run_dir / "results.csv"
    if parquet.exists():
        try:
            return pd.read_parquet(parquet)
        except ImportError:  # no pyarrow / fastparquet: fall back to the CSV
            if not csv.exists():
                raise
    if csv.exists():
        return pd.read_csv(csv)
    raise FileNotFoundError(f"{run_dir} has neither results.parquet nor results.csv")


def read_run_info(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """A run folder's ``run.json`` ({} when there is none)."""
    path = Path(run_dir) / "run.json"
    if not path.exists():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


def load_graded(
    path: str | os.PathLike[str],
    *,
    run: str | None = None,
    scoring: dict[str, Any] | None = None,
) -> GradedRun:
    """Read a graded run from a folder or a store file.

    Args:
        path: a run folder, or a run store (SQLite) file.
        run: the run's id in a store (None: the store's only run).
        scoring: scoring options to use instead of (or, for a store, in the absence of)
            the recorded ones.

    Raises:
        FileNotFoundError: nothing at ``path``.
        ValueError: no labels, or a store with several runs and no ``run``.
    """
    p = Path(path)
    if p.is_dir():
        graded = _from_folder(p)
    elif p.is_file():
        graded = _from_store(p, run)
    else:
        raise FileNotFoundError(
            f"no run folder or store at {path}: pass the --out folder of `lmuq demo` / `lmuq "
            "run`, or its --store file"
        )
    if scoring:
        graded.scoring.update({k: v for k, v in scoring.items() if v is not None})
    if not graded.correct:
        raise ValueError(f"{path} has no graded answers (no correctness labels)")
    return graded


def _from_folder(run_dir: Path) -> GradedRun:
    table = read_results(run_dir)
    info = read_run_info(run_dir)
    if "correct" not in table.columns:
        raise ValueError(f"{run_dir}'s results have no 'correct' column: the run is not graded")
    table = table[table["correct"].notna()].reset_index(drop=True)
    correct = [int(bool(v)) for v in table["correct"]]
    params = info.get("sample_set_params") or {}
    config = info.get("config") or {}
    sampling = _sampling(params.get("sample_params") or {}, params.get("answer_params") or {})
    sampling["num_samples"] = int(params.get("num_samples") or config.get("num_samples") or 5)
    if config.get("top_logprobs") is not None:
        sampling["top_logprobs"] = int(config["top_logprobs"])
    meta = info.get("scoring_metadata") or {}
    scoring = {
        "equivalence": meta.get("equivalence")
        or ("nli" if config.get("nli_model") else "normalized_match"),
        "nli_model": meta.get("nli_model", config.get("nli_model")),
        "strict_entailment": bool(meta.get("strict_entailment", True)),
        "condition_on_question": bool(meta.get("condition_on_question", False)),
    }
    extracted: tuple[str, ...] = ()
    if config.get("extract_answers"):
        from lmuq.app.job import _compares_answers
        from lmuq.scoring.registry import SCORERS

        extracted = tuple(c for c in table.columns if c in SCORERS and _compares_answers(c))
        table = table.drop(columns=list(extracted))
    return GradedRun(table, correct, sampling, scoring, str(run_dir), extracted)


def _from_store(path: Path, run: str | None) -> GradedRun:
    from lmuq.storage.run_store import RunStore

    with RunStore(path) as store:
        runs = [r.run_id for r in store.runs()]
        if run is None:
            if len(runs) != 1:
                raise ValueError(
                    f"{path} holds {len(runs)} runs ({', '.join(runs) or 'none'}); name one "
                    "with --run"
                )
            run = runs[0]
        if not store.has_run(run):
            raise ValueError(f"no run {run!r} in {path}; its runs: {', '.join(runs) or 'none'}")
        scores = store.load_scores(run)
        labels = store.load_labels(run)
        settings = store.settings(run)
    scores["correct"] = [None if v is None else int(v) for v in labels]
    table = scores[scores["correct"].notna()].reset_index(drop=True)
    correct = [int(v) for v in table["correct"]]
    sampling = _sampling(settings.get("sample_params") or {}, settings.get("answer_params") or {})
    if settings.get("num_samples") is not None:
        sampling["num_samples"] = int(settings["num_samples"])
    if settings.get("top_logprobs") is not None:
        sampling["top_logprobs"] = int(settings["top_logprobs"])
    return GradedRun(table, correct, sampling, {}, f"{path}#{run}")


def _sampling(sample: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if sample.get("temperature") is not None:
        out["temperature"] = float(sample["temperature"])
    for k in ("top_p", "top_k"):
        if k in sample:
            out[k] = sample[k]
    if sample.get("max_new_tokens") is not None:
        out["max_new_tokens"] = int(sample["max_new_tokens"])
    if answer.get("temperature") is not None:
        out["answer_temperature"] = float(answer["temperature"])
    if answer.get("max_new_tokens") is not None:
        out["answer_max_new_tokens"] = int(answer["max_new_tokens"])
    return out
