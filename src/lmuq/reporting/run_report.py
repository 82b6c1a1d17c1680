"""The HTML report of a finished ``lmuq demo`` run, from its output folder.

A demo folder holds ``results.parquet`` and/or ``results.csv`` (one row per question),
``summary.csv`` (one row per evaluated score, column ``scorer``) and ``run.json`` (model,
config, ...). :func:`report_from_run_dir` reads them and writes ``report.html`` beside them.

Which columns are scores: the labels in ``summary.csv``'s ``scorer`` column, where a label
such as ``semantic_negentropy[normalized_match]`` names the column ``semantic_negentropy``
(the bracket says how it clustered) and ``baseline:short_answer`` is not a column but
``-response_tokens``. Without ``summary.csv``, the scorers named in ``run.json``'s
``config.scorers`` plus the black-box scorer columns that are present.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pandas as pd

from lmuq.evaluation.protocol import build_report_data
from lmuq.reporting.html import write_report

__all__ = ["LENGTH_BASELINE", "report_from_run_dir", "score_columns_for_run"]

#: The demo's length baseline (kept equal to ``lmuq.demo.LENGTH_BASELINE``).
LENGTH_BASELINE = "baseline:short_answer"
_LABEL = re.compile(r"^(?P<column>[^\[\]]+)\[[^\[\]]*\]$")


def _read_results(run_dir: Path) -> pd.DataFrame:
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


def _read_run(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "run.json"
    if not path.exists():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


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
) -> dict[str, str]:
    """``{label shown in the report: results column}`` of the scores to evaluate.

    ``labels`` are ``summary.csv``'s scorer labels (``None`` when there is none); labels
    whose column is missing are left out. :data:`LENGTH_BASELINE` maps to itself: the
    caller adds it as ``-response_tokens``.
    """
    out: dict[str, str] = {}
    if labels is None:
        from lmuq.demo import NLI_BLACKBOX

        config = run.get("config") or {}
        labels = [*config.get("scorers", []), *NLI_BLACKBOX]
    for label in labels:
        if label == LENGTH_BASELINE:
            if "response_tokens" in results.columns:
                out[label] = label
            continue
        m = _LABEL.match(label)
        column = m.group("column") if m else label
        if column in results.columns:
            out[label] = column
    return out


def report_from_run_dir(
    run_dir: str | os.PathLike,
    *,
    out: str | os.PathLike | None = None,
    title: str | None = None,
    n_boot: int | None = None,
    plots: bool = True,
) -> Path:
    """Write the HTML report of a demo output folder; returns its path.

    Args:
        run_dir: the folder ``lmuq demo --out`` wrote.
        out: where to write (default ``run_dir/report.html``).
        title: page title (default ``lmuq report: <model>``).
        n_boot: bootstrap resamples (default: the run's ``n_boot``, else 1000).
        plots: embed the plots (needs matplotlib).

    Raises:
        FileNotFoundError: no results table in ``run_dir``.
        ValueError: no score column found, or the table lacks ``correct``.
    """
    run_dir = Path(run_dir)
    results = _read_results(run_dir)
    run = _read_run(run_dir)
    config = run.get("config") or {}
    columns = score_columns_for_run(results, run, _summary_labels(run_dir))
    if not columns:
        raise ValueError(f"no score columns found in {run_dir}'s results")
    frame = results.copy()
    for label, column in columns.items():
        if label == LENGTH_BASELINE:
            tokens = pd.to_numeric(frame["response_tokens"], errors="coerce")
            frame[label] = -tokens
        elif label != column:
            frame[label] = frame[column]
    data = build_report_data(
        frame,
        scorers=list(columns),
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
    )
