"""OpenAI-style error bodies, and the error the upstream client raises."""

from __future__ import annotations

from typing import Any

__all__ = ["UpstreamError", "error_body"]


def error_body(message: str, type_: str, code: str | None = None) -> dict[str, Any]:
    """``{"error": {"message", "type", "code", "param": null}}``, as the OpenAI API answers."""
    return {"error": {"message": message, "type": type_, "code": code, "param": None}}


class UpstreamError(Exception):
    """The upstream failed: an error status, a timeout, a connection failure or an
    unreadable body. ``status`` is what the gateway answers with; ``body`` the OpenAI-style
    error it returns; ``kind`` labels the metric (``status``, ``timeout``, ``connect``,
    ``malformed``)."""

    def __init__(self, status: int, body: dict[str, Any], kind: str) -> None:
        super().__init__(str(body.get("error", {}).get("message", body)))
        self.status = status
        self.body = body
        self.kind = kind
