"""The small protocols every generation backend implements, sync and async.

A backend is a *transport*: it turns ``(prompts, sampling parameters, n)`` into ``n``
:class:`~lmuq.types.Generation` objects per prompt. Everything above it (drawing answers
and samples, stores, scoring) talks to backends only through these two protocols.

Contract of both: the result has one list per prompt, in prompt order, each with exactly
``n`` generations; a call that fails is a ``Generation`` with ``error`` set on its own row,
never a dropped or shifted row. ``progress(k)`` reports ``k`` more prompts finished;
``on_result(prompt_index, sample_index, generation)`` fires as each generation arrives (a
backend that cannot report them one by one reports them when its call returns).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol, TypedDict, runtime_checkable

from lmuq.types import Generation, SamplingParams

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = [
    "AsyncGenerationBackend",
    "GenOptions",
    "GenerationBackend",
    "OnResult",
    "Progress",
    "Prompts",
    "backend_name",
    "check_generate_args",
    "generate_options",
]

#: The prompts of a call: a list of strings.
Prompts = Sequence[str]
#: ``progress(k)``: k more prompts have all their generations.
Progress = Callable[[int], object]
#: ``on_result(prompt_index, sample_index, generation)``: one generation has arrived.
OnResult = Callable[[int, int, Generation], object]


class GenOptions(TypedDict, total=False):
    """The keyword options of every ``generate`` / ``agenerate`` (stated once, here).

    Attributes:
        progress: ``progress(k)`` when k more prompts have all their generations.
        on_result: ``on_result(prompt_index, sample_index, generation)`` as each arrives.
    """

    progress: Progress | None
    on_result: OnResult | None


def generate_options(options: dict) -> tuple[Progress | None, OnResult | None]:
    """``(progress, on_result)`` from a ``generate`` call's keyword options; an unknown
    option is a ``TypeError``, as for any function."""
    unknown = set(options) - {"progress", "on_result"}
    if unknown:
        raise TypeError(
            f"generate() got unexpected keyword argument(s) {sorted(unknown)}; the options "
            "are progress= and on_result="
        )
    return options.get("progress"), options.get("on_result")


def check_generate_args(prompts: Sequence[str], n: int) -> None:
    """Validate a ``generate`` call's prompts and sample count, naming what to fix."""
    if isinstance(prompts, str):
        raise TypeError("prompts must be a list of strings, not a single string")
    if not isinstance(prompts, Sequence):
        raise TypeError(f"prompts must be a list of strings, got {type(prompts).__name__}")
    if len(prompts) == 0:
        raise ValueError("prompts is empty: pass at least one prompt")
    for i, p in enumerate(prompts):
        if not isinstance(p, str):
            raise TypeError(f"prompts[{i}] is a {type(p).__name__}, expected str")
        if not p.strip():
            raise ValueError(f"prompts[{i}] is empty or whitespace")
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be an int >= 1, got {n!r}")


def backend_name(backend: object) -> str:
    """A backend's ``name``, or its class name for a stand-in that has none."""
    name = getattr(backend, "name", None)
    return name if isinstance(name, str) and name else type(backend).__name__


@runtime_checkable
class GenerationBackend(Protocol):
    """Draws ``n`` generations per prompt, synchronously (see the module contract)."""

    @property
    def name(self) -> str: ...

    def generate(
        self, prompts: Prompts, params: SamplingParams, n: int = 1, **options: Unpack[GenOptions]
    ) -> list[list[Generation]]: ...


@runtime_checkable
class AsyncGenerationBackend(Protocol):
    """Draws ``n`` generations per prompt without blocking the event loop.

    Cancelling the awaiting task cancels the calls in flight; the generations already
    reported through ``on_result`` are final.
    """

    @property
    def name(self) -> str: ...

    async def agenerate(
        self, prompts: Prompts, params: SamplingParams, n: int = 1, **options: Unpack[GenOptions]
    ) -> list[list[Generation]]: ...
