"""The gateway's ASGI app (Starlette): ``POST /v1/chat/completions`` (streamed or not),
``GET /v1/models`` (passed through), ``GET /healthz`` and ``GET /metrics``.

A chat request is forwarded to the upstream asking for the log-probs the policy's scorers
read; the upstream's answer comes back unchanged (log-probs the client did not ask for are
removed again) with an ``lmuq`` object in each choice (:mod:`lmuq.app.serve.confidence`)
and the first choice's ``x-lmuq-confidence`` / ``x-lmuq-decision`` / ``x-lmuq-policy``
headers. A streamed answer is passed through chunk by chunk as it arrives; after the last
chunk comes one more ``chat.completion.chunk`` with no choices and an ``lmuq`` list (one
object per choice), then ``data: [DONE]``. With ``abstain="refuse"`` a streamed answer is
held back until its decision, since a refusal must replace it.

Errors are OpenAI-style (``{"error": {"message", "type", "code"}}``): the upstream's own
for its 4xx/5xx, 504 for an upstream timeout, 502 for an unreachable upstream or an
unreadable answer, 429 with ``Retry-After`` when the queue is full, 401 for a missing or
wrong gateway key (``X-LMUQ-Key``). In a stream that fails after it started, the error
comes as an event (the ``openai`` client raises it). The client's ``Authorization`` goes to
the upstream with each call and is never logged or stored.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from lmuq.app.serve.confidence import ChoiceJudge, Verdict
from lmuq.app.serve.config import GatewayConfig
from lmuq.app.serve.errors import UpstreamError, error_body
from lmuq.app.serve.limiter import Limiter
from lmuq.app.serve.metrics import GatewayMetrics
from lmuq.app.serve.streaming import DONE, StreamAssembler, sse
from lmuq.app.serve.upstream import Upstream
from lmuq.backends.errors import UnsupportedContentError
from lmuq.backends.openai_format import content_text, parse_chat_choice
from lmuq.extras import require
from lmuq.types import Generation

__all__ = ["Gateway", "create_app"]

_CHAT = "/chat/completions"


def create_app(config: GatewayConfig) -> Any:
    """The Starlette app of a gateway with ``config`` (run it under uvicorn)."""
    require("starlette", "serve", "the lmuq gateway")
    from starlette.applications import Starlette
    from starlette.routing import Route

    gw = Gateway(config)
    app = Starlette(
        routes=[
            Route("/v1/chat/completions", gw.chat, methods=["POST"]),
            Route("/v1/models", gw.models, methods=["GET"]),
            Route("/healthz", gw.healthz, methods=["GET"]),
            Route("/metrics", gw.metrics_endpoint, methods=["GET"]),
        ],
        lifespan=gw.lifespan,
    )
    app.state.gateway = gw
    return app


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Any:
    from starlette.responses import Response

    text = json.dumps(body, ensure_ascii=False, allow_nan=False)
    return Response(text, status_code=status, headers=headers, media_type="application/json")


def _prompt(body: dict[str, Any]) -> str:
    """The text of the last user message (what the scorers condition on, if at all)."""
    for message in reversed(body.get("messages") or []):
        if isinstance(message, dict) and message.get("role") == "user":
            try:
                return content_text(message.get("content"))
            except (UnsupportedContentError, TypeError, ValueError):
                return ""
    return ""


class Gateway:
    """The gateway's state and handlers (one per app)."""

    def __init__(self, config: GatewayConfig) -> None:
        self.config = config
        self.policy = config.policy
        self.judge = ChoiceJudge(
            config.policy, abstain="abstain" if config.abstain == "refuse" else "flag"
        )
        self.limiter = Limiter(config.max_concurrency, config.max_queue)
        self.metrics = GatewayMetrics()
        self.upstream: Upstream | None = None
        self.audit: Any = None

    @asynccontextmanager
    async def lifespan(self, app: Any) -> AsyncIterator[None]:
        """Open the upstream's connection pool; close it on shutdown (after uvicorn has let
        the requests in flight finish)."""
        self.upstream = Upstream(
            self.config.upstream,
            timeout=self.config.timeout,
            max_connections=self.config.max_concurrency,
        )
        if self.config.audit is not None:
            from lmuq.storage.audit import AuditLog

            self.audit = AuditLog(self.config.audit, hash_prompts=self.config.hash_prompts)
        try:
            yield
        finally:
            await self.upstream.aclose()
            if self.audit is not None:
                self.audit.close()

    # ------------------------------------------------------------------ small endpoints

    async def healthz(self, request: Any) -> Any:
        return _json(
            {
                "status": "ok",
                "policy_id": self.policy.id,
                "upstream": self.config.upstream,
                "in_flight": self.limiter.active,
            }
        )

    async def metrics_endpoint(self, request: Any) -> Any:
        from starlette.responses import Response

        text, media = self.metrics.render()
        return Response(text, media_type=media)

    async def models(self, request: Any) -> Any:
        if not self.config.key_ok(request.headers.get("x-lmuq-key")):
            return self._finish("models", 0.0, _unauthorized())
        start = time.perf_counter()
        assert self.upstream is not None
        try:
            data = await self.upstream.get_json("/models", Upstream.headers(request.headers))
        except UpstreamError as exc:
            self.metrics.upstream_errors.labels(exc.kind).inc()
            return self._finish("models", start, _json(exc.body, exc.status))
        return self._finish("models", start, _json(data))

    def _finish(self, endpoint: str, start: float, response: Any) -> Any:
        self.metrics.requests.labels(endpoint, str(response.status_code)).inc()
        if start:
            self.metrics.latency.labels(endpoint).observe(time.perf_counter() - start)
        return response

    # ------------------------------------------------------------------ chat

    async def chat(self, request: Any) -> Any:
        start = time.perf_counter()
        if not self.config.key_ok(request.headers.get("x-lmuq-key")):
            return self._finish("chat", start, _unauthorized())
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            return self._finish(
                "chat",
                start,
                _json(
                    error_body(
                        "the body must be a JSON object with a 'messages' list",
                        "invalid_request_error",
                    ),
                    400,
                ),
            )
        if not await self.limiter.acquire():
            self.metrics.rejected.inc()
            retry = str(self.config.retry_after)
            return self._finish(
                "chat",
                start,
                _json(
                    error_body(
                        f"the gateway is at capacity ({self.config.max_concurrency} running, "
                        f"{self.config.max_queue} queued); retry after {retry} s",
                        "rate_limit_exceeded",
                        "rate_limit_exceeded",
                    ),
                    429,
                    {"Retry-After": retry},
                ),
            )
        self.metrics.in_flight.inc()
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self.limiter.release()
                self.metrics.in_flight.dec()

        try:
            if body.get("stream"):
                return await self._chat_stream(request, body, start, release)
            return self._finish("chat", start, await self._chat_once(request, body))
        except Exception as exc:  # a bug here must still answer in the API's shape
            release()
            return self._finish(
                "chat",
                start,
                _json(error_body(f"gateway error: {type(exc).__name__}", "server_error"), 500),
            )
        finally:
            if not body.get("stream"):
                release()

    def _forward_body(self, body: dict[str, Any]) -> tuple[dict[str, Any], bool, int | None]:
        """The body sent upstream (asking for the log-probs the policy reads), whether the
        client asked for log-probs and how many alternatives."""
        fwd = dict(body)
        client_lp = bool(body.get("logprobs"))
        # asked for log-probs without top_logprobs: the API then returns no alternatives
        client_top = (body.get("top_logprobs") or 0) if client_lp else None
        if self.policy.needs_logprobs:
            fwd["logprobs"] = True
        if self.policy.needs_top_logprobs:
            fwd["top_logprobs"] = max(int(client_top or 0), self.policy.sampling.top_logprobs)
        return fwd, client_lp, client_top

    def _drawer(self, body: dict[str, Any], headers: dict[str, str]) -> Any:
        """Draws k samples of the request with the policy's sampling settings."""
        s = self.policy.sampling
        base = {
            k: v
            for k, v in body.items()
            if k
            not in (
                "stream",
                "stream_options",
                "n",
                "seed",
                "max_completion_tokens",
                "logprobs",
                "top_logprobs",
            )
        }
        base.update(temperature=s.temperature, max_tokens=s.max_new_tokens)
        if s.top_p is not None:
            base["top_p"] = s.top_p
        if any("sample_logprobs" in _needs(n) for n in self.policy.sample_scorers):
            base["logprobs"] = True
            base["top_logprobs"] = s.top_logprobs
        top = s.top_logprobs

        async def call(n: int) -> list[Generation]:
            assert self.upstream is not None
            t = time.perf_counter()
            try:
                data = await self.upstream.post_json(_CHAT, {**base, "n": n}, headers)
            except UpstreamError as exc:
                self.metrics.observe_upstream("samples", time.perf_counter() - t, exc.kind)
                raise
            self.metrics.observe_upstream("samples", time.perf_counter() - t)
            gens = []
            for choice in data.get("choices") or []:
                try:
                    gens.append(parse_chat_choice(choice, None, top_k=top))
                except (KeyError, TypeError, ValueError, UnsupportedContentError):
                    continue
            self.metrics.samples.inc(len(gens))
            return gens

        async def draw(k: int) -> list[Generation]:
            try:
                return await call(k)
            except UpstreamError as exc:
                if k == 1 or exc.status not in (400, 422):
                    raise
            # the server refuses n > 1: one call per sample
            parts = await asyncio.gather(*(call(1) for _ in range(k)))
            return [g for part in parts for g in part]

        return draw

    def _sampler(self, body: dict[str, Any], headers: dict[str, str]) -> Prefetch:
        """The request's sample drawer; with ``eager_samples`` (and a policy that reads
        samples) its first batch is already on its way, drawn while the answer is."""
        draw = self._drawer(body, headers)
        eager = self.config.eager_samples and bool(self.policy.sample_scorers)
        return Prefetch(draw, self.policy.sampling.batch_size if eager else 0)

    async def _judge_all(
        self, body: dict[str, Any], choices: list[Any], draw: Any
    ) -> list[Verdict]:
        prompt = _prompt(body)
        top = self.policy.sampling.top_logprobs

        async def one(choice: Any) -> Verdict:
            try:
                answer = parse_chat_choice(choice, None, top_k=top)
            except (KeyError, TypeError, ValueError, AttributeError, UnsupportedContentError):
                return self.judge.unreadable("the upstream's choice has no readable message")
            return await self.judge.judge(prompt, answer, draw)

        verdicts = await asyncio.gather(*(one(c) for c in choices))
        for v in verdicts:
            self.metrics.decisions.labels(v.decision).inc()
        return list(verdicts)

    async def _chat_once(self, request: Any, body: dict[str, Any]) -> Any:
        assert self.upstream is not None
        fwd, client_lp, client_top = self._forward_body(body)
        headers = Upstream.headers(request.headers)
        t = time.perf_counter()
        sampler = self._sampler(body, headers)
        try:
            data = await self.upstream.post_json(_CHAT, fwd, headers)
        except UpstreamError as exc:
            sampler.cancel()
            self.metrics.observe_upstream("answer", time.perf_counter() - t, exc.kind)
            return _json(exc.body, exc.status)
        self.metrics.observe_upstream("answer", time.perf_counter() - t)
        choices = data.get("choices")
        if not isinstance(choices, list) or not choices:
            sampler.cancel()
            self.metrics.upstream_errors.labels("malformed").inc()
            return _json(
                error_body("the upstream's answer has no choices", "upstream_malformed"), 502
            )
        try:
            verdicts = await self._judge_all(body, choices, sampler)
        finally:
            sampler.cancel()
        self._audit(body, data, choices, verdicts, stream=False, start=t)
        for choice, v in zip(choices, verdicts, strict=True):
            if not isinstance(choice, dict):
                continue
            if not v.accept and self.config.abstain == "refuse":
                message = choice.get("message")
                if isinstance(message, dict):
                    choice["message"] = {**message, "content": self.config.refusal}
                choice["logprobs"] = None
            elif not client_lp and "logprobs" in choice:
                choice["logprobs"] = None
            elif client_top is not None:
                _trim(choice.get("logprobs"), int(client_top))
            choice["lmuq"] = v.lmuq
        return _json(data, 200, _headers(verdicts[0], self.policy.id))

    async def _chat_stream(
        self, request: Any, body: dict[str, Any], start: float, release: Any
    ) -> Any:
        from starlette.responses import StreamingResponse

        assert self.upstream is not None
        fwd, client_lp, client_top = self._forward_body(body)
        headers = Upstream.headers(request.headers)
        ctx = self.upstream.stream_lines(_CHAT, fwd, headers)
        t = time.perf_counter()
        sampler = self._sampler(body, headers)
        try:
            lines = await ctx.__aenter__()
        except UpstreamError as exc:
            sampler.cancel()
            self.metrics.observe_upstream("answer", time.perf_counter() - t, exc.kind)
            release()
            return self._finish("chat_stream", start, _json(exc.body, exc.status))
        asm = StreamAssembler(
            strip_logprobs=not client_lp and bool(fwd.get("logprobs")),
            top_logprobs=int(client_top) if client_top is not None else None,
        )
        hold = self.config.abstain == "refuse"

        async def events() -> AsyncIterator[bytes]:
            held: list[str] = []
            status = "200"
            try:
                done = False
                try:
                    async for line in lines:
                        if line.startswith("data:") and line[5:].strip() == DONE:
                            done = True
                            break
                        out = asm.feed(line)
                        if hold:
                            held.append(out)
                        else:
                            yield (out + "\n").encode()
                except UpstreamError as exc:
                    self.metrics.upstream_errors.labels(exc.kind).inc()
                    status = str(exc.status)
                    yield sse(exc.body)
                    return
                self.metrics.observe_upstream("answer", time.perf_counter() - t)
                if not done:
                    self.metrics.upstream_errors.labels("malformed").inc()
                    status = "502"
                    yield sse(
                        error_body(
                            "the upstream's stream ended before [DONE]; no confidence",
                            "upstream_malformed",
                        )
                    )
                    return
                verdicts = await self._judge_all(body, asm.choices(), sampler)
                self._audit(body, asm.last or {}, asm.choices(), verdicts, stream=True, start=t)
                if hold:
                    for chunk in self._release_held(held, verdicts, asm):
                        yield chunk
                last = asm.last or {}
                yield sse(
                    {
                        "id": last.get("id", "lmuq"),
                        "object": "chat.completion.chunk",
                        "created": last.get("created", int(time.time())),
                        "model": last.get("model", body.get("model", "")),
                        "choices": [],
                        "lmuq": [v.lmuq for v in verdicts],
                    }
                )
                yield f"data: {DONE}\n\n".encode()
            finally:
                sampler.cancel()
                await ctx.__aexit__(None, None, None)
                release()
                self._finish("chat_stream", start, _Status(status))

        return StreamingResponse(
            events(), media_type="text/event-stream", headers={"x-lmuq-policy": self.policy.id}
        )

    def _audit(
        self,
        body: dict[str, Any],
        data: dict[str, Any],
        choices: list[Any],
        verdicts: list[Verdict],
        *,
        stream: bool,
        start: float,
    ) -> None:
        """Queue one audit record per choice (the upstream's answer as it came)."""
        if self.audit is None:
            return
        import datetime as dt
        import uuid

        at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")
        request_id = str(data.get("id") or "") or uuid.uuid4().hex
        prompt = _prompt(body)
        latency = 1000 * (time.perf_counter() - start)
        for i, (choice, v) in enumerate(zip(choices, verdicts, strict=True)):
            message = choice.get("message") if isinstance(choice, dict) else None
            try:
                text = content_text(message.get("content")) if isinstance(message, dict) else None
            except (UnsupportedContentError, TypeError, ValueError):
                text = None
            self.audit.record(
                at=at,
                request_id=request_id,
                choice=int(choice.get("index", i)) if isinstance(choice, dict) else i,
                stream=stream,
                model=data.get("model") or body.get("model"),
                policy_id=self.policy.id,
                prompt=prompt,
                response=text,
                lmuq=v.lmuq,
                latency_ms=latency,
            )

    def _release_held(
        self, held: list[str], verdicts: list[Verdict], asm: StreamAssembler
    ) -> list[bytes]:
        """The held-back stream: chunks of accepted choices as they came; for each choice
        not accepted, one chunk with the refusal instead of its content."""
        refused = {c["index"] for c, v in zip(asm.choices(), verdicts, strict=True) if not v.accept}
        out = []
        for line in held:
            if line.startswith("data:") and refused:
                try:
                    chunk = json.loads(line[5:])
                except json.JSONDecodeError:
                    chunk = None
                if isinstance(chunk, dict):
                    kept = [
                        c
                        for c in chunk.get("choices") or []
                        if int(c.get("index") or 0) not in refused
                    ]
                    if not kept and chunk.get("choices"):
                        continue
                    chunk["choices"] = kept
                    line = "data: " + json.dumps(chunk, ensure_ascii=False)
            out.append((line + "\n").encode())
        last = asm.last or {}
        for i in sorted(refused):
            out.append(
                sse(
                    {
                        "id": last.get("id", "lmuq"),
                        "object": "chat.completion.chunk",
                        "created": last.get("created", int(time.time())),
                        "model": last.get("model", ""),
                        "choices": [
                            {
                                "index": i,
                                "delta": {"role": "assistant", "content": self.config.refusal},
                                "logprobs": None,
                                "finish_reason": "stop",
                            }
                        ],
                    }
                )
            )
        return out


