"""What a scheduled run looks at, on the real sandbox and a real SQLite ledger.

Each run here is fetch -> issue as the DAG's scheduled run does it: ``filters`` and ``recheck_pending`` come
from ``plan_run(scheduled=True)``, so these tests exercise the same plan the scheduler's runs get (the
topology test ``tests/scheduler/test_scheduler_own_runs.py`` drives the real scheduler end to end).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from partnership_ads.deployment import connection_type
from partnership_ads.run_plan import plan_run
from partnership_ads.snapshot import iter_rows

if TYPE_CHECKING:
    import pytest

    from tests.integration.pipeline.conftest import Pipeline


def scheduled_plan(pipeline: Pipeline, environ: dict[str, str] | None = None) -> dict[str, Any]:
    """The fetch arguments ``plan_run`` gives the brand on a scheduled run."""
    brands, _source = plan_run(
        {},
        scheduled=True,
        get_variable=lambda _key: None,
        get_connection_type=connection_type,
        environ={"PARTNERSHIP_ADS_BRANDS": json.dumps([pipeline.brand]), **(environ or {})},
    )
    plan = brands[0]
    return {
        "filters": dict(plan.filters),
        "recheck_pending": plan.recheck_pending,
        "partitions": plan.partitions,
    }


def scheduled_run(
    pipeline: Pipeline, run_id: str, **issue_kwargs: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    fetched = pipeline.fetch(run_id=run_id, **scheduled_plan(pipeline))
    return fetched, pipeline.issue(fetched, run_id=run_id, **issue_kwargs)


def lookups(pipeline: Pipeline) -> list[dict[str, Any]]:
    return [r for r in pipeline.sandbox.requests_log() if "content_ids" in json.dumps(r.get("params") or {})]


def creator_connection(pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch, ig_user_id: str) -> None:
    """Add the creator's meta_graph connection through the environment, as a deployment would."""
    token = next(
        t for t in pipeline.sandbox.tokens() if t["role"] == "creator" and t["ig_user_id"] == ig_user_id
    )
    monkeypatch.setenv(
        f"AIRFLOW_CONN_META_GRAPH_CREATOR_{ig_user_id}",
        json.dumps(
            {
                "conn_type": "meta_graph",
                "host": pipeline.sandbox.url,
                "password": token["access_token"],
                "extra": {"api_version": pipeline.sandbox.api_version},
            }
        ),
    )


def test_a_scheduled_run_asks_discovery_for_ad_ready_items_only(pipeline: Pipeline) -> None:
    fetched, _issued = scheduled_run(pipeline, "scheduled__1")
    assert set(fetched["by_ad_eligibility"]) == {"AD_READY"}
    walks = [
        r
        for r in pipeline.sandbox.requests_log()
        if r.get("method") == "GET" and "partnership-ads-advertisable-content" in r.get("path", "")
    ]
    assert walks and all('"AD_READY"' in str((r.get("params") or {}).get("ad_eligibilities")) for r in walks)
    assert all("start_date" not in (r.get("params") or {}) for r in walks)


def test_a_scheduled_run_issues_items_published_at_any_date(pipeline: Pipeline) -> None:
    fetched, issued = scheduled_run(pipeline, "scheduled__1")
    days = {
        row["creation_time"][:7]
        for row in iter_rows(fetched["snapshot_path"], columns=["creation_time"])
        if row["creation_time"]
    }
    assert len(days) > 12  # the sandbox publishes over two years: more than a year of months is covered
    assert issued["counts"]["issued"] == len(pipeline.created_codes()) > 0
    assert issued["counts"]["failed"] == 0


