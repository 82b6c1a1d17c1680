"""A small OpenAI-style HTTP server for tests and benchmarks, with fault injection.

It serves ``POST /v1/chat/completions``, ``POST /v1/completions`` and ``GET /v1/models``
(FastAPI on uvicorn) on ``127.0.0.1`` and a free port, in a background thread. Answers
are deterministic: choice ``c`` of a request for prompt ``p`` reads ``"<p> | s=<seed+c>"``
(``s=-`` without a seed), so a test can tell which prompt and which sample each answer
belongs to. Each word is one token with log-prob ``-0.1 * (position + 1)`` and
``top_logprobs`` alternatives below it.

Faults are rules: ``server.fail(kind, match=..., times=...)`` makes the next ``times``
requests whose prompt contains ``match`` (any prompt when None) fail with ``kind``, after
letting the first ``after`` of them through:

* ``"429"``: status 429 with ``Retry-After: <retry_after>`` (seconds, or an HTTP date);
* ``"500"`` / ``"503"`` / ``"400"``: that status with an OpenAI-style error body;
* ``"401"``: status 401 whose message echoes the ``Authorization`` header (as some servers
  do): the bearer token, or the ``Basic`` credentials and the user and password they hold;
* ``"slow"``: answer after ``delay`` seconds (past a client's timeout);
* ``"malformed"``: status 200 with a truncated JSON body;
* ``"no_message"``: status 200, a chat choice without its ``message``;
* ``"parts"``: the chat answer's content as a list of text parts (``[{"type": "text",
  "text": ...}, ...]``, one per word, spaces kept) instead of a string;
* ``"image_part"``: the content as a text part followed by an ``image_url`` part;
* ``"no_logprobs"``: a normal answer without log-probs;
* ``"cut_stream"``: a streamed answer that stops after its first chunk (no ``[DONE]``).

A chat request with ``"stream": true`` is answered as server-sent events: one
``chat.completion.chunk`` per word and choice (its ``delta.content`` and, when asked, its
``logprobs``), a last chunk per choice with its ``finish_reason``, then ``data: [DONE]``.

Server-wide switches: ``latency`` (seconds before every answer), ``logprobs`` (False: never
return them), ``n_mode`` (``"ok"``, ``"reject"``: 400 when ``n > 1``, ``"ignore"``: one
choice whatever ``n``). ``requests`` records every request body with its arrival time;
``POST /_stats`` returns the arrival times and the peak number of requests in flight, and
resets them (for a server in another process).

Run standalone (used by the benchmark) with ``python tests/openai_server.py --latency 0.05``;
it prints ``PORT <port>`` once listening.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from uvicorn_thread import UvicornThread

__all__ = ["FakeOpenAIServer", "Rule"]


@dataclass
class Rule:
    """Fail the next ``times`` matching requests with ``kind``."""

    kind: str
    match: str | None = None
    times: int = 1
    retry_after: str | None = "0.05"
    delay: float = 1.0
    status: int | None = None
    after: int = 0


@dataclass
class Seen:
    """One request as received."""

    path: str
    body: dict[str, Any]
    at: float
    prompt: str
    fault: str | None = None
    authorization: str | None = None


@dataclass
class FakeOpenAIServer:
    """The server and its switches (see the module docstring)."""

    latency: float = 0.0
    logprobs: bool = True
    n_mode: str = "ok"
    requests: list[Seen] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    port: int = 0
    inflight: int = 0
    max_inflight: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self.app = self._build_app()
        self._runner = UvicornThread(self.app, "fake OpenAI server", timeout_keep_alive=30)

    # ------------------------------------------------------------------ control

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def fail(self, kind: str, *, match: str | None = None, times: int = 1, **kw: Any) -> Rule:
        rule = Rule(kind, match, times, **kw)
        with self._lock:
            self.rules.append(rule)
        return rule

    def count(self, match: str | None = None, fault: str | None = "any") -> int:
        """Requests seen whose prompt contains ``match``; ``fault`` filters by injected kind
        (``"any"``: all, None: only those answered normally)."""
        with self._lock:
            seen = list(self.requests)
        return sum(
            1
            for r in seen
            if (match is None or match in r.prompt) and (fault == "any" or r.fault == fault)
        )

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.rules.clear()
            self.max_inflight = 0

    def start(self) -> FakeOpenAIServer:
        self.port = self._runner.start(self.port)
        return self

    def stop(self) -> None:
        self._runner.stop()

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ serving

    def _take_rule(self, prompt: str) -> Rule | None:
        with self._lock:
            for rule in self.rules:
                if rule.times > 0 and (rule.match is None or rule.match in prompt):
                    if rule.after > 0:  # let this many matching requests through first
                        rule.after -= 1
                        continue
                    rule.times -= 1
                    return rule
        return None

    def _build_app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/v1/chat/completions")
        async def chat(request: Request) -> Response:
            return await self._handle(request, chat=True)

        @app.post("/v1/completions")
        async def completions(request: Request) -> Response:
            return await self._handle(request, chat=False)

        @app.get("/v1/models")
        async def models() -> Response:
            return JSONResponse(
                {
                    "object": "list",
                    "data": [{"id": "fake", "object": "model", "created": 0, "owned_by": "tests"}],
                }
            )

        @app.post("/_stats")
        async def stats() -> Response:
            """Arrival times (server clock) and peak concurrency since the last reset; resets."""
            with self._lock:
                out = {
                    "arrivals": [r.at for r in self.requests],
                    "max_inflight": self.max_inflight,
                }
            self.reset()
            return JSONResponse(out)

        return app

    async def _handle(self, request: Request, *, chat: bool) -> Response:
        self.inflight += 1  # the server's loop is single-threaded
        self.max_inflight = max(self.max_inflight, self.inflight)
        try:
            return await self._answer(request, chat=chat)
        finally:
            self.inflight -= 1

    async def _answer(self, request: Request, *, chat: bool) -> Response:
        body = await request.json()
        prompt = str(body["messages"][-1]["content"]) if chat else str(body.get("prompt", ""))
        rule = self._take_rule(prompt)
        with self._lock:
            self.requests.append(
                Seen(
                    request.url.path,
                    body,
                    time.monotonic(),
                    prompt,
                    rule and rule.kind,
                    request.headers.get("authorization"),
                )
            )
        if self.latency:
            await asyncio.sleep(self.latency)
        kind = rule.kind if rule else None
        if kind == "429":
            headers = {"Retry-After": rule.retry_after} if rule.retry_after is not None else {}
            return _error(429, "Rate limit reached", headers)
        if kind == "401":
            return _error(401, _echo_credentials(request.headers.get("authorization", "")))
        if kind in ("400", "500", "503"):
            return _error(int(kind), f"injected {kind}")
        if kind == "slow":
            await asyncio.sleep(rule.delay)
        if kind == "malformed":
            return Response(
                '{"id": "x", "choices": [{"index": 0, "mess', media_type="application/json"
            )
        if kind == "no_message":
            return JSONResponse(
                {
                    "id": "x",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": body.get("model", "fake"),
                    "choices": [{"index": 0, "finish_reason": "stop"}],
                }
            )
        n = int(body.get("n") or 1)
        if n > 1 and self.n_mode == "reject":
            return _error(400, "n > 1 is not supported by this server")
        if self.n_mode == "ignore":
            n = 1
        with_lp = self.logprobs and kind != "no_logprobs" and bool(body.get("logprobs"))
        k = int(body.get("top_logprobs") or 0) if chat else int(body.get("logprobs") or 0)
        seed = body.get("seed")
        choices = []
        for c in range(n):
            text = f"{prompt} | s={seed + c if seed is not None else '-'}"
            words = text.split(" ")
            limit = int(body.get("max_tokens") or body.get("max_completion_tokens") or 1000)
            finish = "length" if len(words) > limit else "stop"
            words = words[:limit]
            text = " ".join(words)
            choice: dict[str, Any] = {"index": c, "finish_reason": finish}
            lps = [-0.1 * (t + 1) for t in range(len(words))]
            if chat:
                choice["message"] = {"role": "assistant", "content": _content(text, kind)}
                choice["logprobs"] = (
                    {
                        "content": [
                            {
                                "token": w,
                                "logprob": lp,
                                "top_logprobs": [{"token": w, "logprob": lp}]
                                + [
                                    {"token": f"alt{a}", "logprob": lp - 1.0 - a}
                                    for a in range(max(0, k - 1))
                                ],
                            }
                            for w, lp in zip(words, lps, strict=True)
                        ]
                    }
                    if with_lp
                    else None
                )
            else:
                choice["text"] = text
                choice["logprobs"] = (
                    {
                        "tokens": words,
                        "token_logprobs": lps,
                        "top_logprobs": [
                            {w: lp, **{f"alt{a}": lp - 1.0 - a for a in range(max(0, k - 1))}}
                            for w, lp in zip(words, lps, strict=True)
                        ],
                    }
                    if with_lp
                    else None
                )
            choices.append(choice)
        if chat and body.get("stream"):
            return StreamingResponse(
                _stream(choices, body.get("model", "fake"), cut=kind == "cut_stream"),
                media_type="text/event-stream",
            )
        return JSONResponse(
            {
                "id": f"cmpl-{len(self.requests)}",
                "object": "chat.completion" if chat else "text_completion",
                "created": int(time.time()),
                "model": body.get("model", "fake"),
                "choices": choices,
            }
        )


async def _stream(choices: list[dict[str, Any]], model: str, *, cut: bool) -> Any:
    """The chat ``choices`` as server-sent ``chat.completion.chunk`` events (one per word)."""
    import json

    created = int(time.time())

    def event(index: int, delta: dict[str, Any], lp: Any, finish: str | None) -> str:
        chunk = {
            "id": "chatcmpl-stream",
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": index, "delta": delta, "logprobs": lp, "finish_reason": finish}],
        }
        return f"data: {json.dumps(chunk)}\n\n"

    for choice in choices:
        i = choice["index"]
        entries = (choice["logprobs"] or {}).get("content") if choice["logprobs"] else None
        words = choice["message"]["content"].split(" ")
        for t, w in enumerate(words):
            piece = w if t == 0 else f" {w}"
            delta: dict[str, Any] = {"content": piece}
            if t == 0:
                delta["role"] = "assistant"
            lp = {"content": [{**entries[t], "token": piece}]} if entries else None
            yield event(i, delta, lp, None)
            if cut:
                return
            await asyncio.sleep(0)
        yield event(i, {}, None, choice["finish_reason"])
    yield "data: [DONE]\n\n"


def _content(text: str, kind: str | None) -> str | list[dict[str, Any]]:
    """A chat answer's ``content``: the text, or (faults ``parts`` / ``image_part``) parts."""
    if kind == "parts":
        words = text.split(" ")
        return [
            {"type": "text", "text": w if k == len(words) - 1 else f"{w} "}
            for k, w in enumerate(words)
        ]
    if kind == "image_part":
        return [
            {"type": "text", "text": text},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
        ]
    return text


def _echo_credentials(authorization: str) -> str:
    """A 401 message that repeats the credentials it was sent (a careless server's)."""
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value).decode()
        except (ValueError, UnicodeDecodeError):
            decoded = "?"
        return f"Invalid credentials {authorization!r} ({decoded})"
    return f"Incorrect API key provided: {value or authorization}"


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        {"error": {"message": message, "type": "server_error", "code": None}},
        status_code=status,
        headers=headers,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description="Serve the fake OpenAI API on 127.0.0.1.")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--latency", type=float, default=0.0)
    args = ap.parse_args()
    server = FakeOpenAIServer(latency=args.latency, port=args.port).start()
    print(f"PORT {server.port}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
