"""Sync twins of async calls: one behaviour for ``generate`` and ``agenerate``.

:func:`run_sync` runs a coroutine to completion from synchronous code, also inside a
running event loop (a notebook), where ``asyncio.run`` would fail: it then runs a fresh
loop in a worker thread. :class:`SyncFromAsync` gives a backend whose work is its
``agenerate`` the matching ``generate``; on Ctrl-C the sync call raises
:class:`~lmuq.backends.runner.GenerationInterrupted` holding the cells that finished.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
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


def run_sync(
    make: Callable[[], Coroutine[Any, Any, T]],
    *,
    partial: Callable[[], tuple[list[list[Generation]], CallStats | None]] | None = None,
) -> T:
    """Run the coroutine ``make()`` to completion from synchronous code.

    With no loop running in this thread, it uses ``asyncio.run`` (Ctrl-C cancels the calls in
    flight). With one running (a notebook), it runs a fresh loop in a worker thread; Ctrl-C
    cannot cancel that thread's calls. ``partial()``, when given, is called on Ctrl-C and
    returns ``(results, stats)`` for the :class:`GenerationInterrupted` raised then.
    """
    try:
        if not in_running_loop():
            return asyncio.run(make())
        pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="lmuq-sync")
        try:
            return pool.submit(lambda: asyncio.run(make())).result()
        finally:
            pool.shutdown(wait=False)
    except KeyboardInterrupt as exc:
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
