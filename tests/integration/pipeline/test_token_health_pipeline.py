"""Token health in the pipeline, on the real sandbox: the brand's token before discovery, each creator's
token before its first POST, the ledger's cache, a token dying mid-run, the alert, and no token anywhere."""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest

from include.demo import pipeline_environment
from include.drills.receiver import LocalReceiver
from partnership_ads.issuance import Issuance
from partnership_ads.ledger import PENDING_STATUSES
from partnership_ads.notifiers import PartnershipAdsAlertNotifier
from partnership_ads.snapshot import iter_rows
from partnership_ads.summary import build_summary
from partnership_ads.token_health import CREATOR_SCOPES, BrandTokenError, needing_action, tokens_section
from tests.integration.pipeline.conftest import Pipeline

if TYPE_CHECKING:
    from pathlib import Path

    from include.graph_sandbox.testing import SandboxServer

DAY = 86400
AWAITING = "awaiting_creator_reauthorisation"


@pytest.fixture
def tokens_pipeline(sandbox: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Pipeline:
    """The pipeline's connections with the app's id and secret (debug_token with the app token)."""
    env, facts = pipeline_environment(
        sandbox, state_dir=tmp_path, output_uri=str(tmp_path / "out"), app_credentials=True
    )
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AIRFLOW_CONN_PARTNERSHIP_ADS_ALERTS", raising=False)
    return Pipeline(sandbox=sandbox, facts=facts, out=tmp_path / "out")


def claimable_by_creator(pipeline: Pipeline, fetched: dict[str, Any]) -> dict[str, list[str]]:
    """AD_READY Instagram items without a code, by creator with a connection, most items first."""
    by_creator: dict[str, list[str]] = defaultdict(list)
    for row in iter_rows(
        fetched["snapshot_path"],
        columns=["content_id", "platform", "ad_eligibility", "ad_code", "author_ig_user_id"],
    ):
        if (
            row["platform"] == "INSTAGRAM"
            and row["ad_eligibility"] == "AD_READY"
            and not row["ad_code"]
            and row["author_ig_user_id"] in pipeline.facts["creators_with_connection"]
        ):
            by_creator[row["author_ig_user_id"]].append(str(row["content_id"]))
    return dict(sorted(by_creator.items(), key=lambda kv: (-len(kv[1]), kv[0])))


def token_of(sandbox: SandboxServer, ig_user_id: str) -> str:
    return next(t["access_token"] for t in sandbox.creator_tokens() if t["ig_user_id"] == ig_user_id)


def debug_token_calls(sandbox: SandboxServer) -> list[dict[str, Any]]:
    return [r for r in sandbox.requests_log() if r["path"].endswith("/debug_token")]


def posted_media(pipeline: Pipeline) -> set[str]:
    return {r["path"].strip("/").split("/")[-2] for r in pipeline.posts()}


# --- creators ------------------------------------------------------------------------------------------


def test_each_creator_state_decides_whether_its_items_are_posted(tokens_pipeline: Pipeline) -> None:
    pipeline, sandbox = tokens_pipeline, tokens_pipeline.sandbox
    fetched = pipeline.fetch()
    creators = list(claimable_by_creator(pipeline, fetched))
    assert len(creators) >= 6
    ok, expiring, expired, invalid, deauthorised, unscoped = creators[:6]
    sandbox.expire_token(token_of(sandbox, expiring), in_seconds=3 * DAY + 3600)
    sandbox.expire_token(token_of(sandbox, expired))
    sandbox.invalidate_token(token_of(sandbox, invalid))
    sandbox.deauthorise_token(token_of(sandbox, deauthorised))
    sandbox.rescope_token(
        token_of(sandbox, unscoped),
        granular_scopes=[
            {"scope": "instagram_basic", "target_ids": [unscoped]},
            {"scope": "instagram_branded_content_creator", "target_ids": ["17841400000000999"]},
        ],
    )

    issued = pipeline.issue(fetched)

    states = {c["ig_user_id"]: c for c in issued["tokens"]["creators"]}
    assert states[ok]["state"] == "ok"
    assert (states[expiring]["state"], states[expiring]["days_left"]) == ("expiring", 3)
    assert states[expiring]["action"] == "re-authorise"
    assert states[expired]["state"] == "expired"
    assert states[invalid]["state"] == states[deauthorised]["state"] == "invalid"
    assert states[unscoped]["state"] == "missing_scope"
    assert states[unscoped]["action"] == f"grant instagram_branded_content_creator on {unscoped}"
    items = claimable_by_creator(pipeline, fetched)
    held = {c for creator in (expired, invalid, deauthorised, unscoped) for c in items[creator]}
    listed = {i["content_id"] for i in issued["listed"][AWAITING]}
    assert listed == held
    assert issued["counts"][AWAITING] == len(held)
    assert issued["counts"]["failed"] == 0
    posted = posted_media(pipeline)
    assert not posted & held, "no item of a dead token is POSTed"
    assert set(items[ok]) | set(items[expiring]) <= posted
    # Kept pending for the next run.
    assert AWAITING in PENDING_STATUSES
    pending = set(pipeline.ledger.pending_content_ids(pipeline.brand["business_id"]))
    assert held <= pending
    assert {r[0] for r in pipeline.ledger.brand_items(pipeline.brand["business_id"], status=AWAITING)} == held


def test_a_creator_whose_token_inspects_itself_is_checked_without_app_credentials(
    pipeline: Pipeline,
) -> None:
    fetched = pipeline.fetch()
    creator = next(iter(claimable_by_creator(pipeline, fetched)))
    pipeline.sandbox.expire_token(token_of(pipeline.sandbox, creator))
    issued = pipeline.issue(fetched)
    assert {c["ig_user_id"]: c["state"] for c in issued["tokens"]["creators"]}[creator] == "expired"
    assert issued["counts"]["failed"] == 0


def batch_requests(sandbox: SandboxServer) -> list[dict[str, Any]]:
    """The batch requests (``POST /vX/``) in the sandbox's log."""
    return [
        r for r in sandbox.requests_log() if r["method"] == "POST" and r["path"].strip("/").count("/") == 0
    ]


@pytest.mark.parametrize("app_credentials", [True, False], ids=["app_token", "self"])
def test_creators_tokens_are_checked_fifty_per_round_trip_in_batches(
    sandbox: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, app_credentials: bool
) -> None:
    env, facts = pipeline_environment(
        sandbox, state_dir=tmp_path, output_uri=str(tmp_path / "out"), app_credentials=app_credentials
    )
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    pipeline = Pipeline(sandbox=sandbox, facts=facts, out=tmp_path / "out")
    fetched = pipeline.fetch()
    creators = list(claimable_by_creator(pipeline, fetched))
    expired = creators[1]
    sandbox.expire_token(token_of(sandbox, expired))
    checks, batches = len(debug_token_calls(sandbox)), len(batch_requests(sandbox))

    issued = pipeline.issue(fetched)

    assert len(debug_token_calls(sandbox)) - checks == len(creators)
    assert len(batch_requests(sandbox)) - batches == -(-len(creators) // 50)
    states = {c["ig_user_id"]: c["state"] for c in issued["tokens"]["creators"]}
    assert states[expired] == "expired"
    assert set(states) == set(creators)
    assert issued["counts"]["failed"] == 0


def test_a_failed_batch_of_token_checks_falls_back_to_one_check_per_creator(
    tokens_pipeline: Pipeline,
) -> None:
    pipeline, sandbox = tokens_pipeline, tokens_pipeline.sandbox
    fetched = pipeline.fetch()
    creators = list(claimable_by_creator(pipeline, fetched))
    expired = creators[0]
    sandbox.expire_token(token_of(sandbox, expired))
    sandbox.schedule_fault(kind="http_500", method="POST", path=r"^/v[0-9.]+/?$")
    checks = len(debug_token_calls(sandbox))

    issued = pipeline.issue(fetched)

    # The batch failed before answering anything: every creator was checked alone, with the same verdicts.
    assert len(debug_token_calls(sandbox)) - checks == len(creators)
    states = {c["ig_user_id"]: c["state"] for c in issued["tokens"]["creators"]}
    assert states[expired] == "expired"
    assert set(states) == set(creators)
    assert expired not in posted_media_owners(pipeline, fetched)
    assert issued["counts"]["failed"] == 0


def posted_media_owners(pipeline: Pipeline, fetched: dict[str, Any]) -> set[str]:
    owner = {
        str(row["content_id"]): row["author_ig_user_id"]
        for row in iter_rows(fetched["snapshot_path"], columns=["content_id", "author_ig_user_id"])
    }
    return {owner[media] for media in posted_media(pipeline) if media in owner}


def test_a_recent_check_is_reused_and_a_new_one_made_after_the_cache_period(
    tokens_pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline, sandbox = tokens_pipeline, tokens_pipeline.sandbox
    fetched = pipeline.fetch()
    creators = set(claimable_by_creator(pipeline, fetched))
    clock = {"now": datetime.now(UTC)}
    monkeypatch.setattr("partnership_ads.ledger.core.utcnow", lambda: clock["now"])

    # max_codes=0: every creator's items stay pending, so every run has each creator's items to decide.
    before = len(debug_token_calls(sandbox))
    pipeline.issue(fetched, max_codes=0, run_id="scheduled__1")
    first = len(debug_token_calls(sandbox)) - before
    assert first == len(creators)

    clock["now"] += timedelta(hours=11, minutes=59)
    again = pipeline.issue(fetched, max_codes=0, run_id="scheduled__2")
    assert len(debug_token_calls(sandbox)) - before == first, "within 12 hours: no new debug_token call"
    assert {c["ig_user_id"] for c in again["tokens"]["creators"]} == creators

    clock["now"] += timedelta(minutes=2)
    pipeline.issue(fetched, max_codes=0, run_id="scheduled__3")
    assert len(debug_token_calls(sandbox)) - before == 2 * len(creators), "after 12 hours: one call each"


def test_a_replaced_token_is_checked_again_within_the_cache_period(
    tokens_pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline, sandbox = tokens_pipeline, tokens_pipeline.sandbox
    fetched = pipeline.fetch()
    creator = next(iter(claimable_by_creator(pipeline, fetched)))
    sandbox.expire_token(token_of(sandbox, creator))
    first = pipeline.issue(fetched)
    assert first["counts"][AWAITING] > 0
    # The creator re-authorises: a new token in the connection.
    new_token = sandbox.mint_token(role="creator", ig_user_id=creator, scopes=list(CREATOR_SCOPES))
    conn_var = f"AIRFLOW_CONN_META_GRAPH_CREATOR_{creator}"
    conn = json.loads(os.environ[conn_var])
    conn["password"] = new_token
    monkeypatch.setenv(conn_var, json.dumps(conn))
    second = pipeline.issue(fetched, run_id="manual__2")
    assert {c["ig_user_id"]: c["state"] for c in second["tokens"]["creators"]}[creator] == "ok"
    assert second["counts"][AWAITING] == 0
    assert second["counts"]["issued"] == first["counts"][AWAITING]


def test_a_token_expiring_mid_run_stops_its_creator_after_one_190(
    tokens_pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline, sandbox = tokens_pipeline, tokens_pipeline.sandbox
    fetched = pipeline.fetch()
    creator, items = next(iter(claimable_by_creator(pipeline, fetched).items()))
    assert len(items) >= 3
    token = token_of(sandbox, creator)
    original = Issuance._post

    def post_then_expire(self: Issuance, item: Any) -> str:
        code = original(self, item)
        if len(posted_media(pipeline)) == 1:
            # The token expires on the sandbox clock right after the creator's first code.
            sandbox.expire_token(token, in_seconds=60)
            sandbox.advance_clock(120)
        return code

    monkeypatch.setattr(Issuance, "_post", post_then_expire)
    issued = pipeline.issue(fetched, content_ids=items, max_concurrency=1)

    assert issued["counts"]["issued"] == 1
    assert issued["counts"]["failed"] == 0
    assert issued["counts"][AWAITING] == len(items) - 1
    refused = [r for r in pipeline.posts() if r.get("error_code") == 190]
    assert len(refused) == 1, "one 190, then the creator's other items are not tried"
    assert len(pipeline.posts()) == 2
    record = pipeline.ledger.token_health(creator, f"meta_graph_creator_{creator}")
    assert record is not None and record.state == "expired"
    assert {c["ig_user_id"]: c["state"] for c in issued["tokens"]["creators"]}[creator] == "expired"
    pending = set(pipeline.ledger.pending_content_ids(pipeline.brand["business_id"]))
    assert set(items) - {c["media_id"] for c in pipeline.created_codes()} <= pending


# --- the brand ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ("expire", "expired"),
        ("invalidate", "invalidated"),
        ("deauthorise", "removed the app"),
        ("unscope", "lacks instagram_branded_content_ads_brand"),
    ],
)
def test_a_brand_token_that_cannot_serve_fails_fetch_before_any_discovery_call(
    tokens_pipeline: Pipeline, change: str, problem: str
) -> None:
    pipeline, sandbox = tokens_pipeline, tokens_pipeline.sandbox
    token = sandbox.brand_token(pipeline.brand["business_id"])["access_token"]
    if change == "expire":
        sandbox.expire_token(token)
    elif change == "invalidate":
        sandbox.invalidate_token(token)
    elif change == "deauthorise":
        sandbox.deauthorise_token(token)
    else:
        sandbox.rescope_token(token, scopes=["business_management", "instagram_basic"])
    sandbox.control("DELETE", "requests")
    with pytest.raises(BrandTokenError) as failed:
        pipeline.fetch()
    message = str(failed.value)
    assert pipeline.brand["meta_conn_id"] in message
    assert problem in message
    assert "Fix:" in message
    assert token not in message
    assert [r["path"].rsplit("/", 1)[-1] for r in sandbox.requests_log()] == ["debug_token"]


def test_a_brand_token_missing_the_facebook_scope_fails_only_a_run_asking_for_facebook(
    tokens_pipeline: Pipeline,
) -> None:
    pipeline, sandbox = tokens_pipeline, tokens_pipeline.sandbox
    token = sandbox.brand_token(pipeline.brand["business_id"])["access_token"]
    sandbox.rescope_token(
        token, scopes=["business_management", "instagram_basic", "instagram_branded_content_ads_brand"]
    )
    assert pipeline.fetch()["items"] > 0
    with pytest.raises(BrandTokenError, match="facebook_branded_content_ads_brand"):
        pipeline.fetch(filters={"platform_types": ["FACEBOOK"]})


def test_an_expiring_brand_token_is_a_warning_and_discovery_runs(
    tokens_pipeline: Pipeline, capfd: pytest.CaptureFixture[str]
) -> None:
    pipeline, sandbox = tokens_pipeline, tokens_pipeline.sandbox
    sandbox.expire_token(
        sandbox.brand_token(pipeline.brand["business_id"])["access_token"], in_seconds=2 * DAY
    )
    capfd.readouterr()
    assert pipeline.fetch()["items"] > 0
    logged = "".join(capfd.readouterr())
    assert "expires in 1 day(s)" in logged or "expires in 2 day(s)" in logged
    record = pipeline.ledger.token_health(pipeline.brand["business_id"], pipeline.brand["meta_conn_id"])
    assert record is not None and record.state == "expiring"


# --- reporting, the alert and secrets -----------------------------------------------------------------


def _run_with_dead_tokens(pipeline: Pipeline) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    sandbox = pipeline.sandbox
    fetched = pipeline.fetch()
    creators = list(claimable_by_creator(pipeline, fetched))
    sandbox.expire_token(token_of(sandbox, creators[0]), in_seconds=2 * DAY)
    sandbox.expire_token(token_of(sandbox, creators[1]))
    issued = pipeline.issue(fetched)
    return fetched, issued, creators[:2]


def test_the_alert_is_one_json_message_naming_creators_and_nothing_without_its_connection(
    tokens_pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fetched, issued, (expiring, expired) = _run_with_dead_tokens(tokens_pipeline)
    # Two shards' results of one run: the summary merges them; one message for the run.
    summary = build_summary([issued, {**issued, "counts": {}, "listed": {}}], [])
    creators = needing_action(summary["tokens"])
    assert [c["ig_user_id"] for c in creators] == [expiring, expired]
    context = {"run_id": "scheduled__1", "dag_run": None}

    silent = PartnershipAdsAlertNotifier(creators=creators, counts=summary["tokens"]["counts"])
    silent(context)
    assert silent.sent is False

    with LocalReceiver() as receiver:
        monkeypatch.setenv(
            "AIRFLOW_CONN_PARTNERSHIP_ADS_ALERTS",
            json.dumps({"conn_type": "http", "host": receiver.url("/alerts")}),
        )
        notifier = PartnershipAdsAlertNotifier(creators=creators, counts=summary["tokens"]["counts"])
        notifier(context)
        assert notifier.sent is True
        assert len(receiver.received) == 1
        sent = receiver.received[0]
    assert (sent.method, sent.path) == ("POST", "/alerts")
    body = json.loads(sent.body)
    assert body["run_id"] == "scheduled__1"
    assert {c["ig_user_id"]: c["state"] for c in body["creators"]} == {
        expiring: "expiring",
        expired: "expired",
    }
    assert all(c["action"] == "re-authorise" for c in body["creators"])
    assert body["counts"]["expired"] == 1


def test_no_token_in_logs_xcom_ledger_rows_or_the_alert(
    tokens_pipeline: Pipeline,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pipeline, sandbox = tokens_pipeline, tokens_pipeline.sandbox
    secrets = {t["access_token"] for t in sandbox.tokens()}
    app = sandbox.app()
    secrets |= {app["app_secret"], app["app_token"]}
    with caplog.at_level(logging.DEBUG):
        fetched, issued, _ = _run_with_dead_tokens(pipeline)
        summary = build_summary([issued], [])
        section = tokens_section(summary["tokens"])
        with LocalReceiver() as receiver:
            monkeypatch.setenv(
                "AIRFLOW_CONN_PARTNERSHIP_ADS_ALERTS",
                json.dumps({"conn_type": "http", "host": receiver.url()}),
            )
            PartnershipAdsAlertNotifier(creators=needing_action(summary["tokens"]))({"run_id": "r"})
            alert = b"".join(r.body for r in receiver.received).decode()
    assert alert
    task_log = "".join(capfd.readouterr())
    assert "Tokens" in task_log and "re-authorise" in task_log, "the task log was captured"
    with sqlite3.connect(pipeline.facts["ledger_path"]) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        assert "pa_token_health" in tables
        rows = "\n".join(repr(db.execute(f"SELECT * FROM {t}").fetchall()) for t in tables)  # noqa: S608
    everything = {
        "log": caplog.text + task_log,
        "xcom": json.dumps([fetched, issued, summary], default=str),
        "ledger": rows,
        "alert": alert,
        "section": section,
    }
    for where, text in everything.items():
        for secret in secrets:
            assert secret not in text, f"a token or secret in the {where}"


def test_a_throttled_brand_check_is_retried_by_the_hook_and_discovery_follows(
    tokens_pipeline: Pipeline,
) -> None:
    pipeline, sandbox = tokens_pipeline, tokens_pipeline.sandbox
    sandbox.schedule_fault(kind="throttle", code=80004, method="GET", path="debug_token")
    assert pipeline.fetch()["items"] > 0
    log = sandbox.requests_log()
    checks = [r for r in log if r["path"].endswith("/debug_token")]
    assert [r["fault"] for r in checks] == ["throttle", None]
    assert log.index(checks[-1]) < min(i for i, r in enumerate(log) if "advertisable-content" in r["path"])
