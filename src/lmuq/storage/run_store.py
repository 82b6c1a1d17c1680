"""A run store: everything a run produced, in one SQLite file, written as it arrives.

:class:`RunStore` keeps, per run: its settings, its prompts (with any per-row extras such
as gold answers), every generation with its log-probs, every score and the correctness
labels. It is built on the standard library's ``sqlite3``: embedded, one file, no server.

Guarantees:

* **Atomic writes.** Every public write is one transaction (``BEGIN IMMEDIATE`` ...
  ``COMMIT``). A process killed at any moment, SIGKILL included, leaves the store as it was
  after its last completed write: a write is either all there or not there at all.
* **Exactly once.** A generation is keyed by ``(run_id, row, kind, idx)`` and written with
  upsert semantics, so retrying a write never duplicates it. A stored success is never
  replaced (the first success wins; a failed one is replaced by a later result).
* **Work split.** :meth:`RunStore.claim_rows` leases rows to one drawing process, so two
  processes resuming the same run draw different rows instead of both calling the LLM for
  all of them; a killed process's leases free themselves.
* **Several writers.** The file is in WAL mode with a busy timeout, so several threads or
  processes can read and write the same store; a writer waits for the lock instead of
  failing with "database is locked" (up to ``timeout`` seconds). Each thread uses its own
  connection, so the store can be shared by the threads (or asyncio callbacks) of one
  process.
* **Durability.** ``synchronous=NORMAL`` (the default) survives any process crash; pass
  ``synchronous="FULL"`` to also survive a power loss, at the cost of an fsync per write.
* **Versioned schema.** The ``meta`` table holds ``schema_version``; a store written by a
  newer lmuq is refused with :class:`SchemaVersionError` rather than misread.
* **No secrets.** Settings keys that look like credentials (``api_key``, ``token``,
  ``secret``, ``password``, ``authorization``, ...) are stored masked, and URLs without their
  ``user:password@`` (:mod:`lmuq.storage.settings`, by the one policy of :mod:`lmuq.secrets`).

Rows with missing generations: :meth:`RunStore.load_sample_sets` raises
:class:`IncompleteRunError` listing them (use :meth:`RunStore.missing_generations` to see
the work left, and :func:`lmuq.storage.resume.generate_with_store` to do it). Failed
generations (``Generation.error`` set) are stored and loaded as they are; they count as
missing for resuming, so a resume retries them.

Memory: :meth:`RunStore.iter_sample_sets` and :meth:`RunStore.export` (see
:mod:`lmuq.storage.export`) read the store in blocks, so neither holds a whole large run in
memory.
"""

from __future__ import annotations

import datetime as _dt
import itertools
import json
import math
import os
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, Literal

import numpy as np

from lmuq.codec import generation_from_json, generation_to_json, json_dumps
from lmuq.generation.draws import ANSWER, SAMPLE
from lmuq.results import UQResult
from lmuq.storage.errors import (
    IncompleteRunError,
    RunMismatchError,
    SchemaVersionError,
    StoreError,
)
from lmuq.storage.run_info import GenerationSpec, RunInfo
from lmuq.storage.settings import json_ready, redact_settings, settings_diff
from lmuq.storage.sqlite import connect, schema_version, write_transaction
from lmuq.types import Generation, SampleSet

__all__ = ["ANSWER", "SAMPLE", "SCHEMA_VERSION", "Kind", "RunStore"]

#: The schema this lmuq writes (and the newest it reads). Version 2 added ``leases``;
#: a version-1 store is upgraded in place when opened.
SCHEMA_VERSION = 2
Kind = Literal["answer", "sample"]

_BLOCK_ROWS = 256

# Rows a process is drawing, so that two processes on one store split the work.
_LEASES_SCHEMA = """
CREATE TABLE IF NOT EXISTS leases (
    run_id TEXT NOT NULL,
    row_index INTEGER NOT NULL,
    owner TEXT NOT NULL,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    expires REAL NOT NULL,
    PRIMARY KEY (run_id, row_index)
) WITHOUT ROWID;
"""

_SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    created TEXT NOT NULL,
    settings TEXT NOT NULL,
    generation TEXT,
    num_prompts INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS prompts (
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    row_index INTEGER NOT NULL,
    prompt TEXT NOT NULL,
    extra TEXT,
    PRIMARY KEY (run_id, row_index)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS generations (
    run_id TEXT NOT NULL,
    row_index INTEGER NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('answer', 'sample')),
    idx INTEGER NOT NULL CHECK (idx >= 0),
    data TEXT NOT NULL,
    error TEXT,
    updated REAL NOT NULL,
    PRIMARY KEY (run_id, row_index, kind, idx),
    FOREIGN KEY (run_id, row_index) REFERENCES prompts(run_id, row_index) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS scores (
    run_id TEXT NOT NULL,
    row_index INTEGER NOT NULL,
    scorer TEXT NOT NULL,
    value REAL,
    raw TEXT,
    error TEXT,
    updated REAL NOT NULL,
    UNIQUE (run_id, row_index, scorer),
    FOREIGN KEY (run_id, row_index) REFERENCES prompts(run_id, row_index) ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS labels (
    run_id TEXT NOT NULL,
    row_index INTEGER NOT NULL,
    correct INTEGER CHECK (correct IS NULL OR correct IN (0, 1)),
    updated REAL NOT NULL,
    PRIMARY KEY (run_id, row_index),
    FOREIGN KEY (run_id, row_index) REFERENCES prompts(run_id, row_index) ON DELETE CASCADE
) WITHOUT ROWID;
"""
    + _LEASES_SCHEMA
)

_UPSERT_GENERATION = """
INSERT INTO generations (run_id, row_index, kind, idx, data, error, updated)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (run_id, row_index, kind, idx) DO UPDATE SET
    data = excluded.data, error = excluded.error, updated = excluded.updated
WHERE generations.error IS NOT NULL
"""

_UPSERT_LABEL = """
INSERT INTO labels (run_id, row_index, correct, updated) VALUES (?, ?, ?, ?)
ON CONFLICT (run_id, row_index) DO UPDATE SET
    correct = excluded.correct, updated = excluded.updated
"""

_UPSERT_SCORE = """
INSERT INTO scores (run_id, row_index, scorer, value, raw, error, updated)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (run_id, row_index, scorer) DO UPDATE SET
    value = excluded.value, raw = excluded.raw, error = excluded.error,
    updated = excluded.updated
"""


# ---------------------------------------------------------------------------- generations


def _check_kind_idx(kind: str, idx: int) -> None:
    if kind not in (ANSWER, SAMPLE):
        raise ValueError(f"kind must be 'answer' or 'sample', got {kind!r}")
    if not isinstance(idx, (int, np.integer)) or isinstance(idx, bool) or idx < 0:
        raise ValueError(f"idx must be an int >= 0, got {idx!r}")
    if kind == ANSWER and idx != 0:
        raise ValueError(f"an answer has idx 0 (one answer per row), got {idx}")


def _check_num_samples(num_samples: int) -> int:
    if not isinstance(num_samples, int) or isinstance(num_samples, bool) or num_samples < 0:
        raise ValueError(f"num_samples must be an int >= 0, got {num_samples!r}")
    return num_samples


def _alive(pid: int) -> bool:
    """Whether a process of this machine with this pid is running."""
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by someone else
        return True
    return True


def _now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


# ---------------------------------------------------------------------------- the store


class RunStore:
    """Runs, prompts, generations, scores and labels in one SQLite file.

    Args:
        path: the store file (created with its folder when missing).
        timeout: seconds a write waits for another writer's lock before failing.
        synchronous: SQLite's ``synchronous`` setting: ``"NORMAL"`` (crash-safe) or
            ``"FULL"`` (also power-loss-safe).

    Raises:
        SchemaVersionError: for a store written by a newer lmuq, or a file that is not an
            lmuq store.

    Use it as a context manager, or call :meth:`close`, to close its connections.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        timeout: float = 60.0,
        synchronous: Literal["NORMAL", "FULL"] = "NORMAL",
    ) -> None:
        if synchronous not in ("NORMAL", "FULL"):
            raise ValueError(f"synchronous must be 'NORMAL' or 'FULL', got {synchronous!r}")
        if not timeout > 0:
            raise ValueError(f"timeout must be > 0 seconds, got {timeout!r}")
        self.path = Path(path).expanduser()
        if self.path.is_file() and self.path.stat().st_size == 0:
            # SQLite would silently make an empty file a new store; it was meant to be one.
            raise SchemaVersionError(
                f"{self.path} is an empty file, not an lmuq run store: delete it, or pass "
                "another path (a new store is created where no file is)"
            )
        self.timeout = float(timeout)
        self.synchronous = synchronous
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        self._pid = os.getpid()
        self._closed = False
        with self._write() as conn:
            self._init_schema(conn)

    # -- connections ------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        return connect(
            self.path,
            timeout=self.timeout,
            synchronous=self.synchronous,
            foreign_keys=True,
            not_ours=lambda message: SchemaVersionError(
                message.replace("is not an lmuq file", "is not an lmuq run store")
            ),
        )

    def _conn(self) -> sqlite3.Connection:
        if self._closed:
            raise StoreError(f"the run store {self.path} is closed")
        if os.getpid() != self._pid:  # forked: never share a connection across processes
            self._local = threading.local()
            with self._lock:
                self._connections = []
            self._pid = os.getpid()
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; the write lock is taken up front (no upgrade deadlock)."""
        with write_transaction(self._conn()) as conn:
            yield conn

    @contextmanager
    def snapshot(self) -> Iterator[sqlite3.Connection]:
        """A private connection in one read transaction: a consistent view for long reads
        (streamed to the caller) that never blocks writes on this thread's connection."""
        conn = self._connect()
        try:
            conn.execute("BEGIN")
            yield conn
        finally:
            conn.close()

    def close(self) -> None:
        """Close every connection this store opened."""
        with self._lock:
            conns, self._connections = self._connections, []
        for conn in conns:
            with suppress(sqlite3.Error):
                conn.close()
        self._local = threading.local()
        self._closed = True

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RunStore({str(self.path)!r})"

    def _init_schema(self, conn: sqlite3.Connection) -> None:
        version = schema_version(conn, self.path, SCHEMA_VERSION, SchemaVersionError, "run store")
        if version == SCHEMA_VERSION:
            return
        # Not executescript: it would COMMIT the open transaction. One statement at a time.
        for statement in (_SCHEMA if version is None else _LEASES_SCHEMA).split(";"):
            if statement.strip():
                conn.execute(statement)
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('schema_version', ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (str(SCHEMA_VERSION),),
        )

    # -- runs ---------------------------------------------------------------------------

    def create_run(
        self,
        settings: Mapping[str, Any],
        prompts: Sequence[str],
        extras: Sequence[Mapping[str, Any] | None] | None = None,
        *,
        run_id: str | None = None,
    ) -> str:
        """Record a new run and its prompts (one transaction); return its id.

        ``run_id`` defaults to a fresh unique id. ``extras`` gives each prompt a JSON-ready
        dict (e.g. ``{"gold": ..., "aliases": [...]}``). Settings are stored redacted (see
        :func:`redact_settings`).

        Raises:
            StoreError: if ``run_id`` exists (use :meth:`open_or_create_run` to resume).
        """
        if run_id is None:
            run_id = f"run-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}"
        stored, prompt_list, extra_list = self._check_new_run(run_id, settings, prompts, extras)
        with self._write() as conn:
            if self._run_row(conn, run_id) is not None:
                raise StoreError(
                    f"run {run_id!r} already exists in {self.path}; use open_or_create_run "
                    "to resume it"
                )
            self._insert_run(conn, run_id, stored, prompt_list, extra_list)
        return run_id

    def open_or_create_run(
        self,
        name: str,
        settings: Mapping[str, Any],
        prompts: Sequence[str],
        extras: Sequence[Mapping[str, Any] | None] | None = None,
    ) -> str:
        """The run called ``name``: created when new, returned when it exists (to resume).

        An existing run must have the same (redacted) settings and the same prompts; when
        ``extras`` is given, the same extras too. Safe when several processes call it at
        once: exactly one creates the run.

        Raises:
            RunMismatchError: listing every difference, when the existing run differs.
        """
        stored, prompt_list, extra_list = self._check_new_run(name, settings, prompts, extras)
        with self._write() as conn:
            row = self._run_row(conn, name)
            if row is None:
                self._insert_run(conn, name, stored, prompt_list, extra_list)
                return name
            differences = settings_diff(json.loads(row[0]), stored)
            if differences:
                raise RunMismatchError(name, "settings", differences)
            differences = self._prompt_differences(conn, name, prompt_list, extra_list)
            if differences:
                raise RunMismatchError(name, "prompts", differences)
        return name

    @staticmethod
    def _check_new_run(
        run_id: str,
        settings: Mapping[str, Any],
        prompts: Sequence[str],
        extras: Sequence[Mapping[str, Any] | None] | None,
    ) -> tuple[dict[str, Any], list[str], list[dict[str, Any] | None] | None]:
        if not isinstance(run_id, str) or not run_id.strip():
            raise ValueError(f"a run id must be a non-empty str, got {run_id!r}")
        stored = redact_settings(settings)
        if isinstance(prompts, str):
            raise TypeError("prompts must be a list of strings, not a single string")
        prompt_list = list(prompts)
        for i, p in enumerate(prompt_list):
            if not isinstance(p, str):
                raise TypeError(f"prompts[{i}] must be a str, got {type(p).__name__}")
        extra_list = None
        if extras is not None:
            extra_list = [None if e is None else json_ready(dict(e)) for e in extras]
            if len(extra_list) != len(prompt_list):
                raise ValueError(
                    f"extras has {len(extra_list)} entries for {len(prompt_list)} prompts"
                )
        return stored, prompt_list, extra_list

    @staticmethod
    def _run_row(conn: sqlite3.Connection, run_id: str) -> tuple[Any, ...] | None:
        return conn.execute(
            "SELECT settings, generation, num_prompts, created FROM runs WHERE run_id = ?",
            (run_id,),
        ).fetchone()

    @staticmethod
    def _insert_run(
        conn: sqlite3.Connection,
        run_id: str,
        settings: dict[str, Any],
        prompts: list[str],
        extras: list[dict[str, Any] | None] | None,
    ) -> None:
        conn.execute(
            "INSERT INTO runs (run_id, created, settings, num_prompts) VALUES (?, ?, ?, ?)",
            (run_id, _now_iso(), json_dumps(settings), len(prompts)),
        )
        conn.executemany(
            "INSERT INTO prompts (run_id, row_index, prompt, extra) VALUES (?, ?, ?, ?)",
            (
                (
                    run_id,
                    i,
                    p,
                    None if extras is None or extras[i] is None else json_dumps(extras[i]),
                )
                for i, p in enumerate(prompts)
            ),
        )

    @staticmethod
    def _prompt_differences(
        conn: sqlite3.Connection,
        run_id: str,
        prompts: Sequence[str],
        extras: Sequence[dict[str, Any] | None] | None,
    ) -> list[str]:
        out: list[str] = []
        cur = conn.execute(
            "SELECT row_index, prompt, extra FROM prompts WHERE run_id = ? ORDER BY row_index",
            (run_id,),
        )
        n_stored = 0
        for i, prompt, extra in cur:
            n_stored += 1
            if i < len(prompts) and prompts[i] != prompt:
                out.append(f"row {i}: stored prompt {prompt[:60]!r}, given {prompts[i][:60]!r}")
            if extras is not None and i < len(extras):
                stored_extra = None if extra is None else json.loads(extra)
                if stored_extra != extras[i]:
                    out.append(f"row {i}: stored extra {stored_extra!r}, given {extras[i]!r}")
        if n_stored != len(prompts):
            out.insert(0, f"number of prompts: stored {n_stored}, given {len(prompts)}")
        return out

    def check_prompts(self, run_id: str, prompts: Sequence[str]) -> None:
        """Raise :class:`RunMismatchError` unless ``prompts`` are the run's prompts."""
        self.num_prompts(run_id)
        differences = self._prompt_differences(self._conn(), run_id, list(prompts), None)
        if differences:
            raise RunMismatchError(run_id, "prompts", differences)

    def has_run(self, run_id: str) -> bool:
        """Whether a run of this id exists."""
        return self._run_row(self._conn(), run_id) is not None

    def num_prompts(self, run_id: str, conn: sqlite3.Connection | None = None) -> int:
        """How many prompts (rows) the run has; ``KeyError`` for an unknown run."""
        row = self._run_row(conn or self._conn(), run_id)
        if row is None:
            raise KeyError(f"no run {run_id!r} in {self.path}")
        return int(row[2])

    def settings(self, run_id: str) -> dict[str, Any]:
        """The run's stored (redacted) settings."""
        row = self._run_row(self._conn(), run_id)
        if row is None:
            raise KeyError(f"no run {run_id!r} in {self.path}")
        return json.loads(row[0])

    def runs(self) -> list[RunInfo]:
        """Every run in the store, oldest first, with its progress counts."""
        rows = (
            self._conn()
            .execute(
                """
            SELECT r.run_id, r.created, r.settings, r.generation, r.num_prompts,
                (SELECT COUNT(*) FROM generations g WHERE g.run_id = r.run_id),
                (SELECT COUNT(*) FROM generations g
                    WHERE g.run_id = r.run_id AND g.error IS NOT NULL),
                (SELECT COUNT(*) FROM scores s WHERE s.run_id = r.run_id),
                (SELECT COUNT(*) FROM labels l WHERE l.run_id = r.run_id)
            FROM runs r ORDER BY r.created, r.rowid
            """
            )
            .fetchall()
        )
        return [
            RunInfo(
                run_id=r[0],
                created=r[1],
                settings=json.loads(r[2]),
                generation=None if r[3] is None else GenerationSpec.from_dict(json.loads(r[3])),
                num_prompts=r[4],
                num_generations=r[5],
                num_failed=r[6],
                num_scores=r[7],
                num_labels=r[8],
            )
            for r in rows
        ]

    def load_prompts(self, run_id: str, rows: Iterable[int] | None = None) -> list[str]:
        """The run's prompts in row order (or those of ``rows``, in that order)."""
        return [p for p, _ in self._prompt_records(run_id, rows)]

    def load_extras(self, run_id: str, rows: Iterable[int] | None = None) -> list[dict | None]:
        """The run's per-prompt extras in row order (or those of ``rows``)."""
        return [e for _, e in self._prompt_records(run_id, rows)]

    def _prompt_records(
        self, run_id: str, rows: Iterable[int] | None
    ) -> list[tuple[str, dict | None]]:
        conn = self._conn()
        n = self.num_prompts(run_id, conn)
        if rows is None:
            cur = conn.execute(
                "SELECT prompt, extra FROM prompts WHERE run_id = ? ORDER BY row_index",
                (run_id,),
            )
            return [(p, None if e is None else json.loads(e)) for p, e in cur]
        out = []
        for r in rows:
            if not 0 <= int(r) < n:
                raise IndexError(f"run {run_id!r} has rows 0..{n - 1}, not {r}")
            p, e = conn.execute(
                "SELECT prompt, extra FROM prompts WHERE run_id = ? AND row_index = ?",
                (run_id, int(r)),
            ).fetchone()
            out.append((p, None if e is None else json.loads(e)))
        return out

    # -- generation spec ----------------------------------------------------------------

    def generation_spec(self, run_id: str) -> GenerationSpec | None:
        """How the run's generations are drawn, once bound (else None)."""
        row = self._run_row(self._conn(), run_id)
        if row is None:
            raise KeyError(f"no run {run_id!r} in {self.path}")
        return None if row[1] is None else GenerationSpec.from_dict(json.loads(row[1]))

    def bind_generation(self, run_id: str, spec: GenerationSpec) -> GenerationSpec:
        """Bind ``spec`` to the run, or check it against the bound one (updating
        ``num_samples``).

        Raises:
            RunMismatchError: when the backend or sampling parameters differ.
        """
        _check_num_samples(spec.num_samples)
        given = redact_settings(spec.to_dict())
        with self._write() as conn:
            row = self._run_row(conn, run_id)
            if row is None:
                raise KeyError(f"no run {run_id!r} in {self.path}")
            if row[1] is not None:
                stored = json.loads(row[1])
                differences = settings_diff(
                    {k: v for k, v in stored.items() if k != "num_samples"},
                    {k: v for k, v in given.items() if k != "num_samples"},
                )
                if differences:
                    raise RunMismatchError(run_id, "generation settings", differences)
            conn.execute(
                "UPDATE runs SET generation = ? WHERE run_id = ?", (json_dumps(given), run_id)
            )
        return GenerationSpec.from_dict(given)

    # -- generations --------------------------------------------------------------------

    def record_generation(
        self, run_id: str, row: int, kind: Kind, idx: int, generation: Generation
    ) -> None:
        """Store one generation (one transaction). Re-recording the same (row, kind, idx)
        replaces a stored failure; a stored success is never replaced (the first wins)."""
        self.record_generations(run_id, [(row, kind, idx, generation)])

    def record_generations(
        self, run_id: str, items: Iterable[tuple[int, Kind, int, Generation]]
    ) -> int:
        """Store several generations in one transaction; return how many were given."""
        batch = []
        now = time.time()
        for row, kind, idx, gen in items:
            _check_kind_idx(kind, idx)
            if not isinstance(gen, Generation):
                raise TypeError(f"expected a Generation, got {type(gen).__name__}")
            batch.append(
                (run_id, int(row), kind, int(idx), generation_to_json(gen), gen.error, now)
            )
        return self._write_rows(run_id, _UPSERT_GENERATION, batch)

    def _write_rows(self, run_id: str, sql: str, batch: list[tuple[Any, ...]]) -> int:
        """Write ``(run_id, row, ...)`` rows with ``sql`` in one transaction, after checking
        every row index against the run."""
        if not batch:
            return 0
        with self._write() as conn:
            n = self.num_prompts(run_id, conn)
            for _, row, *_rest in batch:
                if not 0 <= row < n:
                    raise IndexError(f"run {run_id!r} has rows 0..{n - 1}, not {row}")
            conn.executemany(sql, batch)
        return len(batch)

    # -- leases -------------------------------------------------------------------------

    def claim_rows(
        self,
        run_id: str,
        rows: Sequence[int],
        owner: str,
        *,
        limit: int | None = None,
        ttl: float = 600.0,
    ) -> list[int]:
        """Lease up to ``limit`` of the given rows to ``owner`` for ``ttl`` seconds; return
        the ones it got, in the order given.

        A row is free when no one holds it, when its lease expired, or when its holder is a
        process of this machine that no longer runs (a killed run frees its rows at once).
        The owner's own leases are renewed. One transaction, so two processes never get
        the same row.
        """
        if not rows:
            return []
        host, now = socket.gethostname(), time.time()
        with self._write() as conn:
            self.num_prompts(run_id, conn)
            held = {
                row: (who, h, pid, expires)
                for row, who, h, pid, expires in conn.execute(
                    "SELECT row_index, owner, host, pid, expires FROM leases WHERE run_id = ?",
                    (run_id,),
                )
            }
            got: list[int] = []
            for row in rows:
                if limit is not None and len(got) >= limit:
                    break
                lease = held.get(int(row))
                taken = lease is not None and lease[0] != owner and lease[3] > now
                if taken and (lease[1] != host or _alive(lease[2])):
                    continue  # another live process is drawing this row
                got.append(int(row))
            conn.executemany(
                "INSERT INTO leases (run_id, row_index, owner, host, pid, expires) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, row_index) DO UPDATE SET "
                "owner = excluded.owner, host = excluded.host, pid = excluded.pid, "
                "expires = excluded.expires",
                [(run_id, r, owner, host, os.getpid(), now + ttl) for r in got],
            )
        return got

    def release_rows(self, run_id: str, rows: Sequence[int], owner: str) -> None:
        """Give back ``owner``'s leases on ``rows``."""
        with self._write() as conn:
            conn.executemany(
                "DELETE FROM leases WHERE run_id = ? AND row_index = ? AND owner = ?",
                [(run_id, int(r), owner) for r in rows],
            )

    def missing_generations(
        self,
        run_id: str,
        num_samples: int,
        *,
        include_failed: bool = True,
        rows: Sequence[int] | None = None,
    ) -> list[tuple[int, str, int]]:
        """The ``(row, kind, idx)`` generations a complete run with ``num_samples`` samples
        per row would have and this one lacks, in row order (answer first).

        With ``include_failed`` (the default), stored failures count as missing: they are
        the work a resume redoes. ``rows`` limits the answer to those rows.
        """
        _check_num_samples(num_samples)
        return self._missing(self._conn(), run_id, num_samples, include_failed, rows)

    def _missing(
        self,
        conn: sqlite3.Connection,
        run_id: str,
        num_samples: int,
        include_failed: bool,
        rows: Sequence[int] | None = None,
    ) -> list[tuple[int, str, int]]:
        n = self.num_prompts(run_id, conn)
        wanted = range(n) if rows is None else sorted({int(r) for r in rows if 0 <= r < n})
        if not wanted:
            return []
        where = "" if rows is None else f" AND row_index IN ({','.join('?' * len(wanted))})"
        cur = conn.execute(
            "SELECT row_index, kind, idx, error IS NOT NULL FROM generations "
            f"WHERE run_id = ? AND (kind = 'answer' OR idx < ?){where} "
            "ORDER BY row_index, kind, idx",
            (run_id, num_samples, *([] if rows is None else wanted)),
        )
        missing: list[tuple[int, str, int]] = []
        stored = itertools.groupby(cur, key=lambda r: r[0])
        nxt = next(stored, None)
        for row in wanted:
            present: set[tuple[str, int]] = set()
            if nxt is not None and nxt[0] == row:
                present = {(k, i) for _, k, i, failed in nxt[1] if not (failed and include_failed)}
                nxt = next(stored, None)
            if (ANSWER, 0) not in present:
                missing.append((row, ANSWER, 0))
            missing.extend(
                (row, SAMPLE, j) for j in range(num_samples) if (SAMPLE, j) not in present
            )
        return missing

    def iter_sample_sets(self, run_id: str, num_samples: int | None = None) -> Iterator[SampleSet]:
        """Yield the run's :class:`SampleSet` s in row order, reading in blocks of rows.

        ``num_samples`` defaults to the bound :class:`GenerationSpec`'s, else to the
        largest sample index stored + 1. Each set has its answer and samples ``0 ..
        num_samples - 1`` (failed ones included, with ``error`` set); ``params`` is what
        :func:`~lmuq.generation.generate_sample_sets` records, when a spec is bound.

        Raises:
            IncompleteRunError: (before yielding anything) when a generation is missing.
        """
        with self.snapshot() as conn:
            self.num_prompts(run_id, conn)
            spec_row = self._run_row(conn, run_id)
            spec = (
                None if spec_row[1] is None else GenerationSpec.from_dict(json.loads(spec_row[1]))
            )
            if num_samples is None:
                if spec is not None:
                    num_samples = spec.num_samples
                else:
                    top = conn.execute(
                        "SELECT MAX(idx) FROM generations WHERE run_id = ? AND kind = 'sample'",
                        (run_id,),
                    ).fetchone()[0]
                    num_samples = 0 if top is None else int(top) + 1
            _check_num_samples(num_samples)
            missing = self._missing(conn, run_id, num_samples, include_failed=False)
            if missing:
                raise IncompleteRunError(run_id, missing)
            params = spec.sample_set_params(num_samples) if spec is not None else {}
            cur = conn.execute(
                "SELECT p.row_index, p.prompt, g.kind, g.idx, g.data "
                "FROM prompts p JOIN generations g "
                "ON g.run_id = p.run_id AND g.row_index = p.row_index "
                "WHERE p.run_id = ? AND (g.kind = 'answer' OR g.idx < ?) "
                "ORDER BY p.row_index, g.kind, g.idx",
                (run_id, num_samples),
            )
            cur.arraysize = _BLOCK_ROWS * (1 + num_samples)
            for _row, group in itertools.groupby(cur, key=lambda r: r[0]):
                records = list(group)
                prompt = records[0][1]
                answer = generation_from_json(records[0][4])
                samples = [generation_from_json(r[4]) for r in records[1:]]
                yield SampleSet(prompt=prompt, answer=answer, samples=samples, params=dict(params))

    def load_sample_sets(self, run_id: str, num_samples: int | None = None) -> list[SampleSet]:
        """All of the run's sample sets (see :meth:`iter_sample_sets`)."""
        return list(self.iter_sample_sets(run_id, num_samples))

    # -- scores and labels --------------------------------------------------------------

    def record_score(
        self,
        run_id: str,
        row: int,
        scorer: str,
        value: float | None,
        raw: Mapping[str, Any] | None = None,
        error: str | None = None,
    ) -> None:
        """Store one score (NaN and None are stored as NULL); replaces an earlier one."""
        self._record_scores(run_id, [(int(row), scorer, value, raw, error)])

    def record_scores(
        self, run_id: str, result: UQResult, rows: Sequence[int] | None = None
    ) -> int:
        """Store every score of a :class:`~lmuq.results.UQResult` in one transaction.

        Result row ``i`` is run row ``rows[i]`` (default: ``i``, and then the result must
        cover the whole run). Each result prompt must equal the run's prompt of that row,
        so scores never land on the wrong row. For each scorer: its confidence (NaN ->
        NULL), its raw-value columns (from the scorer's spec) as JSON, and its error from
        ``score_errors``. Returns the number of scores written.

        Raises:
            ValueError: when the rows or prompts do not match the run.
        """
        n_result = len(result)
        n = self.num_prompts(run_id)
        if rows is None:
            if n_result != n:
                raise ValueError(
                    f"the result has {n_result} rows and run {run_id!r} has {n}; pass rows="
                )
            rows = range(n)
        rows = [int(r) for r in rows]
        if len(rows) != n_result:
            raise ValueError(f"rows has {len(rows)} entries for {n_result} result rows")
        stored_prompts = self.load_prompts(run_id, rows)
        for i, (given, stored) in enumerate(
            zip(result.columns["prompt"], stored_prompts, strict=True)
        ):
            if given != stored:
                raise ValueError(
                    f"result row {i} has prompt {given[:60]!r} but run {run_id!r} row "
                    f"{rows[i]} is {stored[:60]!r}"
                )
        raw_columns = result.raw_columns
        errors = result.columns.get("score_errors") or [{} for _ in range(n_result)]
        items = []
        for i, row in enumerate(rows):
            for scorer in result.scorers:
                raw = {
                    c: result.columns[c][i]
                    for c in raw_columns.get(scorer, ())
                    if c in result.columns
                }
                items.append(
                    (row, scorer, result.columns[scorer][i], raw, (errors[i] or {}).get(scorer))
                )
        return self._record_scores(run_id, items)

    def _record_scores(
        self,
        run_id: str,
        items: Iterable[tuple[int, str, Any, Mapping[str, Any] | None, str | None]],
    ) -> int:
        now = time.time()
        batch = []
        for row, scorer, value, raw, error in items:
            if not isinstance(scorer, str) or not scorer:
                raise ValueError(f"a scorer name must be a non-empty str, got {scorer!r}")
            v = None if value is None else float(value)
            if v is not None and not math.isfinite(v):
                v = None
            raw_json = json_dumps(json_ready(dict(raw))) if raw else None
            batch.append((run_id, row, scorer, v, raw_json, error, now))
        return self._write_rows(run_id, _UPSERT_SCORE, batch)

    def load_scores(self, run_id: str, *, wide: bool = True):
        """The run's scores as a pandas DataFrame.

        ``wide`` (default): one row per prompt row (all rows of the run, in order), columns
        ``row``, ``prompt``, one per scorer (NaN where missing or failed), the raw-value
        columns, and ``score_errors`` (a dict scorer -> reason). Otherwise the long form:
        one row per stored score with ``row``, ``scorer``, ``value``, ``raw`` (dict),
        ``error``.
        """
        import pandas as pd

        conn = self._conn()
        self.num_prompts(run_id, conn)
        long = [
            {
                "row": r,
                "scorer": s,
                "value": math.nan if v is None else v,
                "raw": {} if raw is None else json.loads(raw),
                "error": e,
            }
            for r, s, v, raw, e in conn.execute(
                "SELECT row_index, scorer, value, raw, error FROM scores WHERE run_id = ? "
                "ORDER BY row_index, rowid",
                (run_id,),
            )
        ]
        if not wide:
            return pd.DataFrame(long, columns=["row", "scorer", "value", "raw", "error"])
        prompts = self.load_prompts(run_id)
        table: list[dict[str, Any]] = [
            {"row": i, "prompt": p, "score_errors": {}} for i, p in enumerate(prompts)
        ]
        scorers = list(dict.fromkeys(rec["scorer"] for rec in long))
        raws = list(dict.fromkeys(k for rec in long for k in rec["raw"]))
        for rec in long:
            out = table[rec["row"]]
            out[rec["scorer"]] = rec["value"]
            for k, v in rec["raw"].items():
                out[k] = math.nan if v is None else v
            if rec["error"] is not None:
                out["score_errors"][rec["scorer"]] = rec["error"]
        columns = ["row", "prompt", *scorers, *[r for r in raws if r not in scorers]]
        columns.append("score_errors")
        return pd.DataFrame(table, columns=columns)

    def record_labels(
        self, run_id: str, labels: Sequence[bool | None] | Mapping[int, bool | None]
    ) -> int:
        """Store correctness labels (one transaction): a sequence for rows ``0..``, or a
        mapping row -> label. ``None`` records "unknown". Replaces earlier labels."""
        pairs = labels.items() if isinstance(labels, Mapping) else enumerate(labels)
        now = time.time()
        batch = []
        for row, label in pairs:
            if label is None or (isinstance(label, float) and math.isnan(label)):
                value = None
            elif isinstance(label, (bool, np.bool_)) or label in (0, 1):
                value = int(bool(label))
            else:
                raise ValueError(f"label of row {row} must be a bool or None, got {label!r}")
            batch.append((run_id, int(row), value, now))
        self._write_rows(run_id, _UPSERT_LABEL, batch)
        return len(batch)

    def load_labels(self, run_id: str) -> list[bool | None]:
        """One label per row of the run (None where unlabelled or unknown)."""
        conn = self._conn()
        out: list[bool | None] = [None] * self.num_prompts(run_id, conn)
        for row, correct in conn.execute(
            "SELECT row_index, correct FROM labels WHERE run_id = ?", (run_id,)
        ):
            out[row] = None if correct is None else bool(correct)
        return out

    # -- export -------------------------------------------------------------------------

    def export(self, run_id: str, path: str | os.PathLike[str]) -> Path:
        """Write the run to ``path``; the format follows the suffix (see
        :func:`lmuq.storage.export.export_run`)."""
        from lmuq.storage.export import export_run

        return export_run(self, run_id, path)
