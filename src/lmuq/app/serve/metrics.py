"""Prometheus metrics of one gateway (its own registry, served at ``/metrics``)."""

from __future__ import annotations

from typing import Any

from lmuq.extras import require

__all__ = ["GatewayMetrics"]


class GatewayMetrics:
    """Counters and histograms: requests (by endpoint and status), request latency,
    upstream latency and errors (by kind), decisions, samples drawn, 429 rejections and
    requests in flight."""

    def __init__(self) -> None:
        prom = require("prometheus_client", "serve", "the gateway's /metrics")
        self._prom = prom
        self.registry = prom.CollectorRegistry()
        r = self.registry
        self.requests = prom.Counter(
            "lmuq_gateway_requests", "Requests answered", ["endpoint", "status"], registry=r
        )
        self.latency = prom.Histogram(
            "lmuq_gateway_request_seconds",
            "Time to answer a request (to the last byte for a stream)",
            ["endpoint"],
            registry=r,
        )
        self.upstream_latency = prom.Histogram(
            "lmuq_gateway_upstream_seconds", "Time of each upstream call", ["call"], registry=r
        )
        self.upstream_errors = prom.Counter(
            "lmuq_gateway_upstream_errors", "Failed upstream calls", ["kind"], registry=r
        )
        self.decisions = prom.Counter(
            "lmuq_gateway_decisions", "Decisions on answers", ["decision"], registry=r
        )
        self.samples = prom.Counter(
            "lmuq_gateway_samples", "Samples drawn for adaptive sampling", registry=r
        )
        self.rejected = prom.Counter(
            "lmuq_gateway_rejected", "Requests refused with 429 (queue full)", registry=r
        )
        self.in_flight = prom.Gauge("lmuq_gateway_in_flight", "Requests being handled", registry=r)

    def render(self) -> tuple[bytes, str]:
        """The exposition text and its content type."""
        return self._prom.generate_latest(self.registry), self._prom.CONTENT_TYPE_LATEST

    def observe_upstream(self, call: str, seconds: float, error: Any = None) -> None:
        self.upstream_latency.labels(call).observe(seconds)
        if error is not None:
            self.upstream_errors.labels(error).inc()
