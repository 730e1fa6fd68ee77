"""The benchmark's native Celery topology: triggered runs of partnership_ad_codes, as a user runs them.

`airflow dags test` runs every task in one process, where Airflow's secrets masker accumulates the masked
secrets of every shard; the issue stage's design (a process per creator shard, spread over workers) only
shows on the production topology. :class:`NativeBench` starts :class:`include.topology.native.NativeTopology`
without a sandbox of its own: the bench's sandbox (the same world as every other row) is wired in through
``extra_env`` (the demo's connections for its three brands, one per creator), with the ledger and the SQL
sink on a PostgreSQL database of the topology's own. Runs are triggered and followed through the REST API.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from include.demo import pipeline_environment
from include.topology.native import (
    NativeTopology,
    TopologyConfig,
    admin_session,
    drop_databases,
    stop_processes,
)

if TYPE_CHECKING:
    from pathlib import Path

    import requests

    from include.bench.fixture_world import World

DAG_ID = "partnership_ad_codes"
ISSUE_TASK = "issue_ad_codes"


def api_time(value: str) -> float:
    """Epoch seconds of one of the REST API's ISO timestamps."""
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


@dataclass
class NativeBench:
    """A running topology wired to the bench's sandbox, and a logged-in REST API session."""

    topology: NativeTopology
    config: TopologyConfig
    api_url: str
    session: requests.Session

    @classmethod
    def start(
        cls,
        world: World,
        home: Path,
        *,
        workers: int,
        worker_concurrency: int,
        redis_db: int,
        brands: int = 3,
    ) -> NativeBench:
        """Start the topology (databases named after a fresh tag, dropped again by :meth:`stop`)."""
        tag = uuid.uuid4().hex[:8]
        config = TopologyConfig(
            home=home,
            metadata_database=f"pa_bench_{tag}_airflow",
            ledger_database=f"pa_bench_{tag}_ledger",
            redis_db=redis_db,
            queue=f"pa_bench_{tag}",
            worker_names=tuple(f"bench{n + 1}-{tag}" for n in range(workers)),
            worker_concurrency=worker_concurrency,
            use_sandbox=False,
            extra_env=_pipeline_env(world, home, brands, config_ledger=f"pa_bench_{tag}_ledger"),
        )
        topology = NativeTopology(config)
        try:
            state = topology.up()
            bench = cls(topology, config, state.api_url, admin_session(state.api_url, state.admin_password()))
            bench.wait_for_dag()
            bench.call("PATCH", f"dags/{DAG_ID}", json={"is_paused": False})
        except BaseException:
            topology.down()
            drop_databases(config)
            raise
        return bench

    def stop(self) -> None:
        self.topology.down()
        drop_databases(self.config)

    @property
    def ledger_uri(self) -> str:
        return self.config.postgres_uri(self.config.ledger_database)

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", 30)
        response = self.session.request(method, f"{self.api_url}/api/v2/{path.lstrip('/')}", **kwargs)
        if response.status_code >= 400:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:500]}")
        return response.json()

    def wait_for_dag(self, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while self.session.get(f"{self.api_url}/api/v2/dags/{DAG_ID}", timeout=30).status_code != 200:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{DAG_ID} not parsed by the topology within {timeout:.0f}s")
            time.sleep(1)

    def fresh_ledger(self) -> None:
        """An empty ledger and SQL sink table (the tasks migrate it again), like a first run's."""
        import psycopg2

        with psycopg2.connect(self.ledger_uri) as connection, connection.cursor() as cursor:
            cursor.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")

    def trigger(self, conf: dict[str, Any]) -> str:
        run = self.call("POST", f"dags/{DAG_ID}/dagRuns", json={"logical_date": None, "conf": conf})
        return str(run["dag_run_id"])

    def wait_for_run(self, run_id: str, timeout: float = 900) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            run = self.call("GET", f"dags/{DAG_ID}/dagRuns/{run_id}")
            if run["state"] in {"success", "failed"}:
                return run
            if time.monotonic() > deadline:
                raise TimeoutError(f"run {run_id} still {run['state']} after {timeout:.0f}s")
            time.sleep(1)

    def run_seconds(self, run: dict[str, Any]) -> float:
        """A run's wall time as the user sees it: from being queued (triggered) to its end."""
        return api_time(run["end_date"]) - api_time(run["queued_at"])

    def task_instances(self, run_id: str) -> list[dict[str, Any]]:
        return list(
            self.call("GET", f"dags/{DAG_ID}/dagRuns/{run_id}/taskInstances", params={"limit": 500})[
                "task_instances"
            ]
        )

    def stop_worker(self, index: int) -> None:
        """Stop one of the topology's Celery workers (its process group) for the rest of its life."""
        state = self.topology.state
        assert state is not None
        name = f"worker-{self.config.worker_names[index]}"
        stop_processes([p for p in state.processes if p.name == name], grace=30)

    def ledger_count(self, sql: str) -> int:
        import psycopg2

        with psycopg2.connect(self.ledger_uri) as connection, connection.cursor() as cursor:
            cursor.execute(sql)
            return int(cursor.fetchone()[0])


def _pipeline_env(world: World, home: Path, brands: int, *, config_ledger: str) -> dict[str, str]:
    """The demo's wiring for ``brands`` brands of the bench's sandbox, ledger on the topology's PostgreSQL."""
    env, _facts = pipeline_environment(world.sandbox, state_dir=home, brands=brands, skip_creators=0)
    env["AIRFLOW_CONN_PARTNERSHIP_ADS_DB"] = TopologyConfig().postgres_uri(config_ledger)
    # Only the runs the bench triggers (a scheduled run would hold the DAG's single active-run slot).
    env["AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE"] = "False"
    return env
