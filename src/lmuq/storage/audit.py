"""The gateway's audit log: every answer ``lmuq serve`` returned, with its scores and
decision, in a run store file (table ``gateway_audit``).

The table sits beside the run store's own tables (the file is made a run store first when
it is new), so one ``--store`` file holds both the graded runs a policy was fitted on and
the live traffic it judged; ``lmuq export STORE --audit -o FILE`` writes it out. Prompts can
be kept as their SHA-256 only (``hash_prompts``). Nothing from the request's headers is
ever written.

Writes go through a queue to one writer thread that commits in batches, so a request never
waits on the disk; :meth:`AuditLog.close` writes what is queued.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import queue
import sqlite3
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from lmuq.storage.errors import SchemaVersionError
from lmuq.storage.sqlite import connect, write_transaction

__all__ = ["AUDIT_COLUMNS", "AuditLog", "AuditRecord", "export_audit", "load_audit"]

_log = logging.getLogger("lmuq.audit")

_TABLE = """
CREATE TABLE IF NOT EXISTS gateway_audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    request_id TEXT NOT NULL,
    choice INTEGER NOT NULL,
    stream INTEGER NOT NULL,
    model TEXT,
    policy_id TEXT NOT NULL,
    prompt TEXT,
    prompt_sha256 TEXT NOT NULL,
    response TEXT,
    confidence REAL,
    decision TEXT NOT NULL,
    scores TEXT NOT NULL,
    samples_used INTEGER NOT NULL,
    complete INTEGER NOT NULL,
    error TEXT,
    latency_ms REAL
)
"""


@dataclass(frozen=True)
class AuditRecord:
    """One judged answer (one choice of one request)."""

    at: str
    request_id: str
    choice: int
    stream: bool
    model: str | None
    policy_id: str
    prompt: str | None
    prompt_sha256: str
    response: str | None
    confidence: float | None
    decision: str
    scores: Mapping[str, float | None]
    samples_used: int
    complete: bool
    error: str | None
    latency_ms: float | None


AUDIT_COLUMNS = tuple(AuditRecord.__dataclass_fields__)


def _row(r: AuditRecord) -> tuple[Any, ...]:
    d = asdict(r)
    d["scores"] = json.dumps(
        {k: (None if v is None or math.isnan(v) else v) for k, v in r.scores.items()},
        allow_nan=False,
    )
    d["stream"] = int(r.stream)
    d["complete"] = int(r.complete)
    return tuple(d[c] for c in AUDIT_COLUMNS)


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class AuditLog:
    """Appends :class:`AuditRecord` s to ``path`` (a run store file, created if missing).

    Args:
        path: the store file.
        hash_prompts: keep only each prompt's SHA-256 (``prompt`` is then null).
    """

    def __init__(self, path: str | os.PathLike[str], *, hash_prompts: bool = False) -> None:
        from lmuq.storage.run_store import RunStore

        self.path = Path(path).expanduser()
        self.hash_prompts = hash_prompts
        RunStore(self.path).close()  # a new file becomes a run store; a foreign one fails
        self._conn = self._open()
        with write_transaction(self._conn) as conn:
            conn.execute(_TABLE)
        self._queue: queue.SimpleQueue[AuditRecord | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._writer, name="lmuq-audit", daemon=True)
        self.queued = 0
        self.written = 0  # handled by the writer (``failed`` of them could not be written)
        self.failed = 0
        self._done = threading.Condition()
        self._thread.start()

    def _open(self) -> sqlite3.Connection:
        return connect(self.path, timeout=60.0, not_ours=lambda msg: SchemaVersionError(msg))

    def record(
        self,
        *,
        at: str,
        request_id: str,
        choice: int,
        stream: bool,
        model: str | None,
        policy_id: str,
        prompt: str,
        response: str | None,
        lmuq: Mapping[str, Any],
        latency_ms: float | None,
    ) -> None:
        """Queue one judged answer (``lmuq``: the object the gateway returned with it)."""
        with self._done:
            self.queued += 1
        self._queue.put(
            AuditRecord(
                at=at,
                request_id=request_id,
                choice=choice,
                stream=stream,
                model=model,
                policy_id=policy_id,
                prompt=None if self.hash_prompts else prompt,
                prompt_sha256=sha256_text(prompt),
                response=response,
                confidence=lmuq.get("confidence"),
                decision=str(lmuq.get("decision")),
                scores=dict(lmuq.get("scores") or {}),
                samples_used=int(lmuq.get("samples_used") or 0),
                complete=bool(lmuq.get("complete")),
                error=lmuq.get("error"),
                latency_ms=latency_ms,
            )
        )

    def _writer(self) -> None:
        names = ", ".join(AUDIT_COLUMNS)
        marks = ", ".join("?" for _ in AUDIT_COLUMNS)
        sql = f"INSERT INTO gateway_audit ({names}) VALUES ({marks})"
        stop = False
        while not stop:
            item = self._queue.get()
            batch = []
            while True:
                if item is None:
                    stop = True
                else:
                    batch.append(_row(item))
                if stop or len(batch) >= 256:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            if batch:
                try:
                    with write_transaction(self._conn) as conn:
                        conn.executemany(sql, batch)
                except sqlite3.Error as exc:  # the gateway keeps serving; say it once per batch
                    self.failed += len(batch)
                    _log.error("audit log: %d records not written (%s)", len(batch), exc)
                with self._done:
                    self.written += len(batch)
                    self._done.notify_all()

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until everything queued so far is written (at most ``timeout`` seconds)."""
        with self._done:
            target = self.queued
            self._done.wait_for(lambda: self.written >= target, timeout=timeout)

    def close(self) -> None:
        """Write what is queued and close the file."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout=30)
        self._conn.close()


def load_audit(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The audit log of a store file, oldest first (``scores`` as a dict); [] if none."""
    p = Path(path)
    conn = sqlite3.connect(f"file:{p}?mode=ro", uri=True)
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "gateway_audit" not in tables:
            return []
        cur = conn.execute(f"SELECT {', '.join(AUDIT_COLUMNS)} FROM gateway_audit ORDER BY seq")
        out = []
        for row in cur:
            d = dict(zip(AUDIT_COLUMNS, row, strict=True))
            d["scores"] = json.loads(d["scores"])
            d["stream"] = bool(d["stream"])
            d["complete"] = bool(d["complete"])
            out.append(d)
        return out
    finally:
        conn.close()


def export_audit(store: str | os.PathLike[str], out: str | os.PathLike[str]) -> int:
    """Write the audit log of ``store`` to ``out`` (``.jsonl``: one record a line, scores
    nested; ``.csv`` / ``.parquet``: one column per scorer, ``score:<name>``); returns the
    number of records.

    Raises:
        ValueError: an unknown suffix, or a store without an audit log.
    """
    from lmuq.storage.files import atomic_write

    records = load_audit(store)
    if not records:
        raise ValueError(f"{store} has no audit log: run `lmuq serve --audit {store}` first")
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix == ".jsonl":
        with atomic_write(out) as fh:
            for r in records:
                fh.write(json.dumps(r, ensure_ascii=False, allow_nan=False) + "\n")
        return len(records)
    if suffix not in (".csv", ".parquet"):
        raise ValueError(f"the audit log is written as .jsonl, .csv or .parquet, not {suffix!r}")
    import pandas as pd

    flat = [
        {
            **{k: v for k, v in r.items() if k != "scores"},
            **{f"score:{k}": v for k, v in r["scores"].items()},
        }
        for r in records
    ]
    table = pd.DataFrame(flat)
    out.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        table.to_csv(out, index=False)
    else:
        table.to_parquet(out, index=False)
    return len(records)
