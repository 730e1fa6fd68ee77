"""partnership_ad_codes on the production topology: triggered through the REST API, run by two Celery workers.

One run with a non-default parameter set is triggered once (module fixture); each test checks one property
of that run against the real servers: the run's state, where its mapped task instances ran, and what the
ledger and the SQL sink in PostgreSQL and the sandbox's webhook receiver hold compared with what the sandbox
issued.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import psycopg2
import pytest

from include.graph_sandbox.testing import SandboxClient
from include.topology.services import API_POOL
from tests.topology.conftest import DAG_ID

if TYPE_CHECKING:
    from tests.topology.conftest import RunningTopology

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

MAX_CODES = 3
MEDIA_TYPES = ["IMAGE", "VIDEO"]
RUN_CONF: dict[str, Any] = {
    "ad_eligibilities": ["AD_READY"],
    "media_types": MEDIA_TYPES,
    "sinks": ["sql", "webhook"],
    "max_codes": MAX_CODES,
    "dry_run": False,
}


@dataclass
class FinishedRun:
    run: dict[str, Any]
    task_instances: list[dict[str, Any]]
    sandbox_codes: list[dict[str, Any]]
    created_before: set[str]
    webhook_deliveries: list[dict[str, Any]]
    ledger_codes: list[dict[str, Any]]
    ledger_content: dict[str, dict[str, Any]]
    sink_rows: list[dict[str, Any]]


def _query(uri: str, sql: str) -> list[dict[str, Any]]:
    with psycopg2.connect(uri) as connection, connection.cursor() as cursor:
        cursor.execute(sql)
        columns = [column.name for column in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


@pytest.fixture(scope="module")
def finished_run(native_topology: RunningTopology) -> FinishedRun:
    api = native_topology.api
    api.wait_for_dag(DAG_ID)
    sandbox = SandboxClient(native_topology.state.sandbox_url)
    # The session's other runs (the browser test) may come first: remember what the sandbox had issued.
    created_before = {r["ad_code"] for r in sandbox.ad_codes() if r["origin"] == "created"}
    api.call("PATCH", f"dags/{DAG_ID}", json={"is_paused": False})
    triggered = api.call("POST", f"dags/{DAG_ID}/dagRuns", json={"logical_date": None, "conf": RUN_CONF})
    run = api.wait_for_run(DAG_ID, triggered["dag_run_id"])
    task_instances = api.call(
        "GET", f"dags/{DAG_ID}/dagRuns/{run['dag_run_id']}/taskInstances", params={"limit": 200}
    )["task_instances"]
    ledger_uri = native_topology.config.postgres_uri(native_topology.config.ledger_database)
    content = _query(ledger_uri, "SELECT content_id, media_type, business_id FROM pa_content")
    return FinishedRun(
        run=run,
        task_instances=task_instances,
        sandbox_codes=sandbox.ad_codes(),
        created_before=created_before,
        webhook_deliveries=sandbox.webhook_deliveries(),
        ledger_codes=_query(ledger_uri, "SELECT content_id, ad_code, state, business_id FROM pa_ad_codes"),
        ledger_content={row["content_id"]: row for row in content},
        sink_rows=_query(
            ledger_uri, "SELECT business_id, content_id, ad_code, state FROM partnership_ad_codes"
        ),
    )


def _issued_by_sandbox(finished: FinishedRun) -> dict[str, str]:
    """media id -> ad_code for every code the sandbox created in this session (seeded codes excluded)."""
    return {r["media_id"]: r["ad_code"] for r in finished.sandbox_codes if r["origin"] == "created"}


def _issued_in_this_run(finished: FinishedRun) -> dict[str, str]:
    """media id -> ad_code for the codes the sandbox created during this test's run."""
    return {m: c for m, c in _issued_by_sandbox(finished).items() if c not in finished.created_before}


def test_run_triggered_through_the_rest_api_succeeds(finished_run: FinishedRun) -> None:
    failed = [
        (ti["task_id"], ti["map_index"], ti["state"])
        for ti in finished_run.task_instances
        if ti["state"] not in {"success", "skipped"}
    ]
    assert finished_run.run["state"] == "success", failed
    assert finished_run.run["conf"]["max_codes"] == MAX_CODES


def test_mapped_task_instances_ran_on_both_workers(
    finished_run: FinishedRun, native_topology: RunningTopology
) -> None:
    mapped = [ti for ti in finished_run.task_instances if ti["map_index"] >= 0]
    assert len(mapped) >= 2 * 3, "one fetch, issue and push instance per brand"
    assert {ti["hostname"] for ti in mapped} == native_topology.worker_hostnames


def test_graph_calling_tasks_ran_in_the_graph_api_pool(finished_run: FinishedRun) -> None:
    graph_tasks = {"fetch_advertisable_content", "issue_ad_codes"}
    pools = {ti["pool"] for ti in finished_run.task_instances if ti["task_id"] in graph_tasks}
    assert pools == {API_POOL.name}


def test_ledger_holds_exactly_the_codes_the_sandbox_issued(finished_run: FinishedRun) -> None:
    issued = _issued_by_sandbox(finished_run)
    assert _issued_in_this_run(finished_run), "the run issued no code at all: the test would prove nothing"
    ledger_issued = {
        row["content_id"]: row["ad_code"] for row in finished_run.ledger_codes if row["state"] == "issued"
    }
    assert ledger_issued == issued


def test_sql_sink_holds_every_issued_code_and_only_codes_the_sandbox_knows(finished_run: FinishedRun) -> None:
    issued = _issued_by_sandbox(finished_run)
    valid = {r["media_id"]: r["ad_code"] for r in finished_run.sandbox_codes if r["valid"]}
    sink = {row["content_id"]: row["ad_code"] for row in finished_run.sink_rows}
    assert issued.items() <= sink.items()
    assert sink.items() <= valid.items()


def test_webhook_received_every_issued_code(finished_run: FinishedRun) -> None:
    delivered = json.dumps(finished_run.webhook_deliveries)
    missing = [code for code in _issued_in_this_run(finished_run).values() if code not in delivered]
    assert not missing


def test_trigger_parameters_reached_the_workers(finished_run: FinishedRun) -> None:
    issued = _issued_in_this_run(finished_run)
    per_brand: dict[str, int] = {}
    for content_id in issued:
        row = finished_run.ledger_content[content_id]
        assert row["media_type"] in MEDIA_TYPES, (content_id, row["media_type"])
        per_brand[row["business_id"]] = per_brand.get(row["business_id"], 0) + 1
    assert max(per_brand.values()) <= MAX_CODES
