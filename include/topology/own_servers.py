"""A PostgreSQL cluster and a Redis server of the caller's own, on free ports, that the caller may restart.

The drills on the distributed topology restart PostgreSQL and Redis in the middle of a run. The servers on
127.0.0.1:5432 / 6379 are shared with every other test and engineer on the machine, so the drills never
touch them: :class:`OwnPostgres` runs ``initdb`` into a temporary folder and starts its own ``postgres``
there (trust authentication on 127.0.0.1 only), :class:`OwnRedis` its own ``redis-server``. Both stop exactly
the server they started (``pg_ctl stop`` on their data folder; the Redis process they spawned) and remove
their folder.

PostgreSQL refuses to run as root: when this process is root, ``initdb`` and ``pg_ctl`` run as the
``postgres`` system user through ``runuser`` (``OWN_SERVER_USER`` changes the user), in a folder it owns.
Redis runs with an append-only file fsynced on every write, so a restart keeps the Celery broker's queues the
way a production Redis with persistence would.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Self

from include.topology.native import free_port, wait_until

OWN_SERVER_USER_ENV = "OWN_SERVER_USER"
PG_BIN_CANDIDATES = ("/usr/local/bin", "/usr/lib/postgresql/17/bin", "/usr/lib/postgresql/16/bin")


class OwnServerError(RuntimeError):
    """A server of our own could not be started; the message says which and where its log is."""


def _listening(port: int) -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _pg_tool(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    for folder in PG_BIN_CANDIDATES:
        path = Path(folder) / name
        if path.exists():
            return str(path)
    raise OwnServerError(f"{name} not found (PATH or {', '.join(PG_BIN_CANDIDATES)}): install PostgreSQL")


class _OwnServer(ABC):
    """A throw-away server of the test's own in a temporary folder, on a free port: use as a context manager
    (stopped and its folder removed on exit, or when the start fails), or call :meth:`start` / :meth:`stop`.

    :param prefix: names the temporary folder (``<prefix>-<kind>-*`` under the system temp folder).
    """

    def __init__(self, prefix: str, *, port: int = 0) -> None:
        self.prefix = prefix
        self.port = port or free_port()
        self.folder: Path | None = None

    @abstractmethod
    def start(self) -> Self: ...

    @abstractmethod
    def stop(self) -> None: ...

    @abstractmethod
    def _restart(self) -> None: ...

    def restart(self) -> float:
        """Restart on the same port (every session is cut); returns the seconds it took."""
        began = time.monotonic()
        self._restart()
        return time.monotonic() - began

    def __enter__(self) -> Self:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()


class OwnPostgres(_OwnServer):
    """``initdb`` + ``pg_ctl`` on a free port, as the user ``postgres`` when run as root."""

    def __init__(self, prefix: str, *, port: int = 0) -> None:
        super().__init__(prefix, port=port)
        self.user = "postgres"

    @property
    def data(self) -> Path:
        assert self.folder is not None
        return self.folder / "data"

    @property
    def log_path(self) -> Path:
        assert self.folder is not None
        return self.folder / "postgres.log"

    def _as_user(self, argv: list[str]) -> list[str]:
        if os.geteuid() != 0:
            return argv
        return ["runuser", "-u", self.user, "--", *argv]

    def _run(self, argv: list[str], what: str, timeout: float = 120) -> None:
        result = subprocess.run(
            self._as_user(argv), capture_output=True, text=True, timeout=timeout, check=False
        )
        if result.returncode != 0:
            output = result.stderr[-1500:] or result.stdout[-1500:]
            raise OwnServerError(
                f"{what} failed (exit {result.returncode}): {output}; server log {self.log_path}"
            )

    def start(self) -> OwnPostgres:
        """initdb (first time) and start; returns self once it accepts connections."""
        if self.folder is None:
            self.folder = Path(tempfile.mkdtemp(prefix=f"{self.prefix}-pg-"))
            if os.geteuid() == 0:
                self.user = os.environ.get(OWN_SERVER_USER_ENV, "postgres")
                try:
                    entry = pwd.getpwnam(self.user)
                except KeyError as exc:
                    raise OwnServerError(
                        f"running as root, PostgreSQL needs a non-root user: no user {self.user!r} "
                        f"(set {OWN_SERVER_USER_ENV})"
                    ) from exc
                os.chown(self.folder, entry.pw_uid, entry.pw_gid)
            self._run(
                [_pg_tool("initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
                "initdb",
            )
        self._pg_ctl("start")
        return self

    def _pg_ctl(self, action: str) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder} -c max_connections=200"
        argv = [_pg_tool("pg_ctl"), "-D", str(self.data), "-l", str(self.log_path), "-w", "-t", "60"]
        if action == "stop":
            argv += ["-m", "fast", "stop"]
        elif action == "restart":
            argv += ["-m", "fast", "-o", options, "restart"]
        else:
            argv += ["-o", options, "start"]
        self._run(argv, f"pg_ctl {action} on port {self.port}")
        if action != "stop":
            wait_until(lambda: _listening(self.port), timeout=30, what=f"PostgreSQL on port {self.port}")

    def _restart(self) -> None:
        self._pg_ctl("restart")  # -m fast: every session is cut

    def stop(self) -> None:
        """Stop the server (if running) and remove its folder."""
        if self.folder is None:
            return
        if (self.data / "postmaster.pid").exists():
            try:
                self._pg_ctl("stop")
            except OwnServerError:
                pass
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder = None


class OwnRedis(_OwnServer):
    """``redis-server`` on a free port with an fsynced append-only file; restartable on the same port."""

    def __init__(self, prefix: str, *, port: int = 0) -> None:
        super().__init__(prefix, port=port)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def log_path(self) -> Path:
        assert self.folder is not None
        return self.folder / "redis.log"

    def start(self) -> OwnRedis:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        if not Path(binary).exists():
            raise OwnServerError("redis-server not found: install Redis")
        if self.folder is None:
            self.folder = Path(tempfile.mkdtemp(prefix=f"{self.prefix}-redis-"))
        argv = [
            binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.folder),
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--daemonize",
            "no",
            "--logfile",
            str(self.log_path),
        ]
        self.process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            wait_until(
                lambda: (
                    self.process is not None and (self.process.poll() is not None or _listening(self.port))
                ),
                timeout=30,
                what=f"redis-server on port {self.port}",
            )
        except TimeoutError as exc:
            raise OwnServerError(f"{exc}; log {self.log_path}") from None
        if self.process.poll() is not None:
            raise OwnServerError(
                f"redis-server exited at start (code {self.process.returncode}); log {self.log_path}"
            )
        return self

    def _stop_process(self, grace: float = 10) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=grace)
        self.process = None

    def _restart(self) -> None:
        self._stop_process()  # SIGTERM flushes the append-only file
        self.start()

    def stop(self) -> None:
        self._stop_process()
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None
