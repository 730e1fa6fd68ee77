"""Entry point of the compose worker: wire the graph sandbox's connections into the environment, then exec.

``python -m include.topology.compose_entry airflow celery worker`` runs the command unchanged unless
``PARTNERSHIP_ADS_SANDBOX_URL`` is set (the compose default). Then it:

1. starts a loopback relay (``127.0.0.1:<port>`` -> the sandbox service) as a child process, because the hook
   refuses plain ``http://`` to anything but a loopback address (tokens must not cross a network
   unencrypted; the sandbox's tokens are fake, the rule is kept anyway);
2. reads the sandbox's tokens through it and builds the connections exactly as the native topology does
   (:func:`include.topology.connections.sandbox_environment`), with the ledger on
   ``PARTNERSHIP_ADS_LEDGER_URI``;
3. replaces itself with the command, the connections in its environment only (never in a file).

With a real Meta business, leave ``PARTNERSHIP_ADS_SANDBOX_URL`` empty and define the connections in `.env`.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from urllib.parse import urlsplit

import requests

SANDBOX_URL_ENV = "PARTNERSHIP_ADS_SANDBOX_URL"
LEDGER_URI_ENV = "PARTNERSHIP_ADS_LEDGER_URI"
RELAY_PORT = 8765


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()


async def _relay(listen_port: int, target_host: str, target_port: int) -> None:
    async def handle(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(target_host, target_port)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(
            _pipe(client_reader, upstream_writer),
            _pipe(upstream_reader, client_writer),
            return_exceptions=True,
        )

    server = await asyncio.start_server(handle, "127.0.0.1", listen_port)
    async with server:
        await server.serve_forever()


def _wait_for(url: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if requests.get(f"{url}/__sandbox__/world", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(
                f"compose_entry: the graph sandbox at {url} did not answer within {timeout:.0f}s"
            )
        time.sleep(1)


def main(argv: list[str]) -> int:
    if argv[:1] == ["--relay"]:
        target = urlsplit(argv[1])
        asyncio.run(_relay(RELAY_PORT, target.hostname or "graph-sandbox", target.port or 80))
        return 0
    if not argv:
        raise SystemExit("usage: python -m include.topology.compose_entry COMMAND [ARGS...]")
    sandbox_url = os.environ.get(SANDBOX_URL_ENV, "").strip()
    env = dict(os.environ)
    if sandbox_url:
        from pathlib import Path

        from include.topology.connections import sandbox_environment

        _wait_for(sandbox_url)
        # The relay is our child and stays alive across exec: the worker inherits it.
        subprocess.Popen([sys.executable, "-m", "include.topology.compose_entry", "--relay", sandbox_url])
        loopback = f"http://127.0.0.1:{RELAY_PORT}"
        _wait_for(loopback, timeout=30)
        env.update(
            sandbox_environment(
                loopback,
                ledger_uri=os.environ[LEDGER_URI_ENV],
                state_dir=Path(os.environ.get("AIRFLOW_HOME", "/opt/airflow")),
            )
        )
    os.execvpe(argv[0], argv, env)  # noqa: S606 - the command comes from docker-compose.yaml
    return 0  # pragma: no cover - execvpe does not return


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
