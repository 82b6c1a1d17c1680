"""Sync twins of async calls: one behaviour for ``generate`` and ``agenerate``.

:func:`run_sync` runs a coroutine to completion from synchronous code, also inside a
running event loop (a notebook), where ``asyncio.run`` would fail. Every sync call runs on
one long-lived event loop in a daemon thread: async clients cache connections bound to the
loop that opened them (LangChain's ChatOpenAI shares one httpx client), so a fresh loop per
call would fail every second call with "Event loop is closed". :class:`SyncFromAsync`
gives a backend whose work is its ``agenerate`` the matching ``generate``; on Ctrl-C the
sync call raises :class:`~lmuq.backends.runner.GenerationInterrupted` holding the cells
that finished.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import threading
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

from lmuq.backends.base import GenOptions, Prompts, check_generate_args, generate_options
from lmuq.backends.call_stats import CallStats
from lmuq.backends.runner import GenerationInterrupted, ResultGrid
from lmuq.types import Generation, SamplingParams

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["SyncFromAsync", "in_running_loop", "run_sync"]

T = TypeVar("T")


def in_running_loop() -> bool:
    """Whether this thread is running an event loop (as in a notebook cell)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class _LoopThread:
    """One event loop running forever in a daemon thread, started on first use (again in a
    forked child, where the parent's thread does not exist)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._pid = -1

    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            alive = self._thread is not None and self._thread.is_alive()
            if self._loop is None or self._pid != os.getpid() or not alive:
                loop = asyncio.new_event_loop()
                ready = threading.Event()

                def serve() -> None:
                    asyncio.set_event_loop(loop)
                    loop.call_soon(ready.set)
                    loop.run_forever()

                self._thread = threading.Thread(target=serve, name="lmuq-sync", daemon=True)
                self._thread.start()
                ready.wait()
                self._loop, self._pid = loop, os.getpid()
            return self._loop

    def is_current(self) -> bool:
        return self._thread is not None and threading.current_thread() is self._thread


_LOOP = _LoopThread()


def run_sync(
    make: Callable[[], Coroutine[Any, Any, T]],
    *,
    partial: Callable[[], tuple[list[list[Generation]], CallStats | None]] | None = None,
) -> T:
    """Run the coroutine ``make()`` to completion from synchronous code.

    It runs on lmuq's one background event loop (see the module docstring), so it works the
    same in a script and in a notebook whose loop is running. Ctrl-C cancels the calls in
    flight; ``partial()``, when given, is then called and returns ``(results, stats)`` for
    the :class:`GenerationInterrupted` raised.
    """
    if _LOOP.is_current():
        # Called from a coroutine on the background loop itself: waiting on that loop
        # would deadlock, so this one call gets a loop of its own in a worker thread.
        pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="lmuq-nested")
        try:
            return pool.submit(lambda: asyncio.run(make())).result()
        finally:
            pool.shutdown(wait=False)
    future = asyncio.run_coroutine_threadsafe(make(), _LOOP.loop())
    try:
        while True:
            # Short waits: a signal that lands in another thread runs its Python handler
            # (KeyboardInterrupt) only when this thread next runs bytecode.
            try:
                return future.result(timeout=0.1)
            except concurrent.futures.TimeoutError:
                continue
    except KeyboardInterrupt as exc:
        future.cancel()
        # Let the cancelled calls unwind (and record nothing more) before reporting.
        with contextlib.suppress(BaseException):
            future.result(timeout=5)
        if isinstance(exc, GenerationInterrupted) or partial is None:
            raise
        results, stats = partial()
        raise GenerationInterrupted(results, stats or CallStats()) from exc


class SyncFromAsync:
    """``generate`` as the synchronous twin of the class's ``agenerate`` (which the class
    defines, with the :class:`~lmuq.backends.base.AsyncGenerationBackend` signature).

    The twin records every finished cell as it arrives (its own ``on_result``, which also
    calls the caller's), so Ctrl-C raises :class:`GenerationInterrupted` with exactly the
    cells this call finished, whatever else runs on the same backend.
    """

    def generate(
        self, prompts: Prompts, params: SamplingParams, n: int = 1, **options: Unpack[GenOptions]
    ) -> list[list[Generation]]:
        """Synchronous twin of ``agenerate`` (same rows, same errors)."""
        check_generate_args(prompts, n)
        progress, on_result = generate_options(options)
        grid = ResultGrid(len(prompts), n, params)

        def record(i: int, j: int, g: Generation) -> None:
            grid.record(i, j, g)
            if on_result is not None:
                on_result(i, j, g)

        stats = getattr(self, "stats", None)
        return run_sync(
            lambda: self.agenerate(  # type: ignore[attr-defined]
                prompts, params, n, progress=progress, on_result=record
            ),
            partial=lambda: (grid.results(), stats),
        )
