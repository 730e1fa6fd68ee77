"""A local HTTP receiver on ``127.0.0.1`` that records every request and answers what it is told.

The webhook tests and the redirect drill use it for the receivers the graph sandbox does not play: one that
redirects (``307`` with a ``Location`` to another origin) and the other origin, which must receive nothing.
Real HTTP on the loopback interface, one thread per request (:class:`http.server.ThreadingHTTPServer`).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from types import TracebackType


@dataclass(frozen=True)
class ReceivedRequest:
    """One request as the receiver saw it (``path`` includes the query; header names are lower case)."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class LocalReceiver:
    """Listen on ``127.0.0.1:<free port>``; answer every request with :attr:`status` and :attr:`headers`.

    Use as a context manager (or call :meth:`close`). :attr:`received` lists every request, in order;
    :attr:`delay` holds every answer back that many seconds (a receiver too slow for the client's timeout).
    """

    def __init__(self, status: int = 200, headers: dict[str, str] | None = None, delay: float = 0.0) -> None:
        self.status = status
        self.headers = dict(headers or {})
        self.delay = delay
        self.received: list[ReceivedRequest] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with receiver._lock:
                    receiver.received.append(
                        ReceivedRequest(
                            method=self.command,
                            path=self.path,
                            headers={k.lower(): v for k, v in self.headers.items()},
                            body=body,
                        )
                    )
                    status, headers, delay = receiver.status, dict(receiver.headers), receiver.delay
                if delay:
                    time.sleep(delay)
                answer = b'{"received": true}'
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

            def log_message(self, format: str, *args: Any) -> None:
                """Silent: the tests read :attr:`LocalReceiver.received`."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="local-receiver", daemon=True)
        self._thread.start()

    @property
    def origin(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str = "/") -> str:
        """The receiver's URL for ``path`` (query included, if any)."""
        return self.origin + path

    def redirect_to(self, location: str, status: int = 307) -> None:
        """Answer every following request with ``status`` and ``Location: location``."""
        with self._lock:
            self.status, self.headers = status, {"Location": location}

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> LocalReceiver:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
