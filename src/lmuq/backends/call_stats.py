"""Counters of the calls a backend made: attempts, retries, failures by reason, waits."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["CallStats"]


@dataclass
class CallStats:
    """Counters for the calls made through :func:`call_with_retries`.

    Attributes:
        calls: attempts sent (a retried call counts once per attempt).
        succeeded: calls that returned a result (after any retries).
        retries: attempts that were a retry of an earlier failed attempt.
        failed: calls given up on (retries exhausted, or a failure not worth retrying).
        cancelled: generations left unfinished because their run was cancelled.
        errors_by_reason: failed *attempts*, by reason (``"http_429"``, ``"timeout"``, ...).
        failed_by_reason: given-up *calls*, by the reason of their last attempt.
        retry_wait_s: total seconds spent waiting between attempts.
        limiter_wait_s: total seconds spent waiting on the rate limiter.
    """

    calls: int = 0
    succeeded: int = 0
    retries: int = 0
    failed: int = 0
    cancelled: int = 0
    errors_by_reason: dict[str, int] = field(default_factory=dict)
    failed_by_reason: dict[str, int] = field(default_factory=dict)
    retry_wait_s: float = 0.0
    limiter_wait_s: float = 0.0

    def count_error(self, reason: str) -> None:
        self.errors_by_reason[reason] = self.errors_by_reason.get(reason, 0) + 1

    def count_failed(self, reason: str) -> None:
        self.failed += 1
        self.failed_by_reason[reason] = self.failed_by_reason.get(reason, 0) + 1

    def merge(self, other: CallStats) -> None:
        """Add ``other``'s counts into this one."""
        self.calls += other.calls
        self.succeeded += other.succeeded
        self.retries += other.retries
        self.failed += other.failed
        self.cancelled += other.cancelled
        for mine, theirs in (
            (self.errors_by_reason, other.errors_by_reason),
            (self.failed_by_reason, other.failed_by_reason),
        ):
            for k, v in theirs.items():
                mine[k] = mine.get(k, 0) + v
        self.retry_wait_s += other.retry_wait_s
        self.limiter_wait_s += other.limiter_wait_s

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy of the counters."""
        return {
            "calls": self.calls,
            "succeeded": self.succeeded,
            "retries": self.retries,
            "failed": self.failed,
            "cancelled": self.cancelled,
            "errors_by_reason": dict(self.errors_by_reason),
            "failed_by_reason": dict(self.failed_by_reason),
            "retry_wait_s": self.retry_wait_s,
            "limiter_wait_s": self.limiter_wait_s,
        }
