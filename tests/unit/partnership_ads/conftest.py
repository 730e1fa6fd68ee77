"""Fixtures of the hook's unit tests: a hook on an ``AIRFLOW_CONN_*`` connection, and a loopback HTTP server
that records what arrives on the wire (real HTTP, 127.0.0.1 only)."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from partnership_ads.hooks import PartnershipAdsHook

#: The access token of the connections ``make_hook`` builds.
UNIT_TOKEN = "EAABunitTOKEN0123456789"


@dataclass
class Received:
    """One request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: str


@dataclass
class RecordingServer:
    """Answers every request with ``answer`` (status, JSON body) and keeps what it received."""

    url: str = ""
    received: list[Received] = field(default_factory=list)
    answer: tuple[int, dict[str, Any]] = (200, {"data": []})


@pytest.fixture
def recording_server() -> Iterator[RecordingServer]:
    state = RecordingServer()

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            state.received.append(Received(self.command, self.path, dict(self.headers.items()), body))
            status, payload = state.answer
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_DELETE = _handle

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def make_hook(monkeypatch: pytest.MonkeyPatch) -> Callable[..., PartnershipAdsHook]:
    """Build a hook on a fresh ``AIRFLOW_CONN_<ID>`` JSON connection; waits are not slept."""
    from partnership_ads.hooks import PartnershipAdsHook

    serial = {"n": 0}

    def make(host: str, token: str = UNIT_TOKEN, **fields: Any) -> PartnershipAdsHook:
        serial["n"] += 1
        conn_id = f"meta_graph_unit_{serial['n']}"
        connection = {"conn_type": "meta_graph", "host": host, "password": token, **fields}
        connection.setdefault("extra", {})
        connection["extra"] = {"max_retries": 1, "timeout": 5, **connection["extra"]}
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(connection))
        hook = PartnershipAdsHook(meta_conn_id=conn_id)
        hook._sleep = lambda seconds: None
        return hook

    return make
