"""The production topology without Docker: Airflow's services as processes on one machine.

``up`` starts, on an existing PostgreSQL (metadata and ledger databases, created if missing) and Redis
(Celery broker): the graph sandbox, `airflow db migrate` and the Graph API pool (`airflow pools set
meta_graph_api`), then api-server, scheduler, dag-processor, triggerer and two Celery workers, each in its own
process group. Their process ids go to ``<home>/topology.json``; ``down`` stops exactly those process groups
(SIGTERM, then SIGKILL after a grace period) and nothing else.

Secrets (JWT secret, API secret key, Fernet key, sandbox tokens) are generated or fetched per ``up`` and
handed to the processes through their environment only: none is written to a file or printed. The one
exception is the simple auth manager's passwords file, which Airflow itself reads from AIRFLOW_HOME; it is
created with mode 0600 under the ignored `.demo/` folder, with a password generated per ``up``.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests

from include.topology.connections import sandbox_environment
from include.topology.hostname import WORKER_NAME_ENV
from include.topology.services import API_POOL, SERVICES, ServiceSpec
from partnership_ads.dag_settings import API_POOL_ENV

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_HOME = ROOT / ".demo" / "topology"
STATE_FILE_NAME = "topology.json"
PASSWORDS_FILE_NAME = "simple_auth_manager_passwords.json.generated"
ADMIN_USER = "admin"


class TopologyError(RuntimeError):
    """The topology could not be started; the message names the service and its log file."""


@dataclass(frozen=True)
class TopologyConfig:
    """Where the native topology lives and what it connects to.

    ``home`` is AIRFLOW_HOME (state file, passwords file, ``logs/``). The two database names are created on
    the PostgreSQL server if missing; tests pass unique names so they never share a database with ``make
    native-up``. ``redis_db`` and ``queue`` isolate the Celery broker traffic the same way. Ports set to 0 are
    picked free at start. With ``use_sandbox`` False no sandbox is started and the connections come from the
    caller's own ``AIRFLOW_CONN_*`` variables (a real Meta business).
    """

    home: Path = DEFAULT_HOME
    metadata_database: str = "partnership_ads_airflow"
    ledger_database: str = "partnership_ads_ledger"
    postgres_host: str = "127.0.0.1"
    postgres_port: int = 5432
    postgres_user: str = "postgres"
    redis_host: str = "127.0.0.1"
    redis_port: int = 6379
    redis_db: int = 5
    queue: str = "default"
    worker_names: tuple[str, ...] = ("w1", "w2")
    worker_concurrency: int = 1
    api_port: int = 0
    sandbox_port: int = 0
    sandbox_seed: int = 7
    sandbox_items: int = 500
    dags_folder: Path = ROOT / "dags"
    use_sandbox: bool = True
    start_timeout: float = 180.0
    extra_env: Mapping[str, str] = field(default_factory=dict)
    # Added to the extra of every `meta_graph` connection the sandbox wiring makes (e.g. a shorter `timeout`).
    meta_extra: Mapping[str, Any] = field(default_factory=dict)

    def postgres_uri(self, database: str, driver: str = "postgresql") -> str:
        """URI of ``database`` on the configured server (trust auth: no password)."""
        return f"{driver}://{self.postgres_user}@{self.postgres_host}:{self.postgres_port}/{database}"

    @property
    def broker_url(self) -> str:
        return f"redis://{self.redis_host}:{self.redis_port}/{self.redis_db}"


@dataclass
class ProcessRecord:
    """One started process: enough to find it again and to be sure it is still ours before signalling it."""

    name: str
    service: str
    pid: int
    create_time: float
    log: str


@dataclass
class TopologyState:
    """What ``up`` started, as written to ``<home>/topology.json`` (no secrets in it)."""

    home: str
    api_url: str
    sandbox_url: str
    metadata_database: str
    ledger_database: str
    queue: str
    workers: list[str]
    processes: list[ProcessRecord] = field(default_factory=list)

    @property
    def passwords_file(self) -> Path:
        return Path(self.home) / PASSWORDS_FILE_NAME

    def admin_password(self) -> str:
        """The admin password generated for this run (read from the passwords file Airflow uses)."""
        return json.loads(self.passwords_file.read_text())[ADMIN_USER]

    def save(self) -> None:
        path = Path(self.home) / STATE_FILE_NAME
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, home: Path) -> TopologyState | None:
        path = Path(home) / STATE_FILE_NAME
        if not path.exists():
            return None
        data = json.loads(path.read_text())
        data["processes"] = [ProcessRecord(**p) for p in data.get("processes", [])]
        return cls(**data)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(
    predicate: Callable[[], Any],
    *,
    timeout: float,
    what: str,
    interval: float = 0.5,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Any:
    """Poll ``predicate`` until it returns something truthy, and return that; TimeoutError naming ``what``."""
    deadline = clock() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if clock() >= deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        sleep(interval)


def _server_listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


@contextmanager
def _server_cursor(config: TopologyConfig) -> Iterator[Any]:
    """An autocommit cursor on the server's ``postgres`` database (CREATE / DROP DATABASE need one)."""
    import psycopg2

    admin = psycopg2.connect(config.postgres_uri("postgres"))
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            yield cur
    finally:
        admin.close()


