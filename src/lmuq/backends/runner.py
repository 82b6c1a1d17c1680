"""The shared async engine behind the remote backends: fan out, limit, retry, keep order.

A run draws ``n`` generations for each of a list of prompts. Its results live in a grid
allocated up front, ``grid[prompt][sample]``, and every call writes only the cells it was
given, so a row can never be dropped or shifted, whatever finishes first or fails:

* calls run under a concurrency gate (a semaphore: at most ``max_concurrency`` in flight),
  a shared :class:`~lmuq.backends.rate_limit.RateLimiter`, a per-call timeout and a
  :class:`~lmuq.backends.retry.RetryPolicy`;
* a call that still fails after its retries becomes ``Generation(error=..., finish_reason=
  "error")`` in its own cells, and the batch goes on;
* a call may cover several samples of one prompt (the ``n`` parameter of OpenAI-style
  servers). When it returns fewer than asked, or raises :class:`BatchUnsupportedError`, the
  missing samples are drawn again one call each;
* ``on_result(prompt_index, sample_index, generation)`` fires as each cell is filled (to
  persist as you go) and ``progress(1)`` as each prompt's row completes;
* on cancellation (``task.cancel()``, or Ctrl-C in a sync entry point) the finished cells
  stay as they are and the unfinished ones read ``error="cancelled"``:
  :meth:`GenerationRun.results` has them (a :class:`ResultGrid` fed by ``on_result`` keeps
  them for a caller that only sees the backend), and the sync entry points raise
  :class:`GenerationInterrupted` carrying them.

Each run is its own object: two runs on one runner (or one backend) at once never share a
grid.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from lmuq.backends.call_stats import CallStats
from lmuq.backends.classify import Failure, classify_exception
from lmuq.backends.errors import BatchUnsupportedError, CallFailedError, NotAttempted
from lmuq.backends.rate_limit import RateLimiter
from lmuq.backends.retry import RetryPolicy, call_with_retries
from lmuq.types import Generation, SamplingParams

__all__ = [
    "CANCELLED",
    "CallJob",
    "GenerationInterrupted",
    "GenerationRun",
    "GenerationRunner",
    "ResultGrid",
    "error_generation",
]

#: The ``error`` of a cell whose call had not finished when the run was cancelled.
CANCELLED = "cancelled"


class GenerationInterrupted(KeyboardInterrupt):
    """Ctrl-C during a sync run. ``results`` holds the grid: finished cells intact, the
    unfinished ones with ``error="cancelled"``; ``stats`` the call counters."""

    def __init__(self, results: list[list[Generation]], stats: CallStats) -> None:
        done = sum(1 for row in results for g in row if g.error != CANCELLED)
        total = sum(len(row) for row in results)
        super().__init__(f"generation interrupted: {done} of {total} generations finished")
        self.results = results
        self.stats = stats


@dataclass(frozen=True)
class CallJob:
    """One call of a run: ``len(sample_indices)`` samples of prompt ``prompt_index``."""

    prompt_index: int
    prompt: str
    sample_indices: tuple[int, ...]

    @property
    def count(self) -> int:
        return len(self.sample_indices)

    @property
    def first_sample(self) -> int:
        return self.sample_indices[0]


#: What a backend gives the runner: one attempt of one job, returning up to ``job.count``
#: generations (fewer: the rest are drawn again one by one).
CallFn = Callable[[CallJob], Awaitable[Sequence[Generation]]]


def error_generation(params: SamplingParams | None, error: str) -> Generation:
    """The placeholder for a failed or unfinished call: empty text, ``error`` set."""
    return Generation(text="", finish_reason="error", params=params, error=error)


class ResultGrid:
    """``rows x n`` cells filled as generations arrive; unfilled cells read "cancelled".

    Pass :meth:`record` as a backend's ``on_result`` to keep what finished even when the
    call is cancelled or interrupted::

        grid = ResultGrid(len(prompts), n)
        try:
            await backend.agenerate(prompts, params, n, on_result=grid.record)
        except asyncio.CancelledError:
            partial = grid.results()

    Thread-safe enough for the backends' callbacks: each cell is written once, by one
    caller.
    """

    def __init__(self, rows: int, n: int, params: SamplingParams | None = None) -> None:
        self.params = params
        self.cells: list[list[Generation | None]] = [[None] * n for _ in range(rows)]

    def record(self, i: int, j: int, generation: Generation) -> None:
        """Fill cell ``(i, j)`` (the ``on_result`` signature)."""
        self.cells[i][j] = generation

    @property
    def finished(self) -> int:
        """Cells filled so far (successes and recorded failures)."""
        return sum(1 for row in self.cells for g in row if g is not None)

    @property
    def unfinished(self) -> int:
        return sum(1 for row in self.cells for g in row if g is None)

    def results(self) -> list[list[Generation]]:
        """The grid with every unfinished cell as ``error="cancelled"``."""
        return [
            [g if g is not None else error_generation(self.params, CANCELLED) for g in row]
            for row in self.cells
        ]


class GenerationRun:
    """One run's state: the pre-allocated grid, its counters, and whether it was cancelled.

    Made by :meth:`GenerationRunner.start`; ``await run.execute()`` does the work. The grid
    can be read at any time, also after a cancellation.

    Args:
        prompts / params / n: what to draw: ``n`` generations of each prompt.
        call: one attempt of one :class:`CallJob` (see :data:`CallFn`).
        samples_per_call: samples asked of one call (> 1: e.g. the ``n`` parameter).
        batch_ok: checked before each multi-sample attempt; once it returns False, such
            jobs are drawn one sample per call instead.
        progress: ``progress(1)`` as each prompt's row completes.
        on_result: ``on_result(prompt_index, sample_index, generation)`` as each cell fills.
    """

    def __init__(
        self,
        runner: GenerationRunner,
        prompts: Sequence[str],
        params: SamplingParams,
        n: int,
        call: CallFn,
        *,
        samples_per_call: int = 1,
        batch_ok: Callable[[], bool] | None = None,
        progress: Callable[[int], object] | None = None,
        on_result: Callable[[int, int, Generation], object] | None = None,
    ) -> None:
        if isinstance(prompts, str):
            raise TypeError("prompts must be a list of strings, not a single string")
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be an int >= 1, got {n!r}")
        if not isinstance(samples_per_call, int) or samples_per_call < 1:
            raise ValueError(f"samples_per_call must be an int >= 1, got {samples_per_call!r}")
        self.runner = runner
        self.prompts = list(prompts)
        self.params = params
        self.n = n
        self.call = call
        self.samples_per_call = samples_per_call
        self.batch_ok = batch_ok
        self.progress = progress
        self.on_result = on_result
        self.stats = CallStats()
        self.grid = ResultGrid(len(self.prompts), n, params)
        self.cancelled = False
        self._left = [n] * len(self.prompts)
        self._jobs: deque[CallJob] = deque()
        for i, prompt in enumerate(self.prompts):
            for start in range(0, n, samples_per_call):
                stop = min(n, start + samples_per_call)
                self._jobs.append(CallJob(i, prompt, tuple(range(start, stop))))

    @property
    def finished(self) -> int:
        """Cells filled so far (successes and recorded failures)."""
        return self.grid.finished

    def results(self) -> list[list[Generation]]:
        """The grid with every unfinished cell as ``error="cancelled"``."""
        return self.grid.results()

    async def execute(self) -> list[list[Generation]]:
        """Run every call; return the full grid (failures recorded in their cells).

        On cancellation the calls in flight are cancelled, the unfinished cells are marked
        ``"cancelled"`` in :meth:`results`, and ``CancelledError`` propagates.
        """
        runner = self.runner
        self._gate_sem = runner._gate()
        self._rng = runner.retry.rng()
        self._tasks: list[asyncio.Future[None]] = []
        self._spawn()
        try:
            while True:  # workers may be added while others run (see _split)
                tasks = list(self._tasks)
                await asyncio.gather(*tasks)
                if len(tasks) == len(self._tasks):
                    break
        except BaseException as exc:
            for t in self._tasks:
                t.cancel()
            with contextlib.suppress(BaseException):
                await asyncio.gather(*self._tasks, return_exceptions=True)
            if isinstance(exc, (asyncio.CancelledError, KeyboardInterrupt)):
                self.cancelled = True
                self.stats.cancelled += self.grid.unfinished
            raise
        finally:
            runner.stats.merge(self.stats)
        return self.results()

    def _spawn(self) -> None:
        """Start workers until ``2 * max_concurrency`` are live or each job has one.

        More workers than gate slots keep the slots busy while some workers sleep in a
        retry backoff (the gate is released during backoff).
        """
        live = sum(1 for t in self._tasks if not t.done())
        want = min(len(self._jobs), 2 * self.runner.max_concurrency - live)
        for _ in range(max(0, want)):
            self._tasks.append(asyncio.ensure_future(self._worker()))

    async def _worker(self) -> None:
        while self._jobs:
            job = self._jobs.popleft()
            await self._run_job(job)

    async def _run_job(self, job: CallJob) -> None:
        runner = self.runner

        async def attempt() -> Sequence[Generation]:
            # Checked once the gate is held: a server found not to take several samples per
            # call while this job waited gets single calls instead.
            if job.count > 1 and self.batch_ok is not None and not self.batch_ok():
                raise NotAttempted("several samples per call are no longer asked for")
            return await self.call(job)

        try:
            out = await call_with_retries(
                attempt,
                runner.retry,
                runner.limiter,
                runner.timeout,
                self.stats,
                rng=self._rng,
                gate=self._gate_sem,
                classify=runner.classify,
                passthrough=(BatchUnsupportedError,),
            )
        except NotAttempted:
            self._split(job, job.sample_indices, "batch_unsupported")
            return
        except BatchUnsupportedError:
            self.stats.count_error("batch_unsupported")
            self._split(job, job.sample_indices, "batch_unsupported")
            return
        except CallFailedError as exc:
            message = runner.redact(str(exc))
            for j in job.sample_indices:
                self._fill(job.prompt_index, j, error_generation(self.params, message))
            return
        got = list(out)[: job.count]
        for k, gen in enumerate(got):
            if not isinstance(gen, Generation):
                gen = error_generation(
                    self.params, f"backend returned {type(gen).__name__}, not a Generation"
                )
            self._fill(job.prompt_index, job.sample_indices[k], gen)
        missing = job.sample_indices[len(got) :]
        if missing:
            self._split(job, missing, "empty_response: the call returned no generation")

    def _split(self, job: CallJob, indices: Sequence[int], why: str) -> None:
        """Draw ``indices`` again with one call each; a single-sample job is recorded as
        failed instead (so this can never loop)."""
        if job.count == 1:
            self._fill(job.prompt_index, indices[0], error_generation(self.params, why))
            return
        for j in reversed(indices):
            self._jobs.appendleft(CallJob(job.prompt_index, job.prompt, (j,)))
        self._spawn()

    def _fill(self, i: int, j: int, gen: Generation) -> None:
        if self.grid.cells[i][j] is not None:
            return
        self.grid.record(i, j, gen)
        self._left[i] -= 1
        if self.on_result is not None:
            self.on_result(i, j, gen)
        if self._left[i] == 0 and self.progress is not None:
            self.progress(1)


class GenerationRunner:
    """Runs calls under bounded concurrency, a rate limit, a timeout and retries.

    One runner belongs to one backend: its limiter (and so ``max_calls_per_min``) and its
    cumulative :attr:`stats` are shared by every run the backend makes, also across event
    loops. The concurrency gate is per event loop.

    Args:
        max_concurrency: calls in flight at once.
        max_calls_per_min: sustained call rate (None: unlimited); ignored if ``limiter``.
        burst: calls allowed back to back after idling (the bucket's capacity).
        limiter: a ready :class:`RateLimiter` to share between runners.
        retry: the :class:`RetryPolicy` (default: 4 retries, 0.5 s doubling, jitter).
        timeout: seconds per attempt (None: no limit).
        classify: judges a failed attempt (default :func:`classify_exception`).
        redact: applied to every recorded error message (e.g. to scrub a secret).
    """

    def __init__(
        self,
        *,
        max_concurrency: int = 8,
        max_calls_per_min: float | None = None,
        burst: int = 1,
        limiter: RateLimiter | None = None,
        retry: RetryPolicy | None = None,
        timeout: float | None = 30.0,
        classify: Callable[[BaseException, RetryPolicy], Failure] = classify_exception,
        redact: Callable[[str], str] | None = None,
    ) -> None:
        if not isinstance(max_concurrency, int) or max_concurrency < 1:
            raise ValueError(f"max_concurrency must be an int >= 1, got {max_concurrency!r}")
        if timeout is not None and not timeout > 0:
            raise ValueError(f"timeout must be > 0 seconds or None, got {timeout!r}")
        self.max_concurrency = max_concurrency
        self.limiter = (
            limiter if limiter is not None else RateLimiter(max_calls_per_min, burst=burst)
        )
        self.retry = retry if retry is not None else RetryPolicy()
        self.timeout = timeout
        self.classify = classify
        self.redact: Callable[[str], str] = redact or (lambda s: s)
        self.stats = CallStats()
        self._gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )

    @property
    def max_calls_per_min(self) -> float | None:
        return self.limiter.max_calls_per_min

    def _gate(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        gate = self._gates.get(loop)
        if gate is None:
            gate = self._gates[loop] = asyncio.Semaphore(self.max_concurrency)
        return gate

    def start(
        self, prompts: Sequence[str], params: SamplingParams, n: int, call: CallFn, **options: Any
    ) -> GenerationRun:
        """A :class:`GenerationRun` ready to ``await run.execute()`` (``options`` are its
        keyword arguments); its grid stays readable after a cancellation."""
        return GenerationRun(self, prompts, params, n, call, **options)

    async def run(
        self,
        prompts: Sequence[str],
        params: SamplingParams,
        n: int,
        call: CallFn,
        **options: Any,
    ) -> list[list[Generation]]:
        """Run ``call`` for every (prompt, samples) job; the grid, one row per prompt.
        ``options`` are :meth:`start`'s."""
        return await self.start(prompts, params, n, call, **options).execute()
