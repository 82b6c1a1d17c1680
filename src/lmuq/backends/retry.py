"""The retry policy and the retrying call helper.

:class:`RetryPolicy` says which failures are worth another try and how long to wait:
exponential backoff with jitter, and the server's ``Retry-After`` (seconds or an HTTP date)
when it sends one. Jitter is drawn from a ``random.Random`` that a seed makes repeatable.
:func:`call_with_retries` runs one call under a timeout, the rate limiter and the policy,
counting every attempt, retry and failure in a :class:`~lmuq.backends.call_stats.CallStats`.

lmuq keeps its own loop rather than tenacity's: the loop must release the concurrency gate
during the backoff, withdraw a :class:`~lmuq.backends.errors.NotAttempted` attempt (and
refund its rate-limit token), honour ``Retry-After`` as a floor, and count each attempt by
reason; with tenacity each of those is a callback around the same dozen lines.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from lmuq.backends.call_stats import CallStats
from lmuq.backends.classify import Failure, classify_exception
from lmuq.backends.errors import CallFailedError, NotAttempted
from lmuq.backends.rate_limit import RateLimiter

__all__ = ["DEFAULT_RETRY_STATUSES", "RetryPolicy", "call_with_retries"]

T = TypeVar("T")

#: HTTP statuses worth another try: request timeout, too early, rate limited, server errors.
DEFAULT_RETRY_STATUSES: frozenset[int] = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """When and how long to wait before trying a failed call again.

    The wait before retry ``r`` (0-based) is ``min(max_delay, base_delay * 2**r)``, scaled
    down by up to ``jitter`` of itself at random (``jitter=0.5``: between half and all of
    it), so that calls failing together do not retry together. A ``Retry-After`` from the
    server is a floor on the wait when ``honour_retry_after`` (capped at
    ``max_retry_after``).

    Args:
        max_retries: retries after the first attempt (0: never retry).
        base_delay / max_delay: the backoff's first step and ceiling, in seconds.
        jitter: fraction in [0, 1] of each wait that is randomised.
        retry_on: HTTP statuses that are retried.
        retry_server_errors: also retry every other 5xx status.
        retry_timeouts / retry_connection_errors / retry_malformed: retry those failures.
        honour_retry_after: wait at least what ``Retry-After`` says.
        max_retry_after: the longest ``Retry-After`` honoured, in seconds.
        seed: seeds the jitter so that waits are repeatable (tests); None: unseeded.
    """

    max_retries: int = 4
    base_delay: float = 0.5
    max_delay: float = 30.0
    jitter: float = 0.5
    retry_on: frozenset[int] = DEFAULT_RETRY_STATUSES
    retry_server_errors: bool = True
    retry_timeouts: bool = True
    retry_connection_errors: bool = True
    retry_malformed: bool = True
    honour_retry_after: bool = True
    max_retry_after: float = 120.0
    seed: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.max_retries, int) or self.max_retries < 0:
            raise ValueError(f"max_retries must be an int >= 0, got {self.max_retries!r}")
        if self.base_delay < 0 or self.max_delay < 0 or self.max_retry_after < 0:
            raise ValueError("base_delay, max_delay and max_retry_after must be >= 0")
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError(f"jitter must be in [0, 1], got {self.jitter!r}")
        object.__setattr__(self, "retry_on", frozenset(int(s) for s in self.retry_on))

    @classmethod
    def none(cls) -> RetryPolicy:
        """A policy that never retries."""
        return cls(max_retries=0)

    def rng(self) -> random.Random:
        """A jitter source: seeded (repeatable) when ``seed`` is set."""
        return random.Random(self.seed)

    def backoff(self, retry: int, rng: random.Random) -> float:
        """The jittered exponential wait before retry number ``retry`` (0-based)."""
        delay = min(self.max_delay, self.base_delay * (2.0**retry))
        return delay * (1.0 - self.jitter * rng.random())

    def delay(self, retry: int, retry_after: float | None, rng: random.Random) -> float:
        """The wait before retry ``retry``: the backoff, floored by ``Retry-After``."""
        wait = self.backoff(retry, rng)
        if self.honour_retry_after and retry_after is not None and retry_after > 0:
            wait = max(wait, min(retry_after, self.max_retry_after))
        return wait

    def retries_status(self, status: int) -> bool:
        return status in self.retry_on or (self.retry_server_errors and 500 <= status <= 599)


async def call_with_retries(
    fn: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    limiter: RateLimiter | None = None,
    timeout: float | None = None,
    counters: CallStats | None = None,
    *,
    rng: random.Random | None = None,
    gate: asyncio.Semaphore | None = None,
    classify: Callable[[BaseException, RetryPolicy], Failure] = classify_exception,
    passthrough: tuple[type[BaseException], ...] = (),
) -> T:
    """Run ``fn()`` until it succeeds or ``policy`` gives up; return its result.

    Each attempt takes a slot of ``gate`` (held only while the attempt runs, not during the
    backoff), then a token of ``limiter``, then runs under ``timeout`` seconds. Exceptions
    of a ``passthrough`` type propagate at once, uncounted as failures (a caller's control
    signal); :class:`NotAttempted` propagates too, uncounted as a call. Cancellation
    propagates.

    Raises:
        CallFailedError: the call failed and will not be retried (its ``reason``,
            ``attempts`` and ``last_error`` say why).
    """
    stats = counters if counters is not None else CallStats()
    rng = rng if rng is not None else policy.rng()
    attempt = 0
    while True:
        try:
            if gate is not None:
                async with gate:
                    result = await _attempt(fn, limiter, timeout, stats)
            else:
                result = await _attempt(fn, limiter, timeout, stats)
        except (asyncio.CancelledError, NotAttempted):
            raise
        except passthrough:
            raise
        except Exception as exc:
            failure = classify(exc, policy)
            stats.count_error(failure.reason)
            if not failure.retryable or attempt >= policy.max_retries:
                stats.count_failed(failure.reason)
                raise CallFailedError(failure.reason, attempt + 1, exc) from exc
            wait = policy.delay(attempt, failure.retry_after, rng)
            stats.retries += 1
            stats.retry_wait_s += wait
            attempt += 1
            await asyncio.sleep(wait)
        else:
            stats.succeeded += 1
            return result


async def _attempt(
    fn: Callable[[], Awaitable[T]],
    limiter: RateLimiter | None,
    timeout: float | None,
    stats: CallStats,
) -> T:
    if limiter is not None:
        stats.limiter_wait_s += await limiter.acquire()
    stats.calls += 1
    try:
        if timeout is None:
            return await fn()
        try:
            return await asyncio.wait_for(fn(), timeout)
        except asyncio.TimeoutError as exc:  # the builtin TimeoutError on 3.11+
            raise TimeoutError(f"no response within {timeout:g} s") from exc
    except NotAttempted:
        stats.calls -= 1
        if limiter is not None:
            limiter.refund()
        raise