def ensure_databases(config: TopologyConfig) -> None:
    """Create the metadata and ledger databases on the PostgreSQL server if they do not exist."""
    with _server_cursor(config) as cur:
        for name in (config.metadata_database, config.ledger_database):
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if cur.fetchone() is None:
                # Identifiers cannot be bound parameters; the names come from configuration, not users.
                cur.execute(f'CREATE DATABASE "{name}"')
                log.info("created database %s", name)


def drop_databases(config: TopologyConfig) -> None:
    """Drop the metadata and ledger databases (used by tests that created uniquely named ones)."""
    with _server_cursor(config) as cur:
        for name in (config.metadata_database, config.ledger_database):
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def write_passwords_file(home: Path) -> Path:
    """Write the simple auth manager's passwords file with a fresh admin password (mode 0600)."""
    path = home / PASSWORDS_FILE_NAME
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as stream:
        stream.write(json.dumps({ADMIN_USER: secrets.token_urlsafe(18)}) + "\n")
    return path


def base_environment(
    config: TopologyConfig, *, api_port: int, connections: Mapping[str, str]
) -> dict[str, str]:
    """The environment every Airflow process of the topology shares.

    Starts from this process's environment minus every ``AIRFLOW__*``, ``AIRFLOW_CONN_*`` and
    ``AIRFLOW_VAR_*`` variable (a caller's test settings must not leak into the topology), then sets the
    executor, databases, broker, execution API URL, shared secrets, auth, folders and the connections passed
    in (already ``AIRFLOW_CONN_*`` names).
    """
    env = _clean_environment()
    home = str(config.home)
    env.update(
        {
            "AIRFLOW_HOME": home,
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(config.dags_folder),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin",
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": "include.topology.hostname.worker_hostname",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": config.postgres_uri(
                config.metadata_database, "postgresql+psycopg2"
            ),
            "AIRFLOW__CELERY__BROKER_URL": config.broker_url,
            "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + config.postgres_uri(config.metadata_database),
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(config.worker_concurrency),
            # As docker-compose.yaml: the project's execute-time modules imported once per worker.
            "AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS": "partnership_ads.celery_config.CELERY_CONFIG",
            "AIRFLOW__OPERATORS__DEFAULT_QUEUE": config.queue,
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(config.home / "logs"),
            # A worker signs its execution-API token requests and the api-server checks them: one secret for
            # all processes, generated per start and passed only through the environment.
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
            "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
            "AIRFLOW__CORE__FERNET_KEY": _fernet_key(),
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{api_port}",
            API_POOL_ENV: API_POOL.name,
        }
    )
    env.update(connections)
    env.update(config.extra_env)
    return env


def _clean_environment() -> dict[str, str]:
    """This process's environment minus Airflow settings, connections and variables, plus the project path."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AIRFLOW__", "AIRFLOW_CONN_", "AIRFLOW_VAR_")) and key != "AIRFLOW_CONFIG"
    }
    # The project first; the caller's own entries (if any) are kept after it.
    paths = [str(ROOT), str(ROOT / "plugins")]
    paths += [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p not in paths]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


def render_argv(spec: ServiceSpec, values: Mapping[str, Any]) -> list[str]:
    """The service's command line with its placeholders filled from ``values``."""
    return [part.format(**values) for part in spec.argv]


