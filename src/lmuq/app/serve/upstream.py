"""The gateway's client of the upstream OpenAI-compatible server (httpx).

Every failure becomes an :class:`~lmuq.app.serve.errors.UpstreamError` carrying the
OpenAI-style error the gateway returns: the upstream's own error body and status when it
sent one (4xx/5xx), 504 for a timeout, 502 for a connection failure or a body that is not
the JSON object expected. The client's ``Authorization`` header is forwarded per request
and never kept, logged or put in an error message.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from lmuq.app.serve.errors import UpstreamError, error_body
from lmuq.extras import require

__all__ = ["FORWARDED_HEADERS", "Upstream"]

#: Request headers passed to the upstream (everything else, the gateway key included, stays).
FORWARDED_HEADERS = ("authorization", "openai-organization", "openai-project")


class Upstream:
    """httpx ``AsyncClient`` s on the upstream's base URL.

    The connections are split over several clients (``shards``, each with its own pool of
    ``max_connections / shards``), used in turn: httpcore's pool scans every waiting request
    against every connection on each event, a cost that grows with the square of the pool,
    and at a few hundred requests per second one large pool costs more CPU than the rest
    of the gateway together.
    """

    def __init__(
        self, base_url: str, *, timeout: float, max_connections: int, shards: int | None = None
    ) -> None:
        httpx = require("httpx", "serve", "the lmuq gateway")
        self._httpx = httpx
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        n = shards if shards is not None else max(1, min(16, max_connections // 4))
        per = max(1, -(-max_connections // n))
        self._clients = [
            httpx.AsyncClient(
                base_url=self.base_url,
                timeout=httpx.Timeout(timeout),
                limits=httpx.Limits(max_connections=per, max_keepalive_connections=per),
            )
            for _ in range(n)
        ]
        self._turn = 0

    @property
    def client(self) -> Any:
        """The next client in turn."""
        self._turn = (self._turn + 1) % len(self._clients)
        return self._clients[self._turn]

    async def aclose(self) -> None:
        for c in self._clients:
            await c.aclose()

    @staticmethod
    def headers(incoming: Mapping[str, str]) -> dict[str, str]:
        """The request headers to forward (see :data:`FORWARDED_HEADERS`)."""
        return {h: incoming[h] for h in FORWARDED_HEADERS if h in incoming}

    def _fail(self, exc: Exception) -> UpstreamError:
        httpx = self._httpx
        if isinstance(exc, httpx.TimeoutException):
            return UpstreamError(
                504,
                error_body(
                    f"the upstream did not answer within {self.timeout:g} s",
                    "upstream_timeout",
                    "upstream_timeout",
                ),
                "timeout",
            )
        return UpstreamError(
            502,
            error_body(
                f"could not reach the upstream ({type(exc).__name__})",
                "upstream_unreachable",
                "upstream_unreachable",
            ),
            "connect",
        )

    @staticmethod
    def _status_error(
        status: int, content: bytes, headers: Mapping[str, str] | None = None
    ) -> UpstreamError:
        try:
            body = json.loads(_redact(content.decode("utf-8", "replace"), headers or {}))
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = None
        if not (isinstance(body, dict) and isinstance(body.get("error"), dict)):
            body = error_body(
                f"the upstream answered HTTP {status}", "upstream_error", "upstream_error"
            )
        return UpstreamError(status, body, "status")

    @staticmethod
    def _malformed(why: str) -> UpstreamError:
        return UpstreamError(
            502,
            error_body(f"the upstream's answer is unreadable: {why}", "upstream_malformed"),
            "malformed",
        )

    async def get_json(self, path: str, headers: Mapping[str, str]) -> dict[str, Any]:
        """GET ``path`` (e.g. ``/models``) and return its JSON object."""
        try:
            resp = await self.client.get(path, headers=dict(headers))
        except self._httpx.HTTPError as exc:
            raise self._fail(exc) from None
        return self._read(resp.status_code, resp.content, headers)

    async def post_json(
        self, path: str, body: Mapping[str, Any], headers: Mapping[str, str]
    ) -> dict[str, Any]:
        """POST a JSON ``body`` to ``path`` and return the JSON object of the answer."""
        try:
            resp = await self.client.post(path, json=dict(body), headers=dict(headers))
        except self._httpx.HTTPError as exc:
            raise self._fail(exc) from None
        return self._read(resp.status_code, resp.content, headers)

    def _read(self, status: int, content: bytes, headers: Mapping[str, str]) -> dict[str, Any]:
        if status >= 400:
            raise self._status_error(status, content, headers)
        try:
            data = json.loads(content)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise self._malformed(f"not JSON ({exc})") from None
        if not isinstance(data, dict):
            raise self._malformed(f"a JSON {type(data).__name__}, not an object")
        return data

    @asynccontextmanager
    async def stream_lines(
        self, path: str, body: Mapping[str, Any], headers: Mapping[str, str]
    ) -> AsyncIterator[AsyncIterator[str]]:
        """POST ``body`` and yield an iterator over the lines of the streamed answer (the
        connection is closed on exit, also when the caller stops early)."""
        client = self.client
        request = client.build_request("POST", path, json=dict(body), headers=dict(headers))
        try:
            resp = await client.send(request, stream=True)
        except self._httpx.HTTPError as exc:
            raise self._fail(exc) from None
        try:
            if resp.status_code >= 400:
                content = await resp.aread()
                raise self._status_error(resp.status_code, content, headers)
            yield self._lines(resp)
        finally:
            await resp.aclose()

    async def _lines(self, resp: Any) -> AsyncIterator[str]:
        try:
            async for line in resp.aiter_lines():
                yield line
        except self._httpx.HTTPError as exc:
            raise self._fail(exc) from None


def _redact(text: str, headers: Mapping[str, str]) -> str:
    """``text`` without the client's credentials (some servers echo them in errors): the
    ``Authorization`` value, its token, and for ``Basic`` the user:password it encodes."""
    from lmuq.secrets import redact_text

    auth = headers.get("authorization", "")
    scheme, _, token = auth.partition(" ")
    secrets = [auth, token]
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(token).decode()
        except (ValueError, UnicodeDecodeError):
            decoded = ""
        secrets += [decoded, decoded.partition(":")[2]]
    return redact_text(text, secrets)
