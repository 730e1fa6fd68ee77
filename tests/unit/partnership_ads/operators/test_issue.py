"""IssueAdCodesOperator on the real graph sandbox: brand, XCom shape, deferral, the failure retried."""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

import pytest
from airflow.providers.standard.triggers.temporal import TimeDeltaTrigger
from airflow.sdk.exceptions import AirflowException, TaskDeferred

from partnership_ads.brand import Brand
from partnership_ads.issuance import OUTCOMES
from partnership_ads.operators import IssueAdCodesOperator
from tests.integration.pipeline.conftest import context

if TYPE_CHECKING:
    from tests.integration.pipeline.conftest import Pipeline


def _issue(fetched: dict[str, Any], run_id: str = "manual__1", **kwargs: Any) -> dict[str, Any]:
    op = IssueAdCodesOperator(
        task_id="issue", brand=fetched["brand"], snapshot_path=fetched["snapshot_path"], **kwargs
    )
    return op.execute(context(run_id))


def test_the_fetch_tasks_brand_is_enough_and_the_summary_carries_it_on(pipeline: Pipeline) -> None:
    fetched = pipeline.fetch()
    issued = _issue(fetched)
    assert json.loads(json.dumps(issued)) == issued
    assert set(issued["counts"]) == set(OUTCOMES)
    assert issued["counts"]["issued"] == len(pipeline.created_codes()) > 0
    assert Brand.from_dict(issued["brand"]) == Brand.from_dict(fetched["brand"])
    assert issued["ledger_id"] == fetched["ledger_id"]


def test_a_dry_run_plans_without_a_post_or_a_ledger_write(pipeline: Pipeline) -> None:
    fetched = pipeline.fetch()
    planned = _issue(fetched, dry_run=True)
    assert planned["dry_run"] is True
    assert planned["counts"]["planned"] > 0
    assert pipeline.posts() == []
    assert pipeline.ledger.codes(states=["issued", "issuing"]) == []


def test_a_long_live_claim_elsewhere_defers_to_the_triggerer_for_the_claims_remaining_lease(
    pipeline: Pipeline,
) -> None:
    fetched = pipeline.fetch()
    media_id = pipeline.claimable(fetched)
    pipeline.ledger.claim(media_id, owner="other-run", lease_seconds=600)
    before = dt.datetime.now(dt.UTC)
    with pytest.raises(TaskDeferred) as deferred:
        _issue(fetched)
    assert deferred.value.method_name == "resume_after_claims"
    assert isinstance(deferred.value.trigger, TimeDeltaTrigger)
    wait = (deferred.value.trigger.moment - before).total_seconds()
    assert 590 <= wait <= 620
    assert deferred.value.kwargs == {"deferrals": 1}


def test_after_the_last_deferral_the_held_items_fail_the_try_by_name(pipeline: Pipeline) -> None:
    fetched = pipeline.fetch()
    media_id = pipeline.claimable(fetched)
    pipeline.ledger.claim(media_id, owner="other-run", lease_seconds=600)
    op = IssueAdCodesOperator(task_id="issue", brand=fetched["brand"], snapshot_path=fetched["snapshot_path"])
    with pytest.raises(AirflowException, match=f"still claimed by another attempt.*{media_id}"):
        op.resume_after_claims(context(), deferrals=3)
    assert media_id not in {c["media_id"] for c in pipeline.created_codes()}
