"""The one draw path: for each prompt, the answer being judged and its sampled responses.

Every caller that needs generations from a backend comes through here: the sample-set
helpers, the black-box and judged orchestrators, the LUQ wrapper and the store-backed
resume. One place therefore validates the request, keeps the row invariant (every prompt
keeps its own outputs, in order), isolates a backend call that raises, seeds samples by
their position, shows progress and reports failures.

A request is a set of *cells* ``(row, kind, index)``: the answer of a row is ``(row,
"answer", 0)``, its ``j``-th sample ``(row, "sample", j)``. :func:`draw_cells` draws any
such set (the resume asks only for what its store lacks); :func:`draw` draws every cell of
``num_samples`` samples per prompt and returns :class:`~lmuq.types.SampleSet` s.

Seeds: with ``sample_params.seed = s``, sample ``j`` of a prompt is drawn as if by a call
that starts at sample ``j`` with seed ``s + j`` (backends give the k-th sample of a call the
call's seed plus k). A resume that asks for samples 3 and 4 of a row therefore seeds them
``s + 3`` and ``s + 4``, as the uninterrupted run would have, and never repeats the seed of
a stored sample.

Backend calls: all missing answers in one call; samples in one call per group of rows that
miss the same contiguous run of indices (usually every row, all ``m`` samples). A call that
raises is retried prompt by prompt, so only the prompts that fail get error rows. Each
generation reaches ``on_result(row, kind, index, generation)`` as the backend reports it
(when its ``generate`` takes ``on_result``), or, for a backend that cannot, all of one
call's generations at once, when the call returns.
"""

from __future__ import annotations

import asyncio
import inspect
import sys
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from lmuq.backends.base import backend_name, check_generate_args
from lmuq.backends.runner import error_generation
from lmuq.chat import as_prompt
from lmuq.twins import async_twin
from lmuq.types import Generation, SampleSet, SamplingParams

__all__ = [
    "ANSWER",
    "DEFAULT_ANSWER_PARAMS",
    "DEFAULT_SAMPLE_PARAMS",
    "SAMPLE",
    "Cell",
    "DrawFailureWarning",
    "GenerationFailedError",
    "RowInvariantError",
    "adraw",
    "adraw_cells",
    "all_cells",
    "draw",
    "draw_cells",
    "sample_set_params",
]

#: Greedy answer: the single most likely response is the one being judged.
DEFAULT_ANSWER_PARAMS = SamplingParams(temperature=0.0, max_new_tokens=32)
#: Samples at temperature 1 from the full distribution, as the Monte-Carlo entropy assumes.
DEFAULT_SAMPLE_PARAMS = SamplingParams(temperature=1.0, max_new_tokens=32, seed=0)

#: The two kinds of cell: the answer being judged (index 0) and the samples.
ANSWER, SAMPLE = "answer", "sample"
Kind = Literal["answer", "sample"]
#: One generation to draw: (row, kind, index).
Cell = tuple[int, str, int]
#: Receives whole calls' results: ``[(row, kind, index, generation), ...]``.
Sink = Callable[[list[tuple[int, str, int, Generation]]], object]
#: What to do when some generations failed: warn (default), raise, or say nothing.
OnFailure = Literal["warn", "raise", "ignore"]


class RowInvariantError(RuntimeError, ValueError):
    """A backend returned other rows than it was asked for (its contract is one row of
    ``n`` generations per prompt, in prompt order); nothing of that call is used."""


class DrawFailureWarning(RuntimeWarning):
    """Some generations of a draw failed (their rows carry the error)."""


class GenerationFailedError(RuntimeError):
    """Raised by a draw with ``on_failure="raise"`` when a generation failed.

    ``results`` maps every drawn cell to its generation (failures included).
    """

    def __init__(self, message: str, results: dict[Cell, Generation]) -> None:
        super().__init__(message)
        self.results = results