class Prefetch:
    """A sample drawer whose first ``k`` samples (k > 0) are requested at once, before
    anyone asks: the first call gets them (and draws what it wants beyond them).
    :meth:`cancel` drops them when no one needed them."""

    def __init__(self, draw: Any, k: int) -> None:
        self._draw = draw
        self._task: asyncio.Task | None = asyncio.ensure_future(draw(k)) if k > 0 else None

    async def __call__(self, k: int) -> list[Generation]:
        if self._task is None:
            return await self._draw(k)
        task, self._task = self._task, None
        got = list(await task)
        if len(got) < k:
            got += await self._draw(k - len(got))
        return got[:k] if len(got) > k else got

    def cancel(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        if task.done():
            if not task.cancelled():
                task.exception()  # retrieved: an unused failed prefetch is not an error
        else:
            task.cancel()


class _Status:
    """A stand-in carrying a status code for the request counter."""

    def __init__(self, status: str) -> None:
        self.status_code = status


def _needs(scorer: str) -> set[str]:
    from lmuq.scoring.registry import SCORERS

    return set(SCORERS[scorer].needs)


def _unauthorized() -> Any:
    return _json(
        error_body(
            "missing or wrong gateway key: send it in the X-LMUQ-Key header",
            "invalid_request_error",
            "invalid_gateway_key",
        ),
        401,
    )


def _trim(logprobs: Any, k: int) -> None:
    """Cut each token's alternatives to the ``k`` the client asked for (in place)."""
    entries = logprobs.get("content") if isinstance(logprobs, dict) else None
    for entry in entries or []:
        alts = entry.get("top_logprobs") if isinstance(entry, dict) else None
        if isinstance(alts, list) and len(alts) > k:
            entry["top_logprobs"] = alts[:k]


def _headers(v: Verdict, policy_id: str) -> dict[str, str]:
    c = v.lmuq.get("confidence")
    conf = "nan" if c is None or (isinstance(c, float) and math.isnan(c)) else f"{c:.6f}"
    return {"x-lmuq-confidence": conf, "x-lmuq-decision": v.decision, "x-lmuq-policy": policy_id}
