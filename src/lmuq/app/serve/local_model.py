"""A local model as the gateway's upstream: ``lmuq serve`` without ``--upstream``.

:func:`create_local_model_app` serves a :class:`~lmuq.backends.transformers.TransformersBackend`
(the embedded SmolLM2-135M-Instruct by default) as a small OpenAI-compatible server —
``POST /v1/chat/completions`` (``n``, ``temperature``, ``top_p``, ``max_tokens``, ``seed``,
``logprobs``, ``top_logprobs``, ``stream``) and ``GET /v1/models`` — which the gateway
calls on a loopback port like any other upstream; :class:`LocalModelUpstream` runs it in a
background thread.

Two things differ from a hosted server, on purpose:

* the token log-probs end with the end-of-sequence token when the answer stopped (as in
  lmuq's own generations), so that a policy calibrated on ``lmuq demo`` scores the same
  quantity on live answers;
* a streamed answer is generated first and then sent token by token (with its log-probs):
  the model runs one request at a time, behind a lock, in a worker thread.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

from lmuq.app.serve.background import UvicornThread
from lmuq.app.serve.errors import error_body
from lmuq.chat import as_prompt
from lmuq.extras import require
from lmuq.types import Generation, SamplingParams

__all__ = ["LocalModelUpstream", "create_local_model_app"]

#: The most samples one request may ask for (``n``), and the longest answer.
MAX_N = 32
MAX_TOKENS = 1024
_UNSUPPORTED = ("stop", "tools", "functions", "response_format", "logit_bias")


class _BadRequest(ValueError):
    """A request the local server cannot serve (answered 400)."""


def create_local_model_app(backend: Any, model_name: str) -> Any:
    """The Starlette app serving ``backend`` under the name ``model_name``."""
    require("starlette", "serve", "the lmuq gateway")
    from starlette.applications import Starlette
    from starlette.routing import Route

    server = _LocalModel(backend, model_name)
    return Starlette(
        routes=[
            Route("/v1/chat/completions", server.chat, methods=["POST"]),
            Route("/v1/models", server.models, methods=["GET"]),
        ]
    )


class _LocalModel:
    def __init__(self, backend: Any, model_name: str) -> None:
        self.backend = backend
        self.model_name = model_name
        self._lock = asyncio.Lock()

    async def models(self, request: Any) -> Any:
        from starlette.responses import JSONResponse

        entry = {"id": self.model_name, "object": "model", "created": 0, "owned_by": "lmuq"}
        return JSONResponse({"object": "list", "data": [entry]})

    async def chat(self, request: Any) -> Any:
        from starlette.responses import JSONResponse, StreamingResponse

        try:
            body = json.loads(await request.body())
            prompt, params, n, top_k, stream = self._read(body)
        except (ValueError, TypeError) as exc:  # JSONDecodeError is a ValueError
            return JSONResponse(
                error_body(str(exc), "invalid_request_error", "invalid_request"), 400
            )
        try:
            async with self._lock:  # one generate call at a time on the model
                gens = await asyncio.to_thread(self._generate, prompt, params, n)
        except Exception as exc:  # the model failed: an OpenAI-style error, not a traceback
            message = f"the local model failed: {type(exc).__name__}: {exc}"
            return JSONResponse(error_body(message, "server_error", "generation_failed"), 500)
        failed = [g.error for g in gens if g.failed]
        if failed:
            return JSONResponse(error_body(failed[0], "server_error", "generation_failed"), 500)
        rid = f"chatcmpl-local-{uuid.uuid4().hex[:24]}"
        if stream:
            return StreamingResponse(self._chunks(rid, gens, top_k), media_type="text/event-stream")
        return JSONResponse(self._completion(rid, gens, top_k, prompt))

    # ------------------------------------------------------------------ request

    def _read(self, body: Any) -> tuple[Any, SamplingParams, int, int | None, bool]:
        if not isinstance(body, dict):
            raise _BadRequest("the request body must be a JSON object")
        unsupported = [k for k in _UNSUPPORTED if body.get(k) is not None]
        if unsupported:
            raise _BadRequest(f"the embedded model does not support {', '.join(unsupported)}")
        prompt = as_prompt(body.get("messages"), "messages")
        n = _int(_given(body, "n", 1), "n", 1, MAX_N)
        limit = _given(body, "max_completion_tokens", _given(body, "max_tokens", 256))
        max_tokens = _int(limit, "max_tokens", 1, MAX_TOKENS)
        temperature = _given(body, "temperature", 1.0)
        if not isinstance(temperature, (int, float)) or not 0 <= temperature <= 2:
            raise _BadRequest(f"temperature must be a number in [0, 2], got {temperature!r}")
        top_p = body.get("top_p")
        seed = body.get("seed")
        if seed is not None:
            seed = _int(seed, "seed", 0, 2**63 - 1)
        params = SamplingParams(
            temperature=float(temperature),
            top_p=None if top_p is None else float(top_p),
            max_new_tokens=max_tokens,
            seed=seed,
        )
        top_k = None
        if body.get("logprobs"):
            top_k = _int(body.get("top_logprobs", 0) or 0, "top_logprobs", 0, 20)
            if top_k > self.backend.top_logprobs:
                raise _BadRequest(
                    f"top_logprobs must be <= {self.backend.top_logprobs} for this server"
                )
        return prompt, params, n, top_k, bool(body.get("stream"))

    def _generate(self, prompt: Any, params: SamplingParams, n: int) -> list[Generation]:
        return self.backend.generate([prompt], params, n=n)[0]

    # ------------------------------------------------------------------ response

    def _entry(self, gen: Generation, t: int, top_k: int) -> dict[str, Any]:
        decode = self.backend.tokenizer.decode
        token = gen.tokens[t]
        alternatives = []
        if top_k and gen.top_logprobs is not None:
            for tid, lp in zip(
                gen.top_token_ids[t][:top_k], gen.top_logprobs[t][:top_k], strict=True
            ):
                piece = decode([int(tid)])
                alternatives.append(
                    {"token": piece, "logprob": float(lp), "bytes": list(piece.encode())}
                )
        return {
            "token": token,
            "logprob": float(gen.logprobs[t]),
            "bytes": list(token.encode()),
            "top_logprobs": alternatives,
        }

    def _logprobs(self, gen: Generation, top_k: int | None) -> dict[str, Any] | None:
        if top_k is None:
            return None
        return {"content": [self._entry(gen, t, top_k) for t in range(gen.num_tokens)]}

    def _completion(
        self, rid: str, gens: list[Generation], top_k: int | None, prompt: Any
    ) -> dict[str, Any]:
        choices = [
            {
                "index": i,
                "message": {"role": "assistant", "content": g.text},
                "logprobs": self._logprobs(g, top_k),
                "finish_reason": g.finish_reason,
            }
            for i, g in enumerate(gens)
        ]
        return {
            "id": rid,
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.model_name,
            "choices": choices,
            "usage": self._usage(gens, prompt),
        }

    def _usage(self, gens: list[Generation], prompt: Any) -> dict[str, int]:
        prompt_tokens = len(self.backend.encode_prompt(prompt))
        completion = sum(g.num_tokens for g in gens)
        return {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": prompt_tokens + completion,
        }

    def _deltas(self, gen: Generation) -> Iterator[str]:
        """The text each token adds, decoded incrementally (a character split over two
        tokens comes with the second; the last token brings what is left): the pieces
        join to ``gen.text``."""
        decode = self.backend.tokenizer.decode
        ids = list(gen.token_ids)
        n_content = len(ids) - 1 if gen.finish_reason == "stop" else len(ids)
        sent = ""
        for t in range(len(ids)):
            last = t == len(ids) - 1
            text = (
                gen.text if last else decode(ids[: min(t + 1, n_content)], skip_special_tokens=True)
            )
            if text.startswith(sent) and (last or not text.endswith("\ufffd")):
                yield text[len(sent) :]
                sent = text
            else:
                yield ""

    async def _chunks(
        self, rid: str, gens: list[Generation], top_k: int | None
    ) -> AsyncIterator[str]:
        created = int(time.time())

        def chunk(i: int, delta: dict, finish: str | None = None, logprobs=None) -> str:
            payload = {
                "id": rid,
                "object": "chat.completion.chunk",
                "created": created,
                "model": self.model_name,
                "choices": [
                    {"index": i, "delta": delta, "logprobs": logprobs, "finish_reason": finish}
                ],
            }
            return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"

        for i, gen in enumerate(gens):
            yield chunk(i, {"role": "assistant", "content": ""})
            for t, piece in enumerate(self._deltas(gen)):
                lp = None if top_k is None else {"content": [self._entry(gen, t, top_k)]}
                yield chunk(i, {"content": piece}, logprobs=lp)
            yield chunk(i, {}, finish=gen.finish_reason)
        yield "data: [DONE]\n\n"


def _given(body: dict, key: str, default: Any) -> Any:
    """``body[key]``, or ``default`` when it is absent or null (as OpenAI's API reads it)."""
    value = body.get(key)
    return default if value is None else value


def _int(value: Any, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _BadRequest(f"{name} must be an integer in [{low}, {high}], got {value!r}")
    return value


class LocalModelUpstream:
    """``with LocalModelUpstream(backend, name) as up:`` serves the model at ``up.base_url``
    (127.0.0.1, a free port) until the block ends."""

    def __init__(self, backend: Any, model_name: str) -> None:
        self.model_name = model_name
        self._runner = UvicornThread(create_local_model_app(backend, model_name), "local model")
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> LocalModelUpstream:
        self.port = self._runner.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._runner.stop()