@dataclass(frozen=True)
class _Call:
    rows: tuple[int, ...]
    kind: str
    start: int
    count: int


def sample_set_params(
    backend: str,
    answer_params: SamplingParams,
    sample_params: SamplingParams,
    num_samples: int,
) -> dict[str, Any]:
    """The one schema of ``SampleSet.params``: how the set was drawn."""
    return {
        "backend": backend,
        "answer_params": answer_params.to_dict(),
        "sample_params": sample_params.to_dict(),
        "num_samples": num_samples,
    }


def all_cells(n_rows: int, num_samples: int, answers: bool = True) -> list[Cell]:
    """Every cell of ``n_rows`` rows: the answer (when ``answers``) and ``num_samples``
    samples each, in row order."""
    out: list[Cell] = []
    for row in range(n_rows):
        if answers:
            out.append((row, ANSWER, 0))
        out.extend((row, SAMPLE, j) for j in range(num_samples))
    return out


def _check_request(prompts: Sequence[str], num_samples: int) -> list[str]:
    if num_samples is None or isinstance(num_samples, bool) or not isinstance(num_samples, int):
        raise TypeError(f"num_samples must be an int >= 0, got {num_samples!r}")
    if num_samples < 0:
        raise ValueError(f"num_samples must be an int >= 0, got {num_samples!r}")
    if isinstance(prompts, Sequence) and not isinstance(prompts, str):
        prompts = [
            p if isinstance(p, str) else as_prompt(p, f"prompts[{i}]")
            for i, p in enumerate(prompts)
        ]
    check_generate_args(prompts, 1)
    return list(prompts)


def _plan(cells: Iterable[Cell], n_rows: int) -> list[_Call]:
    """Group cells into backend calls: all answers in one call; samples by the same
    contiguous runs of indices."""
    answers: list[int] = []
    samples: dict[int, list[int]] = {}
    for row, kind, idx in cells:
        if not 0 <= row < n_rows:
            raise IndexError(f"cell row {row} is outside the {n_rows} prompts")
        if kind == ANSWER:
            if idx != 0:
                raise ValueError(f"an answer cell has index 0, got {(row, kind, idx)}")
            answers.append(row)
        elif kind == SAMPLE:
            if not isinstance(idx, int) or idx < 0:
                raise ValueError(f"a sample index must be an int >= 0, got {(row, kind, idx)}")
            samples.setdefault(row, []).append(idx)
        else:
            raise ValueError(f"a cell kind is 'answer' or 'sample', got {kind!r}")
    calls = []
    if answers:
        calls.append(_Call(tuple(dict.fromkeys(answers)), ANSWER, 0, 1))
    groups: dict[tuple[int, int], list[int]] = {}
    for row, idxs in samples.items():
        for start, count in _runs(sorted(set(idxs))):
            groups.setdefault((start, count), []).append(row)
    for (start, count), rows in sorted(groups.items()):
        calls.append(_Call(tuple(rows), SAMPLE, start, count))
    return calls


def _runs(indices: list[int]) -> list[tuple[int, int]]:
    """Sorted distinct indices as (start, count) runs of consecutive values."""
    runs: list[tuple[int, int]] = []
    for i in indices:
        if runs and runs[-1][0] + runs[-1][1] == i:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1)
        else:
            runs.append((i, 1))
    return runs


def _call_params(call: _Call, answer: SamplingParams, sample: SamplingParams) -> SamplingParams:
    if call.kind == ANSWER:
        return answer
    if sample.seed is None or call.start == 0:
        return sample
    return replace(sample, seed=sample.seed + call.start)


def _takes_on_result(method: Any) -> bool:
    try:
        params = inspect.signature(method).parameters
    except (TypeError, ValueError):
        return False
    return "on_result" in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


