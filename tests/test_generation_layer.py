"""The generation layer without HTTP: limits (rate limiter, retry policy, retrying call)
and the runner (order, failures, n-splitting, progress, cancellation)."""

from __future__ import annotations

import asyncio
import random
import signal
import threading
import time
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from lmuq.backends import (
    CANCELLED,
    BatchUnsupportedError,
    CallFailedError,
    CallStats,
    GenerationInterrupted,
    GenerationRunner,
    MalformedResponseError,
    RateLimiter,
    RetryPolicy,
    TransientError,
    call_with_retries,
    classify_exception,
    parse_retry_after,
    run_sync,
)
from lmuq.backends.runner import CallJob
from lmuq.types import Generation, SamplingParams

PARAMS = SamplingParams(temperature=1.0, max_new_tokens=8)
FAST = RetryPolicy(max_retries=3, base_delay=0.001, max_delay=0.01, seed=0)


# ---------------------------------------------------------------- Retry-After and policy


def test_retry_after_reads_seconds_and_http_dates():
    now = datetime(2025, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(" 0.25 ") == 0.25
    assert parse_retry_after("-4") == 0.0
    later = format_datetime(now + timedelta(seconds=10), usegmt=True)
    assert parse_retry_after(later, now=now) == pytest.approx(10.0)
    earlier = format_datetime(now - timedelta(seconds=10), usegmt=True)
    assert parse_retry_after(earlier, now=now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
    assert parse_retry_after("") is None


def test_backoff_is_exponential_capped_jittered_and_repeatable_under_a_seed():
    policy = RetryPolicy(base_delay=1.0, max_delay=5.0, jitter=0.5, seed=42)
    a = [policy.backoff(r, rng) for rng in [policy.rng()] for r in range(6)]
    b = [policy.backoff(r, rng) for rng in [policy.rng()] for r in range(6)]
    assert a == b  # same seed, same waits
    for r, wait in enumerate(a):
        full = min(5.0, 2.0**r)
        assert 0.5 * full <= wait <= full
    assert a != [min(5.0, 2.0**r) for r in range(6)]  # jitter did something
    no_jitter = RetryPolicy(base_delay=1.0, max_delay=5.0, jitter=0.0)
    assert [no_jitter.backoff(r, random.Random()) for r in range(4)] == [1.0, 2.0, 4.0, 5.0]


def test_retry_after_is_a_floor_capped_by_max_retry_after():
    policy = RetryPolicy(base_delay=0.1, jitter=0.0, max_retry_after=10.0)
    rng = random.Random(0)
    assert policy.delay(0, 3.0, rng) == 3.0
    assert policy.delay(0, 0.01, rng) == 0.1  # the backoff is longer
    assert policy.delay(0, 500.0, rng) == 10.0
    ignoring = RetryPolicy(base_delay=0.1, jitter=0.0, honour_retry_after=False)
    assert ignoring.delay(0, 3.0, rng) == 0.1


class _Headers(dict):
    def get(self, key, default=None):  # case-insensitive, like httpx.Headers
        for k, v in self.items():
            if k.lower() == key.lower():
                return v
        return default


class _StatusError(Exception):
    def __init__(self, status, headers=None):
        super().__init__(f"status {status}")
        self.status_code = status
        self.response = type("R", (), {"headers": _Headers(headers or {})})()


class RateLimitError(Exception):
    """A provider's rate-limit exception with no status attribute."""


class APIConnectionError(Exception):
    pass


def test_classify_reads_statuses_headers_and_names():
    p = RetryPolicy()
    f = classify_exception(_StatusError(429, {"Retry-After": "7"}), p)
    assert (f.reason, f.retryable, f.retry_after) == ("http_429", True, 7.0)
    f = classify_exception(_StatusError(503, {"retry-after-ms": "250"}), p)
    assert (f.reason, f.retryable, f.retry_after) == ("http_503", True, 0.25)
    assert classify_exception(_StatusError(599), p).retryable  # any 5xx
    for status in (400, 401, 403, 404, 422):
        f = classify_exception(_StatusError(status), p)
        assert (f.reason, f.retryable) == (f"http_{status}", False)
    assert classify_exception(TimeoutError(), p).reason == "timeout"
    assert classify_exception(ConnectionResetError(), p).reason == "connection"
    assert classify_exception(APIConnectionError(), p).reason == "connection"
    f = classify_exception(RateLimitError("slow down"), p)
    assert (f.reason, f.retryable) == ("rate_limited", True)
    assert classify_exception(MalformedResponseError("bad"), p).retryable
    f = classify_exception(ValueError("bad prompt"), p)
    assert (f.reason, f.retryable) == ("ValueError", False)
    strict = RetryPolicy(retry_timeouts=False, retry_server_errors=False, retry_on=frozenset())
    assert not classify_exception(TimeoutError(), strict).retryable
    assert not classify_exception(_StatusError(503), strict).retryable


# ---------------------------------------------------------------- rate limiter


class _Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_token_bucket_spaces_calls_and_refills_up_to_its_burst():
    clock = _Clock()
    lim = RateLimiter(60, clock=clock)  # one per second, burst 1
    assert [lim.reserve() for _ in range(3)] == [0.0, 1.0, 2.0]
    clock.t += 10  # long idle: the bucket refills to its capacity only
    assert lim.reserve() == 0.0
    assert lim.reserve() == pytest.approx(1.0)
    clock.t = 1000.0
    bursty = RateLimiter(120, burst=3, clock=clock)  # two per second
    assert [bursty.reserve() for _ in range(5)] == [0.0, 0.0, 0.0, 0.5, 1.0]
    assert RateLimiter(None).reserve() == 0.0
    with pytest.raises(ValueError):
        RateLimiter(0)
    with pytest.raises(ValueError):
        RateLimiter(60, burst=0)


@pytest.mark.asyncio
async def test_limiter_waits_without_blocking_the_event_loop(monkeypatch):
    def blocking_sleep(seconds):
        raise AssertionError("time.sleep would block the event loop")

    monkeypatch.setattr(time, "sleep", blocking_sleep)
    lim = RateLimiter(1200)  # 20 per second: 0.05 s apart
    ticks = 0
    stop = asyncio.Event()

    async def ticker():
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            await asyncio.sleep(0.005)

    t = asyncio.create_task(ticker())
    start = time.monotonic()
    starts = []

    async def one():
        await lim.acquire()
        starts.append(time.monotonic() - start)

    await asyncio.gather(*(one() for _ in range(5)))
    stop.set()
    await t
    starts.sort()
    assert all(s >= k * 0.05 - 0.01 for k, s in enumerate(starts))  # each in its slot
    assert ticks > 5  # the loop kept running while the calls waited


@pytest.mark.asyncio
async def test_cancelled_waiter_gives_its_token_back():
    clock = _Clock()
    lim = RateLimiter(60, clock=clock)
    lim.reserve()  # bucket empty; next token due in 1 s
    waiter = asyncio.create_task(lim.acquire())
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert lim.reserve() == pytest.approx(1.0)  # not 2.0: the cancelled slot was returned


# ---------------------------------------------------------------- call_with_retries


@pytest.mark.asyncio
async def test_transient_failures_are_retried_and_counted():
    stats = CallStats()
    attempts = 0

    async def flaky():
        nonlocal attempts
        attempts += 1
        if attempts < 3:
            raise TransientError("busy", reason="http_503")
        return "ok"

    assert await call_with_retries(flaky, FAST, counters=stats) == "ok"
    assert (stats.calls, stats.retries, stats.succeeded, stats.failed) == (3, 2, 1, 0)
    assert stats.errors_by_reason == {"http_503": 2}


@pytest.mark.asyncio
async def test_permanent_failure_is_not_retried():
    stats = CallStats()

    async def bad():
        raise _StatusError(400)

    with pytest.raises(CallFailedError) as info:
        await call_with_retries(bad, FAST, counters=stats)
    assert info.value.attempts == 1 and info.value.reason == "http_400"
    assert (stats.calls, stats.retries, stats.failed) == (1, 0, 1)
    assert stats.failed_by_reason == {"http_400": 1}


@pytest.mark.asyncio
async def test_retries_stop_after_max_retries_and_timeouts_count():
    stats = CallStats()

    async def slow():
        await asyncio.sleep(5)

    start = time.monotonic()
    with pytest.raises(CallFailedError) as info:
        await call_with_retries(slow, FAST, timeout=0.03, counters=stats)
    assert time.monotonic() - start < 4.0  # far below one uncut 5 s call
    assert info.value.reason == "timeout" and info.value.attempts == FAST.max_retries + 1
    assert stats.errors_by_reason == {"timeout": 4} and stats.retries == 3
    assert "after 4 attempts" in str(info.value)


@pytest.mark.asyncio
async def test_retry_after_from_the_exception_is_waited():
    calls = []

    async def limited():
        calls.append(time.monotonic())
        if len(calls) == 1:
            raise _StatusError(429, {"Retry-After": "0.15"})
        return 1

    await call_with_retries(limited, FAST)
    assert calls[1] - calls[0] >= 0.14


@pytest.mark.asyncio
async def test_passthrough_exceptions_propagate_untouched():
    stats = CallStats()

    async def signal_():
        raise BatchUnsupportedError("no n")

    with pytest.raises(BatchUnsupportedError):
        await call_with_retries(signal_, FAST, counters=stats, passthrough=(BatchUnsupportedError,))
    assert stats.failed == 0 and stats.retries == 0


@pytest.mark.asyncio
async def test_gate_is_released_during_backoff():
    gate = asyncio.Semaphore(1)
    order = []
    policy = RetryPolicy(max_retries=1, base_delay=0.1, jitter=0.0)

    async def first():
        order.append("first")
        if order.count("first") == 1:
            raise TransientError("again")

    async def second():
        order.append("second")

    t1 = asyncio.create_task(call_with_retries(first, policy, gate=gate))
    await asyncio.sleep(0.02)  # first has failed and is backing off
    await call_with_retries(second, policy, gate=gate)
    await t1
    assert order == ["first", "second", "first"]


# ---------------------------------------------------------------- runner


def _echo(latency=0.0, fail=()):
    """A call that answers '<prompt>#<sample>' after a random delay; fails for prompts in
    ``fail`` with a permanent error."""
    rng = random.Random(0)

    async def call(job: CallJob):
        await asyncio.sleep(rng.random() * latency)
        if job.prompt in fail:
            raise ValueError(f"no answer for {job.prompt}")
        return [Generation(text=f"{job.prompt}#{j}", params=PARAMS) for j in job.sample_indices]

    return call


@pytest.mark.asyncio
async def test_rows_and_samples_keep_their_order_whatever_finishes_first():
    runner = GenerationRunner(max_concurrency=5, retry=FAST)
    prompts = [f"p{i}" for i in range(12)]
    seen, done = [], []
    out = await runner.run(
        prompts,
        PARAMS,
        3,
        _echo(latency=0.02, fail={"p4"}),
        progress=done.append,
        on_result=lambda i, j, g: seen.append((i, j)),
    )
    assert len(out) == 12 and all(len(row) == 3 for row in out)
    for i, row in enumerate(out):
        if i == 4:
            assert all(g.failed and g.finish_reason == "error" for g in row)
            assert all("no answer for p4" in g.error for g in row)
        else:
            assert [g.text for g in row] == [f"p{i}#{j}" for j in range(3)]
    assert sorted(seen) == [(i, j) for i in range(12) for j in range(3)]  # once each
    assert done == [1] * 12  # one tick per completed prompt
    assert runner.stats.failed == 3 and runner.stats.succeeded == 33


@pytest.mark.asyncio
async def test_concurrency_never_exceeds_the_gate():
    inflight = peak = 0

    async def call(job):
        nonlocal inflight, peak
        inflight += 1
        peak = max(peak, inflight)
        await asyncio.sleep(0.01)
        inflight -= 1
        return [Generation(text="x")]

    await GenerationRunner(max_concurrency=3).run([f"q{i}" for i in range(10)], PARAMS, 2, call)
    assert peak == 3


@pytest.mark.asyncio
async def test_rate_limited_run_spaces_call_starts():
    starts = []

    async def call(job):
        starts.append(time.monotonic())
        return [Generation(text="x")]

    runner = GenerationRunner(max_concurrency=8, max_calls_per_min=1200)  # 0.05 s apart
    t0 = time.monotonic()
    await runner.run(["a", "b", "c"], PARAMS, 2, call)
    starts.sort()
    assert len(starts) == 6
    # The bucket (burst 1) admits call k no earlier than k * 0.05 s after the run began.
    # Only lower bounds are asserted: a loaded machine can delay calls, never hasten them.
    # The exact schedule is checked with an injected clock in the RateLimiter tests.
    assert all(starts[k] - t0 >= k * 0.05 - 1e-3 for k in range(6))


@pytest.mark.asyncio
async def test_multi_sample_calls_refill_missing_samples_one_by_one():
    jobs = []

    async def call(job: CallJob):
        jobs.append(job.sample_indices)
        if job.count > 1:
            return [Generation(text=f"{job.prompt}#{job.sample_indices[0]}")]  # one of many
        return [Generation(text=f"{job.prompt}#{job.first_sample}")]

    out = await GenerationRunner().run(["a", "b"], PARAMS, 4, call, samples_per_call=4)
    assert [[g.text for g in row] for row in out] == [
        ["a#0", "a#1", "a#2", "a#3"],
        ["b#0", "b#1", "b#2", "b#3"],
    ]
    assert sorted(jobs) == sorted([(0, 1, 2, 3)] * 2 + [(1,), (2,), (3,)] * 2)


@pytest.mark.asyncio
async def test_batch_unsupported_splits_and_batch_ok_stops_asking():
    supported = True
    jobs = []

    async def call(job: CallJob):
        nonlocal supported
        jobs.append(job.count)
        if job.count > 1:
            supported = False
            raise BatchUnsupportedError("n > 1 not supported")
        return [Generation(text=f"{job.prompt}#{job.first_sample}")]

    runner = GenerationRunner(max_concurrency=1)
    out = await runner.run(
        ["a", "b", "c"], PARAMS, 3, call, samples_per_call=3, batch_ok=lambda: supported
    )
    assert [g.text for g in out[2]] == ["c#0", "c#1", "c#2"]
    assert jobs.count(3) == 1  # only the first multi-sample call was tried
    assert runner.stats.errors_by_reason == {"batch_unsupported": 1}
    assert runner.stats.failed == 0


@pytest.mark.asyncio
async def test_a_single_sample_call_returning_nothing_is_recorded_not_looped():
    async def call(job):
        return []

    out = await GenerationRunner().run(["a"], PARAMS, 2, call)
    assert all(g.failed and "empty_response" in g.error for g in out[0])


@pytest.mark.asyncio
async def test_cancellation_keeps_finished_cells_and_marks_the_rest():
    finished = {}
    runner = GenerationRunner(max_concurrency=2)

    async def call(job):
        await asyncio.sleep(0.01 if job.prompt_index < 2 else 10)
        return [Generation(text=f"{job.prompt}#{job.first_sample}")]

    run = runner.start(
        [f"p{i}" for i in range(6)],
        PARAMS,
        1,
        call,
        on_result=lambda i, j, g: finished.__setitem__((i, j), g.text),
    )
    task = asyncio.create_task(run.execute())
    while len(finished) < 2:
        await asyncio.sleep(0.005)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert run.cancelled
    grid = run.results()
    assert [row[0].text for row in grid[:2]] == ["p0#0", "p1#0"]
    assert all(row[0].error == CANCELLED for row in grid[2:])
    assert finished == {(0, 0): "p0#0", (1, 0): "p1#0"}
    assert run.stats.cancelled == 4


def test_ctrl_c_in_a_sync_run_raises_with_the_finished_results(request):
    if threading.current_thread() is not threading.main_thread():
        pytest.fail("this test must run in the main thread (SIGINT goes there)")
    # under a shell's background job SIGINT starts ignored; this test needs Python's Ctrl-C
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    request.addfinalizer(lambda: signal.signal(signal.SIGINT, previous))
    runner = GenerationRunner(max_concurrency=4)
    done = []

    async def call(job):
        if job.prompt_index >= 3:
            await asyncio.sleep(10)
        return [Generation(text=job.prompt)]

    def on_result(i, j, g):
        done.append(i)
        if len(done) == 3:
            asyncio.get_running_loop().call_later(0.02, signal.raise_signal, signal.SIGINT)

    prompts = [f"p{i}" for i in range(6)]
    start = time.monotonic()
    run = runner.start(prompts, PARAMS, 1, call, on_result=on_result)
    with pytest.raises(GenerationInterrupted) as info:
        run_sync(run.execute, partial=lambda: (run.results(), run.stats))
    assert time.monotonic() - start < 5  # the sleeping calls were cancelled
    results = info.value.results
    assert [r[0].text for r in results[:3]] == ["p0", "p1", "p2"]
    assert all(r[0].error == CANCELLED for r in results[3:])
    assert isinstance(info.value, KeyboardInterrupt)


@pytest.mark.asyncio
async def test_sync_entry_point_works_inside_a_running_loop():
    async def call(job):
        return [Generation(text=job.prompt.upper())]

    runner = GenerationRunner()
    out = run_sync(lambda: runner.run(["a", "b"], PARAMS, 1, call), partial=lambda: ([], None))
    assert [r[0].text for r in out] == ["A", "B"]


def test_runner_rejects_bad_settings():
    with pytest.raises(ValueError):
        GenerationRunner(max_concurrency=0)
    with pytest.raises(ValueError):
        GenerationRunner(timeout=0)
    with pytest.raises(ValueError):
        RetryPolicy(jitter=2.0)
    with pytest.raises(ValueError):
        RetryPolicy(max_retries=-1)
