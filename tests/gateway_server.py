"""The lmuq gateway on uvicorn in a background thread, on a free loopback port (tests and
the load benchmark)."""

from __future__ import annotations

import subprocess
import time
from typing import Any

import httpx

from lmuq.app.serve.app import create_app
from lmuq.app.serve.config import GatewayConfig
from uvicorn_thread import UvicornThread

__all__ = ["GatewayThread", "wait_until_healthy"]


def wait_until_healthy(proc: subprocess.Popen, port: int, timeout: float) -> None:
    """Poll a gateway process's /healthz until it answers 200; fail with its stderr if it
    exits, or after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                return
        except httpx.HTTPError:
            pass  # not listening yet
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < deadline, "the gateway did not come up"
        time.sleep(0.1)


class GatewayThread:
    """``with GatewayThread(config) as gw:`` serves ``config`` at ``gw.base_url``."""

    def __init__(self, config: GatewayConfig) -> None:
        self.config = config
        self.app = create_app(config)
        self.port = 0
        self._runner = UvicornThread(self.app, "gateway")

    @property
    def gateway(self) -> Any:
        return self.app.state.gateway

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> GatewayThread:
        self.port = self._runner.start()
        return self

    def stop(self) -> None:
        self._runner.stop()

    def __enter__(self) -> GatewayThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
