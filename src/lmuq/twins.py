"""Sync and async twins with one signature: the async twin takes exactly the sync one's
parameters, stated once.

``@async_twin(draw)`` on ``async def adraw(*args, **kwargs)`` gives ``adraw`` the signature
of ``draw`` (what ``help()``, IDEs and type checkers show), so the two cannot drift apart;
the body forwards its arguments.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

__all__ = ["async_twin"]

P = ParamSpec("P")
T = TypeVar("T")


def async_twin(
    sync: Callable[P, T],
) -> Callable[[Callable[..., Awaitable[T]]], Callable[P, Awaitable[T]]]:
    """Decorate an async function that takes the same arguments as ``sync``."""

    def decorate(fn: Callable[..., Awaitable[T]]) -> Callable[P, Awaitable[T]]:
        @functools.wraps(fn)
        async def twin(*args: P.args, **kwargs: P.kwargs) -> T:
            return await fn(*args, **kwargs)

        signature = inspect.signature(sync)
        twin.__signature__ = signature.replace(  # type: ignore[attr-defined]
            return_annotation=f"Awaitable[{signature.return_annotation}]"
            if signature.return_annotation is not inspect.Signature.empty
            else inspect.Signature.empty
        )
        return twin

    return decorate
