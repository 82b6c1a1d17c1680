"""The NLI pair cache every NLI scorer reads: each distinct pair runs through the model once.

:class:`CachedNLI` wraps any :class:`~lmuq.statistics.nli.NLIModel`. Each
``predict_proba`` call de-duplicates the requested pairs, serves those already stored, and
sends the missing distinct pairs to the model in one call (or in chunks of ``batch_size``).
Where the pairs are kept is a *pair store*: :class:`MemoryPairStore` (the default, this
process) or :class:`~lmuq.storage.nli_cache.PersistentNLICache` (an SQLite file shared by
runs and processes). Keys are ``(model name, pair_key(premise, hypothesis))``, so long texts
never sit in a key and two models never share results.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from lmuq.statistics.nli import NLIModel, check_pairs

__all__ = ["CachedNLI", "MemoryPairStore", "PairStore", "pair_key"]


def pair_key(premise: str, hypothesis: str) -> bytes:
    """blake2b-128 of a (premise, hypothesis) pair; the premise is length-prefixed so that
    ``("ab", "c")`` and ``("a", "bc")`` differ."""
    h = hashlib.blake2b(digest_size=16)
    p = premise.encode("utf-8", "surrogatepass")
    h.update(len(p).to_bytes(8, "little"))
    h.update(p)
    h.update(hypothesis.encode("utf-8", "surrogatepass"))
    return h.digest()


@runtime_checkable
class PairStore(Protocol):
    """Where a :class:`CachedNLI` keeps pair probabilities, per model name."""

    def get(self, model: str, premise: str, hypothesis: str) -> np.ndarray | None: ...

    def get_many(
        self, model: str, premises: Sequence[str], hypotheses: Sequence[str]
    ) -> list[np.ndarray | None]: ...

    def put_many(
        self, model: str, premises: Sequence[str], hypotheses: Sequence[str], probs: np.ndarray
    ) -> None: ...

    def count(self, model: str) -> int: ...

    def clear(self, model: str | None = None) -> None: ...


class MemoryPairStore:
    """Pair probabilities in this process's memory (read-only arrays), never evicted."""

    def __init__(self) -> None:
        self._values: dict[tuple[str, bytes], np.ndarray] = {}

    def get(self, model: str, premise: str, hypothesis: str) -> np.ndarray | None:
        return self._values.get((model, pair_key(premise, hypothesis)))

    def get_many(
        self, model: str, premises: Sequence[str], hypotheses: Sequence[str]
    ) -> list[np.ndarray | None]:
        return [self.get(model, p, h) for p, h in zip(premises, hypotheses, strict=True)]

    def put_many(
        self, model: str, premises: Sequence[str], hypotheses: Sequence[str], probs: np.ndarray
    ) -> None:
        for p, h, row in zip(premises, hypotheses, probs, strict=True):
            stored = np.array(row, dtype=np.float64)
            stored.flags.writeable = False
            self._values[(model, pair_key(p, h))] = stored

    def count(self, model: str) -> int:
        return sum(1 for m, _ in self._values if m == model)

    def clear(self, model: str | None = None) -> None:
        if model is None:
            self._values.clear()
        else:
            for key in [k for k in self._values if k[0] == model]:
                del self._values[key]


