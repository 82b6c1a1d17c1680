"""The HTML report of a finished ``lmuq demo`` / ``lmuq run``, from its output folder.

A run folder holds ``results.parquet`` and/or ``results.csv`` (one row per question),
``summary.csv`` (one row per evaluated score, column ``scorer``) and ``run.json`` (model,
config, ``evaluated``: the score columns). :func:`report_from_run_dir` reads them, runs the
evaluation protocol and writes ``report.html`` beside them (the job itself renders its
report from memory; this is for a folder written earlier, or with other settings). A
``sweep.json`` in the folder (or one passed as ``sweep``), as ``bench/sampling_sweep.py``
writes it, adds the report's "Sampling settings" section.

Which columns are scores: ``run.json``'s ``evaluated`` list, else ``summary.csv``'s
``scorer`` column, else the configured scorers and the registered scorers that are
columns; each names a column of the results (the length baseline included).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd

from lmuq.app.graded import read_results, read_run_info
from lmuq.evaluation.protocol import build_report_data
from lmuq.evaluation.sweep import SamplingSweep
from lmuq.reporting.html import write_report
from lmuq.scoring.registry import SCORERS

__all__ = ["read_sweep", "report_from_run_dir", "score_columns_for_run"]

SWEEP_FILE = "sweep.json"


def read_sweep(path: str | os.PathLike) -> SamplingSweep:
    """A :class:`~lmuq.evaluation.sweep.SamplingSweep` from its JSON file.

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file is not JSON, or not a sweep (names the field).
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not JSON: {exc}") from None
    try:
        return SamplingSweep.from_dict(data)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


def _summary_labels(run_dir: Path) -> list[str] | None:
    path = run_dir / "summary.csv"
    if not path.exists():
        return None
    summary = pd.read_csv(path)
    if "scorer" not in summary.columns:
        return None
    return [str(v) for v in summary["scorer"].dropna()]


def score_columns_for_run(
    results: pd.DataFrame, run: dict[str, Any], labels: list[str] | None
) -> list[str]:
    """The score columns to evaluate: ``run.json``'s ``evaluated`` list, else ``labels``
    (``summary.csv``'s scorer column), else the configured scorers and every registered
    scorer that is a column; names that are not columns of ``results`` are left out."""
    names = run.get("evaluated") or labels
    if not names:
        configured = (run.get("config") or {}).get("scorers", [])
        names = [*configured, *SCORERS]
    return [name for name in dict.fromkeys(names) if name in results.columns]


def report_from_run_dir(
    run_dir: str | os.PathLike,
    *,
    out: str | os.PathLike | None = None,
    title: str | None = None,
    n_boot: int | None = None,
    plots: bool = True,
    sweep: str | os.PathLike | None = None,
) -> Path:
    """Write the HTML report of a demo output folder; returns its path.

    Args:
        run_dir: the folder ``lmuq demo --out`` wrote.
        out: where to write (default ``run_dir/report.html``).
        title: page title (default ``lmuq report: <model>``).
        n_boot: bootstrap resamples (default: the run's ``n_boot``, else 1000).
        plots: embed the plots (needs matplotlib).
        sweep: a sampling sweep's JSON file to show (default: ``run_dir/sweep.json`` when
            there is one).

    Raises:
        FileNotFoundError: no results table in ``run_dir``.
        ValueError: no score column found, the table lacks ``correct``, or ``sweep`` is not
            a sweep file.
    """
    run_dir = Path(run_dir)
    if sweep is None and (run_dir / SWEEP_FILE).is_file():
        sweep = run_dir / SWEEP_FILE
    sweep_data = read_sweep(sweep) if sweep is not None else None
    results = read_results(run_dir)
    run = read_run_info(run_dir)
    config = run.get("config") or {}
    columns = score_columns_for_run(results, run, _summary_labels(run_dir))
    if not columns:
        raise ValueError(f"no score columns found in {run_dir}'s results")
    if "correct" in results.columns:  # rows whose answer failed have no label: left out
        results = results[results["correct"].notna()]
    data = build_report_data(
        results,
        scorers=columns,
        run_info=run,
        n_boot=int(n_boot if n_boot is not None else config.get("n_boot", 1000)),
        seed=int(config.get("seed", 0)),
        max_rejection=float(config.get("max_rejection", 0.5)),
    )
    model = run.get("model")
    page_title = title or (f"lmuq report: {model}" if model else "lmuq report")
    return write_report(
        data,
        Path(out) if out is not None else run_dir / "report.html",
        title=page_title,
        plots=plots,
        sweep=sweep_data,
    )
