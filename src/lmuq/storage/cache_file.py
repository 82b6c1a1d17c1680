"""The file behind lmuq's persistent caches of NLI results and sentence embeddings.

NLI probabilities and embeddings are pure functions of (model, text): computed once, they
can serve every later run. :class:`PersistentNLICache` and :class:`PersistentEmbeddingCache`
keep them in an SQLite file (by default under ``cache_dir()/"stats"``, see
:func:`lmuq.backends.default_model.cache_dir`), keyed by ``(model name, blake2b content
hash)`` so that long texts never sit in a key. Values are float arrays stored as bytes:
float64 for NLI (entailment, neutral, contradiction), float32 for embeddings.

* **Size bound.** ``max_bytes`` bounds the bytes of the stored entries (key, model name and
  value; SQLite's page overhead comes on top). Each entry records when it was last used;
  every write transaction evicts the least-recently-used entries beyond the bound, so the
  store never stays above it after a write. Reads update the last-used times in batches
  (with the next write, every ``flush_every`` reads, or on :meth:`flush`).
* **Shared.** The file is in WAL mode with a busy timeout: several processes can read and
  write it at once.
* **Bounded memory.** A small in-process LRU layer (``memory_bytes``) serves repeated
  lookups without touching the file.
* :meth:`clear` empties the cache (or one model's entries); :meth:`stats` reports entries,
  bytes, and this object's hits and misses.

The caches themselves: :class:`~lmuq.storage.nli_cache.PersistentNLICache` (a pair store
for :class:`~lmuq.statistics.nli_cache.CachedNLI`) and
:class:`~lmuq.storage.embedding_cache.PersistentEmbeddingCache` (the mapping
:class:`~lmuq.statistics.embeddings.SentenceEmbedder` takes as ``cache=``).

Embedding writes are buffered (``flush_every`` entries) and flushed on :meth:`flush`,
:meth:`close`, exiting a ``with`` block, garbage collection and interpreter exit; a process
killed with SIGKILL loses at most the buffered entries, which are recomputed next time.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lmuq.paths import cache_dir
from lmuq.statistics.nli_cache import pair_key
from lmuq.storage.sqlite import connect, schema_version, write_transaction

__all__ = [
    "DEFAULT_MAX_BYTES",
    "CacheFile",
    "CacheStats",
    "ContentHash",
    "PersistentCache",
    "default_stats_dir",
    "embedding_key",
    "nli_pair_key",
]

#: Schema of the cache files written (and the newest read) by this lmuq.
CACHE_SCHEMA_VERSION = 1
#: Default bound on each cache file's entries: 512 MiB.
DEFAULT_MAX_BYTES = 512 * 1024**2
_DEFAULT_MEMORY_BYTES = 32 * 1024**2
_SQL_CHUNK = 500

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS entries (
        model TEXT NOT NULL,
        key BLOB NOT NULL,
        value BLOB NOT NULL,
        nbytes INTEGER NOT NULL,
        last_used INTEGER NOT NULL,
        PRIMARY KEY (model, key)
    ) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS entries_last_used ON entries (last_used)",
    """CREATE TABLE IF NOT EXISTS totals (
        id INTEGER PRIMARY KEY CHECK (id = 0),
        entries INTEGER NOT NULL,
        bytes INTEGER NOT NULL
    )""",
    "INSERT OR IGNORE INTO totals (id, entries, bytes) VALUES (0, 0, 0)",
    """CREATE TRIGGER IF NOT EXISTS entries_insert AFTER INSERT ON entries BEGIN
        UPDATE totals SET entries = entries + 1, bytes = bytes + NEW.nbytes WHERE id = 0;
    END""",
    """CREATE TRIGGER IF NOT EXISTS entries_delete AFTER DELETE ON entries BEGIN
        UPDATE totals SET entries = entries - 1, bytes = bytes - OLD.nbytes WHERE id = 0;
    END""",
    """CREATE TRIGGER IF NOT EXISTS entries_update AFTER UPDATE OF nbytes ON entries BEGIN
        UPDATE totals SET bytes = bytes - OLD.nbytes + NEW.nbytes WHERE id = 0;
    END""",
)

_UPSERT = """
INSERT INTO entries (model, key, value, nbytes, last_used) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (model, key) DO UPDATE SET
    value = excluded.value, nbytes = excluded.nbytes, last_used = excluded.last_used
