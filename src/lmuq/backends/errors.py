"""What a generation call can raise, and what the runner turns failures into.

* :class:`TransientError` says "this may succeed if tried again" (the retry policy retries
  it); :class:`MalformedResponseError` is the transient failure of a response that cannot
  be read.
* :class:`UnsupportedContentError` says the answer holds content that is not text (an
  image, audio, a refusal part): that call fails on its own row, and is not retried.
* :class:`NotAttempted` withdraws an attempt before anything was sent.
* :class:`BatchUnsupportedError` says a call covering several samples is refused by the
  server; the runner then draws those samples one call each.
* :class:`CallFailedError` is a call given up on after its retries.
"""

from __future__ import annotations

__all__ = [
    "BatchUnsupportedError",
    "CallFailedError",
    "MalformedResponseError",
    "NotAttempted",
    "TransientError",
    "UnsupportedContentError",
]


class TransientError(Exception):
    """Raise from a call to say "this may succeed if tried again" (retried by the policy).

    Args:
        reason: a short label counted in :attr:`CallStats.errors_by_reason`.
        retry_after: seconds the other side asked us to wait, if it did.
    """

    def __init__(
        self, message: str, *, reason: str = "transient", retry_after: float | None = None
    ):
        super().__init__(message)
        self.reason = reason
        self.retry_after = retry_after


class MalformedResponseError(TransientError):
    """The server answered, but not with a response we can read (bad JSON, missing fields)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, reason="malformed_response")


class UnsupportedContentError(Exception):
    """The answer's content has a part that is not text (an image, audio, a refusal, ...).

    Attributes:
        part_type: the part's ``type`` (``"image_url"``, ...).
    """

    reason = "unsupported_content"

    def __init__(self, part_type: str) -> None:
        super().__init__(
            f"the answer's content has a part of type {part_type!r}; lmuq reads text parts "
            "only (ask the model for a text answer)"
        )
        self.part_type = part_type


class NotAttempted(Exception):
    """Raise from a call, before sending anything, to withdraw the attempt.

    :func:`call_with_retries` then uncounts it, returns its rate-limit token and lets the
    exception propagate.
    """


class CallFailedError(Exception):
    """A call that still failed after its retries (or could not be retried).

    Attributes:
        reason: the last failure's label (``"http_429"``, ``"timeout"``, ...).
        attempts: how many attempts were made.
        last_error: the last exception raised by the call.
    """

    def __init__(self, reason: str, attempts: int, last_error: BaseException) -> None:
        self.reason = reason
        self.attempts = attempts
        self.last_error = last_error
        detail = f"{type(last_error).__name__}: {last_error}".strip()
        tries = "attempt" if attempts == 1 else "attempts"
        super().__init__(f"{reason} after {attempts} {tries}: {detail}")


class BatchUnsupportedError(Exception):
    """Raised by a call covering several samples when the server will not do that.

    The runner then draws each of those samples with its own call (not a failure).
    """