class _Collector:
    """Maps one call's local (i, j) to cells, counts progress, forwards to ``on_result``."""

    def __init__(
        self,
        call: _Call,
        results: dict[Cell, Generation],
        on_result: Callable[[int, str, int, Generation], object] | None,
        sink: Sink | None,
        bar: Any,
    ) -> None:
        self.call = call
        self.results = results
        self.on_result = on_result
        self.sink = sink
        self.bar = bar

    def cell(self, i: int, j: int) -> Cell:
        return (self.call.rows[i], self.call.kind, self.call.start + j)

    def one(self, i: int, j: int, gen: Generation) -> None:
        """A generation reported as it arrives."""
        self.many([(i, j, gen)])

    def many(self, items: list[tuple[int, int, Generation]]) -> None:
        fresh = []
        for i, j, gen in items:
            cell = self.cell(i, j)
            if cell in self.results:  # reported twice (as it arrived, then with the call)
                continue
            if not isinstance(gen, Generation):
                gen = error_generation(None, f"backend returned {type(gen).__name__}")
            self.results[cell] = gen
            fresh.append((*cell, gen))
        if not fresh:
            return
        if self.sink is not None:
            self.sink(fresh)
        if self.on_result is not None:
            for row, kind, idx, gen in fresh:
                self.on_result(row, kind, idx, gen)
        if self.bar is not None:
            self.bar.update(len(fresh))


def _checked(out: Any, call: _Call, name: str, n_prompts: int) -> list[list[Generation]]:
    if not isinstance(out, list) or len(out) != n_prompts:
        got = len(out) if isinstance(out, list) else type(out).__name__
        raise RowInvariantError(
            f"backend {name!r} broke the row invariant: it returned {got} rows for "
            f"{n_prompts} prompts (expected {n_prompts} rows of {call.count}); the "
            "GenerationBackend contract is one row per prompt"
        )
    if any(not isinstance(row, list) or len(row) != call.count for row in out):
        raise RowInvariantError(
            f"backend {name!r} broke the row invariant: expected {n_prompts} rows of "
            f"{call.count}, got {[len(r) if isinstance(r, list) else r for r in out]}"
        )
    return out


def _failed_row(exc: BaseException, params: SamplingParams, count: int) -> list[Generation]:
    return [error_generation(params, f"{type(exc).__name__}: {exc}") for _ in range(count)]


class _Request:
    """One draw request, planned: its backend calls, the results so far, progress, reports.

    The sync and async paths share everything but how a call is awaited: :meth:`calls`
    gives each call's prompts and parameters, :meth:`done` records a call's rows,
    :meth:`failed` records a call that raised (or says which single-prompt calls to make
    instead), and :meth:`finish` closes the bar and reports failures.
    """

    def __init__(
        self,
        backend: Any,
        prompts: Sequence[str],
        cells: Iterable[Cell],
        answer_params: SamplingParams,
        sample_params: SamplingParams,
        on_result: Callable[[int, str, int, Generation], object] | None,
        sink: Sink | None,
        progress: bool,
        on_failure: OnFailure,
    ) -> None:
        if on_failure not in ("warn", "raise", "ignore"):
            raise ValueError(f"on_failure must be 'warn', 'raise' or 'ignore', got {on_failure!r}")
        self.backend = backend
        self.prompts = _check_request(prompts, 0)
        self.plan = _plan(cells, len(self.prompts))
        self.answer_params = answer_params
        self.sample_params = sample_params
        self.on_result = on_result
        self.sink = sink
        self.on_failure = on_failure
        self.results: dict[Cell, Generation] = {}
        self.bar = _progress_bar(progress, sum(len(c.rows) * c.count for c in self.plan), self.plan)

    def params(self, call: _Call) -> SamplingParams:
        return _call_params(call, self.answer_params, self.sample_params)

    def texts(self, call: _Call) -> list[str]:
        return [self.prompts[r] for r in call.rows]

    def collector(self, call: _Call) -> _Collector:
        return _Collector(call, self.results, self.on_result, self.sink, self.bar)

    def options(self, method: Any, call: _Call) -> dict[str, Any]:
        """``on_result=`` for a backend method that reports generations as they arrive."""
        return {"on_result": self.collector(call).one} if _takes_on_result(method) else {}

    def done(self, call: _Call, out: Any) -> None:
        rows = _checked(out, call, backend_name(self.backend), len(call.rows))
        self.collector(call).many(
            [(i, j, g) for i, row in enumerate(rows) for j, g in enumerate(row)]
        )

    def failed(self, call: _Call, exc: Exception) -> list[_Call]:
        """Record a one-prompt call that raised; for a call of several prompts, the
        one-prompt calls to make instead (so only the prompts that fail get error rows)."""
        if len(call.rows) > 1:
            return [_Call((row,), call.kind, call.start, call.count) for row in call.rows]
        rows = _failed_row(exc, self.params(call), call.count)
        self.collector(call).many([(0, j, g) for j, g in enumerate(rows)])
        return []

    def finish(self) -> dict[Cell, Generation]:
        self.close()
        _report(self.results, self.on_failure, self.backend)
        return self.results

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _run_call(request: _Request, call: _Call) -> None:
    """One backend call; a call that raises is split prompt by prompt."""
    backend = request.backend
    try:
        out = backend.generate(
            request.texts(call),
            request.params(call),
            call.count,
            **request.options(backend.generate, call),
        )
    except Exception as exc:
        for sub in request.failed(call, exc):
            _run_call(request, sub)
        return
    request.done(call, out)


