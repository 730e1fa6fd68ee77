"""`airflow dags test partnership_ad_codes` with OpenLineage's file transport: COMPLETE events for fetch,
issue and push, with inputs and outputs named by OpenLineage's conventions, matching the sinks used,
no secret.

Skipped until ``apache-airflow-providers-openlineage`` is installed (requirements.txt pins it).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from include.demo import DEMO_WEBHOOK_SECRET, airflow_environment, pipeline_environment, run_airflow
from include.graph_sandbox.testing import spawn_sandbox

if TYPE_CHECKING:
    from collections.abc import Iterator

pytest.importorskip(
    "airflow.providers.openlineage", reason="apache-airflow-providers-openlineage not installed"
)

pytestmark = pytest.mark.e2e
LOGICAL_DATE = "2026-06-01T00:00:00+00:00"
TASKS = ("fetch_advertisable_content", "issue_ad_codes", "push_ad_codes")


@pytest.fixture(scope="module")
def lineage_run(airflow_db: Path) -> Iterator[dict[str, Any]]:
    state = airflow_db / "openlineage-e2e"
    state.mkdir(parents=True, exist_ok=True)
    events_file = state / "openlineage.jsonl"
    sandbox = spawn_sandbox(port=0, seed=5, items=60)
    try:
        extra, facts = pipeline_environment(sandbox, state_dir=state, brands=1, output_uri=str(state / "out"))
        env = airflow_environment(airflow_db, extra)
        env["AIRFLOW__OPENLINEAGE__TRANSPORT"] = json.dumps(
            {"type": "file", "log_file_path": str(events_file), "append": True}
        )
        env["AIRFLOW__OPENLINEAGE__NAMESPACE"] = "partnership_ads_test"
        log_path = state / "dags-test.log"
        code = run_airflow(["dags", "test", "partnership_ad_codes", LOGICAL_DATE], env, log_path, timeout=300)
        assert code == 0, log_path.read_text()[-4000:]
        lines = events_file.read_text().splitlines() if events_file.exists() else []
        yield {
            "events": [json.loads(line) for line in lines if line.strip()],
            "raw": "\n".join(lines),
            "env": env,
            "facts": facts,
            "sandbox_url": sandbox.url,
            "out": state / "out",
        }
    finally:
        sandbox.stop()


def _complete(events: list[dict[str, Any]], task: str) -> list[dict[str, Any]]:
    return [
        e
        for e in events
        if e.get("eventType") == "COMPLETE" and e.get("job", {}).get("name", "").endswith(f".{task}")
    ]


def _names(datasets: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(d["namespace"], d["name"]) for d in datasets}


@pytest.mark.parametrize("task", TASKS)
def test_each_task_emits_a_complete_event(lineage_run: dict[str, Any], task: str) -> None:
    assert _complete(lineage_run["events"], task), f"no COMPLETE event for {task}"


def test_fetch_reads_the_discovery_endpoint_and_writes_the_snapshot(lineage_run: dict[str, Any]) -> None:
    event = _complete(lineage_run["events"], "fetch_advertisable_content")[0]
    ((namespace, name),) = _names(event["inputs"])
    assert lineage_run["sandbox_url"].startswith(namespace)
    assert name.endswith("/partnership-ads-advertisable-content")
    ((out_namespace, out_name),) = _names(event["outputs"])
    assert out_namespace == "file" and out_name.endswith(".parquet")


def test_issue_reads_the_snapshot_and_writes_the_ledger_table(lineage_run: dict[str, Any]) -> None:
    fetch = _complete(lineage_run["events"], "fetch_advertisable_content")[0]
    for event in _complete(lineage_run["events"], "issue_ad_codes"):
        assert _names(event["inputs"]) == _names(fetch["outputs"])
        ((namespace, name),) = _names(event["outputs"])
        assert namespace.startswith("sqlite://") and name == "main.pa_ad_codes"


def test_push_writes_one_output_per_sink_used(lineage_run: dict[str, Any]) -> None:
    event = _complete(lineage_run["events"], "push_ad_codes")[0]
    outputs = _names(event["outputs"])
    namespaces = {namespace.split("://")[0] for namespace, _ in outputs}
    assert len(outputs) == 3 and namespaces == {"sqlite", "file", "http"}
    assert ("file", str(Path(lineage_run["out"]).resolve())) in outputs or any(
        ns == "file" and name.endswith("/out") for ns, name in outputs
    )


def test_no_secret_in_any_event(lineage_run: dict[str, Any]) -> None:
    raw = lineage_run["raw"]
    assert raw, "no event was written"
    assert DEMO_WEBHOOK_SECRET not in raw
    for key, value in lineage_run["env"].items():
        if key.startswith("AIRFLOW_CONN_"):
            try:
                password = json.loads(value).get("password")
            except ValueError:
                continue
            if password:
                assert password not in raw, f"the password of {key} is in an event"