class CachedNLI:
    """Memoise an :class:`~lmuq.statistics.nli.NLIModel`'s pair probabilities.

    Args:
        model: the NLI model (its ``name`` is part of every key).
        batch_size: pairs per model call (None: all missing pairs in one call).
        store: where the pairs are kept (default: a new :class:`MemoryPairStore`).
        whole_batches: whether :meth:`fill_round` (the scoring engine's rounds) runs whole
            model batches only, leaving a round's partial batch to the next round. None
            (the default): when the model runs on an accelerator (its ``device`` is not
            ``"cpu"``), where a pass costs about the same however few pairs it holds. On a
            CPU the cost follows the padded tokens instead, and pairs left for later
            rounds pad more (measured on the benchmark workload: 36 passes instead of 40,
            but 5.6% more padded tokens; ``bench/README.md``).

    Counters, over the cache's lifetime: ``misses`` is the number of pairs computed by the
    wrapped model; ``hits`` the number of requested pairs served without computing (a
    repeat inside one call counts as a hit). ``hits + misses`` is the number of pairs
    requested. :meth:`clear` empties the cache and leaves the counters.
    """

    def __init__(
        self,
        model: NLIModel,
        batch_size: int | None = None,
        *,
        store: PairStore | None = None,
        whole_batches: bool | None = None,
    ) -> None:
        if not isinstance(model, NLIModel):
            raise TypeError(
                f"model must implement NLIModel (name, predict_proba), got {type(model).__name__}"
            )
        if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
            raise ValueError(f"batch_size must be None or an int >= 1, got {batch_size!r}")
        if whole_batches not in (None, True, False):
            raise TypeError(f"whole_batches must be None, True or False, got {whole_batches!r}")
        self.model = model
        self.batch_size = batch_size
        self.whole_batches = whole_batches
        self.store: Any = store if store is not None else MemoryPairStore()
        self.hits = 0
        self.misses = 0
        self._left: set[tuple[str, str]] = set()  # pairs fill_round left for the next round

    @property
    def name(self) -> str:
        return self.model.name

    def __len__(self) -> int:
        return self.store.count(self.name)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.model!r}, cached={len(self)}, hits={self.hits}, "
            f"misses={self.misses})"
        )

    def clear(self) -> None:
        """Forget every cached pair of this model (the hit/miss counters are kept)."""
        self.store.clear(self.name)

    def get(self, premise: str, hypothesis: str) -> np.ndarray | None:
        """The cached probabilities of one pair, or None; never computes, never counts."""
        return self.store.get(self.name, premise, hypothesis)

    def fill(self, pairs: Sequence[tuple[str, str]]) -> None:
        """Compute the given (premise, hypothesis) pairs not cached yet, in one model call
        (the scoring engine's batch; see :mod:`lmuq.statistics.missing`)."""
        if pairs:
            self.predict_proba([p for p, _ in pairs], [h for _, h in pairs])

    def fill_round(self, pairs: Sequence[tuple[str, str]]) -> None:
        """One planning round's fill: with :attr:`whole_batches`, the pairs in whole model
        batches only; otherwise :meth:`fill`.

        The pairs that would make up the round's last, partial batch (the shortest of those
        asked for the first time) are left for the next round, where they join the pairs
        the rows ask next: the sequential algorithms ask their pairs in dependent rounds,
        and a partial batch at the end of each round costs a whole forward pass on a GPU.
        A pair is left at most once (the ones left last round go first), and a round with
        no more than one batch computes all of it, so every round makes progress and the
        same pairs are computed as by :meth:`fill`.
        """
        whole = self.whole_batches
        if whole is None:
            whole = str(getattr(self.model, "device", "cpu")).split(":")[0] != "cpu"
        step = self.batch_size or getattr(self.model, "batch_size", None)
        if not whole or not isinstance(step, int) or step < 1:
            self.fill(pairs)
            return
        distinct = list(dict.fromkeys(pairs))
        found = self.store.get_many(self.name, [p for p, _ in distinct], [h for _, h in distinct])
        todo = [pair for pair, value in zip(distinct, found, strict=True) if value is None]
        if len(todo) <= step:
            self._left = set()
            self.fill(todo)
            return
        left_before = self._left
        # The pairs left last round first, then longest first: the shortest wait.
        todo.sort(key=lambda pair: (pair not in left_before, -len(pair[0]) - len(pair[1])))
        cut = len(todo) // step * step
        self._left = set(todo[cut:])
        self.fill(todo[:cut])

    def predict_proba(self, premises: Sequence[str], hypotheses: Sequence[str]) -> np.ndarray:
        """Probabilities ``(P, 3)`` in request order, computing only pairs not yet cached."""
        check_pairs(premises, hypotheses)
        premises, hypotheses = list(premises), list(hypotheses)
        if not premises:
            return np.zeros((0, 3), dtype=np.float64)
        name = self.model.name
        found = self.store.get_many(name, premises, hypotheses)
        keys = [pair_key(p, h) for p, h in zip(premises, hypotheses, strict=True)]
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
            self.store.put_many(name, ps, hs, probs)
            for (key, _), row in zip(chunk, probs, strict=True):
                stored = row.copy()
                stored.flags.writeable = False
                computed[key] = stored
        self.misses += len(missing)
        self.hits += len(keys) - len(missing)
        return np.stack(
            [v if v is not None else computed[k] for k, v in zip(keys, found, strict=True)]
        )
