"""The SQLite plumbing the run store and the persistent caches share.

* :func:`connect` opens a file in WAL mode with a busy timeout (several processes can read
  and write it at once; a writer waits for the lock instead of failing), with autocommit
  off so that every write is an explicit transaction;
* :func:`write_transaction` is one ``BEGIN IMMEDIATE`` ... ``COMMIT`` (the write lock taken
  up front, so two writers never deadlock on an upgrade), rolled back on any exception;
* :func:`schema_version` reads a file's ``meta`` table and refuses a newer schema or a
  foreign file with the caller's error.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

__all__ = ["connect", "schema_version", "write_transaction"]


def connect(
    path: Path,
    *,
    timeout: float,
    synchronous: str = "NORMAL",
    foreign_keys: bool = False,
    not_ours: Callable[[str], Exception],
) -> sqlite3.Connection:
    """An open connection to ``path`` (created when missing) in WAL mode.

    ``not_ours(message)`` makes the error raised when the file is not an SQLite database
    (a lock held by another process is raised as it is).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise not_ours(f"{path}: could not switch to WAL mode (got {mode!r})")
        conn.execute(f"PRAGMA synchronous = {synchronous}")
        if foreign_keys:
            conn.execute("PRAGMA foreign_keys = ON")
    except sqlite3.DatabaseError as exc:
        conn.close()
        if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
            raise
        raise not_ours(f"{path} is not an lmuq file (SQLite says: {exc})") from exc
    return conn


@contextmanager
def write_transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction on ``conn``: committed on success, rolled back on any error."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            with suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
        raise


def schema_version(
    conn: sqlite3.Connection,
    path: Path,
    newest: int,
    error: Callable[[str], Exception],
    what: str,
) -> int | None:
    """The file's ``schema_version`` (None for an empty file, ready for a new schema).

    Raises ``error(message)`` for a version newer than ``newest``, a ``meta`` table without
    a version, or a file with other tables (``what`` names the expected kind of file).
    """
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if "meta" not in tables:
        if tables:
            raise error(
                f"{path} is an SQLite file but not an lmuq {what} "
                f"(it has tables {sorted(tables)} and no meta table)"
            )
        return None
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    if row is None:
        raise error(f"{path} has a meta table but no schema_version")
    version = int(row[0])
    if version > newest:
        raise error(
            f"{path} was written with {what} schema version {version}; this lmuq reads "
            f"versions up to {newest}. Upgrade lmuq to open it."
        )
    if version < 1:
        raise error(f"{path} has an invalid schema_version {version}")
    return version
