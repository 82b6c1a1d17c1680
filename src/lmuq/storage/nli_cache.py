"""NLI pair probabilities on disk, shared by runs and processes.

:class:`PersistentNLICache` is a pair store (see :class:`~lmuq.statistics.nli_cache.PairStore`)
in an SQLite file (by default ``cache_dir()/"stats"/"nli.sqlite3"``);
:class:`PersistentCachedNLI` is a :class:`~lmuq.statistics.nli_cache.CachedNLI` that keeps
its pairs there, a drop-in wherever a ``CachedNLI`` or an NLI model is expected.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from lmuq.statistics.nli_cache import CachedNLI
from lmuq.storage.cache_file import PersistentCache, nli_pair_key

__all__ = ["PersistentCachedNLI", "PersistentNLICache"]


class PersistentNLICache(PersistentCache):
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


class PersistentCachedNLI(CachedNLI):
    """An NLI model whose pair probabilities are cached on disk: a drop-in ``CachedNLI``.

    Each ``predict_proba`` call deduplicates its pairs, serves the cached ones, sends the
    missing distinct pairs to the model (in chunks of ``batch_size`` when given) and stores
    them in one transaction. Counters like ``CachedNLI``'s: ``misses`` pairs computed,
    ``hits`` pairs served without computing (``get`` never counts); the cache's own
    :meth:`~PersistentNLICache.stats` counts every lookup.

    Args:
        model: the NLI model (its ``name`` is part of every key).
        cache: the persistent cache; default: a :class:`PersistentNLICache` at its default
            path.
        batch_size: pairs per model call (None: all missing pairs in one call).
        whole_batches: as for :class:`~lmuq.statistics.nli_cache.CachedNLI`.
    """

    def __init__(
        self,
        model: Any,
        cache: PersistentNLICache | None = None,
        batch_size: int | None = None,
        *,
        whole_batches: bool | None = None,
    ) -> None:
        super().__init__(
            model,
            batch_size,
            store=cache if cache is not None else PersistentNLICache(),
            whole_batches=whole_batches,
        )

    @property
    def cache(self) -> PersistentNLICache:
        """The persistent cache the pairs live in."""
        return self.store