async def _arun_call(request: _Request, call: _Call) -> None:
    """Async twin of :func:`_run_call` (``agenerate`` when the backend has one)."""
    backend = request.backend
    method = getattr(backend, "agenerate", None)
    target = method if callable(method) else backend.generate
    args = (request.texts(call), request.params(call), call.count)
    options = request.options(target, call)
    try:
        if callable(method):
            out = await method(*args, **options)
        else:
            out = await asyncio.to_thread(backend.generate, *args, **options)
    except Exception as exc:
        await asyncio.gather(*(_arun_call(request, sub) for sub in request.failed(call, exc)))
        return
    request.done(call, out)


def _progress_bar(enabled: bool, total: int, calls: list[_Call]) -> Any:
    if not enabled or total == 0:
        return None
    from tqdm.auto import tqdm

    n_answers = sum(len(c.rows) for c in calls if c.kind == ANSWER)
    return tqdm(
        total=total,
        desc=f"Generating ({n_answers} answers, {total - n_answers} samples)",
        unit="gen",
    )


def _report(results: dict[Cell, Generation], on_failure: OnFailure, backend: Any) -> None:
    failed = [(cell, g) for cell, g in results.items() if g.failed]
    if not failed or on_failure == "ignore":
        return
    (row, kind, idx), first = failed[0]
    message = (
        f"{len(failed)} of {len(results)} generations from {backend_name(backend)!r} failed; "
        f"first: "
        f"row {row} {kind} {idx}: {first.error}"
    )
    if on_failure == "raise":
        raise GenerationFailedError(message, results)
    warnings.warn(
        message + ". The failed rows carry the error (their scores will be NaN); pass "
        "on_failure='raise' to stop instead.",
        DrawFailureWarning,
        stacklevel=_outside_lmuq(),
    )


def _outside_lmuq() -> int:
    """The ``stacklevel`` that points a warning at the first caller outside lmuq."""
    frame, level = sys._getframe(2), 2
    while frame is not None and frame.f_globals.get("__name__", "").startswith("lmuq."):
        frame, level = frame.f_back, level + 1
    return level


