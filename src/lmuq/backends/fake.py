"""A scripted backend for tests: no model, no network, every call recorded.

:class:`FakeBackend` is to lmuq what ``httpx.MockTransport`` is to httpx: it implements both
backend protocols with replies you choose, so code built on lmuq can be tested offline and
fast. A reply is chosen by a ``respond(prompt, params, sample_index)`` function or by a
mapping from a substring of the prompt to the reply; a reply is a text, a ready
:class:`~lmuq.types.Generation`, or an exception to raise for that call (which becomes an
error row, as a real backend's failed call does).

>>> from lmuq.backends.fake import FakeBackend
>>> from lmuq.types import SamplingParams
>>> fake = FakeBackend({"France": "Paris", "Spain": "Madrid"})
>>> rows = fake.generate(["Capital of France?", "Capital of Spain?"], SamplingParams(), 2)
>>> [[g.text for g in row] for row in rows]
[['Paris', 'Paris'], ['Madrid', 'Madrid']]
>>> len(fake.calls)
1
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lmuq.backends.base import (
    GenOptions,
    OnResult,
    Progress,
    Prompts,
    check_generate_args,
    generate_options,
)
from lmuq.backends.runner import error_generation
from lmuq.twins import async_twin
from lmuq.types import Generation, SamplingParams

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["FakeBackend", "FakeCall", "Reply"]

#: What a fake call answers: text, a ready Generation, or an exception to raise.
Reply = str | Generation | BaseException


@dataclass(frozen=True)
class FakeCall:
    """One ``generate`` / ``agenerate`` call the fake received."""

    prompts: tuple[str, ...]
    params: SamplingParams
    n: int
    asynchronous: bool


class FakeBackend:
    """A backend whose replies are scripted (see the module docstring).

    Args:
        replies: a mapping from a prompt substring to its reply (the first key found in the
            prompt wins), or a function ``respond(prompt, params, sample_index) -> Reply``.
        default: the reply when no key matches (None: a ``KeyError`` naming the prompt,
            recorded as that row's error).
        name: the backend's name.
        delay: seconds each async call sleeps before answering (to test concurrency,
            cancellation and timeouts).

    Attributes:
        calls: every call received, in order (:class:`FakeCall`).
        generations: how many generations were answered (successes and errors).
    """

    def __init__(
        self,
        replies: Mapping[str, Reply] | Callable[[str, SamplingParams, int], Reply],
        *,
        default: Reply | None = None,
        name: str = "fake",
        delay: float = 0.0,
    ) -> None:
        if not callable(replies) and not isinstance(replies, Mapping):
            raise TypeError("replies must be a mapping substring -> reply, or a function")
        if delay < 0:
            raise ValueError(f"delay must be >= 0 seconds, got {delay!r}")
        self.replies = replies
        self.default = default
        self._name = name
        self.delay = delay
        self.calls: list[FakeCall] = []
        self.generations = 0
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self._name

    def __repr__(self) -> str:
        return f"FakeBackend(name={self._name!r}, calls={len(self.calls)})"

    def reply(self, prompt: str, params: SamplingParams, sample_index: int) -> Generation:
        """The generation one sample of ``prompt`` gets (an error row for a raised reply)."""
        try:
            answer = self._choose(prompt, params, sample_index)
            if isinstance(answer, BaseException):
                raise answer
        except Exception as exc:  # a scripted failure lands on its own row
            return error_generation(params, f"{type(exc).__name__}: {exc}")
        if isinstance(answer, Generation):
            return answer
        if not isinstance(answer, str):
            raise TypeError(f"a fake reply must be str, Generation or an exception, got {answer!r}")
        return Generation(text=answer, finish_reason="stop", params=params)

    def _choose(self, prompt: str, params: SamplingParams, sample_index: int) -> Reply:
        if callable(self.replies):
            return self.replies(prompt, params, sample_index)
        for key, answer in self.replies.items():
            if key in prompt:
                return answer
        if self.default is not None:
            return self.default
        raise KeyError(f"no scripted reply for prompt {prompt[:80]!r}")

    def _answer(
        self,
        prompts: Sequence[str],
        params: SamplingParams,
        n: int,
        asynchronous: bool,
        progress: Progress | None = None,
        on_result: OnResult | None = None,
    ) -> list[list[Generation]]:
        check_generate_args(prompts, n)
        with self._lock:
            self.calls.append(FakeCall(tuple(prompts), params, n, asynchronous))
        rows = []
        for i, prompt in enumerate(prompts):
            row = [self.reply(prompt, params, j) for j in range(n)]
            for j, gen in enumerate(row):
                if on_result is not None:
                    on_result(i, j, gen)
            with self._lock:
                self.generations += n
            rows.append(row)
            if progress is not None:
                progress(1)
        return rows

    def generate(
        self, prompts: Prompts, params: SamplingParams, n: int = 1, **options: Unpack[GenOptions]
    ) -> list[list[Generation]]:
        """``n`` scripted generations per prompt, in prompt order."""
        return self._answer(prompts, params, n, False, *generate_options(options))

    @async_twin(generate)
    async def agenerate(
        self, prompts: Sequence[str], params: SamplingParams, n: int = 1, **options: Any
    ) -> list[list[Generation]]:
        """Async twin of :meth:`generate` (after ``delay`` seconds)."""
        if self.delay:
            await asyncio.sleep(self.delay)
        return self._answer(prompts, params, n, True, *generate_options(options))
