"""How a pure scorer asks for a statistic that has not been computed yet.

Scorers read shared statistics through lookups (an NLI pair's probabilities, a judge's reply
to a prompt). In *planning* mode a lookup that misses raises :class:`MissingStatistics`
naming its *source* (the cache that can compute it) and the keys it lacks, instead of
computing on the spot. The scoring engine replays every (row, scorer) in planning mode,
gathers the missing keys of all rows by source, has each source :meth:`fill` them in one
batched call, and replays until nothing is missing: sequential algorithms (greedy
clustering) advance one exact step per row per round while the model sees full batches,
and every statistic is computed at most once.

A source is any object with ``fill(keys)`` (and, optionally, ``async afill(keys)``; without
it the engine runs ``fill`` in a worker thread when scoring asynchronously). A source may
also offer ``fill_round(keys)``, which the engine calls instead of ``fill``: it may leave
some keys for the next round (the NLI cache leaves a round's partial model batch to join
the next round's pairs) as long as it computes at least one key per call, so that the rounds
always advance.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Any, Protocol, runtime_checkable

__all__ = ["MissingStatistics", "StatisticSource"]


@runtime_checkable
class StatisticSource(Protocol):
    """A cache that can compute the statistics it lacks, many at once."""

    def fill(self, keys: list[Any]) -> None: ...


class MissingStatistics(Exception):
    """Raised by a non-computing lookup: ``source`` lacks ``keys``.

    ``requests`` lists every ``(source, keys)`` group the raiser lacks (a scorer reading
    several judges, say, reports them all at once: :meth:`merge`).
    """

    def __init__(self, source: StatisticSource, keys: Iterable[Hashable]) -> None:
        self.requests: list[tuple[StatisticSource, list[Hashable]]] = [(source, list(keys))]
        super().__init__("statistics not computed yet")

    @property
    def keys(self) -> list[Hashable]:
        """Every missing key, over all sources."""
        return [k for _, keys in self.requests for k in keys]

    @classmethod
    def merge(cls, missing: Iterable[MissingStatistics]) -> MissingStatistics:
        """One exception carrying the requests of several."""
        items = list(missing)
        out = items[0]
        for other in items[1:]:
            out.requests.extend(other.requests)
        return out
