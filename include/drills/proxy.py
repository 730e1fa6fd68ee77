"""A TCP proxy that can be switched off: a database that becomes unreachable and comes back, on demand.

While ``down`` every new connection is accepted and closed at once (the client sees the server close the
connection), and open ones are cut; while up, bytes are copied both ways.
"""

from __future__ import annotations

import contextlib
import socket
import threading


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
