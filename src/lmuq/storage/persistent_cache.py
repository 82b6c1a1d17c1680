"""Persistent caches of NLI results and sentence embeddings, shared by runs and processes.

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

Adapters plug the caches in without changing the code that uses them:

* :class:`PersistentCachedNLI` wraps an NLI model like
  :class:`~lmuq.statistics.nli.CachedNLI` (``name``, ``predict_proba``, ``get``), so it can
  be passed wherever a ``CachedNLI`` or an NLI model is expected;
* :class:`PersistentEmbeddingCache` *is* the mapping that
  :class:`~lmuq.statistics.embeddings.SentenceEmbedder` takes as ``cache=``: keys
  ``(model name, text)``, values float32 embeddings.

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
from collections.abc import Iterator, MutableMapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "DEFAULT_MAX_BYTES",
    "CacheStats",
    "ContentHash",
    "PersistentCachedNLI",
    "PersistentEmbeddingCache",
    "PersistentNLICache",
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
    """blake2b-128 of a (premise, hypothesis) pair; the premise is length-prefixed so that
    ``("ab", "c")`` and ``("a", "bc")`` differ (the same key as the in-memory CachedNLI)."""
    h = hashlib.blake2b(digest_size=16)
    p = premise.encode("utf-8", "surrogatepass")
    h.update(len(p).to_bytes(8, "little"))
    h.update(p)
    h.update(hypothesis.encode("utf-8", "surrogatepass"))
    return ContentHash(h.digest())


def embedding_key(text: str) -> ContentHash:
    """blake2b-128 of a text."""
    return ContentHash(
        hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()
    )


def default_stats_dir() -> Path:
    """``cache_dir()/"stats"``: where the persistent caches live by default."""
    from lmuq.backends.default_model import cache_dir

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


class _CacheFile:
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
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(
            self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False
        )
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.DatabaseError as exc:
            conn.close()
            if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
                raise
            raise ValueError(f"{self.path} is not an lmuq cache file (SQLite: {exc})") from exc
        return conn

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
        with self.lock:
            conn = self.conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    with suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                raise

    def _init_schema(self, conn: sqlite3.Connection) -> None:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "meta" in tables:
            row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            version = None if row is None else int(row[0])
            if version is None or version > CACHE_SCHEMA_VERSION:
                raise ValueError(
                    f"{self.path} was written with cache schema version {version}; this lmuq "
                    f"reads versions up to {CACHE_SCHEMA_VERSION}. Upgrade lmuq, or use "
                    "another cache path."
                )
            row = conn.execute("SELECT value FROM meta WHERE key = 'dtype'").fetchone()
            if row is not None and row[0] != self.dtype.str:
                raise ValueError(
                    f"{self.path} holds {row[0]} arrays, not {self.dtype.str}: it is another "
                    "kind of cache"
                )
            return
        if tables:
            raise ValueError(f"{self.path} is an SQLite file but not an lmuq cache")
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


class _PersistentCache:
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
        self._file = _CacheFile(file, self._dtype, max_bytes, memory_bytes, flush_every, timeout)
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


class PersistentNLICache(_PersistentCache):
    """NLI pair probabilities ``(entailment, neutral, contradiction)`` on disk.

    Default file: ``cache_dir()/"stats"/"nli.sqlite3"``. Keys: ``(model name,
    nli_pair_key(premise, hypothesis))``; values: 3 float64. Writes go to the file at once
    (one transaction per :meth:`put_many`).

    Args:
        path: the cache file (default above).
        max_bytes: bound on the stored entries' bytes (least recently used evicted first).
        memory_bytes: bound on the in-process layer.
        flush_every: reads between writes of their last-used times.
        timeout: seconds a write waits for another process's lock.
    """

    _dtype = np.float64
    _filename = "nli.sqlite3"

    def get_many(
        self, model: str, premises: Sequence[str], hypotheses: Sequence[str]
    ) -> list[np.ndarray | None]:
        """Cached probabilities per pair (None where absent); counts hits and misses."""
        keys = [nli_pair_key(p, h) for p, h in zip(premises, hypotheses, strict=True)]
        return self._file.get_many(model, keys)

    def get(self, model: str, premise: str, hypothesis: str) -> np.ndarray | None:
        """The cached probabilities of one pair, or None (counts a hit or a miss)."""
        return self.get_many(model, [premise], [hypothesis])[0]

    def put_many(
        self,
        model: str,
        premises: Sequence[str],
        hypotheses: Sequence[str],
        probs: np.ndarray,
    ) -> None:
        """Store ``probs`` (shape ``(P, 3)``) for the pairs, in one transaction."""
        probs = np.asarray(probs, dtype=np.float64)
        if probs.shape != (len(premises), 3) or len(premises) != len(hypotheses):
            raise ValueError(
                f"expected probabilities of shape ({len(premises)}, 3) for {len(premises)} "
                f"premises and {len(hypotheses)} hypotheses, got {probs.shape}"
            )
        items = [
            (nli_pair_key(p, h), row) for p, h, row in zip(premises, hypotheses, probs, strict=True)
        ]
        self._file.put_many(model, items, now=True)

    def put(self, model: str, premise: str, hypothesis: str, probs: np.ndarray) -> None:
        """Store one pair's probabilities."""
        self.put_many(model, [premise], [hypothesis], np.asarray(probs).reshape(1, 3))

    def count(self, model: str) -> int:
        """Entries stored for ``model``."""
        return self._file.count(model)


