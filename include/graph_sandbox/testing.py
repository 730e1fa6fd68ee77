"""Starting the sandbox from tests, demos, drills and benchmarks.

- `start_sandbox(...)`: a context manager running the real uvicorn server in this process (background
  thread) on a free port; yields a `SandboxServer`.
- `spawn_sandbox(...)`: the same server as a child process (`python -m include.graph_sandbox`); returns a
  `SandboxProcess` (same methods, plus `stop()`).

Both talk to the server only over HTTP: the control API under `/__sandbox__/`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests

from include.graph_sandbox.app import API_VERSION
from include.graph_sandbox.server import BackgroundServer, build_app

if TYPE_CHECKING:
    from collections.abc import Iterator

ROOT = Path(__file__).resolve().parents[2]
_LISTENING = re.compile(r"listening on (http://\S+)")


class SandboxClient:
    """Control-API helpers shared by the in-process server and the child process."""

    url: str
    api_version: str = API_VERSION

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self._http = requests.Session()

    @property
    def graph_url(self) -> str:
        """Base URL including the version, e.g. http://127.0.0.1:41234/v25.0."""
        return f"{self.url}/{self.api_version}"

    def control(self, method: str, path: str, **requests_kwargs: Any) -> requests.Response:
        """Call `/__sandbox__/<path>`; raises for a non-2xx answer."""
        requests_kwargs.setdefault("timeout", 30)
        response = self._http.request(method, f"{self.url}/__sandbox__/{path.lstrip('/')}", **requests_kwargs)
        if response.status_code >= 400:
            raise RuntimeError(
                f"sandbox control {method} {path} failed: {response.status_code} {response.text}"
            )
        return response

    def tokens(self) -> list[dict[str, Any]]:
        return self.control("GET", "tokens").json()["data"]

    def brand_token(self, business_id: str | None = None) -> dict[str, Any]:
        """The default brand token record (first generated business unless `business_id` is given)."""
        for record in self.tokens():
            if record["role"] != "brand" or record["minted"]:
                continue
            if business_id is None or record["business_id"] == business_id:
                return record
        raise LookupError(f"no brand token for business {business_id}")

    def creator_tokens(self) -> list[dict[str, Any]]:
        return [t for t in self.tokens() if t["role"] == "creator" and not t["minted"]]

    def mint_token(self, **fields: Any) -> str:
        """Mint a token with any scope set; returns the access token."""
        return self.control("POST", "tokens", json=fields).json()["access_token"]

    def reset(self, *, config: bool = False) -> None:
        """Back to the seeded state (and, with `config=True`, to the startup config)."""
        self.control("POST", "reset", json={"config": config})

    def configure(self, **config: Any) -> dict[str, Any]:
        return self.control("PATCH", "config", json=config).json()

    def config(self) -> dict[str, Any]:
        return self.control("GET", "config").json()

    def schedule_fault(self, **spec: Any) -> dict[str, Any]:
        return self.control("POST", "faults", json=spec).json()

    def clear_faults(self) -> None:
        self.control("DELETE", "faults")

    def set_eligibility(
        self, content_id: str, ad_eligibility: str, *, business_id: str | None = None
    ) -> None:
        """Change an item's ad_eligibility for one business (or every partner); undone by reset()."""
        body: dict[str, Any] = {"ad_eligibility": ad_eligibility}
        if business_id is not None:
            body["business_id"] = business_id
        self.control("PATCH", f"items/{content_id}", json=body)

    def ad_codes(self) -> list[dict[str, Any]]:
        return self.control("GET", "ad_codes").json()["data"]

    def ad_creatives(self) -> list[dict[str, Any]]:
        """Every creative created (`POST /act_{id}/adcreatives`), in creation order."""
        return self.control("GET", "ad_creatives").json()["data"]

    def ads(self) -> list[dict[str, Any]]:
        """Every ad created (`POST /act_{id}/ads`), in creation order."""
        return self.control("GET", "ads").json()["data"]

    def requests_log(self) -> list[dict[str, Any]]:
        return self.control("GET", "requests").json()["data"]

    def webhook_deliveries(self) -> list[dict[str, Any]]:
        return self.control("GET", "webhook").json()["data"]

    def world(self) -> dict[str, Any]:
        return self.control("GET", "world").json()

    def advance_clock(self, seconds: float) -> None:
        """Move the sandbox clock forward (rate-limit windows, token expiry, appsecret_time)."""
        self.control("POST", "clock", json={"advance_s": seconds})


class SandboxServer(SandboxClient):
    """A sandbox running in this process; see `start_sandbox`."""

    def __init__(self, background: BackgroundServer, startup: dict[str, Any]) -> None:
        super().__init__(f"http://{background.host}:{background.port}")
        self.background = background
        self.startup = startup

    def stop(self) -> None:
        self.background.stop()


@contextmanager
def start_sandbox(
    *,
    seed: int = 7,
    items: int = 500,
    latency_ms: float = 0,
    host: str = "127.0.0.1",
    port: int = 0,
    **config: Any,
) -> Iterator[SandboxServer]:
    """Run the real sandbox (uvicorn, background thread) on a free port; stop it on exit."""
    app = build_app(seed=seed, items=items, latency_ms=latency_ms, **config)
    background = BackgroundServer(app, host, port)
    background.start()
    server = SandboxServer(background, {"seed": seed, "items": items, "latency_ms": latency_ms, **config})
    try:
        yield server
    finally:
        server.stop()


class SandboxProcess(SandboxClient):
    """A sandbox running as a child process; see `spawn_sandbox`."""

    def __init__(self, process: subprocess.Popen[str], url: str, startup_line: str = "") -> None:
        super().__init__(url)
        self.process = process
        self.startup_line = startup_line
        self.output: list[str] = []
        self._drain = threading.Thread(target=self._read_output, daemon=True)
        self._drain.start()

    def _read_output(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)

    def stop(self, timeout: float = 10) -> None:
        """Terminate the process (SIGTERM, then SIGKILL after `timeout`)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=timeout)

    def __enter__(self) -> SandboxProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def spawn_sandbox(
    *,
    port: int = 0,
    host: str = "127.0.0.1",
    seed: int = 7,
    items: int = 500,
    creators: int | None = None,
    startup_timeout: float = 120,
    **config: Any,
) -> SandboxProcess:
    """Start `python -m include.graph_sandbox` and wait for its `listening on` line."""
    cmd = [
        sys.executable,
        "-m",
        "include.graph_sandbox",
        "--host",
        host,
        "--port",
        str(port),
        "--seed",
        str(seed),
        "--items",
        str(items),
    ]
    if creators is not None:
        cmd += ["--creators", str(creators)]
    if config:
        cmd += ["--config", json.dumps(config)]
    env = os.environ.copy()
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    process = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert process.stdout is not None
    lines: list[str] = []
    timer = threading.Timer(startup_timeout, process.kill)
    timer.start()
    try:
        for line in process.stdout:
            lines.append(line)
            match = _LISTENING.search(line)
            if match:
                return SandboxProcess(process, match.group(1), line.strip())
    finally:
        timer.cancel()
    process.wait()
    raise RuntimeError(f"graph sandbox exited before listening (code {process.returncode}): {''.join(lines)}")
