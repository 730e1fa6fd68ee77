"""Running the sandbox: an in-process uvicorn server on a background thread (for tests) or a process."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from typing import TYPE_CHECKING, Any

import uvicorn

from include.graph_sandbox.app import SandboxProtocol, create_app
from include.graph_sandbox.config import make_config
from include.graph_sandbox.world import build_world

if TYPE_CHECKING:
    from fastapi import FastAPI


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening socket; port 0 picks a free one (read it back with getsockname)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.setblocking(False)
    return sock


def build_app(*, seed: int = 7, items: int = 500, creators: int | None = None, **config: Any) -> FastAPI:
    """Generate the world and the app (config keys as in config.DEFAULT_CONFIG; validated)."""
    return create_app(build_world(seed=seed, items=items, creators=creators), make_config(**config))


def make_server(app: FastAPI) -> uvicorn.Server:
    uv_config = uvicorn.Config(
        app,
        http=SandboxProtocol,
        loop="asyncio",
        lifespan="off",
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=1,
        timeout_keep_alive=30,
    )
    return uvicorn.Server(uv_config)


class BackgroundServer:
    """uvicorn serving `app` on its own thread and event loop; `stop()` shuts it down."""

    def __init__(self, app: FastAPI, host: str = "127.0.0.1", port: int = 0) -> None:
        self.sock = bind_socket(host, port)
        self.host = host
        self.port = self.sock.getsockname()[1]
        self.server = make_server(app)
        self.thread = threading.Thread(target=self._run, name=f"graph-sandbox-{self.port}", daemon=True)

    def _run(self) -> None:
        asyncio.run(self.server.serve(sockets=[self.sock]))

    def start(self, timeout: float = 30) -> None:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"graph sandbox did not start on {self.host}:{self.port}")
            time.sleep(0.005)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()
