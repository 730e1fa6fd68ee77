"""Proxies that misbehave on demand, on loopback.

- :class:`SwitchableProxy`: a TCP proxy that can be switched off: a database that becomes unreachable and
  comes back. While ``down`` every new connection is accepted and closed at once (the client sees the server
  close the connection), and open ones are cut; while up, bytes are copied both ways.
- :class:`EchoingProxy`: an HTTP proxy in front of the graph sandbox that, when armed, answers instead of
  forwarding with an error page echoing the request (headers, ``Authorization`` included, query string, form
  body), as a misconfigured gateway or a debugging proxy does. The echo places the token where a cut of the
  error text would split it.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import socket
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlsplit


class SwitchableProxy:
    """Forward ``127.0.0.1:<port>`` to ``target``; :attr:`down` makes it unreachable."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.down = False
        self.refused = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        threading.Thread(target=self._accept, name="switchable-proxy", daemon=True).start()

    def set_down(self, down: bool) -> None:
        """Switch the proxy off (cutting open connections) or on again."""
        self.down = down
        if down:
            with self._lock:
                for sock in list(self._open):
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self.down:
                self.refused += 1
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=10)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open.update((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.close()
                with self._lock:
                    self._open.discard(sock)

    def close(self) -> None:
        self._stop.set()
        self.set_down(True)
        self._listener.close()


# Headers that describe one hop, not the message: never copied from the upstream answer.
_HOP_HEADERS = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "content-length", "proxy-connection", "upgrade", "te"}
)
ECHO_STYLES = ("json", "text")


def quoted_text(body: str) -> str:
    """The text an error quotes from a body: tags dropped, blanks collapsed (as the hook's excerpt does)."""
    return " ".join(re.sub(r"<[^>]*>", " ", body).split())


@dataclass
class _Arming:
    count: int
    method: str | None
    path: str | None
    status: int
    style: str
    token_at: int


class EchoingProxy:
    """Forward ``127.0.0.1:<port>`` to ``upstream`` (an ``http://host:port`` URL); :meth:`arm` makes it echo.

    Armed, the next ``count`` requests that match (``method``, a ``path`` substring) are not forwarded: they
    get HTTP ``status`` with a body echoing the request, ``json`` (httpbin-like: ``headers``, ``args``,
    ``form``) or ``text`` (the request as received, line by line), padded so that the request's credential
    (the ``Authorization`` value after its scheme, else ``access_token`` from the query or the form) begins
    at character ``token_at`` of the quoted text (see :func:`quoted_text`).

    :ivar echoed: bodies answered so far (what a log or an error text may have quoted).
    :ivar forwarded: requests forwarded upstream.
    """

    def __init__(self, upstream: str) -> None:
        target = urlsplit(upstream)
        if target.scheme != "http" or not target.hostname:
            raise ValueError(f"upstream must be an http://host:port URL, got {upstream!r}")
        self.upstream = (target.hostname, target.port or 80)
        self.echoed: list[str] = []
        self.forwarded = 0
        self._arming: list[_Arming] = []
        self._lock = threading.Lock()
        proxy = self

        class Handler(_EchoHandler):
            owner: ClassVar[EchoingProxy] = proxy

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self._server.serve_forever, name="echoing-proxy", daemon=True).start()

    def arm(
        self,
        count: int,
        *,
        method: str | None = None,
        path: str | None = None,
        status: int = 502,
        style: str = "json",
        token_at: int = 160,
    ) -> None:
        """Echo the next ``count`` matching requests instead of forwarding them."""
        if style not in ECHO_STYLES:
            raise ValueError(f"style must be one of {ECHO_STYLES}, got {style!r}")
        with self._lock:
            self._arming.append(_Arming(count, method, path, status, style, token_at))

    def _take(self, method: str, path: str) -> _Arming | None:
        with self._lock:
            for arming in self._arming:
                if arming.count <= 0:
                    continue
                if arming.method and arming.method != method:
                    continue
                if arming.path and arming.path not in path:
                    continue
                arming.count -= 1
                return arming
        return None

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> EchoingProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _EchoHandler(BaseHTTPRequestHandler):
    owner: ClassVar[EchoingProxy]
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the request line carries the token when it travels in the query string."""

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def _handle(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        arming = self.owner._take(self.command, urlsplit(self.path).path)
        if arming is None:
            self._forward(body)
            return
        text = _echo(self.command, self.path, dict(self.headers.items()), body, arming)
        with self.owner._lock:
            self.owner.echoed.append(text)
        content_type = "application/json" if arming.style == "json" else "text/plain; charset=utf-8"
        self._answer(arming.status, [("Content-Type", content_type)], text.encode())

    def _forward(self, body: bytes) -> None:
        connection = http.client.HTTPConnection(*self.owner.upstream, timeout=60)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_HEADERS}
            connection.request(self.command, self.path, body=body or None, headers=headers)
            upstream = connection.getresponse()
            payload = upstream.read()
            kept = [(k, v) for k, v in upstream.getheaders() if k.lower() not in _HOP_HEADERS]
        finally:
            connection.close()
        with self.owner._lock:
            self.owner.forwarded += 1
        self._answer(upstream.status, kept, payload)

    def _answer(self, status: int, headers: list[tuple[str, str]], payload: bytes) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def _echo(method: str, target: str, headers: dict[str, str], body: bytes, arming: _Arming) -> str:
    """The echo body, padded so that the credential begins at ``arming.token_at`` of its quoted text."""
    args = dict(parse_qsl(urlsplit(target).query, keep_blank_values=True))
    form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    authorization = next((v for k, v in headers.items() if k.lower() == "authorization"), None)
    credential = (
        authorization.split(" ", 1)[-1]
        if authorization
        else args.get("access_token") or form.get("access_token")
    )

    def render(filler: str) -> str:
        lead = f"Proxy error: upstream refused the request {filler} request as received:"
        if arming.style == "json":
            # The section and the field that carry the credential come first, so that it lands early enough.
            def carries(value: object) -> bool:
                return bool(credential) and str(credential) in json.dumps(value)

            sections = {
                name: dict(sorted(fields.items(), key=lambda kv: not carries(kv[1])))
                for name, fields in (("headers", headers), ("args", args), ("form", form))
            }
            first = sorted(sections, key=lambda name: not carries(sections[name]))
            echo = {"message": lead, **{name: sections[name] for name in first}}
            return json.dumps({**echo, "method": method, "url": target})
        lines = [lead]
        if authorization:
            lines.append(f"Authorization: {authorization}")
        lines.append(f"{method} {target} HTTP/1.1")
        lines += [f"{k}: {v}" for k, v in headers.items() if k.lower() != "authorization"]
        lines += ["", body.decode("utf-8", "replace")]
        return "\r\n".join(lines)

    text = render("")
    if credential:
        where = quoted_text(text).find(credential)
        if 0 <= where < arming.token_at:
            text = render("." * (arming.token_at - where - 1))
    return text
