"""The drills' distributed topology: the native Celery topology on a PostgreSQL and a Redis of its own.

:class:`DistributedTopology` brings up, once for every drill of a module, api-server, scheduler,
dag-processor, triggerer and two Celery workers (:class:`include.topology.native.NativeTopology`) on
an :class:`~include.topology.own_servers.OwnPostgres` cluster and an
:class:`~include.topology.own_servers.OwnRedis` server, so that a drill may restart PostgreSQL or Redis,
or SIGKILL a worker, without touching the servers other tests and engineers share.

The DAG the topology parses is the pipeline's own file, run by a small wrapper (:func:`write_drill_dags`)
that compresses the clock the way a fake one would: every task's retry delay shortened, as
``include.drills.dagrun`` does for ``airflow dags test`` (the DAG's two minutes and more would be waited in
real time), and the issue shards' claim lease shortened (a try killed with its claims held leaves them to the
next try only when the lease runs out: 120 s by default). The Graph connections' ``timeout`` is shortened (a
claim taken over is looked up only after a POST of the dead try could still be in flight). Retry counts and
everything else come from the DAG file.

Each drill starts from a clean world (:meth:`DistributedTopology.prepare`): the sandbox reset to its seeded
state in ``rotate`` mode (a repeated POST invalidates the first code) and a new, empty ledger database. The
returned :class:`~include.drills.harness.DrillEnv` is what :func:`include.drills.audit.audit` reads: the
eligible items seen by an independent client, the ledger's URI and the sink folder.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests

from include.demo import DEMO_WEBHOOK_SECRET, pipeline_environment
from include.drills.harness import DAG_ID, DrillEnv, eligible_items
from include.graph_sandbox.testing import SandboxClient
from include.topology.connections import SANDBOX_BRANDS
from include.topology.native import NativeTopology, TopologyConfig, TopologyState, _alive, admin_session

if TYPE_CHECKING:
    from collections.abc import Callable

    from include.topology.own_servers import OwnPostgres, OwnRedis

ROOT = Path(__file__).resolve().parents[2]
ISSUE_TASK = "issue_ad_codes"
FINISHED = {"success", "failed"}

WRAPPER = '''"""partnership_ad_codes as dags/partnership_ad_codes.py defines it, with every retry delay
shortened to {seconds} s (no backoff) for the distributed drills (include/drills/distributed.py). The
words airflow and dag appear here for the dag-processor's safe mode, which skips files that name neither."""

import datetime as _dt
import runpy as _runpy

dag = _runpy.run_path({path!r}, run_name="partnership_ad_codes_drill")["dag"]
for _task in dag.tasks:
    _task.retry_delay = _dt.timedelta(seconds={seconds})
    _task.retry_exponential_backoff = 0
    if _task.task_id == "issue_ad_codes":
        _task.partial_kwargs["claim_lease_seconds"] = {lease}
