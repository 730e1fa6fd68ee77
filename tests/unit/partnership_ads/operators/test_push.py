"""PushAdCodesOperator on the real graph sandbox: brand, sink selection, dry run, XCom shape."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from partnership_ads.ledger import LedgerMismatchError
from partnership_ads.operators import PushAdCodesOperator
from partnership_ads.sink_names import DEFAULT_SINK_NAMES as SINK_NAMES
from partnership_ads.sink_names import FILES_SINK, SQL_SINK, WEBHOOK_SINK
from tests.integration.pipeline.conftest import context

if TYPE_CHECKING:
    from tests.integration.pipeline.conftest import Pipeline


def _issued(pipeline: Pipeline) -> dict[str, Any]:
    return pipeline.issue(pipeline.fetch())


def _push(issued: dict[str, Any], run_id: str = "manual__1", **kwargs: Any) -> dict[str, Any]:
    return PushAdCodesOperator(task_id="push", brand=issued["brand"], **kwargs).execute(context(run_id))


def _coded(pipeline: Pipeline) -> int:
    return len(pipeline.ledger.codes(states=["issued", "harvested"]))


def test_the_issue_tasks_brand_delivers_every_code_to_every_configured_sink(pipeline: Pipeline) -> None:
    issued = pipeline.issue(pipeline.fetch())
    pushed = _push(issued)
    assert json.loads(json.dumps(pushed)) == pushed
    assert pushed["business_id"] == pipeline.brand["business_id"]
    assert pushed["sinks"] == list(SINK_NAMES)
    assert pushed["delivered"] == dict.fromkeys(SINK_NAMES, _coded(pipeline))
    assert len(pushed["files"]) == 1
    assert _push(issued, run_id="manual__2")["delivered"] == dict.fromkeys(SINK_NAMES, 0)


def test_a_dry_run_counts_what_is_pending_per_sink_and_sends_nothing(pipeline: Pipeline) -> None:
    issued = _issued(pipeline)
    pushed = _push(issued, dry_run=True)
    assert pushed["delivered"] == {}
    assert pushed["pending"] == dict.fromkeys(SINK_NAMES, _coded(pipeline))
    assert pipeline.sandbox.webhook_deliveries() == []
    assert pipeline.ledger.deliveries() == []


def test_selecting_a_webhook_without_its_connection_fails_before_anything_is_delivered(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    issued = _issued(pipeline)
    monkeypatch.delenv("AIRFLOW_CONN_PARTNERSHIP_ADS_WEBHOOK")
    with pytest.raises(AirflowFailException, match=r"^sinks: 'webhook' was selected but connection"):
        _push(issued, sinks=[SQL_SINK, WEBHOOK_SINK])
    assert pipeline.ledger.deliveries() == []


def test_a_failing_sink_fails_the_task_after_the_others_delivered(pipeline: Pipeline) -> None:
    issued = _issued(pipeline)
    pipeline.sandbox.schedule_fault(method="POST", path="/__sandbox__/webhook", kind="http_500", fraction=1.0)
    with pytest.raises(
        AirflowException, match=r"Delivery failed for business \d+ on sink\(s\) \['webhook'\]"
    ):
        _push(issued, sinks=[WEBHOOK_SINK, FILES_SINK])
    delivered = {row[2] for row in pipeline.ledger.deliveries()}
    assert delivered == {FILES_SINK}


def test_another_ledger_than_the_runs_fails_before_any_delivery(pipeline: Pipeline) -> None:
    issued = _issued(pipeline)
    brand = {**issued["brand"], "ledger_id": "a-ledger-this-run-did-not-start-on"}
    with pytest.raises(LedgerMismatchError):
        PushAdCodesOperator(task_id="push", brand=brand).execute(context())
    assert pipeline.ledger.deliveries() == []
    assert pipeline.sandbox.webhook_deliveries() == []
