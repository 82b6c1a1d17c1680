"""Sentence embeddings on disk, shared by runs and processes.

:class:`PersistentEmbeddingCache` *is* the mapping that
:class:`~lmuq.statistics.embeddings.SentenceEmbedder` takes as ``cache=``: keys
``(model name, text)``, values float32 embeddings, in an SQLite file (by default
``cache_dir()/"stats"/"embeddings.sqlite3"``). Writes are buffered (``flush_every``
entries) and flushed on :meth:`flush`, :meth:`close`, exiting a ``with`` block, garbage
collection and interpreter exit; a process killed with SIGKILL loses at most the buffered
entries, which are recomputed next time.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any

import numpy as np

from lmuq.storage.cache_file import ContentHash, PersistentCache, embedding_key

__all__ = ["PersistentEmbeddingCache"]


class PersistentEmbeddingCache(PersistentCache, MutableMapping):
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