class NativeTopology:
    """Start and stop the topology described by :data:`include.topology.services.SERVICES`.

    With the sandbox, the connections and the brand list come from
    :func:`include.topology.connections.sandbox_environment` (tokens fetched from the sandbox, never stored).
    """

    def __init__(self, config: TopologyConfig) -> None:
        self.config = config
        self.state: TopologyState | None = None
        # name -> (spec, argv, env) of each daemon started, so that :meth:`respawn` can start it again.
        self._launches: dict[str, tuple[ServiceSpec, list[str], dict[str, str]]] = {}

    # -- starting ---------------------------------------------------------------------------------------
    def up(self) -> TopologyState:
        """Start everything; on any failure stop what was started and raise :class:`TopologyError`."""
        config = self.config
        existing = TopologyState.load(config.home)
        if existing is not None and any(_alive(p) for p in existing.processes):
            raise TopologyError(
                f"a topology is already running from {config.home} (api {existing.api_url}); "
                "stop it first with `make native-down`"
            )
        for name, host, port in (
            ("PostgreSQL", config.postgres_host, config.postgres_port),
            ("Redis", config.redis_host, config.redis_port),
        ):
            if not _server_listening(host, port):
                raise TopologyError(
                    f"{name} is not listening on {host}:{port}; the topology needs it running"
                )
        (config.home / "logs").mkdir(parents=True, exist_ok=True)
        ensure_databases(config)
        write_passwords_file(config.home)

        api_port = config.api_port or free_port()
        sandbox_port = config.sandbox_port or free_port()
        self.state = TopologyState(
            home=str(config.home),
            api_url=f"http://127.0.0.1:{api_port}",
            sandbox_url=f"http://127.0.0.1:{sandbox_port}",
            metadata_database=config.metadata_database,
            ledger_database=config.ledger_database,
            queue=config.queue,
            workers=[f"{name}@{socket.getfqdn()}" for name in config.worker_names],
        )
        values: dict[str, Any] = {
            **asdict(config),
            "python": sys.executable,
            "api_port": api_port,
            "sandbox_port": sandbox_port,
            "queue": config.queue,
        }
        try:
            self._start_all(values, api_port)
        except BaseException:
            self.down()
            raise
        return self.state

    def _start_all(self, values: dict[str, Any], api_port: int) -> None:
        config = self.config
        state = self.state
        assert state is not None
        by_name = {spec.compose_name: spec for spec in SERVICES}
        if config.use_sandbox:
            sandbox = by_name["graph-sandbox"]
            self._spawn("graph-sandbox", sandbox, render_argv(sandbox, values), _clean_environment())
            wait_until(
                lambda: self._check_alive() or _http_ok(f"{state.sandbox_url}/"),
                timeout=60,
                what=f"the graph sandbox on {state.sandbox_url} (log {self._log_path('graph-sandbox')})",
            )
            connections = sandbox_environment(
                state.sandbox_url,
                ledger_uri=config.postgres_uri(config.ledger_database),
                state_dir=config.home,
                meta_extra=config.meta_extra,
            )
        else:
            state.sandbox_url = ""
            connections = {k: v for k, v in os.environ.items() if k.startswith("AIRFLOW_CONN_")}
        env = base_environment(config, api_port=api_port, connections=connections)

        init_log = self._log_path("airflow-init")
        init_log.write_bytes(b"")
        _run_oneshot(render_argv(by_name["airflow-init"], values), env, init_log, timeout=300)
        # Before the scheduler starts: a task whose pool does not exist is never queued.
        _run_oneshot(
            [values["python"], "-m", "airflow", *API_POOL.airflow_command], env, init_log, timeout=120
        )

        for spec in SERVICES:
            if spec.kind != "daemon" or spec.compose_name == "graph-sandbox":
                continue
            if spec.compose_name == "airflow-worker":
                for worker_name in config.worker_names:
                    worker_env = {**env, WORKER_NAME_ENV: worker_name}
                    argv = render_argv(spec, {**values, "worker_name": worker_name})
                    self._spawn(f"worker-{worker_name}", spec, argv, worker_env)
            else:
                self._spawn(spec.compose_name.removeprefix("airflow-"), spec, render_argv(spec, values), env)

        wait_until(
            lambda: self._check_alive() or _http_ok(f"{state.api_url}/api/v2/version"),
            timeout=config.start_timeout,
            what=f"the api-server on {state.api_url} (log {self._log_path('apiserver')})",
        )
        for worker_name in config.worker_names:
            wait_until(
                lambda name=worker_name: " ready." in self._read_log(f"worker-{name}"),
                timeout=config.start_timeout,
                what=f"Celery worker {worker_name} (log {self._log_path(f'worker-{worker_name}')})",
            )

    def _log_path(self, name: str) -> Path:
        return self.config.home / "logs" / f"{name}.log"

    def _read_log(self, name: str) -> str:
        self._check_alive()
        try:
            return self._log_path(name).read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def _check_alive(self) -> bool:
        """Raise as soon as a started process has died, instead of waiting for a timeout."""
        assert self.state is not None
        for record in self.state.processes:
            if not _alive(record):
                raise TopologyError(f"{record.name} exited during start-up; see {record.log}")
        return False

    def _spawn(self, name: str, spec: ServiceSpec, argv: list[str], env: Mapping[str, str]) -> None:
        import psutil

        assert self.state is not None
        log_path = self._log_path(name)
        with log_path.open("ab") as out:
            process = subprocess.Popen(
                argv,
                env=dict(env),
                cwd=str(ROOT),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                # Its own process group, so `down` can stop the process and every child it forked (gunicorn or
                # uvicorn workers, Celery pool processes, task supervisors) with one signal.
                start_new_session=True,
            )
        self._launches[name] = (spec, list(argv), dict(env))
        record = ProcessRecord(
            name=name,
            service=spec.compose_name,
            pid=process.pid,
            create_time=psutil.Process(process.pid).create_time(),
            log=str(log_path),
        )
        self.state.processes.append(record)
        self.state.save()
        log.info("started %s (pid %s), log %s", name, process.pid, log_path)

    def respawn(self, name: str) -> ProcessRecord:
        """Start the daemon ``name`` again (after it died or was killed), as a process supervisor would.

        Only for a daemon started by this object's :meth:`up`; the old record is replaced. Raises
        :class:`TopologyError` while the old process group still runs.
        """
        assert self.state is not None, "the topology is not up"
        old = next(r for r in self.state.processes if r.name == name)
        if _alive(old):
            raise TopologyError(f"{name} (pid {old.pid}) is still running; stop it before respawning")
        _reap(old.pid)
        # A dead leader may leave children in its group (a Celery pool process, a task supervisor).
        _signal_group(old.pid, signal.SIGKILL)
        self.state.processes.remove(old)
        spec, argv, env = self._launches[name]
        self._spawn(name, spec, argv, env)
        return self.state.processes[-1]

    def process(self, name: str) -> ProcessRecord:
        """The record of the running daemon ``name`` (``worker-<name>``, ``scheduler``, ...)."""
        assert self.state is not None, "the topology is not up"
        return next(r for r in self.state.processes if r.name == name)

    # -- stopping ---------------------------------------------------------------------------------------
    def down(self, grace: float = 30.0) -> list[str]:
        """Stop every process group this topology started; returns the names that were still running."""
        state = self.state or TopologyState.load(self.config.home)
        if state is None:
            return []
        stopped = stop_processes(state.processes, grace=grace)
        (Path(state.home) / STATE_FILE_NAME).unlink(missing_ok=True)
        self.state = None
        return stopped

    def status(self) -> dict[str, bool]:
        """Name -> alive, for every process recorded by the last ``up`` (empty when none is recorded)."""
        state = self.state or TopologyState.load(self.config.home)
        if state is None:
            return {}
        return {record.name: _alive(record) for record in state.processes}


