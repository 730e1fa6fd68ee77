"""Entry point of the compose worker: wire the graph sandbox's connections into the environment, then exec.

``python -m include.topology.compose_entry airflow celery worker`` runs the command with its environment
untouched unless ``PARTNERSHIP_ADS_SANDBOX_URL`` is set to a non-blank value (docker-compose.yaml leaves it
empty unless `.env` sets it, for ``docker compose --profile sandbox up``). Then it:

1. waits for the sandbox, then starts a loopback relay (``127.0.0.1:<port>`` -> the sandbox service) as a
   child process, because the hook refuses plain ``http://`` to anything but a loopback address (tokens must
   not cross a network unencrypted; the sandbox's tokens are fake, the rule is kept anyway);
2. reads the sandbox's tokens through it and builds the connections exactly as the native topology does
   (:func:`include.topology.connections.sandbox_environment`), with the ledger on
   ``PARTNERSHIP_ADS_LEDGER_URI``;
3. replaces itself with the command, the connections in its environment only (never in a file).

With a real Meta business, leave ``PARTNERSHIP_ADS_SANDBOX_URL`` empty or unset and define the connections in
`.env`: the connections Airflow reads are then exactly the ones docker-compose.yaml defines. A value that is
not an ``http://host[:port]`` URL stops the worker before anything runs.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import requests

if TYPE_CHECKING:
    from collections.abc import Mapping

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


def sandbox_url(environ: Mapping[str, str]) -> str | None:
    """The sandbox's base URL from ``PARTNERSHIP_ADS_SANDBOX_URL``, or None when it is unset or blank (Meta).

    Raises SystemExit, naming the variable, when the value is not an ``http://host[:port]`` URL (the relay
    forwards plain TCP to a loopback ``http://`` address, and the sandbox speaks only HTTP). The value itself
    is not echoed: whatever was put there by mistake stays out of the log.
    """
    value = environ.get(SANDBOX_URL_ENV, "").strip()
    if not value:
        return None
    parts = urlsplit(value)
    if parts.scheme != "http" or not parts.hostname or parts.username or parts.password:
        raise SystemExit(
            f"compose_entry: {SANDBOX_URL_ENV} is set but is not an http://host[:port] URL; set it to "
            "http://graph-sandbox:8765 with `docker compose --profile sandbox up`, "
            "or leave it empty to use Meta"
        )
    return value.rstrip("/")


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
                f"compose_entry: the graph sandbox at {url} did not answer within {timeout:.0f}s; start it "
                f"with `docker compose --profile sandbox up`, or empty {SANDBOX_URL_ENV} to use Meta"
            )
        time.sleep(1)


def main(argv: list[str]) -> int:
    if argv[:1] == ["--relay"]:
        target = urlsplit(argv[1])
        asyncio.run(_relay(RELAY_PORT, target.hostname or "graph-sandbox", target.port or 80))
        return 0
    if not argv:
        raise SystemExit("usage: python -m include.topology.compose_entry COMMAND [ARGS...]")
    url = sandbox_url(os.environ)
    env = dict(os.environ)
    if url is None:
        print(f"compose_entry: {SANDBOX_URL_ENV} is empty: connections as defined (Meta)", file=sys.stderr)
    else:
        from pathlib import Path

        from include.topology.connections import sandbox_environment

        print(f"compose_entry: wiring the graph sandbox at {url} into the connections", file=sys.stderr)
        _wait_for(url)
        # The relay is our child and stays alive across exec: the worker inherits it.
        subprocess.Popen([sys.executable, "-m", "include.topology.compose_entry", "--relay", url])
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
