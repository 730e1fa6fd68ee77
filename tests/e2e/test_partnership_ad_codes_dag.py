"""`airflow dags test partnership_ad_codes` end to end against a spawned graph sandbox.

One sandbox and one ledger for the module: the first run issues, the same-day rerun must issue nothing.
"""

from __future__ import annotations

import json
import sqlite3
from typing import TYPE_CHECKING, Any

import pytest

from tests.e2e.conftest import Deployment, deployment_on

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = pytest.mark.e2e
LOGICAL_DATE = "2026-06-01T00:00:00+00:00"


@pytest.fixture(scope="module")
def deployment(airflow_db: Path) -> Iterator[Deployment]:
    with deployment_on(airflow_db, "pipeline-e2e", Deployment, seed=11, items=300) as deployment:
        yield deployment


@pytest.fixture(scope="module")
def first_run(deployment: Deployment) -> dict[str, Any]:
    code, log = deployment.dags_test(LOGICAL_DATE)
    assert code == 0, log[-4000:]
    run_id = deployment.ledger.latest_run_id()
    return {"run_id": run_id, "figures": deployment.ledger.run_figures(run_id), "log": log}


def test_bad_trigger_parameter_fails_the_first_task_before_any_call(deployment: Deployment) -> None:
    before = len(deployment.sandbox.requests_log())
    code, log = deployment.dags_test("-c", json.dumps({"start_date": "2026-01-01"}))
    assert code != 0 or "failed" in log.lower()
    assert "Invalid parameter: end_date" in log
    assert len(deployment.sandbox.requests_log()) == before


def test_full_run_issues_what_the_sandbox_records_and_every_sink_has_it(
    deployment: Deployment, first_run: dict[str, Any]
) -> None:
    figures = first_run["figures"]
    assert len(figures) == 2, "the demo brand list has two brands, each a mapped task instance"
    issued = sum(f["issued"] for f in figures.values())
    assert issued == len(deployment.created()) > 0
    ledger_codes = {c.ad_code for c in deployment.ledger.codes(states=["issued"])}
    assert ledger_codes == {c["ad_code"] for c in deployment.created()}
    with sqlite3.connect(deployment.facts["ledger_path"]) as conn:
        table = set(conn.execute("SELECT business_id, content_id, ad_code FROM partnership_ad_codes"))
    assert ledger_codes <= {row[2] for row in table}
    webhook = {
        (d["body"]["business_id"], c["content_id"], c["ad_code"])
        for d in deployment.sandbox.webhook_deliveries()
        for c in d["body"]["ad_codes"]
    }
    assert webhook == table
    files = list((deployment.state / "out").rglob("*.csv"))
    assert len(files) == 2
    for sink in ("sql", "webhook", "files"):
        assert sum(f[f"delivered:{sink}"] for f in figures.values()) == len(table)
    assert sum(f["awaiting_creator_authorisation"] for f in figures.values()) > 0
    assert "Run summary" in first_run["log"]


def test_same_day_rerun_issues_nothing_new(deployment: Deployment, first_run: dict[str, Any]) -> None:
    created = len(deployment.created())
    code, log = deployment.dags_test()
    assert code == 0, log[-4000:]
    run_id = deployment.ledger.latest_run_id()
    assert run_id != first_run["run_id"]
    figures = deployment.ledger.run_figures(run_id)
    assert sum(f["issued"] for f in figures.values()) == 0
    assert len(deployment.created()) == created
    assert sum(f.get("delivered:sql", 0) for f in figures.values()) == 0


def test_each_brands_mapped_task_instances_are_named_by_its_business(
    deployment: Deployment, first_run: dict[str, Any]
) -> None:
    expected = {f"business {brand['business_id']}" for brand in deployment.facts["brands"]}
    with sqlite3.connect(f"{deployment.env['AIRFLOW_HOME']}/airflow.db") as conn:
        rows = conn.execute(
            "SELECT task_id, rendered_map_index FROM task_instance WHERE dag_id = 'partnership_ad_codes' "
            "AND run_id = ? AND map_index >= 0",
            (first_run["run_id"],),
        ).fetchall()
    names: dict[str, set[str]] = {}
    for task_id, name in rows:
        names.setdefault(task_id, set()).add(name)
    assert names["fetch_advertisable_content"] == names["push_ad_codes"] == expected
    # Issue instances are creator shards: "business <id> · shard k/n", every k of every brand's n once.
    shards = sorted(names["issue_ad_codes"])
    assert {name.split(" · ")[0] for name in shards} == expected
    for brand in expected:
        labels = [name.split(" · shard ")[1] for name in shards if name.startswith(f"{brand} · ")]
        count = int(labels[0].split("/")[1])
        assert sorted(labels) == sorted(f"{k}/{count}" for k in range(1, count + 1))
