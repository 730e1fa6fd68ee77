"""Fetch, issue, push and revoke against the real graph sandbox (real HTTP, real SQLite)."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from airflow.providers.standard.triggers.temporal import TimeDeltaTrigger
from airflow.sdk.exceptions import AirflowException, AirflowFailException, TaskDeferred

from include.demo import DEMO_WEBHOOK_SECRET
from include.drills.crash import with_graph_timeout
from partnership_ads.ledger import ClaimKind
from partnership_ads.operators import IssueAdCodesOperator, RevokeAdCodesOperator
from partnership_ads.sinks import verify_signature
from tests.integration.pipeline.conftest import context

if TYPE_CHECKING:
    from tests.integration.pipeline.conftest import Pipeline


def test_fetch_writes_a_snapshot_and_returns_only_a_summary(pipeline: Pipeline) -> None:
    fetched = pipeline.fetch()
    assert fetched["items"] > 0
    assert sum(fetched["by_platform"].values()) == fetched["items"]
    assert "AD_READY" in fetched["by_ad_eligibility"]
    assert len(json.dumps(fetched)) < 2000


def test_every_ad_ready_instagram_item_gets_exactly_one_code(pipeline: Pipeline) -> None:
    issued = pipeline.issue(pipeline.fetch())
    counts = issued["counts"]
    assert counts["issued"] == len(pipeline.created_codes()) > 0
    assert counts["failed"] == 0
    codes = pipeline.ledger.codes(states=["issued"])
    assert {c.ad_code for c in codes} == {c["ad_code"] for c in pipeline.created_codes()}


def test_rerun_of_the_same_day_issues_nothing_new(pipeline: Pipeline) -> None:
    first = pipeline.issue(pipeline.fetch())
    posts = len(pipeline.posts())
    second = pipeline.issue(pipeline.fetch(), run_id="manual__1")
    assert second["counts"]["issued"] == 0
    assert len(pipeline.posts()) == posts
    assert (
        second["counts"]["already_in_ledger"]
        == first["counts"]["issued"] + first["counts"]["already_in_ledger"] + first["counts"]["harvested"]
    )


def test_item_without_creator_credentials_is_reported_not_dropped(pipeline: Pipeline) -> None:
    issued = pipeline.issue(pipeline.fetch())
    waiting = issued["listed"]["awaiting_creator_authorisation"]
    assert issued["counts"]["awaiting_creator_authorisation"] == len(waiting) > 0
    missing = set(pipeline.facts["creators_without_connection"])
    for item in waiting:
        assert any(creator in item["detail"] for creator in missing)
    recorded = pipeline.ledger.brand_items(
        pipeline.brand["business_id"], status="awaiting_creator_authorisation"
    )
    assert {r[0] for r in recorded} == {i["content_id"] for i in waiting}


def test_dry_run_issues_nothing_and_delivers_nothing(pipeline: Pipeline) -> None:
    planned = pipeline.issue(pipeline.fetch(), dry_run=True)
    pushed = pipeline.push(dry_run=True)
    assert planned["counts"]["planned"] > 0
    assert planned["counts"]["issued"] == 0
    assert pipeline.posts() == []
    assert pushed["delivered"] == {}
    assert pipeline.sandbox.webhook_deliveries() == []


def test_max_codes_caps_new_codes_and_defers_the_rest(pipeline: Pipeline) -> None:
    issued = pipeline.issue(pipeline.fetch(), max_codes=3)
    assert issued["counts"]["issued"] == 3
    assert issued["counts"]["over_max_codes"] > 0
    assert len(pipeline.created_codes()) == 3


def test_unfinished_claim_is_looked_up_before_any_post(pipeline: Pipeline) -> None:
    fetched = pipeline.fetch()
    pipeline.issue(fetched, max_codes=1)
    media_id = pipeline.ledger.codes(states=["issued"])[0].content_id
    # Simulate a crash between POST and ledger write: the media's claim is left "issuing" and expired.
    ledger = pipeline.ledger
    ledger._execute(
        "UPDATE pa_ad_codes SET state = 'issuing', ad_code = NULL, claimed_by = 'dead', "
        "claim_expires_at = '2000-01-01T00:00:00.000000Z' WHERE content_id = ?",
        (media_id,),
    )
    posts_before = len(pipeline.posts())
    # The old snapshot does not show the code, so only the lookup can find it.
    result = pipeline.issue(fetched, run_id="manual__2", max_codes=0)
    assert pipeline.ledger.code(media_id).ad_code == pipeline.created_codes()[0]["ad_code"]
    assert len(pipeline.posts()) == posts_before
    assert result["counts"]["issued"] == 0
    assert result["counts"]["harvested"] >= 1


def test_a_live_claim_of_another_attempt_is_not_stolen_and_the_task_defers_instead_of_succeeding(
    pipeline: Pipeline,
) -> None:
    fetched = pipeline.fetch()
    media_id = pipeline.claimable(fetched)
    assert pipeline.ledger.claim(media_id, owner="other-run", lease_seconds=3600).kind == ClaimKind.FRESH
    with pytest.raises(TaskDeferred) as deferred:
        pipeline.issue(fetched)
    assert deferred.value.method_name == "resume_after_claims"
    assert isinstance(deferred.value.trigger, TimeDeltaTrigger)
    assert deferred.value.kwargs == {"deferrals": 1}
    assert media_id not in {c["media_id"] for c in pipeline.created_codes()}


def test_items_still_claimed_after_the_last_wait_fail_the_task_naming_them(pipeline: Pipeline) -> None:
    fetched = pipeline.fetch()
    media_id = pipeline.claimable(fetched)
    pipeline.ledger.claim(media_id, owner="other-run", lease_seconds=3600)
    b = pipeline.brand
    op = IssueAdCodesOperator(
        task_id="issue",
        snapshot_path=fetched["snapshot_path"],
        **{k: b[k] for k in ("business_id", "fb_page_id", "ig_user_id", "meta_conn_id")},
    )
    with pytest.raises(AirflowException, match=f"still claimed by another attempt.*{media_id}"):
        op.resume_after_claims(context("manual__1"), deferrals=3)
    assert media_id not in {c["media_id"] for c in pipeline.created_codes()}


def test_a_claim_whose_lease_ends_soon_is_waited_out_then_recovered_and_issued_once(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in with_graph_timeout(dict(os.environ), 1.0).items():
        monkeypatch.setenv(key, value)
    fetched = pipeline.fetch()
    media_id = pipeline.claimable(fetched)
    pipeline.ledger.claim(media_id, owner="a-dead-run", lease_seconds=2)
    result = pipeline.issue(fetched)
    assert result["counts"]["claimed_elsewhere"] == 0
    assert [p for p in pipeline.posts() if media_id in p["path"]] and len(
        [p for p in pipeline.posts() if media_id in p["path"]]
    ) == 1
    assert pipeline.ledger.code(media_id).state == "issued"


def test_failed_sink_gets_every_code_on_the_next_try_and_the_others_none_twice(pipeline: Pipeline) -> None:
    pipeline.issue(pipeline.fetch())
    pipeline.sandbox.schedule_fault(method="POST", path="/__sandbox__/webhook", kind="http_500", count=1)
    with pytest.raises(AirflowException, match="webhook"):
        pipeline.push()
    sql_path = pipeline.facts["ledger_path"]
    with sqlite3.connect(sql_path) as conn:
        sql_rows = conn.execute("SELECT COUNT(*) FROM partnership_ad_codes").fetchone()[0]
    assert pipeline.sandbox.webhook_deliveries() == []
    second = pipeline.push(try_number=2)
    assert second["delivered"]["webhook"] == sql_rows
    assert second["delivered"]["sql"] == 0
    assert second["delivered"]["files"] == 0
    delivered = [c for d in pipeline.sandbox.webhook_deliveries() for c in d["body"]["ad_codes"]]
    assert len(delivered) == sql_rows == len({c["content_id"] for c in delivered})


def test_webhook_batches_carry_a_valid_signature_and_idempotency_key(pipeline: Pipeline) -> None:
    pipeline.issue(pipeline.fetch())
    pipeline.push()
    deliveries = pipeline.sandbox.webhook_deliveries()
    assert deliveries
    for delivery in deliveries:
        body = json.dumps(delivery["body"], sort_keys=True, separators=(",", ":")).encode()
        headers = {k.lower(): v for k, v in delivery["headers"].items()}
        signature = headers["x-partnership-ads-signature"]
        assert verify_signature(body, signature, DEMO_WEBHOOK_SECRET, now=delivery["received_at"])
        assert len(headers["idempotency-key"]) == 64
        assert "authorization" not in headers


def test_revoke_deletes_the_code_and_tells_the_sinks(pipeline: Pipeline) -> None:
    pipeline.issue(pipeline.fetch())
    pipeline.push()
    media_id = pipeline.ledger.codes(states=["issued"])[0].content_id
    op = RevokeAdCodesOperator(task_id="revoke", media_ids=[media_id])
    result = op.execute(context("manual__revoke"))
    assert result["revoked"] == [media_id]
    assert not any(c["valid"] for c in pipeline.sandbox.ad_codes() if c["media_id"] == media_id)
    with sqlite3.connect(pipeline.facts["ledger_path"]) as conn:
        state = conn.execute(
            "SELECT state FROM partnership_ad_codes WHERE content_id = ?", (media_id,)
        ).fetchone()
    assert state == ("revoked",)
    assert pipeline.issue(pipeline.fetch(run_id="manual__3"), run_id="manual__3")["counts"]["issued"] == 0


def _csv_codes(folder: Path) -> set[str]:
    return {
        line.split(",")[1] for path in folder.rglob("*.csv") for line in path.read_text().splitlines()[1:]
    }


def test_a_trigger_folder_gets_the_codes_and_the_configured_folder_still_gets_them_all(
    pipeline: Pipeline,
) -> None:
    pipeline.issue(pipeline.fetch())
    manual = pipeline.push(output_uri="manual", sinks=["files"])
    configured = pipeline.push(run_id="scheduled__2", sinks=["files"])
    codes = {c.content_id for c in pipeline.ledger.codes(states=["issued", "harvested"])}
    assert manual["delivered"]["files"] == configured["delivered"]["files"] == len(codes) > 0
    assert _csv_codes(pipeline.out / "manual") == codes
    assert _csv_codes(pipeline.out / pipeline.brand["business_id"]) == codes
    assert pipeline.push(run_id="scheduled__3", sinks=["files"])["delivered"]["files"] == 0


@pytest.mark.parametrize("output_uri", ["../escape", "/tmp/partnership-ads-escape", "s3://bucket/codes"])
def test_push_refuses_a_folder_outside_the_output_root_with_nothing_written(
    pipeline: Pipeline, output_uri: str
) -> None:
    pipeline.issue(pipeline.fetch())
    before = set(pipeline.out.parent.rglob("*"))
    with pytest.raises(AirflowFailException, match=r"^output_uri"):
        pipeline.push(output_uri=output_uri)
    assert set(pipeline.out.parent.rglob("*")) == before
    assert not Path("/tmp/partnership-ads-escape").exists()
    assert pipeline.ledger.deliveries() == []
    assert pipeline.sandbox.webhook_deliveries() == []


def _deletes(pipeline: Pipeline) -> list[dict]:
    return [r for r in pipeline.sandbox.requests_log() if r.get("method") == "DELETE"]


def test_revoke_refuses_media_of_no_listed_brand_before_any_delete(pipeline: Pipeline) -> None:
    pipeline.issue(pipeline.fetch())
    media_id = pipeline.ledger.codes(states=["issued"])[0].content_id
    op = RevokeAdCodesOperator(task_id="revoke", media_ids=[media_id, "17999999999999999"])
    with pytest.raises(AirflowFailException, match="17999999999999999 is unknown to the ledger"):
        op.execute(context("manual__revoke"))
    assert _deletes(pipeline) == []
    assert pipeline.ledger.code(media_id).state == "issued"


def test_revoke_refuses_a_connection_other_than_the_listed_brands(pipeline: Pipeline) -> None:
    pipeline.issue(pipeline.fetch())
    media_id = pipeline.ledger.codes(states=["issued"])[0].content_id
    other = pipeline.facts["brands"][1]["meta_conn_id"]
    op = RevokeAdCodesOperator(task_id="revoke", media_ids=[media_id], meta_conn_id=other)
    with pytest.raises(AirflowFailException, match=f"meta_conn_id: '{other}' is not the connection"):
        op.execute(context("manual__revoke"))
    assert _deletes(pipeline) == []


def test_revoke_without_a_brand_list_refuses_the_webhooks_connection(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline.issue(pipeline.fetch())
    media_id = pipeline.ledger.codes(states=["issued"])[0].content_id
    monkeypatch.delenv("PARTNERSHIP_ADS_BRANDS")
    op = RevokeAdCodesOperator(task_id="revoke", media_ids=[media_id], meta_conn_id="partnership_ads_webhook")
    with pytest.raises(AirflowFailException, match="is of type 'http', not meta_graph"):
        op.execute(context("manual__revoke"))
    assert _deletes(pipeline) == []