class PersistentEmbeddingCache(_PersistentCache, MutableMapping):
    """Sentence embeddings on disk, as the mapping ``SentenceEmbedder(cache=...)`` takes.

    Keys are ``(model name, text)`` (or ``(model name, ContentHash)``, which iteration
    yields, since texts are stored only as hashes); values are 1-D float32 arrays,
    returned read-only. ``in`` and :meth:`get` count hits and misses (``SentenceEmbedder``
    asks ``in`` once per text). Writes are buffered (``flush_every`` entries; see the
    module docstring). Default file: ``cache_dir()/"stats"/"embeddings.sqlite3"``.
    """

    _dtype = np.float32
    _filename = "embeddings.sqlite3"

    @staticmethod
    def _split(key: Any) -> tuple[str, ContentHash]:
        if not (isinstance(key, tuple) and len(key) == 2 and isinstance(key[0], str)):
            raise KeyError(key)
        model, text = key
        if isinstance(text, ContentHash):
            return model, text
        if not isinstance(text, str):
            raise KeyError(key)
        return model, embedding_key(text)

    def _lookup(self, key: Any, count: bool) -> np.ndarray | None:
        try:
            model, digest = self._split(key)
        except KeyError:
            return None
        return self._file.get_many(model, [digest], count=count)[0]

    def __getitem__(self, key: Any) -> np.ndarray:
        value = self._lookup(key, count=False)
        if value is None:
            raise KeyError(key)
        return value

    def get(self, key: Any, default: Any = None) -> Any:
        value = self._lookup(key, count=True)
        return default if value is None else value

    def __contains__(self, key: object) -> bool:
        return self._lookup(key, count=True) is not None

    def __setitem__(self, key: Any, value: np.ndarray) -> None:
        model, digest = self._split(key)
        arr = np.asarray(value, dtype=np.float32)
        if arr.ndim != 1:
            raise ValueError(f"an embedding must be 1-D, got shape {arr.shape}")
        self._file.put_many(model, [(digest, arr)], now=False)

    def __delitem__(self, key: Any) -> None:
        model, digest = self._split(key)
        if not self._file.delete(model, digest):
            raise KeyError(key)

    def __iter__(self) -> Iterator[tuple[str, ContentHash]]:
        return self._file.iter_keys()

    def __len__(self) -> int:
        return self._file.totals()[0]

    def count(self, model: str) -> int:
        """Entries stored for ``model``."""
        return self._file.count(model)


