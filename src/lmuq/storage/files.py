"""Write per-question results to files a user can open.

* ``results.jsonl``: one JSON object per prompt with everything, nested (the answer and each
  sample with text, tokens, log-probs, top-k log-probs, finish reason, sampling params).
* ``results.csv``: the flat columns (scores, correctness, texts; the sampled responses as a
  JSON list in one cell).
* ``results.parquet``: the same flat table, when ``pyarrow`` is installed.

Each file is written to a temporary name and renamed into place, so an interrupted write
never leaves a truncated file under the final name.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["atomic_write", "parquet_frame", "write_jsonl", "write_records", "write_table"]


@contextmanager
def atomic_write(path: Path, mode: str = "w"):
    """Open a fresh temporary file beside ``path`` (an unpredictable name, created
    exclusively, so no symlink is followed) and rename it over ``path`` when the block
    ends; on any error the temporary file is removed and ``path`` is left as it was. The
    file gets the permissions the user's umask gives a new file (not mkstemp's 0600)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(
            fd,
            mode,
            encoding=None if "b" in mode else "utf-8",
            newline="" if "b" not in mode else None,
        ) as fh:
            yield fh
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0o022)  # reading the umask means setting it; put it back at once
    os.umask(mask)
    return mask


def _json_safe(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        return _json_safe(value.item())
    return value


def write_jsonl(records: Iterable[Mapping[str, Any]], path: str | os.PathLike) -> Path:
    """Write one JSON object per line (NaN and ±inf become ``null``)."""
    path = Path(path)
    with atomic_write(path) as fh:
        for rec in records:
            fh.write(json.dumps(_json_safe(rec), ensure_ascii=False, allow_nan=False))
            fh.write("\n")
    return path


def write_table(
    rows: Sequence[Mapping[str, Any]], stem: str | os.PathLike, parquet: bool = True
) -> list[Path]:
    """Write flat rows as ``<stem>.csv`` (and ``<stem>.parquet`` when possible).

    List and dict cells are JSON-encoded in the CSV; Parquet keeps lists native.
    """
    import pandas as pd

    stem = Path(stem)
    df = pd.DataFrame(list(rows))
    flat = df.copy()
    for col in flat.columns:
        if flat[col].map(lambda v: isinstance(v, (list, dict, tuple))).any():
            flat[col] = flat[col].map(lambda v: json.dumps(_json_safe(v), ensure_ascii=False))
    written = []
    csv_path = stem.with_suffix(".csv")
    with atomic_write(csv_path) as fh:
        flat.to_csv(fh, index=False)
    written.append(csv_path)
    if parquet:
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            return written
        pq_path = stem.with_suffix(".parquet")
        with atomic_write(pq_path, "wb") as fh:
            parquet_frame(df).to_parquet(fh, index=False)
        written.append(pq_path)
    return written


def write_records(records: Sequence[Mapping[str, Any]], path: str | os.PathLike) -> Path:
    """Write records to one file whose suffix picks the format: ``.jsonl`` (nested),
    ``.csv`` (list and dict cells JSON-encoded) or ``.parquet`` (needs pyarrow)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        return write_jsonl(records, path)
    if suffix not in (".csv", ".parquet"):
        raise ValueError(f"{path}: the table file must end in .jsonl, .csv or .parquet")
    import pandas as pd

    df = pd.DataFrame(list(records))
    if suffix == ".parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise ValueError(
                f"{path}: Parquet needs pyarrow (pip install 'lmuq[parquet]'); or write .csv "
                "or .jsonl"
            ) from None
        with atomic_write(path, "wb") as fh:
            parquet_frame(df).to_parquet(fh, index=False)
        return path
    for col in df.columns:
        if df[col].map(lambda v: isinstance(v, (list, dict, tuple))).any():
            df[col] = df[col].map(lambda v: json.dumps(_json_safe(v), ensure_ascii=False))
    with atomic_write(path) as fh:
        df.to_csv(fh, index=False)
    return path


def parquet_frame(df):
    out = df.copy()
    for col in out.columns:
        # Parquet cannot hold a column of arbitrary dicts with varying keys; keep them as JSON.
        if out[col].map(lambda v: isinstance(v, dict)).any():
            out[col] = out[col].map(lambda v: json.dumps(_json_safe(v), ensure_ascii=False))
    return out
