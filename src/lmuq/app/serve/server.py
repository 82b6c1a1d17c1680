"""Running the gateway under uvicorn (graceful shutdown on SIGINT / SIGTERM: uvicorn stops
accepting connections and lets the requests in flight finish, up to
``graceful_timeout`` seconds)."""

from __future__ import annotations

from lmuq.app.serve.app import create_app
from lmuq.app.serve.config import GatewayConfig
from lmuq.extras import require

__all__ = ["serve"]


def serve(
    config: GatewayConfig,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    graceful_timeout: float = 30.0,
    log_level: str = "info",
) -> None:
    """Serve ``config``'s gateway on ``host:port`` until interrupted."""
    uvicorn = require("uvicorn", "serve", "the lmuq gateway")
    app = create_app(config)
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level=log_level,
        timeout_graceful_shutdown=graceful_timeout,
        # the access log records method, path and status: never headers or bodies
        access_log=True,
    )
