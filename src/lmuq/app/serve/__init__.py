"""``lmuq serve``: an OpenAI-compatible gateway that attaches a trust policy's confidence
and decision to every answer of an upstream OpenAI-compatible server.

Modules, one concept each: :mod:`~lmuq.app.serve.config` (the settings),
:mod:`~lmuq.app.serve.errors` (OpenAI-style error bodies), :mod:`~lmuq.app.serve.limiter`
(bounded concurrency), :mod:`~lmuq.app.serve.upstream` (the httpx client of the upstream),
:mod:`~lmuq.app.serve.confidence` (the policy applied to one answer, with adaptive
sampling), :mod:`~lmuq.app.serve.streaming` (server-sent events passed through and read),
:mod:`~lmuq.app.serve.metrics` (Prometheus), :mod:`~lmuq.app.serve.app` (the ASGI app) and
:mod:`~lmuq.app.serve.server` (uvicorn). Starlette, uvicorn, httpx and prometheus-client
come with ``pip install 'lmuq[serve]'``; nothing here is imported by ``import lmuq``.
"""

from __future__ import annotations

__all__: list[str] = []
