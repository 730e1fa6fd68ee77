"""DAG files: no import errors, nothing touched at import, the trigger form and the wiring."""

from __future__ import annotations

import importlib.util
import socket
import sqlite3
import sys
from pathlib import Path

import pytest

DAGS = Path(__file__).resolve().parents[2] / "dags"
DAG_FILES = ["partnership_ad_codes.py", "revoke_partnership_ad_codes.py"]


def _import(path: Path) -> object:
    spec = importlib.util.spec_from_file_location(f"dag_under_test_{path.stem}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_dagbag_has_no_import_errors(airflow_db: Path) -> None:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS))
    assert bag.import_errors == {}
    assert {"partnership_ad_codes", "revoke_partnership_ad_codes"} <= set(bag.dag_ids)


@pytest.mark.parametrize("name", DAG_FILES)
def test_importing_the_dag_file_touches_neither_network_nor_database(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Warm the imports the DAG file needs, then forbid any I/O while the file itself runs.
    _import(DAGS / name)

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("network or database access at DAG parse time")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(sqlite3, "connect", refuse)
    monkeypatch.setattr(sqlite3.dbapi2, "connect", refuse)
    for module in [m for m in sys.modules if m.startswith("psycopg2")]:
        monkeypatch.setattr(sys.modules[module], "connect", refuse, raising=False)
    _import(DAGS / name)


def test_pipeline_dag_is_daily_without_catchup_and_one_active_run() -> None:
    from airflow.serialization.encoders import coerce_to_core_timetable

    pipeline = _import(DAGS / "partnership_ad_codes.py").dag
    # The DAG uses the SDK's timetable; the scheduler sees its core counterpart.
    assert coerce_to_core_timetable(pipeline.timetable).summary == "0 0 * * *"
    assert pipeline.catchup is False
    assert pipeline.max_active_runs == 1
    assert sorted(pipeline.task_ids) == [
        "fetch_advertisable_content",
        "issue_ad_codes",
        "plan_issuance",
        "publish_ad_codes_asset",
        "push_ad_codes",
        "resolve_brands",
        "run_summary",
    ]


def test_trigger_form_exposes_every_filter_with_the_apis_own_names() -> None:
    from partnership_ads.dag_settings import FILTER_PARAM_NAMES

    module = _import(DAGS / "partnership_ad_codes.py")
    params = module.PARAMS
    expected = {
        *FILTER_PARAM_NAMES,
        "business_id",
        "fb_page_id",
        "ig_user_id",
        "dry_run",
        "sinks",
        "max_codes",
        "creators_per_shard",
    }
    assert expected <= set(params)
    for name in expected:
        schema = params[name].schema
        assert schema.get("section"), f"{name} has no section in the trigger form"
        assert params[name].description, f"{name} has no description"
    assert params["ad_eligibilities"].schema["values_display"]["AD_READY"] == "Ad ready"


def test_the_issue_stage_is_mapped_over_the_plans_shards_and_push_waits_for_every_shard() -> None:
    pipeline = _import(DAGS / "partnership_ad_codes.py").dag
    plan = pipeline.get_task("plan_issuance")
    issue = pipeline.get_task("issue_ad_codes")
    push = pipeline.get_task("push_ad_codes")
    assert issue.upstream_task_ids == {"plan_issuance"}
    assert plan.upstream_task_ids == {"fetch_advertisable_content"}
    assert "issue_ad_codes" in push.upstream_task_ids
    # A brand with nothing to POST has no shard: the skipped issue stage must not skip push or the summary.
    assert push.partial_kwargs["trigger_rule"] == "none_failed"
    assert pipeline.get_task("run_summary").trigger_rule == "none_failed"
    assert "shard {{ task.shard }}" in issue.partial_kwargs["map_index_template"]
    assert pipeline.params["creators_per_shard"] == 50


def _graph_task_pools() -> dict[str, str]:
    pipeline = _import(DAGS / "partnership_ad_codes.py").dag
    revoke = _import(DAGS / "revoke_partnership_ad_codes.py").dag
    pools = {
        task_id: pipeline.get_task(task_id).partial_kwargs["pool"]
        for task_id in ("fetch_advertisable_content", "issue_ad_codes")
    }
    return {**pools, "revoke_ad_codes": revoke.get_task("revoke_ad_codes").pool}


def test_graph_calling_tasks_run_in_the_pool_named_by_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PARTNERSHIP_ADS_API_POOL", "meta_graph_api")
    assert set(_graph_task_pools().values()) == {"meta_graph_api"}


def test_graph_calling_tasks_use_the_default_pool_when_none_is_configured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PARTNERSHIP_ADS_API_POOL", raising=False)
    assert set(_graph_task_pools().values()) == {"default_pool"}