def admin_session(api_url: str, password: str) -> requests.Session:
    """A ``requests`` session signed in to the topology's REST API as its admin (``POST /auth/token``)."""

    response = requests.post(
        f"{api_url}/auth/token", json={"username": "admin", "password": password}, timeout=30
    )
    response.raise_for_status()
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
    return session


def _run_oneshot(argv: list[str], env: Mapping[str, str], log_path: Path, *, timeout: float) -> None:
    """Run a command to completion, appending its output to ``log_path``; raise TopologyError on failure."""
    with log_path.open("ab") as out:
        result = subprocess.run(
            argv, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=timeout, check=False
        )
    if result.returncode != 0:
        command = " ".join(argv[argv.index("airflow") :] if "airflow" in argv else argv)
        raise TopologyError(f"`{command}` failed (exit {result.returncode}); see {log_path}")


def _http_ok(url: str) -> bool:
    try:
        return requests.get(url, timeout=3).status_code < 500
    except requests.RequestException:
        return False


def _alive(record: ProcessRecord) -> bool:
    """True when the recorded pid still runs the process we started (same start time): pids get reused."""
    import psutil

    try:
        process = psutil.Process(record.pid)
        return (
            abs(process.create_time() - record.create_time) < 1.0 and process.status() != psutil.STATUS_ZOMBIE
        )
    except psutil.NoSuchProcess:
        return False


def stop_processes(records: list[ProcessRecord], *, grace: float) -> list[str]:
    """SIGTERM each recorded process group, wait up to ``grace`` seconds, SIGKILL what is left."""
    running = [record for record in records if _alive(record)]
    # Workers first, so they stop taking tasks; the api-server last, so tasks still running can report back.
    order = {"airflow-worker": 0, "airflow-scheduler": 1, "airflow-triggerer": 2, "airflow-dag-processor": 3}
    running.sort(key=lambda record: order.get(record.service, 9))
    for record in running:
        _signal_group(record.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(_alive(record) for record in running):
        time.sleep(0.2)
    for record in running:
        # The group may hold children even after its leader exited (a task supervisor, a pool process).
        _signal_group(record.pid, signal.SIGKILL)
    for record in running:
        _reap(record.pid)
    return [record.name for record in running]


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def _reap(pid: int) -> None:
    """Collect the exit status if the process is our child, so it does not linger as a zombie."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
