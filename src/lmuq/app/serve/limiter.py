"""Bounded concurrency: at most ``max_active`` requests at once, ``max_waiting`` queued."""

from __future__ import annotations

import asyncio

__all__ = ["Limiter"]


class Limiter:
    """A semaphore with a bounded queue: :meth:`acquire` returns False at once (the caller
    answers 429) when ``max_active`` are running and ``max_waiting`` already wait."""

    def __init__(self, max_active: int, max_waiting: int) -> None:
        self.max_active = max_active
        self.max_waiting = max_waiting
        self.active = 0
        self.waiting = 0
        self._sem: asyncio.Semaphore | None = None

    async def acquire(self) -> bool:
        """Take a slot (waiting in the queue if need be); False when the queue is full."""
        if self._sem is None:
            self._sem = asyncio.Semaphore(self.max_active)
        if self.active >= self.max_active and self.waiting >= self.max_waiting:
            return False
        self.waiting += 1
        try:
            await self._sem.acquire()
        finally:
            self.waiting -= 1
        self.active += 1
        return True

    def release(self) -> None:
        """Give a slot back (once per successful :meth:`acquire`)."""
        assert self._sem is not None
        self.active -= 1
        self._sem.release()