'''


def write_drill_dags(folder: Path, *, retry_delay_seconds: float, claim_lease_seconds: float) -> Path:
    """A DAG folder holding only the wrapper of ``dags/partnership_ad_codes.py`` (module docstring)."""
    folder.mkdir(parents=True, exist_ok=True)
    source = ROOT / "dags" / "partnership_ad_codes.py"
    (folder / "partnership_ad_codes.py").write_text(
        WRAPPER.format(path=str(source), seconds=retry_delay_seconds, lease=claim_lease_seconds)
    )
    return folder


@dataclass
class RestApi:
    """The topology's REST API (``/api/v2``) with the admin's token."""

    url: str
    session: requests.Session

    @classmethod
    def login(cls, url: str, password: str) -> RestApi:
        return cls(url, admin_session(url, password))

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """One call; retried for a while when the api-server cannot answer (its database is restarting)."""
        kwargs.setdefault("timeout", 30)
        deadline = time.monotonic() + 60
        while True:
            try:
                response = self.session.request(method, f"{self.url}/api/v2/{path.lstrip('/')}", **kwargs)
            except requests.ConnectionError:
                response = None
            if response is not None and response.status_code < 500:
                break
            if time.monotonic() > deadline:
                detail = "no answer" if response is None else f"{response.status_code} {response.text[:300]}"
                raise RuntimeError(f"{method} {path}: {detail}")
            time.sleep(1)
        if response.status_code >= 400:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:500]}")
        return response.json() if response.content else None


@dataclass
class Run:
    """One DAG run the drill triggered, as the REST API shows it."""

    api: RestApi
    run_id: str
    dag_id: str = DAG_ID
    seen_states: dict[str, set[str]] = field(default_factory=dict)

    def get(self) -> dict[str, Any]:
        return self.api.call("GET", f"dags/{self.dag_id}/dagRuns/{self.run_id}")

    def task_instances(self) -> list[dict[str, Any]]:
        """Every task instance of the run (mapped ones included); records each state seen per instance."""
        found = self.api.call(
            "GET", f"dags/{self.dag_id}/dagRuns/{self.run_id}/taskInstances", params={"limit": 500}
        )["task_instances"]
        for ti in found:
            self.seen_states.setdefault(key_of(ti), set()).add(str(ti["state"]))
        return found

    def tries(self, task_id: str, map_index: int) -> list[dict[str, Any]]:
        """Every try of one task instance (``/tries``: earlier tries and the current one)."""
        path = f"dags/{self.dag_id}/dagRuns/{self.run_id}/taskInstances/{task_id}/{map_index}/tries"
        return self.api.call("GET", path)["task_instances"]

    def all_tries(self) -> dict[str, list[str]]:
        """``{task_id[map_index]: [state of every try]}`` for every task instance of the run."""
        out: dict[str, list[str]] = {}
        for ti in self.task_instances():
            tries = sorted(self.tries(ti["task_id"], ti["map_index"]), key=lambda t: t["try_number"])
            out[key_of(ti)] = [str(t["state"]) for t in tries] or [str(ti["state"])]
        return out

    def wait(
        self, *, timeout: float, on_poll: Callable[[Run], None] | None = None, interval: float = 1.0
    ) -> dict[str, Any]:
        """Poll until the run is finished; ``on_poll`` runs at every poll (a drill's supervisor duties)."""
        deadline = time.monotonic() + timeout
        while True:
            if on_poll is not None:
                on_poll(self)
            run = self.get()
            self.task_instances()
            if run["state"] in FINISHED:
                return run
            if time.monotonic() > deadline:
                raise TimeoutError(f"run {self.run_id} still {run['state']} after {timeout:.0f}s")
            time.sleep(interval)


def key_of(ti: dict[str, Any]) -> str:
    return ti["task_id"] if ti["map_index"] < 0 else f"{ti['task_id']}[{ti['map_index']}]"


@dataclass
class DistributedTopology:
    """The running topology, its own servers, and the clients a drill needs. Create with :meth:`start`."""

    topology: NativeTopology
    config: TopologyConfig
    state: TopologyState
    postgres: OwnPostgres
    redis: OwnRedis
    api: RestApi
    sandbox: SandboxClient
    work: Path
    respawned: list[str] = field(default_factory=list)

    @classmethod
    def start(
        cls,
        work: Path,
        *,
        postgres: OwnPostgres,
        redis: OwnRedis,
        sandbox_items: int,
        retry_delay_seconds: float,
        claim_lease_seconds: float,
        graph_timeout_seconds: float,
        extra_env: dict[str, str],
    ) -> DistributedTopology:
        """Start the topology on ``postgres`` and ``redis`` (both running); stop it with :meth:`stop`."""
        shutil.rmtree(work, ignore_errors=True)
        dags = write_drill_dags(
            work / "dags", retry_delay_seconds=retry_delay_seconds, claim_lease_seconds=claim_lease_seconds
        )
        config = TopologyConfig(
            home=work / "airflow",
            metadata_database="drill_airflow",
            ledger_database="drill_ledger",
            postgres_port=postgres.port,
            redis_port=redis.port,
            redis_db=0,
            queue="drills",
            worker_names=("w1", "w2"),
            # Two slots per worker: a killed worker takes two running shards down with it.
            worker_concurrency=2,
            sandbox_items=sandbox_items,
            dags_folder=dags,
            extra_env=extra_env,
            meta_extra={"timeout": graph_timeout_seconds},
        )
        topology = NativeTopology(config)
        try:
            state = topology.up()
            api = RestApi.login(state.api_url, state.admin_password())
        except BaseException:
            topology.down()
            raise
        return cls(
            topology=topology,
            config=config,
            state=state,
            postgres=postgres,
            redis=redis,
            api=api,
            sandbox=SandboxClient(state.sandbox_url),
            work=work,
        )

    def stop(self) -> None:
        self.topology.down(grace=10)

    @property
    def ledger_uri(self) -> str:
        return self.config.postgres_uri(self.config.ledger_database)

    # -- each drill ------------------------------------------------------------------------------------------
    def prepare(self, name: str) -> DrillEnv:
        """A clean world for drill ``name``: sandbox reset (``rotate``), empty ledger, its own sink folder."""
        from include.topology.native import _server_cursor

        work = self.work / name
        self.sandbox.reset(config=True)
        self.sandbox.clear_faults()
        self.sandbox.configure(ad_code_repeat="rotate")
        with _server_cursor(self.config) as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{self.config.ledger_database}" WITH (FORCE)')
            cur.execute(f'CREATE DATABASE "{self.config.ledger_database}"')
        # The brands and creators the topology was given connections for (include.topology.connections).
        _env, facts = pipeline_environment(self.sandbox, state_dir=work, brands=SANDBOX_BRANDS)
        eligible = eligible_items(self.sandbox, facts["brands"], set(facts["creators_with_connection"]))
        tokens = [t["access_token"] for t in self.sandbox.tokens()]
        (work / "out").mkdir(parents=True, exist_ok=True)
        return DrillEnv(
            name=name,
            sandbox=self.sandbox,
            work=work,
            env={"AIRFLOW_CONN_PARTNERSHIP_ADS_DB": self.ledger_uri},
            facts=facts,
            eligible=eligible,
            app_secret="",
            # The topology's webhook connection signs with the demo's published secret (include.demo).
            webhook_secret=DEMO_WEBHOOK_SECRET,
            secrets=tokens,
        )

    def trigger(self, drill: DrillEnv, conf: dict[str, Any]) -> Run:
        """Unpause the DAG and trigger a run whose files go to the drill's folder."""
        self.api.call("PATCH", f"dags/{DAG_ID}", json={"is_paused": False})
        body = {
            "dag_run_id": f"drill_{drill.name}_{int(time.time())}",
            "logical_date": None,
            "conf": {"output_uri": str(drill.work / "out"), **conf},
        }
        run = self.api.call("POST", f"dags/{DAG_ID}/dagRuns", json=body)
        return Run(self.api, run["dag_run_id"])

    def wait_for_dag(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while True:
            response = self.api.session.get(f"{self.api.url}/api/v2/dags/{DAG_ID}", timeout=30)
            if response.status_code == 200:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"DAG {DAG_ID} not parsed within {timeout:.0f}s")
            time.sleep(1)

    # -- faults ----------------------------------------------------------------------------------------------
    def worker_of(self, ti: dict[str, Any]) -> str:
        """The topology's process name (``worker-w1``) of the Celery worker a task instance runs on."""
        hostname = str(ti.get("hostname") or "")
        name = hostname.split("@", 1)[0]
        if name not in self.config.worker_names:
            raise LookupError(f"task instance {key_of(ti)} runs on unknown host {hostname!r}")
        return f"worker-{name}"

    def sigkill_worker(self, process_name: str) -> list[int]:
        """SIGKILL the worker's whole process group (worker, pool processes, task supervisor, task); returns
        the pids killed."""
        import psutil

        record = self.topology.process(process_name)
        pids = [p.pid for p in psutil.process_iter(["pid"]) if _pgid(p.pid) == record.pid]
        os.killpg(record.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while _alive(record) and time.monotonic() < deadline:
            time.sleep(0.1)
        return pids

    def respawn_dead(self) -> list[str]:
        """Start again every daemon that has died, as a process supervisor (systemd, Kubernetes) would."""
        started = []
        for name, alive in self.topology.status().items():
            if not alive:
                self.topology.respawn(name)
                started.append(name)
        self.respawned.extend(started)
        return started

    def wait_worker_ready(self, process_name: str, *, log_offset: int, timeout: float = 120) -> None:
        """Wait for a respawned worker's Celery ``ready.`` line written after ``log_offset`` of its log."""
        log_path = Path(self.topology.process(process_name).log)
        deadline = time.monotonic() + timeout
        while True:
            with log_path.open("rb") as handle:
                handle.seek(log_offset)
                if b" ready." in handle.read():
                    return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{process_name} not ready after {timeout:.0f}s (log {log_path})")
            time.sleep(0.5)


def _pgid(pid: int) -> int:
    try:
        return os.getpgid(pid)
    except (ProcessLookupError, PermissionError):
        return -1


def describe_tries(tries: dict[str, list[str]]) -> dict[str, list[str]]:
    """Only the task instances that needed more than one try or did not succeed (for the drill's notes)."""
    return {k: v for k, v in tries.items() if v != ["success"] and v != ["skipped"]}


def dump(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)
