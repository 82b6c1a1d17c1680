"""Server-sent events of a streamed chat completion: passed through, and read back into
whole choices for scoring.

:class:`StreamAssembler` reads each ``data:`` line of the upstream's stream (OpenAI's
``chat.completion.chunk`` objects), appends each choice's ``delta.content`` and its
``logprobs.content`` entries, and records its ``finish_reason``; :meth:`choices` then gives
them in the shape of a non-streamed ``choices`` list.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["DONE", "StreamAssembler", "sse"]

DONE = "[DONE]"


def sse(obj: Any) -> bytes:
    """One server-sent event carrying ``obj`` as JSON."""
    return f"data: {json.dumps(obj, ensure_ascii=False, allow_nan=False)}\n\n".encode()


class StreamAssembler:
    """Accumulates the chunks of a streamed chat completion (see the module docstring).

    ``strip_logprobs``: the client did not ask for log-probs (the gateway did): chunks are
    returned with ``logprobs`` set to null; ``top_logprobs``: the number the client asked
    for, to which each entry's alternatives are trimmed (None: as they came).
    """

    def __init__(self, *, strip_logprobs: bool, top_logprobs: int | None) -> None:
        self.strip = strip_logprobs
        self.top = top_logprobs
        self.last: dict[str, Any] | None = None
        self._text: dict[int, list[str]] = {}
        self._lps: dict[int, list[dict[str, Any]] | None] = {}
        self._finish: dict[int, Any] = {}

    def feed(self, line: str) -> str:
        """Read one line of the stream; returns the line to pass on (the same line, unless
        log-probs must be removed or trimmed)."""
        if not line.startswith("data:"):
            return line
        payload = line[5:].strip()
        if payload == DONE or not payload:
            return line
        try:
            chunk = json.loads(payload)
        except json.JSONDecodeError:
            return line
        if not isinstance(chunk, dict):
            return line
        self.last = chunk
        changed = False
        for choice in chunk.get("choices") or []:
            i = int(choice.get("index") or 0)
            delta = choice.get("delta") or {}
            content = delta.get("content")
            if isinstance(content, str):
                self._text.setdefault(i, []).append(content)
            else:
                self._text.setdefault(i, [])
            lp = choice.get("logprobs")
            entries = lp.get("content") if isinstance(lp, dict) else None
            if isinstance(entries, list):
                got = self._lps.setdefault(i, [])
                if got is not None:
                    got.extend(dict(e) for e in entries if isinstance(e, dict))
            elif content:
                self._lps[i] = None  # a token without its log-prob: the choice has none
            if choice.get("finish_reason") is not None:
                self._finish[i] = choice["finish_reason"]
            if lp is not None and self.strip:
                choice["logprobs"] = None
                changed = True
            elif isinstance(entries, list) and self.top is not None:
                for entry in entries:
                    alts = entry.get("top_logprobs")
                    if isinstance(alts, list) and len(alts) > self.top:
                        entry["top_logprobs"] = alts[: self.top]
                        changed = True
        if changed:
            return "data: " + json.dumps(chunk, ensure_ascii=False)
        return line

    def choices(self) -> list[dict[str, Any]]:
        """The streamed choices as non-streamed ones (``message``, ``logprobs``,
        ``finish_reason``), by index."""
        out = []
        for i in sorted(self._text):
            entries = self._lps.get(i)
            out.append(
                {
                    "index": i,
                    "message": {"role": "assistant", "content": "".join(self._text[i])},
                    "logprobs": {"content": entries} if entries else None,
                    "finish_reason": self._finish.get(i),
                }
            )
        return out