"""

# Keep the most recently used entries whose running total fits; delete the rest.
_EVICT = """
DELETE FROM entries WHERE (model, key) IN (
    SELECT model, key FROM (
        SELECT model, key, SUM(nbytes) OVER (
            ORDER BY last_used DESC, model, key ROWS UNBOUNDED PRECEDING
        ) AS running FROM entries
    ) WHERE running > ?
)
"""


class ContentHash(bytes):
    """A content hash standing for a text in a cache key (what iteration yields)."""


def nli_pair_key(premise: str, hypothesis: str) -> ContentHash:
    """:func:`lmuq.statistics.nli_cache.pair_key` as a :class:`ContentHash` (the in-memory
    and the persistent NLI caches key pairs alike)."""
    return ContentHash(pair_key(premise, hypothesis))


def embedding_key(text: str) -> ContentHash:
    """blake2b-128 of a text."""
    return ContentHash(
        hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()
    )


def default_stats_dir() -> Path:
    """``cache_dir()/"stats"``: where the persistent caches live by default."""
    return cache_dir() / "stats"


@dataclass(frozen=True)
class CacheStats:
    """What a persistent cache holds, and how this object has used it.

    ``entries`` and ``bytes`` are the file's (all processes); ``hits`` and ``misses`` count
    this object's lookups; ``file_bytes`` is the size on disk (database plus WAL).
    """

    path: str
    entries: int
    bytes: int
    max_bytes: int
    hits: int
    misses: int
    file_bytes: int


class CacheFile:
    """The SQLite file behind a persistent cache: connection, write buffer, memory layer.

    Separate from the public objects so that a ``weakref.finalize`` can flush it at garbage
    collection or interpreter exit without keeping the public object alive.
    """

    def __init__(
        self,
        path: Path,
        dtype: type,
        max_bytes: int,
        memory_bytes: int,
        flush_every: int,
        timeout: float,
    ) -> None:
        self.path = path
        self.dtype = np.dtype(dtype)
        self.max_bytes = max_bytes
        self.memory_bytes = memory_bytes
        self.flush_every = flush_every
        self.timeout = timeout
        self.lock = threading.RLock()
        self.memory: OrderedDict[tuple[str, bytes], np.ndarray] = OrderedDict()
        self.memory_used = 0
        self.pending: dict[tuple[str, bytes], np.ndarray] = {}
        self.touched: dict[tuple[str, bytes], int] = {}
        self.hits = 0
        self.misses = 0
        self.closed = False
        self.pid = os.getpid()
        self.conn = self._connect()
        with self.write() as conn:
            self._init_schema(conn)

    # -- connection -----------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        return connect(self.path, timeout=self.timeout, not_ours=ValueError)

    def _check(self) -> None:
        if self.closed:
            raise ValueError(f"the cache {self.path} is closed")
        if os.getpid() != self.pid:  # forked: the parent owns the old connection and buffer
            self.conn = self._connect()
            self.pending.clear()
            self.touched.clear()
            self.pid = os.getpid()

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        with self.lock, write_transaction(self.conn) as conn:
            yield conn

    def _init_schema(self, conn: sqlite3.Connection) -> None:
        version = schema_version(conn, self.path, CACHE_SCHEMA_VERSION, ValueError, "cache")
        if version is not None:
            row = conn.execute("SELECT value FROM meta WHERE key = 'dtype'").fetchone()
            if row is not None and row[0] != self.dtype.str:
                raise ValueError(
                    f"{self.path} holds {row[0]} arrays, not {self.dtype.str}: it is another "
                    "kind of cache"
                )
            return
        for statement in _SCHEMA:
            conn.execute(statement)
        conn.executemany(
            "INSERT INTO meta (key, value) VALUES (?, ?)",
            [("schema_version", str(CACHE_SCHEMA_VERSION)), ("dtype", self.dtype.str)],
        )

    # -- memory layer ---------------------------------------------------------------------

    def _remember(self, key: tuple[str, bytes], value: np.ndarray) -> None:
        old = self.memory.pop(key, None)
        if old is not None:
            self.memory_used -= old.nbytes
        if value.nbytes > self.memory_bytes:
            return
        self.memory[key] = value
        self.memory_used += value.nbytes
        while self.memory_used > self.memory_bytes:
            _, dropped = self.memory.popitem(last=False)
            self.memory_used -= dropped.nbytes

    def _forget(self, key: tuple[str, bytes]) -> None:
        old = self.memory.pop(key, None)
        if old is not None:
            self.memory_used -= old.nbytes
        self.pending.pop(key, None)
        self.touched.pop(key, None)

    def _array(self, blob: bytes) -> np.ndarray:
        return np.frombuffer(blob, dtype=self.dtype)  # read-only, like the in-memory caches

    # -- reads ----------------------------------------------------------------------------

    def get_many(self, model: str, keys: Sequence[bytes], count: bool = True) -> list:
        """The cached arrays of ``keys`` (None where absent), marking each found one used."""
        with self.lock:
            self._check()
            out: list[np.ndarray | None] = [None] * len(keys)
            lookup: dict[bytes, list[int]] = {}
            now = time.time_ns()
            for i, key in enumerate(keys):
                full = (model, bytes(key))
                value = self.pending.get(full)
                if value is None:
                    value = self.memory.get(full)
                    if value is not None:
                        self.memory.move_to_end(full)
                if value is None:
                    lookup.setdefault(bytes(key), []).append(i)
                else:
                    out[i] = value
                    self.touched[full] = now
            wanted = list(lookup)
            for start in range(0, len(wanted), _SQL_CHUNK):
                chunk = wanted[start : start + _SQL_CHUNK]
                marks = ",".join("?" * len(chunk))
                for key, blob in self.conn.execute(
                    f"SELECT key, value FROM entries WHERE model = ? AND key IN ({marks})",
                    (model, *chunk),
                ):
                    value = self._array(blob)
                    full = (model, bytes(key))
                    self._remember(full, value)
                    self.touched[full] = now
                    for i in lookup[bytes(key)]:
                        out[i] = value
            if count:
                found = sum(v is not None for v in out)
                self.hits += found
                self.misses += len(keys) - found
            if len(self.touched) >= self.flush_every * 4:
                self.flush()
            return out

    # -- writes ---------------------------------------------------------------------------

    def put_many(self, model: str, items: Sequence[tuple[bytes, np.ndarray]], now: bool) -> None:
        """Store arrays; written at once when ``now``, else buffered until the next flush."""
        with self.lock:
            self._check()
            for key, value in items:
                arr = np.ascontiguousarray(value, dtype=self.dtype)
                arr.setflags(write=False)
                full = (model, bytes(key))
                self.pending[full] = arr
                self._remember(full, arr)
            if now or len(self.pending) >= self.flush_every:
                self.flush()

    def flush(self) -> None:
        """Write buffered entries and last-used times, then evict beyond ``max_bytes``
        (one transaction)."""
        with self.lock:
            if self.closed or os.getpid() != self.pid:
                return
            if not self.pending and not self.touched:
                return
            pending, self.pending = self.pending, {}
            touched, self.touched = self.touched, {}
            stamp = time.time_ns()
            try:
                with self.write() as conn:
                    conn.executemany(
                        "UPDATE entries SET last_used = MAX(last_used, ?) "
                        "WHERE model = ? AND key = ?",
                        ((t, m, k) for (m, k), t in touched.items() if (m, k) not in pending),
                    )
                    conn.executemany(
                        _UPSERT,
                        (
                            (m, k, v.tobytes(), len(k) + len(m.encode()) + v.nbytes, stamp)
                            for (m, k), v in pending.items()
                        ),
                    )
                    self._evict(conn)
            except BaseException:
                for key, value in pending.items():  # keep them for the next try
                    self.pending.setdefault(key, value)
                raise

    def _evict(self, conn: sqlite3.Connection) -> None:
        total = conn.execute("SELECT bytes FROM totals WHERE id = 0").fetchone()[0]
        if total > self.max_bytes:
            conn.execute(_EVICT, (self.max_bytes,))
            # Entries evicted here may still sit in this process's memory layer; that is
            # fine (they are still correct), and other processes never see them.

    def delete(self, model: str, key: bytes) -> bool:
        with self.lock:
            self._check()
            self._forget((model, bytes(key)))
            with self.write() as conn:
                cur = conn.execute(
                    "DELETE FROM entries WHERE model = ? AND key = ?", (model, bytes(key))
                )
                return cur.rowcount > 0

    def clear(self, model: str | None = None) -> None:
        with self.lock:
            self._check()
            if model is None:
                self.pending.clear()
                self.touched.clear()
                self.memory.clear()
                self.memory_used = 0
                with self.write() as conn:
                    conn.execute("DELETE FROM entries")
                with suppress(sqlite3.OperationalError):  # busy readers: shrink next time
                    self.conn.execute("VACUUM")
                    self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                return
            for key in [k for k in (*self.memory, *self.pending, *self.touched) if k[0] == model]:
                self._forget(key)
            with self.write() as conn:
                conn.execute("DELETE FROM entries WHERE model = ?", (model,))

    # -- inspection -----------------------------------------------------------------------

    def totals(self) -> tuple[int, int]:
        with self.lock:
            self._check()
            self.flush()
            entries, nbytes = self.conn.execute(
                "SELECT entries, bytes FROM totals WHERE id = 0"
            ).fetchone()
            return int(entries), int(nbytes)

    def count(self, model: str) -> int:
        with self.lock:
            self._check()
            self.flush()
            return int(
                self.conn.execute(
                    "SELECT COUNT(*) FROM entries WHERE model = ?", (model,)
                ).fetchone()[0]
            )

    def iter_keys(self) -> Iterator[tuple[str, ContentHash]]:
        with self.lock:
            self._check()
            self.flush()
            keys = self.conn.execute("SELECT model, key FROM entries ORDER BY model, key")
            rows = keys.fetchall()
        for model, key in rows:
            yield model, ContentHash(key)

    def stats(self) -> CacheStats:
        entries, nbytes = self.totals()
        file_bytes = sum(
            p.stat().st_size
            for p in (self.path, self.path.with_name(self.path.name + "-wal"))
            if p.exists()
        )
        return CacheStats(
            path=str(self.path),
            entries=entries,
            bytes=nbytes,
            max_bytes=self.max_bytes,
            hits=self.hits,
            misses=self.misses,
            file_bytes=file_bytes,
        )

    def close(self) -> None:
        with self.lock:
            if self.closed:
                return
            with suppress(sqlite3.Error):
                self.flush()
            self.closed = True
            if os.getpid() == self.pid:
                self.conn.close()


class PersistentCache:
    """What both caches share: the file, its bounds, and clear / stats / flush / close."""

    _dtype: type = np.float64
    _filename = "cache.sqlite3"

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        memory_bytes: int = _DEFAULT_MEMORY_BYTES,
        flush_every: int = 256,
        timeout: float = 60.0,
    ) -> None:
        if not isinstance(max_bytes, int) or isinstance(max_bytes, bool) or max_bytes < 1:
            raise ValueError(f"max_bytes must be an int >= 1, got {max_bytes!r}")
        if not isinstance(memory_bytes, int) or memory_bytes < 0:
            raise ValueError(f"memory_bytes must be an int >= 0, got {memory_bytes!r}")
        if not isinstance(flush_every, int) or flush_every < 1:
            raise ValueError(f"flush_every must be an int >= 1, got {flush_every!r}")
        file = Path(path).expanduser() if path is not None else default_stats_dir() / self._filename
        self._file = CacheFile(file, self._dtype, max_bytes, memory_bytes, flush_every, timeout)
        self._finalizer = weakref.finalize(self, self._file.close)

    @property
    def path(self) -> Path:
        return self._file.path

    @property
    def max_bytes(self) -> int:
        return self._file.max_bytes

    @property
    def hits(self) -> int:
        return self._file.hits

    @property
    def misses(self) -> int:
        return self._file.misses

    def stats(self) -> CacheStats:
        """Entries and bytes in the file; this object's hits and misses."""
        return self._file.stats()

    def clear(self, model: str | None = None) -> None:
        """Delete every entry (and shrink the file), or only ``model``'s entries."""
        self._file.clear(model)

    def flush(self) -> None:
        """Write buffered entries and last-used times now."""
        self._file.flush()

    def close(self) -> None:
        """Flush and close the file (also done at garbage collection and exit)."""
        self._finalizer()

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r}, max_bytes={self.max_bytes})"
