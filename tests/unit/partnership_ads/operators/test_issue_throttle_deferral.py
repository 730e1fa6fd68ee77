"""IssueAdCodesOperator and a throttle longer than max_throttle_wait_seconds: deferred to the triggerer,
resumed, every code exactly once."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import TYPE_CHECKING, Any

import pytest
from airflow.providers.standard.triggers.temporal import DateTimeTrigger
from airflow.sdk.exceptions import AirflowException, TaskDeferred

from partnership_ads.operators import IssueAdCodesOperator
from partnership_ads.operators.throttle_deferral import MAX_THROTTLE_DEFERRALS
from tests.fakes import UtcClock
from tests.integration.pipeline.conftest import context

if TYPE_CHECKING:
    from tests.integration.pipeline.conftest import Pipeline

TOLD_MINUTES = 10  # above the default max_throttle_wait_seconds (300 s)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> UtcClock:
    return UtcClock(monkeypatch)


def _operator(fetched: dict[str, Any], **kwargs: Any) -> IssueAdCodesOperator:
    return IssueAdCodesOperator(
        task_id="issue", brand=fetched["brand"], snapshot_path=fetched["snapshot_path"], **kwargs
    )


def _media(entry: dict[str, Any]) -> str:
    return entry["path"].split("/")[2]


def test_a_post_throttled_beyond_the_wait_defers_to_the_triggerer_until_access_returns(
    pipeline: Pipeline, clock: UtcClock
) -> None:
    fetched = pipeline.fetch()
    pipeline.sandbox.schedule_fault(
        method="POST", path="partnership_ad_code", kind="throttle", fraction=1.0, regain_minutes=TOLD_MINUTES
    )
    with pytest.raises(TaskDeferred) as deferred:
        _operator(fetched).execute(context())
    assert isinstance(deferred.value.trigger, DateTimeTrigger)
    assert deferred.value.trigger.moment == clock.now + dt.timedelta(minutes=TOLD_MINUTES)
    assert deferred.value.method_name == "resume_after_throttle"
    assert deferred.value.kwargs == {"deferrals": 1}
    assert pipeline.created_codes() == []


def test_a_brand_connection_the_ledger_holds_as_throttled_defers_before_any_call(
    pipeline: Pipeline, clock: UtcClock
) -> None:
    fetched = pipeline.fetch()
    calls = len(pipeline.sandbox.requests_log())
    pipeline.ledger.record_throttle(pipeline.brand["meta_conn_id"], wait_seconds=900)
    with pytest.raises(TaskDeferred) as deferred:
        _operator(fetched).execute(context())
    assert deferred.value.trigger.moment == clock.now + dt.timedelta(seconds=900)
    assert len(pipeline.sandbox.requests_log()) == calls


def test_a_resumed_issuance_finishes_every_item_with_one_code_and_no_post_for_codes_obtained_before(
    pipeline: Pipeline, clock: UtcClock
) -> None:
    fetched = pipeline.fetch()
    target = pipeline.claimable(fetched)
    pipeline.sandbox.schedule_fault(
        method="POST", path=f"/{target}/", kind="throttle", code=80002, regain_minutes=TOLD_MINUTES
    )
    with pytest.raises(TaskDeferred) as deferred:
        _operator(fetched, max_concurrency=1).execute(context())
    before = {c["media_id"] for c in pipeline.created_codes()}
    assert before, "no code was obtained before the throttle"
    assert {c.content_id for c in pipeline.ledger.codes(states=["issued"])} == before
    posts_before = len(pipeline.posts())

    pipeline.sandbox.clear_faults()
    clock.advance(TOLD_MINUTES * 60 + 1)
    resumed = _operator(fetched, max_concurrency=1).resume_after_throttle(
        context(), event=None, **deferred.value.kwargs
    )

    assert resumed["counts"]["failed"] == 0
    created = Counter(c["media_id"] for c in pipeline.created_codes())
    assert created and max(created.values()) == 1
    assert target in created
    assert resumed["counts"]["issued"] == len(created) - len(before)
    posted_again = {_media(p) for p in pipeline.posts()[posts_before:]}
    assert not posted_again & before
    assert len(pipeline.ledger.codes(states=["issued"])) == len(created)


def test_past_the_deferral_limit_the_try_fails_naming_the_throttle_with_its_wait_for_the_retry(
    pipeline: Pipeline, clock: UtcClock
) -> None:
    fetched = pipeline.fetch()
    pipeline.sandbox.schedule_fault(
        method="POST", path="partnership_ad_code", kind="throttle", fraction=1.0, regain_minutes=TOLD_MINUTES
    )
    with pytest.raises(AirflowException, match=f"after {MAX_THROTTLE_DEFERRALS} deferral") as raised:
        _operator(fetched).resume_after_throttle(context(), deferrals=MAX_THROTTLE_DEFERRALS)
    assert raised.value.wait_seconds >= 300  # type: ignore[attr-defined]
    assert pipeline.created_codes() == []
