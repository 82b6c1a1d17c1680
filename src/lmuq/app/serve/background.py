"""An ASGI app served by uvicorn in a background thread on a loopback port: the embedded
model's upstream behind ``lmuq serve`` without ``--upstream``, and the tests' servers."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

from lmuq.extras import require

__all__ = ["UvicornThread"]


class UvicornThread:
    """Serve ``app`` on ``127.0.0.1:port`` (0: a free port, read back into ``port``)."""

    def __init__(self, app: Any, what: str, **config: Any) -> None:
        self.app = app
        self.what = what
        self.config = {
            "log_level": "warning",
            "access_log": False,
            "timeout_graceful_shutdown": 1,
            **config,
        }
        self.port = 0
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def start(self, port: int = 0) -> int:
        """Start serving and wait until uvicorn says it is up; returns the port."""
        uvicorn = require("uvicorn", "serve", "the lmuq gateway")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        self.port = sock.getsockname()[1]
        self._server = uvicorn.Server(uvicorn.Config(self.app, **self.config))
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"the {self.what} did not start")
            time.sleep(0.01)
        return self.port

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
