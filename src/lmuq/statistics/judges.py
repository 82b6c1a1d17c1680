"""What judged scorers read: a judge model's replies, and teacher-forced option log-probs.

A judge's greedy reply to a prompt is a statistic like an NLI pair: a function of (judge
model, decoding settings, prompt), computed once and read by every scorer that needs it.

* :class:`JudgeReplies` holds replies keyed by ``(judge, params, prompt)``; ``fill`` draws
  the missing ones through :func:`lmuq.generation.draw_cells` (the one draw path), one call
  per (judge, params), so a call that fails lands on its own row as an error generation.
* :class:`ForcedLogprobs` holds ``log p(continuation | prompt)`` under a local model
  (``score_tokens``), keyed by ``(judge, prompt, continuation)``: what P(True) reads when the
  exact probabilities are available.

Judges are lmuq backends, keyed by identity (two objects are two judges).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Hashable, Sequence
from typing import Any

from lmuq.generation.draws import ANSWER, adraw_cells, draw_cells
from lmuq.statistics.missing import MissingStatistics
from lmuq.types import Generation, SamplingParams

__all__ = ["ForcedLogprobs", "JudgeReplies"]


class JudgeReplies:
    """Judge replies, each drawn once per (judge, decoding, prompt), batched across rows.

    ``draws`` counts the backend draws made (one per (judge, params) group per fill).
    """

    def __init__(self) -> None:
        self._judges: dict[int, Any] = {}
        self._replies: dict[tuple[int, SamplingParams, str], Generation] = {}
        self.draws = 0

    def __len__(self) -> int:
        return len(self._replies)

    def key(self, judge: Any, params: SamplingParams, prompt: str) -> Hashable:
        self._judges[id(judge)] = judge  # keeps the judge alive, so its id stays its own
        return (id(judge), params, prompt)

    def get(self, judge: Any, params: SamplingParams, prompt: str) -> Generation | None:
        """The stored reply, or None; never draws."""
        return self._replies.get((id(judge), params, prompt))

    def lookup(
        self, judge: Any, params: SamplingParams, prompt: str, *, compute: bool
    ) -> Generation:
        """The reply; when missing, drawn now (``compute``) or asked for by raising
        :class:`~lmuq.statistics.missing.MissingStatistics` (planning mode)."""
        key = self.key(judge, params, prompt)
        got = self._replies.get(key)
        if got is None:
            if not compute:
                raise MissingStatistics(self, [key])
            self.fill([key])
            got = self._replies[key]
        return got

    def _groups(self, keys: Sequence[Hashable]) -> list[tuple[int, SamplingParams, list[str]]]:
        """The missing replies as one (judge, params, prompts) group per backend call."""
        groups: dict[tuple[int, SamplingParams], list[str]] = {}
        for judge_id, params, prompt in dict.fromkeys(keys):
            if (judge_id, params, prompt) not in self._replies:
                groups.setdefault((judge_id, params), []).append(prompt)
        return [(j, p, prompts) for (j, p), prompts in groups.items()]

    def _draw_args(self, judge_id: int, params: SamplingParams, prompts: list[str]):
        cells = [(row, ANSWER, 0) for row in range(len(prompts))]
        options = {"answer_params": params, "progress": False, "on_failure": "ignore"}
        return (self._judges[judge_id], prompts, cells), options

    def _store(self, judge_id: int, params: SamplingParams, prompts: list[str], drawn) -> None:
        for row, prompt in enumerate(prompts):
            self._replies[(judge_id, params, prompt)] = drawn[(row, ANSWER, 0)]
        self.draws += 1

    def fill(self, keys: list[Hashable]) -> None:
        """Draw every missing reply, one backend call per (judge, params)."""
        for group in self._groups(keys):
            args, options = self._draw_args(*group)
            self._store(*group, draw_cells(*args, **options))

    async def afill(self, keys: list[Hashable]) -> None:
        """Async twin of :meth:`fill`: the judges are asked concurrently."""
        groups = self._groups(keys)
        calls = [self._draw_args(*group) for group in groups]
        done = await asyncio.gather(*(adraw_cells(*args, **options) for args, options in calls))
        for group, drawn in zip(groups, done, strict=True):
            self._store(*group, drawn)


class ForcedLogprobs:
    """``log p(continuation | prompt)`` under a local judge model, computed once each.

    The judge needs ``score_tokens(prompt, token_ids)`` (teacher-forced token log-probs) and
    a ``tokenizer``, as :class:`~lmuq.backends.transformers.TransformersBackend` has. A
    failure is kept as the exception's message (a ``str`` value) so it stays on its row.
    """

    def __init__(self) -> None:
        self._judges: dict[int, Any] = {}
        self._values: dict[tuple[int, str, str], float | str] = {}

    def __len__(self) -> int:
        return len(self._values)

    def lookup(self, judge: Any, prompt: str, continuation: str, *, compute: bool) -> float:
        """The summed log-prob; raises ``ValueError`` with the reason if it failed."""
        self._judges[id(judge)] = judge
        key = (id(judge), prompt, continuation)
        if key not in self._values:
            if not compute:
                raise MissingStatistics(self, [key])
            self.fill([key])
        value = self._values[key]
        if isinstance(value, str):
            raise ValueError(value)
        return value

    def fill(self, keys: list[Hashable]) -> None:
        for key in dict.fromkeys(keys):
            if key in self._values:
                continue
            judge_id, prompt, continuation = key
            judge = self._judges[judge_id]
            try:
                ids = list(judge.tokenizer(continuation, add_special_tokens=False)["input_ids"])
                lps = judge.score_tokens(prompt, ids)
                self._values[key] = math.fsum(float(x) for x in lps)
            except Exception as exc:  # one prompt's failure stays on its row
                self._values[key] = f"{type(exc).__name__}: {exc}"

    async def afill(self, keys: list[Hashable]) -> None:
        await asyncio.to_thread(self.fill, keys)
