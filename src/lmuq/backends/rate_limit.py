"""A non-blocking rate limit: an async token bucket refilled at ``max_calls_per_min / 60``
tokens per second. ``await acquire()`` waits with ``asyncio.sleep``, never ``time.sleep``,
so the event loop keeps serving other calls while one waits."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

__all__ = ["RateLimiter"]


class RateLimiter:
    """An async token bucket: at most ``capacity`` calls at once, refilled continuously.

    Each :meth:`acquire` takes one token; when none is left it *reserves* the next one and
    sleeps (``asyncio.sleep``) until it is due, so waiters are served first come, first
    served and the loop is never blocked. Holds no loop-bound state: one limiter can be
    shared by several runs, threads' loops excepted (it is not thread-safe).

    Args:
        max_calls_per_min: the sustained rate; ``None`` means no limit.
        burst: the bucket's capacity, i.e. how many calls may start back to back after an
            idle spell. The default 1 spaces every call ``60 / max_calls_per_min`` seconds
            apart, which is the safe choice for providers that count per second.
        clock: a monotonic clock in seconds (injectable for tests).
    """

    def __init__(
        self,
        max_calls_per_min: float | None = None,
        *,
        burst: int = 1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_calls_per_min is not None and not (
            isinstance(max_calls_per_min, (int, float)) and max_calls_per_min > 0
        ):
            raise ValueError(f"max_calls_per_min must be > 0 or None, got {max_calls_per_min!r}")
        if not isinstance(burst, int) or burst < 1:
            raise ValueError(f"burst must be an int >= 1, got {burst!r}")
        self.max_calls_per_min = max_calls_per_min
        self.capacity = burst
        self.rate = None if max_calls_per_min is None else max_calls_per_min / 60.0
        self._clock = clock
        self._tokens = float(burst)
        self._last = clock()

    def __repr__(self) -> str:
        return f"RateLimiter(max_calls_per_min={self.max_calls_per_min!r}, burst={self.capacity})"

    @property
    def unlimited(self) -> bool:
        return self.rate is None

    def reserve(self) -> float:
        """Take a token now (possibly one not yet refilled); return the seconds to wait."""
        if self.rate is None:
            return 0.0
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
        self._last = now
        self._tokens -= 1.0
        return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    def refund(self) -> None:
        """Give back a token taken by an attempt that was withdrawn before it was sent."""
        self._tokens = min(self.capacity, self._tokens + 1.0)

    async def acquire(self) -> float:
        """Wait until a call may start; return the seconds waited. Never blocks the loop."""
        delay = self.reserve()
        if delay > 0:
            try:
                await asyncio.sleep(delay)
            except asyncio.CancelledError:
                self.refund()  # the reserved slot goes back to the others
                raise
        return delay
