"""Export a stored run to a file a user can open: JSONL, CSV or Parquet.

* ``.jsonl``: one object per row, nested, with every generation in full (``answer`` and
  ``samples``: ``Generation.to_dict()``, log-probs included); streamed, so memory stays
  bounded;
* ``.csv`` / ``.parquet``: the flat table (texts, errors, label, scores, raw values; extras
  as columns, prefixed ``extra_`` where a name is taken).

The store is read in blocks of rows from one snapshot; each file is written to a temporary
name and renamed into place.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol

from lmuq.extras import require
from lmuq.generation.draws import ANSWER
from lmuq.storage.files import atomic_write, parquet_frame, write_jsonl, write_table

__all__ = ["export_records", "export_run"]


class RunStore(Protocol):
    """What an export reads of a :class:`~lmuq.storage.run_store.RunStore`."""

    def num_prompts(self, run_id: str, conn: sqlite3.Connection | None = None) -> int: ...

    def snapshot(self) -> AbstractContextManager[sqlite3.Connection]: ...


_BLOCK_ROWS = 256


def export_run(store: RunStore, run_id: str, path: str | os.PathLike[str]) -> Path:
    """Write run ``run_id`` of ``store`` to ``path``; the format follows the suffix."""
    path = Path(path)
    suffix = path.suffix.lower()
    store.num_prompts(run_id)  # an unknown run fails before any file is written
    if suffix == ".jsonl":
        return write_jsonl(export_records(store, run_id, nested=True), path)
    if suffix == ".csv":
        return write_table(list(export_records(store, run_id, nested=False)), path, False)[0]
    if suffix == ".parquet":
        import pandas as pd

        require("pyarrow", "parquet", "Parquet export")
        frame = parquet_frame(pd.DataFrame(list(export_records(store, run_id, nested=False))))
        with atomic_write(path, "wb") as fh:
            frame.to_parquet(fh, index=False)
        return path
    raise ValueError(f"cannot export to {path.name!r}: use a .jsonl, .csv or .parquet name")


def export_records(store: RunStore, run_id: str, *, nested: bool) -> Iterator[dict[str, Any]]:
    """The run's rows as records (nested: with every generation in full), block by block."""
    with store.snapshot() as conn:
        n = store.num_prompts(run_id, conn)
        for start in range(0, n, _BLOCK_ROWS):
            yield from _export_block(conn, run_id, start, start + _BLOCK_ROWS, nested)


def _export_block(
    conn: sqlite3.Connection, run_id: str, start: int, stop: int, nested: bool
) -> Iterator[dict[str, Any]]:
    args = (run_id, start, stop)
    where = "WHERE run_id = ? AND row_index >= ? AND row_index < ?"
    gens: dict[int, dict[str, Any]] = {}
    for row, kind, _idx, data in conn.execute(
        f"SELECT row_index, kind, idx, data FROM generations {where} ORDER BY row_index, kind, idx",
        args,
    ):
        entry = gens.setdefault(row, {"answer": None, "samples": []})
        record = json.loads(data)
        record.pop("nonfinite", None)
        if kind == ANSWER:
            entry["answer"] = record
        else:
            entry["samples"].append(record)
    scores: dict[int, list[tuple[str, Any, Any, Any]]] = {}
    for row, scorer, value, raw, error in conn.execute(
        f"SELECT row_index, scorer, value, raw, error FROM scores {where} "
        "ORDER BY row_index, rowid",
        args,
    ):
        scores.setdefault(row, []).append((scorer, value, raw, error))
    labels = dict(conn.execute(f"SELECT row_index, correct FROM labels {where}", args).fetchall())
    for row, prompt, extra in conn.execute(
        f"SELECT row_index, prompt, extra FROM prompts {where} ORDER BY row_index", args
    ):
        entry = gens.get(row, {"answer": None, "samples": []})
        answer, samples = entry["answer"], entry["samples"]
        correct = labels.get(row)
        rec: dict[str, Any] = {
            "row": row,
            "prompt": prompt,
            "response": None if answer is None else answer["text"],
            "sampled_responses": [s["text"] for s in samples],
            "answer_error": None if answer is None else answer["error"],
            "failed_samples": sum(s["error"] is not None for s in samples),
            "correct": None if correct is None else bool(correct),
        }
        errors: dict[str, str] = {}
        for scorer, value, raw, error in scores.get(row, []):
            rec[scorer] = math.nan if value is None else value
            for k, v in ({} if raw is None else json.loads(raw)).items():
                rec[k] = math.nan if v is None else v
            if error is not None:
                errors[scorer] = error
        rec["score_errors"] = errors
        for k, v in ({} if extra is None else json.loads(extra)).items():
            rec[f"extra_{k}" if k in rec else k] = v
        if nested:
            rec["answer"] = answer
            rec["samples"] = samples
        yield rec
