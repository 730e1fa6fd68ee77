"""A run throttled for ten minutes in discovery and again in issuance, on the real graph sandbox: each task
defers to the triggerer, resumes where it left off, and the run ends as an unthrottled one does."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

import pytest
from airflow.sdk.exceptions import TaskDeferred

from partnership_ads.operators import FetchAdvertisableContentOperator, IssueAdCodesOperator
from partnership_ads.snapshot import iter_rows
from tests.fakes import UtcClock
from tests.integration.pipeline.conftest import context

if TYPE_CHECKING:
    from tests.integration.pipeline.conftest import Pipeline

DISCOVERY = "partnership-ads-advertisable-content"
TOLD_SECONDS = 600


def test_a_run_throttled_in_discovery_and_in_issuance_defers_twice_and_ends_with_every_code_once(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = UtcClock(monkeypatch)
    brand = pipeline.brand
    # random.Random(10) draws 0.57 then 0.43: with fraction 0.5 the fault skips page 1 and hits page 2.
    pipeline.sandbox.schedule_fault(
        kind="throttle",
        code=80004,
        regain_minutes=TOLD_SECONDS / 60,
        method="GET",
        path=f"/{brand['business_id']}/{DISCOVERY}",
        fraction=0.5,
        seed=10,
        count=1,
    )
    fetch = FetchAdvertisableContentOperator(task_id="fetch", brand=brand, page_size=10)
    with pytest.raises(TaskDeferred) as fetch_deferred:
        fetch.execute(context())
    clock.advance(TOLD_SECONDS + 1)
    fetched = FetchAdvertisableContentOperator(
        task_id="fetch", brand=brand, page_size=10
    ).resume_after_throttle(context(), **fetch_deferred.value.kwargs)
    in_snapshot = Counter(
        r["content_id"] for r in iter_rows(fetched["snapshot_path"], columns=["content_id"])
    )
    assert fetched["items"] == sum(in_snapshot.values()) == len(in_snapshot)

    pipeline.sandbox.schedule_fault(
        method="POST",
        path="partnership_ad_code",
        kind="throttle",
        code=80002,
        fraction=1.0,
        regain_minutes=TOLD_SECONDS / 60,
    )
    issue = IssueAdCodesOperator(
        task_id="issue", brand=fetched["brand"], snapshot_path=fetched["snapshot_path"]
    )
    with pytest.raises(TaskDeferred) as issue_deferred:
        issue.execute(context())
    assert pipeline.created_codes() == []
    pipeline.sandbox.clear_faults()
    clock.advance(TOLD_SECONDS + 1)
    issued = IssueAdCodesOperator(
        task_id="issue", brand=fetched["brand"], snapshot_path=fetched["snapshot_path"]
    ).resume_after_throttle(context(), **issue_deferred.value.kwargs)

    assert issued["counts"]["failed"] == 0
    created = Counter(c["media_id"] for c in pipeline.created_codes())
    assert issued["counts"]["issued"] == len(created) > 0
    assert max(created.values()) == 1
    accepted = Counter(
        p["path"].split("/")[2] for p in pipeline.posts() if p["status"] == 200 and not p["fault"]
    )
    assert accepted == created
    again = pipeline.issue(fetched, run_id="manual__again")
    assert again["counts"]["issued"] == 0
    assert again["counts"]["failed"] == 0
