"""Error classification: is a failed attempt worth another try, and why did it fail?

:func:`classify_exception` decides, for any client library's exception, whether it is
transient (429, 5xx, timeouts, connection errors, malformed responses) and why. It reads
the usual attributes (``status_code``, ``status``, ``response.status_code``,
``response.headers``/``headers``) and the usual class names (``RateLimitError``,
``APITimeoutError``, ``APIConnectionError``, ...), so it serves the ``openai`` client,
``httpx`` and most LangChain providers alike. A failure that carries a 2xx status is not an
HTTP failure: the server answered, and what it said could not be read (a malformed
response). :func:`classify_provider_exception` adds the one rule for code that reads the
response itself (a LangChain integration): its data-shape errors are malformed responses.
"""

from __future__ import annotations

import asyncio
import email.utils
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Protocol

from lmuq.backends.errors import MalformedResponseError, TransientError, UnsupportedContentError

__all__ = [
    "Failure",
    "RetryRules",
    "classify_exception",
    "classify_provider_exception",
    "parse_retry_after",
]


class RetryRules(Protocol):
    """What classification asks of a retry policy (:class:`~lmuq.backends.retry.RetryPolicy`)."""

    retry_malformed: bool
    retry_timeouts: bool
    retry_connection_errors: bool

    def retries_status(self, status: int) -> bool: ...


@dataclass(frozen=True)
class Failure:
    """How :func:`classify_exception` judged one failed attempt."""

    reason: str
    retryable: bool
    retry_after: float | None = None
    status: int | None = None


def parse_retry_after(value: Any, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value: delta-seconds or an HTTP date.

    Returns None when the value is missing or unreadable; a date in the past gives 0.
    """
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    now = now or datetime.now(timezone.utc)
    return max(0.0, (when - now).total_seconds())


def _header(headers: Any, name: str) -> Any:
    if headers is None:
        return None
    getter = getattr(headers, "get", None)
    if getter is None:
        return None
    value = getter(name)
    if value is None and isinstance(headers, Mapping):  # plain dicts are case-sensitive
        lowered = name.lower()
        for k, v in headers.items():
            if str(k).lower() == lowered:
                return v
    return value


def _status_of(exc: BaseException) -> int | None:
    for obj in (exc, getattr(exc, "response", None)):
        if obj is None:
            continue
        for attr in ("status_code", "status", "http_status", "code"):
            value = getattr(obj, attr, None)
            if isinstance(value, int) and not isinstance(value, bool) and 100 <= value <= 599:
                return value
    return None


def _retry_after_of(exc: BaseException) -> float | None:
    if isinstance(exc, TransientError) and exc.retry_after is not None:
        return exc.retry_after
    for headers in (
        getattr(getattr(exc, "response", None), "headers", None),
        getattr(exc, "headers", None),
    ):
        ms = _header(headers, "retry-after-ms")
        if ms is not None:
            try:
                return max(0.0, float(ms) / 1000.0)
            except ValueError:
                pass
        seconds = parse_retry_after(_header(headers, "retry-after"))
        if seconds is not None:
            return seconds
    return None


_TIMEOUT_NAMES = ("timeout", "timedout", "deadline")
_CONNECTION_NAMES = ("connection", "connecterror", "remoteprotocol", "networkerror", "readerror")
_RATE_NAMES = ("ratelimit", "toomanyrequests", "throttl", "resourceexhausted")
_SERVER_NAMES = ("internalserver", "serviceunavailable", "overloaded", "badgateway", "servererror")
# What code reading a response raises when the response is not shaped as it expects.
_DATA_SHAPE_ERRORS = (LookupError, AttributeError, TypeError, UnicodeDecodeError)
_DECODE_NAMES = ("jsondecodeerror", "validationerror")
_MALFORMED = "malformed_response"


def _names(exc: BaseException) -> str:
    return " ".join(c.__name__.lower() for c in type(exc).__mro__)


def classify_exception(exc: BaseException, policy: RetryRules) -> Failure:
    """Judge one failed attempt: its reason label, and whether ``policy`` retries it.

    Order: an explicit :class:`TransientError` (retried) or
    :class:`UnsupportedContentError` (not retried); an HTTP failure status (not 2xx) found on
    the exception or its ``response``; timeouts; connection errors; a 2xx status or a JSON
    decode error: the server answered but its answer cannot be read (``malformed_response``,
    retried per ``policy.retry_malformed``); class names that say rate limit / server error.
    Anything else (a 4xx that cannot succeed, a bug in the caller's code) is not retried.
    """
    return _judge(exc, policy) or Failure(type(exc).__name__, False, _retry_after_of(exc))


def classify_provider_exception(exc: BaseException, policy: RetryRules) -> Failure:
    """:func:`classify_exception` for an exception raised by code that reads the response
    itself (a LangChain integration): there, a data-shape error (``KeyError``,
    ``IndexError``, ``AttributeError``, ``TypeError``, a decode or validation error) is an
    answer it could not read, so a ``malformed_response`` (retried per
    ``policy.retry_malformed``), as a choice without its ``message`` is. Other exceptions
    are judged as :func:`classify_exception` judges them.
    """
    failure = _judge(exc, policy)
    if failure is not None:
        return failure
    retry_after = _retry_after_of(exc)
    if isinstance(exc, _DATA_SHAPE_ERRORS) or any(n in _names(exc) for n in _DECODE_NAMES):
        return Failure(_MALFORMED, policy.retry_malformed, retry_after)
    return Failure(type(exc).__name__, False, retry_after)


def _judge(exc: BaseException, policy: RetryRules) -> Failure | None:
    """The judgement of every rule :func:`classify_exception` knows; None: none applies."""
    retry_after = _retry_after_of(exc)
    if isinstance(exc, MalformedResponseError):
        return Failure(exc.reason, policy.retry_malformed, retry_after)
    if isinstance(exc, TransientError):
        return Failure(exc.reason, True, retry_after)
    if isinstance(exc, UnsupportedContentError):
        return Failure(exc.reason, False, retry_after)
    status = _status_of(exc)
    answered = status is not None and 200 <= status <= 299
    if status is not None and not answered:
        return Failure(f"http_{status}", policy.retries_status(status), retry_after, status)
    names = _names(exc)
    if isinstance(exc, (TimeoutError, asyncio.TimeoutError)) or any(
        n in names for n in _TIMEOUT_NAMES
    ):
        return Failure("timeout", policy.retry_timeouts, retry_after)
    if isinstance(exc, ConnectionError) or any(n in names for n in _CONNECTION_NAMES):
        return Failure("connection", policy.retry_connection_errors, retry_after)
    if answered or "jsondecodeerror" in names:
        # The server answered (2xx), but what it sent cannot be read: never "http_200".
        return Failure(_MALFORMED, policy.retry_malformed, retry_after)
    if any(n in names for n in _RATE_NAMES):
        return Failure("rate_limited", policy.retries_status(429), retry_after, 429)
    if any(n in names for n in _SERVER_NAMES):
        return Failure("server_error", policy.retries_status(500), retry_after, 500)
    return None
