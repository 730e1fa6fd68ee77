"""The production topology as data: which services run, with which Airflow command, under which compose name.

Two sources describe the same topology: `docker-compose.yaml` (containers) and :mod:`include.topology.native`
(processes on one machine). Both are checked against this module by `tests/topology/test_compose.py`, so a
service added to one and forgotten in the other fails the suite instead of drifting silently.

Command templates are formatted with :meth:`str.format` by the native launcher; the placeholders are the
fields of :class:`include.topology.native.TopologyConfig` plus ``python``, ``api_port``, ``sandbox_port``,
``worker_name`` and ``queue``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from partnership_ads.conn_ids import (
    CREATOR_CONN_PREFIX,
    DEFAULT_LEDGER_CONN_ID,
    DEFAULT_META_CONN_ID,
    DEFAULT_WEBHOOK_CONN_ID,
)

ServiceKind = Literal["external", "oneshot", "daemon"]


@dataclass(frozen=True)
class ServiceSpec:
    """One service of the topology.

    ``compose_name`` is the service's key in `docker-compose.yaml`. ``kind`` says how the native launcher
    treats it: ``external`` servers (PostgreSQL, Redis) must already be listening, a ``oneshot`` runs to
    completion before the daemons start, a ``daemon`` is started in its own process group and recorded for
    ``down``. ``airflow_command`` is the `airflow` sub-command the compose service runs (empty for services
    that are not Airflow); ``argv`` is the native command line template. ``replicas`` is how many copies the
    native topology starts. ``compose_profiles`` are the compose profiles the service belongs to: empty, a
    plain ``docker compose up`` starts it; otherwise only ``--profile <name>`` does (the native topology
    starts the sandbox unless ``--no-sandbox``).
    """

    compose_name: str
    kind: ServiceKind
    description: str
    airflow_command: tuple[str, ...] = ()
    argv: tuple[str, ...] = ()
    replicas: int = 1
    compose_profiles: tuple[str, ...] = ()


# Airflow's own processes run as `python -m airflow ...` so the native topology uses the interpreter that runs
# the launcher (the project's virtualenv) whatever PATH says.
_AIRFLOW = ("{python}", "-m", "airflow")

SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec(
        "postgres", "external", "PostgreSQL: Airflow's metadata database and the ledger's own database"
    ),
    ServiceSpec("redis", "external", "Redis: the Celery broker"),
    ServiceSpec(
        "airflow-init",
        "oneshot",
        "migrates the metadata database (and, in compose, creates the ledger database)",
        airflow_command=("db", "migrate"),
        argv=(*_AIRFLOW, "db", "migrate"),
    ),
    ServiceSpec(
        "graph-sandbox",
        "daemon",
        "the local Graph API that stands in for graph.facebook.com (no Meta account needed)",
        argv=(
            "{python}",
            "-m",
            "include.graph_sandbox",
            "--host",
            "127.0.0.1",
            "--port",
            "{sandbox_port}",
            "--seed",
            "{sandbox_seed}",
            "--items",
            "{sandbox_items}",
        ),
        # A compose deployment runs on Meta unless the operator asks for the sandbox.
        compose_profiles=("sandbox",),
    ),
    ServiceSpec(
        "airflow-apiserver",
        "daemon",
        "REST API, UI and the execution API the workers report to",
        airflow_command=("api-server",),
        argv=(*_AIRFLOW, "api-server", "--host", "127.0.0.1", "--port", "{api_port}", "--workers", "1"),
    ),
    ServiceSpec(
        "airflow-scheduler",
        "daemon",
        "creates runs and queues task instances on Celery",
        airflow_command=("scheduler",),
        argv=(*_AIRFLOW, "scheduler", "--skip-serve-logs"),
    ),
    ServiceSpec(
        "airflow-dag-processor",
        "daemon",
        "parses dags/ and stores serialized DAGs",
        airflow_command=("dag-processor",),
        argv=(*_AIRFLOW, "dag-processor"),
    ),
    ServiceSpec(
        "airflow-triggerer",
        "daemon",
        "runs the triggers of deferred tasks",
        airflow_command=("triggerer",),
        # Task logs live on one shared folder in the native topology, so no log server is needed; skipping it
        # also keeps a fixed port free for a second topology on the same machine.
        argv=(*_AIRFLOW, "triggerer", "--skip-serve-logs"),
    ),
    ServiceSpec(
        "airflow-worker",
        "daemon",
        "Celery workers that run the task instances",
        airflow_command=("celery", "worker"),
        argv=(
            *_AIRFLOW,
            "celery",
            "worker",
            "--celery-hostname",
            "{worker_name}@%h",
            "--queues",
            "{queue}",
            "--concurrency",
            "{worker_concurrency}",
            "--skip-serve-logs",
        ),
        replicas=2,
    ),
)


@dataclass(frozen=True)
class PoolSpec:
    """An Airflow pool the topology creates right after ``airflow db migrate``, before any daemon starts."""

    name: str
    slots: int
    description: str

    @property
    def airflow_command(self) -> tuple[str, ...]:
        """The idempotent ``airflow pools set`` sub-command that creates or updates the pool."""
        return ("pools", "set", self.name, str(self.slots), self.description)


# Meta counts Graph calls per token and business, not per worker: the Graph-calling tasks (fetch, issue,
# revoke) share this pool, named to them by env PARTNERSHIP_ADS_API_POOL, so adding workers never
# multiplies the calls in flight.
API_POOL = PoolSpec("meta_graph_api", 4, "Meta Graph API calls")

# Connection ids the pipeline reads, defined by environment (`AIRFLOW_CONN_<ID>`) in both topologies. Creator
# connections (`meta_graph_creator_<ig_user_id>`) come on top, one per creator that granted a token.
CONNECTION_IDS: tuple[str, ...] = (DEFAULT_META_CONN_ID, DEFAULT_LEDGER_CONN_ID, DEFAULT_WEBHOOK_CONN_ID)
CREATOR_CONNECTION_PREFIX = CREATOR_CONN_PREFIX


def service(compose_name: str) -> ServiceSpec:
    """The service declared under ``compose_name``; raises KeyError for an unknown name."""
    for spec in SERVICES:
        if spec.compose_name == compose_name:
            return spec
    raise KeyError(compose_name)


def connection_env_name(conn_id: str) -> str:
    """The environment variable Airflow reads a connection from: ``AIRFLOW_CONN_`` + upper-cased id."""
    return f"AIRFLOW_CONN_{conn_id.upper()}"