class PersistentCachedNLI:
    """An NLI model whose pair probabilities are cached on disk: a drop-in ``CachedNLI``.

    It implements the :class:`~lmuq.statistics.nli.NLIModel` protocol (``name``,
    ``predict_proba``) and ``CachedNLI``'s ``get(premise, hypothesis)``, which is what
    :class:`~lmuq.statistics.nli_view.NLIView` and the scoring driver call. Each
    ``predict_proba`` call deduplicates its pairs, serves the cached ones, sends the
    missing distinct pairs to the model (in chunks of ``batch_size`` when given) and
    stores them in one transaction.

    Counters like ``CachedNLI``'s: ``misses`` pairs computed, ``hits`` pairs served without
    computing (``get`` never counts). The cache's own :meth:`~PersistentNLICache.stats`
    counts every lookup.

    Args:
        model: the NLI model (its ``name`` is part of every key).
        cache: the persistent cache; default: a :class:`PersistentNLICache` at its default
            path.
        batch_size: pairs per model call (None: all missing pairs in one call).
    """

    def __init__(
        self,
        model: Any,
        cache: PersistentNLICache | None = None,
        batch_size: int | None = None,
    ) -> None:
        if not (hasattr(model, "name") and callable(getattr(model, "predict_proba", None))):
            raise TypeError(
                f"model must implement NLIModel (name, predict_proba), got {type(model).__name__}"
            )
        if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
            raise ValueError(f"batch_size must be None or an int >= 1, got {batch_size!r}")
        self.model = model
        self.cache = cache if cache is not None else PersistentNLICache()
        self.batch_size = batch_size
        self.hits = 0
        self.misses = 0

    @property
    def name(self) -> str:
        return self.model.name

    def __len__(self) -> int:
        return self.cache.count(self.name)

    def __repr__(self) -> str:
        return (
            f"PersistentCachedNLI({self.model!r}, cache={self.cache!r}, hits={self.hits}, "
            f"misses={self.misses})"
        )

    def clear(self) -> None:
        """Forget this model's cached pairs (the counters are kept)."""
        self.cache.clear(self.name)

    def get(self, premise: str, hypothesis: str) -> np.ndarray | None:
        """The cached probabilities of one pair, or None; never computes."""
        return self.cache.get(self.name, premise, hypothesis)

    def fill(self, pairs: Sequence[tuple[str, str]]) -> None:
        """Compute the given (premise, hypothesis) pairs not cached yet, in one model call
        (the scoring engine's batch; see :mod:`lmuq.statistics.missing`)."""
        if pairs:
            self.predict_proba([p for p, _ in pairs], [h for _, h in pairs])

    def predict_proba(self, premises: Sequence[str], hypotheses: Sequence[str]) -> np.ndarray:
        """Probabilities ``(P, 3)`` in request order, computing only pairs not cached."""
        _check_pairs(premises, hypotheses)
        name = self.model.name
        premises, hypotheses = list(premises), list(hypotheses)
        if not premises:
            return np.zeros((0, 3), dtype=np.float64)
        found = self.cache.get_many(name, premises, hypotheses)
        keys = [nli_pair_key(p, h) for p, h in zip(premises, hypotheses, strict=True)]
        missing: dict[bytes, tuple[str, str]] = {}
        for key, value, p, h in zip(keys, found, premises, hypotheses, strict=True):
            if value is None and key not in missing:
                missing[key] = (p, h)
        computed: dict[bytes, np.ndarray] = {}
        todo = list(missing.items())
        step = self.batch_size or len(todo) or 1
        for start in range(0, len(todo), step):
            chunk = todo[start : start + step]
            ps = [p for _, (p, _) in chunk]
            hs = [h for _, (_, h) in chunk]
            probs = np.asarray(self.model.predict_proba(ps, hs), dtype=np.float64)
            if probs.shape != (len(chunk), 3):
                raise ValueError(
                    f"{name!r}.predict_proba returned shape {probs.shape} for {len(chunk)} "
                    f"pairs; expected ({len(chunk)}, 3)"
                )
            self.cache.put_many(name, ps, hs, probs)
            for (key, _), row in zip(chunk, probs, strict=True):
                stored = row.copy()
                stored.flags.writeable = False
                computed[key] = stored
        self.misses += len(missing)
        self.hits += len(keys) - len(missing)
        return np.stack(
            [v if v is not None else computed[k] for k, v in zip(keys, found, strict=True)]
        )


def _check_pairs(premises: Sequence[str], hypotheses: Sequence[str]) -> None:
    for what, texts in (("premises", premises), ("hypotheses", hypotheses)):
        if isinstance(texts, (str, bytes)):
            raise TypeError(f"{what} must be a sequence of strings, not a single string")
    if len(premises) != len(hypotheses):
        raise ValueError(
            f"premises and hypotheses must have the same length, got {len(premises)} "
            f"and {len(hypotheses)}"
        )
    for what, texts in (("premises", premises), ("hypotheses", hypotheses)):
        for i, t in enumerate(texts):
            if not isinstance(t, str):
                raise TypeError(f"{what}[{i}] must be a str, got {type(t).__name__}: {t!r}")
