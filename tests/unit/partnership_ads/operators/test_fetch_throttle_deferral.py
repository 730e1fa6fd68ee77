"""FetchAdvertisableContentOperator and a throttle longer than max_throttle_wait_seconds: deferred, then
resumed with the rows written before it kept, every item once."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import TYPE_CHECKING, Any

import pytest
from airflow.providers.standard.triggers.temporal import DateTimeTrigger
from airflow.sdk.exceptions import AirflowException, TaskDeferred

from partnership_ads.operators import FetchAdvertisableContentOperator
from partnership_ads.operators.throttle_deferral import MAX_THROTTLE_DEFERRALS
from partnership_ads.snapshot import default_snapshot_root, iter_rows
from tests.fakes import UtcClock
from tests.integration.pipeline.conftest import context

if TYPE_CHECKING:
    from pathlib import Path

    from tests.integration.pipeline.conftest import Pipeline

DISCOVERY = "partnership-ads-advertisable-content"
TOLD_MINUTES = 10  # above the default max_throttle_wait_seconds (300 s)
PAGE_SIZE = 10
# random.Random(10): first draw 0.57, second 0.43: with fraction 0.5 the fault skips page 1 and hits page 2.
SECOND_PAGE = {"fraction": 0.5, "seed": 10, "count": 1}


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> UtcClock:
    return UtcClock(monkeypatch)


def _operator(pipeline: Pipeline, **brand: Any) -> FetchAdvertisableContentOperator:
    return FetchAdvertisableContentOperator(
        task_id="fetch", brand={**pipeline.brand, **brand}, page_size=PAGE_SIZE
    )


def _content_ids(path: str | Path) -> Counter[str]:
    return Counter(r["content_id"] for r in iter_rows(path, columns=["content_id"]))


def _snapshot(pipeline: Pipeline, run_id: str) -> Path:
    """Where the fetch task writes the run's snapshot (the run ids here are file-name safe)."""
    return default_snapshot_root() / pipeline.brand["business_id"] / f"{run_id}.parquet"


def _kept(pipeline: Pipeline, run_id: str) -> Path:
    snapshot = _snapshot(pipeline, run_id)
    return snapshot.with_name(f".{snapshot.name}.kept")


def _discovery_calls(pipeline: Pipeline) -> list[dict[str, Any]]:
    return [r for r in pipeline.sandbox.requests_log() if DISCOVERY in r.get("path", "")]


def _throttle_second_page(pipeline: Pipeline) -> None:
    pipeline.sandbox.schedule_fault(
        kind="throttle",
        code=80004,
        regain_minutes=TOLD_MINUTES,
        method="GET",
        path=f"/{pipeline.brand['business_id']}/{DISCOVERY}",
        **SECOND_PAGE,
    )


def test_a_page_throttled_beyond_the_wait_defers_to_the_triggerer_keeping_the_first_page(
    pipeline: Pipeline, clock: UtcClock
) -> None:
    _throttle_second_page(pipeline)
    with pytest.raises(TaskDeferred) as deferred:
        _operator(pipeline).execute(context("manual__1"))
    assert isinstance(deferred.value.trigger, DateTimeTrigger)
    assert deferred.value.trigger.moment == clock.now + dt.timedelta(minutes=TOLD_MINUTES)
    assert deferred.value.method_name == "resume_after_throttle"
    assert deferred.value.kwargs == {"deferrals": 1}
    assert sum(_content_ids(_kept(pipeline, "manual__1")).values()) == PAGE_SIZE
    assert not _snapshot(pipeline, "manual__1").exists()
    # Every task and try with the brand's connection now sees the throttle before calling.
    assert pipeline.ledger.throttled_for(pipeline.brand["meta_conn_id"]) == TOLD_MINUTES * 60


def test_a_resumed_discovery_holds_every_item_once_as_an_unthrottled_walk_does(
    pipeline: Pipeline, clock: UtcClock
) -> None:
    baseline = _operator(pipeline).execute(context("manual__baseline"))
    _throttle_second_page(pipeline)
    with pytest.raises(TaskDeferred) as deferred:
        _operator(pipeline).execute(context("manual__1"))
    kept = _kept(pipeline, "manual__1")
    kept_ids = _content_ids(kept)
    assert sum(kept_ids.values()) == PAGE_SIZE

    clock.advance(TOLD_MINUTES * 60 + 1)
    resumed = _operator(pipeline).resume_after_throttle(context("manual__1"), **deferred.value.kwargs)

    found = _content_ids(resumed["snapshot_path"])
    assert max(found.values()) == 1
    assert found == _content_ids(baseline["snapshot_path"])
    assert set(kept_ids) <= set(found)
    assert {k: v for k, v in resumed.items() if k != "snapshot_path"} == {
        k: v for k, v in baseline.items() if k != "snapshot_path"
    }
    assert not kept.exists()


def test_an_item_kept_before_the_throttle_stays_when_the_new_walk_no_longer_returns_it(
    pipeline: Pipeline, clock: UtcClock
) -> None:
    not_excluded = {"ad_eligibilities": ["AD_READY", "NEEDS_ATTENTION", "INELIGIBLE"]}
    _throttle_second_page(pipeline)
    with pytest.raises(TaskDeferred) as deferred:
        _operator(pipeline, filters=not_excluded).execute(context("manual__1"))
    gone = next(iter(_content_ids(_kept(pipeline, "manual__1"))))
    pipeline.sandbox.set_eligibility(gone, "EXCLUDED")
    clock.advance(TOLD_MINUTES * 60 + 1)
    resumed = _operator(pipeline, filters=not_excluded).resume_after_throttle(
        context("manual__1"), **deferred.value.kwargs
    )
    found = _content_ids(resumed["snapshot_path"])
    assert found[gone] == 1
    assert max(found.values()) == 1
    assert gone not in _content_ids(
        _operator(pipeline, filters=not_excluded).execute(context("manual__2"))["snapshot_path"]
    )


def test_a_brand_connection_the_ledger_holds_as_throttled_defers_before_any_discovery_call(
    pipeline: Pipeline, clock: UtcClock
) -> None:
    ledger = pipeline.ledger
    ledger.migrate()
    ledger.record_throttle(pipeline.brand["meta_conn_id"], wait_seconds=900)
    with pytest.raises(TaskDeferred) as deferred:
        _operator(pipeline).execute(context())
    assert deferred.value.trigger.moment == clock.now + dt.timedelta(seconds=900)
    assert _discovery_calls(pipeline) == []


def test_past_the_deferral_limit_the_try_fails_naming_the_throttle_with_its_wait_for_the_retry(
    pipeline: Pipeline, clock: UtcClock
) -> None:
    ledger = pipeline.ledger
    ledger.migrate()
    ledger.record_throttle(pipeline.brand["meta_conn_id"], wait_seconds=900)
    with pytest.raises(AirflowException, match=f"after {MAX_THROTTLE_DEFERRALS} deferral") as raised:
        _operator(pipeline).resume_after_throttle(context(), deferrals=MAX_THROTTLE_DEFERRALS)
    assert raised.value.wait_seconds == 900  # type: ignore[attr-defined]
    assert _discovery_calls(pipeline) == []