def test_an_item_awaiting_its_creator_is_issued_by_the_first_run_after_the_connection_is_added(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fetched, first = scheduled_run(pipeline, "scheduled__1")
    waiting = first["listed"]["awaiting_creator_authorisation"]
    assert waiting
    creator = pipeline.facts["creators_without_connection"][0]
    creator_connection(pipeline, monkeypatch, creator)
    _fetched, second = scheduled_run(pipeline, "scheduled__2")
    assert second["counts"]["awaiting_creator_authorisation"] == 0
    assert second["counts"]["issued"] == len(waiting)
    codes = {c.content_id for c in pipeline.ledger.codes(states=["issued"])}
    assert {item["content_id"] for item in waiting} <= codes


def test_a_pending_item_outside_the_window_is_looked_up_and_decided(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fetched, first = scheduled_run(pipeline, "scheduled__1")
    waiting = {item["content_id"] for item in first["listed"]["awaiting_creator_authorisation"]}
    creator_connection(pipeline, monkeypatch, pipeline.facts["creators_without_connection"][0])
    pipeline.sandbox.control("DELETE", "requests")
    # A one-day window that contains none of them: only the lookup can find them.
    plan = scheduled_plan(pipeline, {"PARTNERSHIP_ADS_LOOKBACK_DAYS": "1"})
    fetched = pipeline.fetch(run_id="scheduled__2", **plan)
    issued = pipeline.issue(fetched, run_id="scheduled__2")
    assert fetched["looked_up"] >= len(waiting) > 0
    assert len(lookups(pipeline)) >= 1
    assert all(len(json.loads(r["params"]["content_ids"])) <= 50 for r in lookups(pipeline))
    assert issued["counts"]["issued"] == len(waiting)


def test_an_item_over_the_cap_is_issued_by_the_next_scheduled_run(pipeline: Pipeline) -> None:
    _fetched, capped = scheduled_run(pipeline, "manual__capped", max_codes=2)
    deferred = capped["counts"]["over_max_codes"]
    assert capped["counts"]["issued"] == 2 and deferred > 0
    _fetched, nxt = scheduled_run(pipeline, "scheduled__2")
    assert nxt["counts"]["issued"] == deferred
    assert nxt["counts"]["over_max_codes"] == 0
    assert pipeline.ledger.pending_content_ids(pipeline.brand["business_id"]) == sorted(
        i["content_id"] for i in nxt["listed"].get("awaiting_creator_authorisation", [])
    )


def test_a_pending_item_that_turned_ineligible_is_not_issued_and_is_reported(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fetched, first = scheduled_run(pipeline, "scheduled__1")
    item = first["listed"]["awaiting_creator_authorisation"][0]["content_id"]
    pipeline.sandbox.set_eligibility(item, "INELIGIBLE", business_id=pipeline.brand["business_id"])
    # Even with its creator's connection now present, an item no longer AD_READY is not issued.
    creator_connection(pipeline, monkeypatch, pipeline.facts["creators_without_connection"][0])
    posts_before = len(pipeline.posts())
    _fetched, second = scheduled_run(pipeline, "scheduled__2")
    reported = {i["content_id"]: i["detail"] for i in second["listed"]["not_ad_ready"]}
    assert "INELIGIBLE" in reported[item]
    assert not any(item in p["path"] for p in pipeline.posts()[posts_before:])
    assert (item, "not_ad_ready") in {
        (r[0], r[1]) for r in pipeline.ledger.brand_items(pipeline.brand["business_id"])
    }
    assert item not in pipeline.ledger.pending_content_ids(pipeline.brand["business_id"])


def test_an_item_with_a_code_that_lost_its_eligibility_is_reported_and_its_code_kept(
    pipeline: Pipeline,
) -> None:
    _fetched, _first = scheduled_run(pipeline, "scheduled__1")
    coded = pipeline.ledger.codes(states=["issued"])[0]
    pipeline.sandbox.set_eligibility(
        coded.content_id, "NEEDS_ATTENTION", business_id=pipeline.brand["business_id"]
    )
    _fetched, second = scheduled_run(pipeline, "scheduled__2")
    lost = {i["content_id"]: i["detail"] for i in second["listed"]["eligibility_lost"]}
    assert "NEEDS_ATTENTION" in lost[coded.content_id]
    assert second["counts"]["eligibility_lost"] == 1
    kept = pipeline.ledger.code(coded.content_id)
    assert kept is not None and kept.state == "issued" and kept.ad_code == coded.ad_code
    assert not [r for r in pipeline.sandbox.requests_log() if r.get("method") == "DELETE"]


def test_a_failed_item_is_retried_by_the_next_scheduled_run(pipeline: Pipeline) -> None:
    fetched = pipeline.fetch(run_id="scheduled__1", **scheduled_plan(pipeline))
    target = next(
        row["content_id"]
        for row in iter_rows(
            fetched["snapshot_path"], columns=["content_id", "platform", "ad_code", "author_ig_user_id"]
        )
        if row["platform"] == "INSTAGRAM"
        and not row["ad_code"]
        and row["author_ig_user_id"] in pipeline.facts["creators_with_connection"]
    )
    pipeline.sandbox.schedule_fault(
        kind="body",
        method="POST",
        path=f"{target}/partnership_ad_code",
        status=400,
        body={"error": {"message": "Invalid parameter", "type": "OAuthException", "code": 100}},
    )
    first = pipeline.issue(fetched, run_id="scheduled__1")
    assert [i["content_id"] for i in first["listed"]["failed"]] == [target]
    _fetched, second = scheduled_run(pipeline, "scheduled__2")
    assert second["counts"]["failed"] == 0
    code = pipeline.ledger.code(target)
    assert code is not None and code.state in {"issued", "harvested"} and code.ad_code