def draw_cells(
    backend: Any,
    prompts: Sequence[str],
    cells: Iterable[Cell],
    *,
    answer_params: SamplingParams = DEFAULT_ANSWER_PARAMS,
    sample_params: SamplingParams = DEFAULT_SAMPLE_PARAMS,
    on_result: Callable[[int, str, int, Generation], object] | None = None,
    sink: Sink | None = None,
    progress: bool = True,
    on_failure: OnFailure = "warn",
) -> dict[Cell, Generation]:
    """Draw the given cells of ``prompts``; return ``{cell: generation}``.

    ``sink(items)`` receives the generations as they are recorded (one item as each
    arrives, or a whole call's items at once, see the module docstring): pass a store's
    writer to lose nothing on a crash. ``on_result(row, kind, index, generation)`` is called
    for each. Failed generations are returned with ``error`` set; ``on_failure`` says
    whether to warn about them (default), raise :class:`GenerationFailedError`, or say
    nothing.
    """
    request = _Request(
        backend, prompts, cells, answer_params, sample_params, on_result, sink, progress, on_failure
    )
    try:
        for call in request.plan:
            _run_call(request, call)
    except BaseException:
        request.close()
        raise
    return request.finish()


@async_twin(draw_cells)
async def adraw_cells(
    backend: Any,
    prompts: Sequence[str],
    cells: Iterable[Cell],
    **options: Any,
) -> dict[Cell, Generation]:
    """Async twin of :func:`draw_cells`. With an async backend (``agenerate``) the calls
    run concurrently; a sync-only backend runs its calls one after another in a worker
    thread (a local model gains nothing from two at once)."""
    bound = inspect.signature(draw_cells).bind(backend, prompts, cells, **options)
    bound.apply_defaults()
    request = _Request(**bound.arguments)
    try:
        if callable(getattr(backend, "agenerate", None)):
            await asyncio.gather(*(_arun_call(request, call) for call in request.plan))
        else:
            for call in request.plan:
                await _arun_call(request, call)
    except BaseException:
        request.close()
        raise
    return request.finish()


def _sample_sets(
    prompts: list[str],
    num_samples: int,
    results: Mapping[Cell, Generation],
    params: dict[str, Any],
) -> list[SampleSet]:
    return [
        SampleSet(
            prompt=p,
            answer=results[(row, ANSWER, 0)],
            samples=[results[(row, SAMPLE, j)] for j in range(num_samples)],
            params=dict(params),
        )
        for row, p in enumerate(prompts)
    ]


def draw(
    backend: Any,
    prompts: Sequence[str],
    num_samples: int = 5,
    *,
    answer_params: SamplingParams = DEFAULT_ANSWER_PARAMS,
    sample_params: SamplingParams = DEFAULT_SAMPLE_PARAMS,
    progress: bool = True,
    on_failure: OnFailure = "warn",
) -> list[SampleSet]:
    """One :class:`SampleSet` per prompt, in prompt order: the answer (``answer_params``)
    and ``num_samples`` samples (``sample_params``), with ``params`` saying how they were
    drawn (:func:`sample_set_params`)."""
    prompts = _check_request(prompts, num_samples)
    results = draw_cells(
        backend,
        prompts,
        all_cells(len(prompts), num_samples),
        answer_params=answer_params,
        sample_params=sample_params,
        progress=progress,
        on_failure=on_failure,
    )
    meta = sample_set_params(backend_name(backend), answer_params, sample_params, num_samples)
    return _sample_sets(prompts, num_samples, results, meta)


@async_twin(draw)
async def adraw(
    backend: Any, prompts: Sequence[str], num_samples: int = 5, **options: Any
) -> list[SampleSet]:
    """Async twin of :func:`draw` (same sets, same errors)."""
    prompts = _check_request(prompts, num_samples)
    results = await adraw_cells(backend, prompts, all_cells(len(prompts), num_samples), **options)
    answer = options.get("answer_params", DEFAULT_ANSWER_PARAMS)
    sample = options.get("sample_params", DEFAULT_SAMPLE_PARAMS)
    meta = sample_set_params(backend_name(backend), answer, sample, num_samples)
    return _sample_sets(prompts, num_samples, results, meta)
