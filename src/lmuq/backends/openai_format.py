"""Reading the OpenAI response format (chat and completions), from objects or plain dicts.

The OpenAI-compatible, LangChain and llama.cpp backends all receive this format; these
readers turn one ``choice`` into a :class:`~lmuq.types.Generation`, and
:func:`content_text` reads a message's content, a string or a list of parts.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lmuq.backends.errors import UnsupportedContentError
from lmuq.types import Generation, SamplingParams

__all__ = [
    "content_text",
    "field_of",
    "map_finish_reason",
    "parse_chat_choice",
    "parse_chat_logprobs",
    "parse_completion_choice",
    "parse_completion_logprobs",
]

_FINISH = {
    "stop": "stop",
    "eos": "stop",
    "eos_token": "stop",
    "stop_sequence": "stop",
    "end_turn": "stop",
    "length": "length",
    "max_tokens": "length",
    "model_length": "length",
}


def map_finish_reason(reason: Any) -> str | None:
    """OpenAI-style ``finish_reason`` -> lmuq's (``"stop"`` / ``"length"``; others kept)."""
    if reason is None:
        return None
    text = str(reason)
    return _FINISH.get(text.lower(), text)


def field_of(obj: Any, name: str) -> Any:
    if obj is None:
        return None
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


def content_text(content: Any) -> str:
    """A message's content as text: a string as it is, None as ``""``, a list of parts
    (OpenAI's ``[{"type": "text", "text": ...}]``, LangChain's content blocks, plain strings)
    joined in order.

    Raises:
        UnsupportedContentError: for a part that is not text (an image, audio, a refusal),
            naming its type.
    """
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if not isinstance(content, (list, tuple)):
        raise TypeError(f"message content is a {type(content).__name__}, not text or parts")
    texts = []
    for part in content:
        if isinstance(part, str):
            texts.append(part)
            continue
        kind = field_of(part, "type")
        if kind not in ("text", None):
            raise UnsupportedContentError(str(kind))
        text = field_of(part, "text")
        if not isinstance(text, str):
            raise TypeError(f"a content part (type {kind!r}) has no 'text' string")
        texts.append(text)
    return "".join(texts)


def _logprob(value: Any) -> float:
    return float("nan") if value is None else float(value)


def _top_matrix(rows: list[list[float]], top_k: int | None) -> np.ndarray | None:
    """Rows of alternatives -> a (T, k) matrix, each row descending, k the shortest row."""
    if not rows:
        return None
    k = min(len(r) for r in rows)
    if top_k is not None:
        k = min(k, top_k)
    if k < 1:
        return None
    return np.array([sorted(r, reverse=True)[:k] for r in rows], dtype=np.float64)


def parse_chat_logprobs(
    logprobs: Any, top_k: int | None = None
) -> tuple[np.ndarray | None, tuple[str, ...] | None, np.ndarray | None]:
    """Chat-format log-probs (``{"content": [{"token", "logprob", "top_logprobs"}]}``) ->
    ``(logprobs, tokens, top_logprobs)``; ``(None, None, None)`` when absent."""
    content = field_of(logprobs, "content")
    if not content:
        return None, None, None
    values = np.array([_logprob(field_of(t, "logprob")) for t in content], dtype=np.float64)
    tokens = tuple(str(field_of(t, "token") or "") for t in content)
    tops = [
        [_logprob(field_of(a, "logprob")) for a in (field_of(t, "top_logprobs") or [])]
        for t in content
    ]
    return values, tokens, _top_matrix(tops, top_k)


def parse_completion_logprobs(
    logprobs: Any, top_k: int | None = None
) -> tuple[np.ndarray | None, tuple[str, ...] | None, np.ndarray | None]:
    """Completions-format log-probs (``tokens``, ``token_logprobs``, ``top_logprobs`` as a
    list of ``{token: logprob}``) -> ``(logprobs, tokens, top_logprobs)``."""
    token_lps = field_of(logprobs, "token_logprobs")
    if not token_lps:
        return None, None, None
    values = np.array([_logprob(v) for v in token_lps], dtype=np.float64)
    raw_tokens = field_of(logprobs, "tokens")
    tokens = (
        tuple(str(t) for t in raw_tokens)
        if raw_tokens is not None and len(raw_tokens) == len(values)
        else None
    )
    raw_top = field_of(logprobs, "top_logprobs")
    top = None
    if raw_top is not None and len(raw_top) == len(values):
        rows = [[_logprob(v) for v in (d or {}).values()] for d in raw_top]
        top = _top_matrix(rows, top_k)
    return values, tokens, top


def parse_chat_choice(
    choice: Any, params: SamplingParams | None, top_k: int | None = None
) -> Generation:
    """One chat ``choice`` (object or dict) -> :class:`Generation`.

    Raises:
        KeyError: for a choice without its ``message``.
        UnsupportedContentError: for content with a part that is not text.
    """
    message = field_of(choice, "message")
    if message is None:
        raise KeyError("choice has no 'message'")
    text = content_text(field_of(message, "content"))
    values, tokens, top = parse_chat_logprobs(field_of(choice, "logprobs"), top_k)
    return Generation(
        text=text,
        logprobs=values,
        tokens=tokens,
        top_logprobs=top,
        finish_reason=map_finish_reason(field_of(choice, "finish_reason")),
        params=params,
    )


def parse_completion_choice(
    choice: Any, params: SamplingParams | None, top_k: int | None = None
) -> Generation:
    """One completions ``choice`` (object or dict) -> :class:`Generation`."""
    text = field_of(choice, "text")
    if text is None:
        raise KeyError("choice has no 'text'")
    values, tokens, top = parse_completion_logprobs(field_of(choice, "logprobs"), top_k)
    return Generation(
        text=str(text),
        logprobs=values,
        tokens=tokens,
        top_logprobs=top,
        finish_reason=map_finish_reason(field_of(choice, "finish_reason")),
        params=params,
    )
