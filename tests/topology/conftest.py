"""One native topology per test session, shared by the distributed end-to-end test and the browser test.

api-server, scheduler, dag-processor, triggerer, two Celery workers and the graph sandbox run on the real
PostgreSQL and Redis servers with their own uniquely named databases, Redis database and Celery queue, so
they never clash with a running ``make native-up`` or another test session. The fixture always stops every
process it started and drops its databases.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from include.topology.native import (
    NativeTopology,
    TopologyConfig,
    TopologyState,
    admin_session,
    drop_databases,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    import requests

ROOT = Path(__file__).resolve().parents[2]
DAG_ID = "partnership_ad_codes"
TEST_REDIS_DB = 6  # `make native-up` uses 5


def root_conftest(config: pytest.Config) -> Any:
    """tests/conftest.py as pytest loaded it (importing it again would re-run its AIRFLOW_HOME set-up)."""
    return config.pluginmanager.get_plugin(str(ROOT / "tests" / "conftest.py"))


@dataclass
class AirflowApi:
    """A logged-in REST API client of the running topology."""

    url: str
    password: str
    session: requests.Session

    @classmethod
    def login(cls, url: str, password: str) -> AirflowApi:
        return cls(url, password, admin_session(url, password))

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", 30)
        response = self.session.request(method, f"{self.url}/api/v2/{path.lstrip('/')}", **kwargs)
        assert response.status_code < 400, f"{method} {path}: {response.status_code} {response.text[:500]}"
        return response.json()

    def wait_for_dag(self, dag_id: str, timeout: float = 180) -> dict[str, Any]:
        """Poll until the dag-processor has stored ``dag_id`` (the topology parses dags/ at start)."""
        deadline = time.monotonic() + timeout
        while True:
            response = self.session.get(f"{self.url}/api/v2/dags/{dag_id}", timeout=30)
            if response.status_code == 200:
                return response.json()
            assert time.monotonic() < deadline, f"DAG {dag_id} not parsed within {timeout}s"
            time.sleep(1)

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 300) -> dict[str, Any]:
        """Poll the run until it is finished (success or failed); returns it."""
        deadline = time.monotonic() + timeout
        while True:
            run = self.call("GET", f"dags/{dag_id}/dagRuns/{run_id}")
            if run["state"] in {"success", "failed"}:
                return run
            assert time.monotonic() < deadline, f"run {run_id} still {run['state']} after {timeout}s"
            time.sleep(2)


@dataclass
class RunningTopology:
    config: TopologyConfig
    state: TopologyState
    api: AirflowApi

    @property
    def worker_hostnames(self) -> set[str]:
        return set(self.state.workers)


def own_topology_config(
    pytestconfig: pytest.Config, name: str, *, redis_db: int, **settings: Any
) -> TopologyConfig:
    """A topology of its own for a test module: unique databases, queue and workers on the real servers
    (failing, not skipping, under CI=true when PostgreSQL or Redis is missing)."""
    conftest = root_conftest(pytestconfig)
    conftest.require_server("PostgreSQL", conftest.POSTGRES_HOST, conftest.POSTGRES_PORT)
    conftest.require_server("Redis", conftest.REDIS_HOST, conftest.REDIS_PORT)
    tag = uuid.uuid4().hex[:8]
    return TopologyConfig(
        home=ROOT / ".demo" / "pytest" / f"{name}-{tag}",
        metadata_database=f"pa_{name}_{tag}_airflow",
        ledger_database=f"pa_{name}_{tag}_ledger",
        postgres_host=conftest.POSTGRES_HOST,
        postgres_port=conftest.POSTGRES_PORT,
        postgres_user=conftest.POSTGRES_USER,
        redis_host=conftest.REDIS_HOST,
        redis_port=conftest.REDIS_PORT,
        redis_db=redis_db,
        queue=f"pa_{name}_{tag}",
        worker_names=(f"w1-{tag}", f"w2-{tag}"),
        **settings,
    )


@pytest.fixture(scope="session")
def native_topology(pytestconfig: pytest.Config) -> Iterator[RunningTopology]:
    """The whole production topology, started once per session (about 20 s on 2 cores)."""
    config = own_topology_config(
        pytestconfig,
        "topo",
        redis_db=TEST_REDIS_DB,
        worker_concurrency=1,
        # Only the runs the tests trigger: an unpaused daily DAG would also get a scheduled run, which would
        # hold the DAG's single active-run slot and issue codes of its own.
        extra_env={"AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False"},
    )
    topology = NativeTopology(config)
    try:
        state = topology.up()
        api = AirflowApi.login(state.api_url, state.admin_password())
        yield RunningTopology(config, state, api)
    finally:
        topology.down()
        drop_databases(config)
