"""Chat-message prompts: a list of messages wherever lmuq takes a prompt.

UQLM's front doors accept a prompt as a string or a list of LangChain ``BaseMessage`` s;
lmuq accepts those, OpenAI-style ``{"role", "content"}`` dicts and ``(role, content)``
tuples too. :func:`as_prompt` turns any of them into a :class:`ChatPrompt`: a ``str`` (so
everything keyed by prompt text — caches, stores, NLI conditioning, judges' prompts — works
unchanged) that carries the messages, which the chat backends (LangChain, OpenAI-compatible
servers, local chat templates, llama.cpp chat mode) send as they are. Its text is the last
user message's content when that is the only message, else one ``role: content`` line per
message. Roles are ``system``, ``user``, ``assistant`` (LangChain's ``human`` / ``ai``
are mapped); a message list given with a backend's ``system_prompt`` is sent as given (its
own system message, if any, wins; UQLM does the same).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["ChatPrompt", "as_prompt", "chat_messages"]

_ROLES = {
    "human": "user",
    "user": "user",
    "ai": "assistant",
    "assistant": "assistant",
    "system": "system",
    "developer": "system",
}


class ChatPrompt(str):
    """A prompt given as chat messages: its ``str`` value is their text rendering and
    ``messages`` the messages, as ``({"role": ..., "content": ...}, ...)``."""

    messages: tuple[dict[str, str], ...]

    def __new__(cls, messages: Sequence[Mapping[str, str]]) -> ChatPrompt:
        msgs = tuple({"role": str(m["role"]), "content": str(m["content"])} for m in messages)
        if len(msgs) == 1 and msgs[0]["role"] == "user":
            text = msgs[0]["content"]
        else:
            text = "\n".join(f"{m['role']}: {m['content']}" for m in msgs)
        self = super().__new__(cls, text)
        self.messages = msgs
        return self

    def __reduce__(self) -> Any:
        return (ChatPrompt, (list(self.messages),))


def _content(value: Any, i: int) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, Sequence):  # LangChain / OpenAI content parts: keep the text ones
        parts = []
        for part in value:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, Mapping) and part.get("type") == "text":
                parts.append(str(part.get("text", "")))
            else:
                raise TypeError(f"message {i} has a non-text content part: {part!r}")
        return "".join(parts)
    raise TypeError(f"message {i} content must be text, got {type(value).__name__}")


def _message(m: Any, i: int) -> dict[str, str]:
    if isinstance(m, Mapping):
        role, content = m.get("role"), m.get("content")
    elif isinstance(m, tuple) and len(m) == 2:
        role, content = m
    elif hasattr(m, "type") and hasattr(m, "content"):  # a LangChain BaseMessage
        role, content = m.type, m.content
    else:
        raise TypeError(
            f"message {i} is a {type(m).__name__}: a message is a LangChain BaseMessage, a "
            "{'role', 'content'} dict or a (role, content) tuple"
        )
    if role not in _ROLES:
        raise ValueError(f"message {i} has role {role!r}; use system, user or assistant")
    return {"role": _ROLES[role], "content": _content(content, i)}


def as_prompt(prompt: Any, where: str = "a prompt") -> str:
    """A prompt as lmuq takes it: a ``str`` as it is; a non-empty list of messages as a
    :class:`ChatPrompt`. Raises ``TypeError`` / ``ValueError`` naming ``where`` (e.g.
    ``"prompts[3]"``) and what is wrong."""
    if isinstance(prompt, str):
        return prompt
    if not isinstance(prompt, Sequence) or isinstance(prompt, bytes):
        raise TypeError(f"{where} is a {type(prompt).__name__}; pass a str or a list of messages")
    if not prompt:
        raise ValueError(f"{where} is an empty message list; give at least one message")
    return ChatPrompt([_message(m, i) for i, m in enumerate(prompt)])


def chat_messages(prompt: str, system_prompt: str | None = None) -> list[dict[str, str]]:
    """The messages a chat backend sends for ``prompt``: a :class:`ChatPrompt`'s own
    messages, else the system prompt (when given) and the prompt as the user message."""
    if isinstance(prompt, ChatPrompt):
        return [dict(m) for m in prompt.messages]
    msgs = [{"role": "system", "content": system_prompt}] if system_prompt else []
    return [*msgs, {"role": "user", "content": prompt}]
