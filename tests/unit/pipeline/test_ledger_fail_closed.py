"""The ledger fails closed (issue 11): fenced claims, leases on the database's clock, final revocation, one
identity per ledger, and a connection that cannot be read is never an empty private ledger.

Every test runs on real SQLite and real PostgreSQL where it concerns the ledger's statements.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING

import pytest

from partnership_ads.ledger import core as ledger_core
from partnership_ads.ledger import (
    ClaimKind,
    Ledger,
    LedgerMismatchError,
    LedgerUnavailableError,
    StaleClaimError,
)

if TYPE_CHECKING:
    from pathlib import Path

    from tests.unit.pipeline.conftest import FakeClock

BRAND = "111"


def test_a_writer_whose_lease_was_taken_over_is_refused_and_the_new_holder_records(
    ledger: Ledger, clock: FakeClock
) -> None:
    first = ledger.claim("1", owner="a", lease_seconds=60)
    clock.advance(61)  # a's POST is still in flight; its heartbeat stalled
    second = ledger.claim("1", owner="b", lease_seconds=60)
    assert (first.fence, second.kind, second.fence) == (1, ClaimKind.RECOVERED, 2)
    with pytest.raises(StaleClaimError, match="no longer held by this attempt"):
        ledger.record_code("1", "FROM_A", owner="a", fence=first.fence)
    ledger.record_code("1", "FROM_B", owner="b", fence=second.fence)
    assert ledger.code("1").ad_code == "FROM_B"


def test_the_same_owner_with_an_old_fence_is_refused_too(ledger: Ledger, clock: FakeClock) -> None:
    old = ledger.claim("1", owner="a", lease_seconds=60)
    clock.advance(61)
    new = ledger.claim("1", owner="a", lease_seconds=60)  # the same attempt name, a new claim
    with pytest.raises(StaleClaimError):
        ledger.record_code("1", "STALE", owner="a", fence=old.fence)
    ledger.record_code("1", "CURRENT", owner="a", fence=new.fence)
    assert ledger.code("1").ad_code == "CURRENT"


def test_failure_and_release_with_a_stale_fence_change_nothing(ledger: Ledger, clock: FakeClock) -> None:
    old = ledger.claim("1", owner="a", lease_seconds=60)
    clock.advance(61)
    ledger.claim("1", owner="b", lease_seconds=60)
    assert not ledger.record_failure("1", owner="a", fence=old.fence, error="late")
    ledger.release_claim("1", owner="a", fence=old.fence)
    row = ledger.code("1")
    assert (row.state, row.claimed_by, row.fence) == ("issuing", "b", 2)


def test_a_stale_heartbeat_does_not_renew_a_claim_taken_over(ledger: Ledger, clock: FakeClock) -> None:
    ledger.claim("1", owner="a", lease_seconds=60)
    clock.advance(61)
    ledger.claim("1", owner="b", lease_seconds=60)
    assert ledger.heartbeat("a", lease_seconds=600) == 0


def test_lease_times_come_from_the_database_clock_not_the_workers(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    on_database_clock = Ledger(ledger.hook)  # no test clock: leases on the database's clock
    on_database_clock.claim("1", owner="a", lease_seconds=60)
    # Another worker whose own clock runs an hour ahead must still see a's lease as live.
    ahead = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    monkeypatch.setattr(ledger_core, "utcnow", lambda: ahead)
    skewed_worker = Ledger(ledger.hook)
    claim = skewed_worker.claim("1", owner="b", lease_seconds=60)
    assert (claim.kind, claim.holder) == (ClaimKind.HELD, "a")
    expires = dt.datetime.strptime(claim.expires_at, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)
    assert abs((expires - dt.datetime.now(dt.UTC)).total_seconds() - 60) < 30


def test_harvest_never_turns_a_revoked_code_active_again(ledger: Ledger) -> None:
    ledger.upsert_content(BRAND, [{"content_id": "1", "permalink": "p"}], run_id="r1")
    ledger.record_brand_item(BRAND, "1", "issued", run_id="r1")
    ledger.harvest("1", "C1", business_id=BRAND, owner_ig_user_id="9")
    assert ledger.mark_revoked("1")
    # A snapshot taken before the revocation still shows the code: harvesting it changes nothing.
    assert ledger.harvest("1", "C1", business_id=BRAND, owner_ig_user_id="9") == "revoked"
    assert ledger.harvest("1", "OTHER", business_id=BRAND, owner_ig_user_id="9") == "revoked"
    row = ledger.code("1")
    assert (row.state, row.ad_code) == ("revoked", "C1")
    assert ledger.pending_deliveries(BRAND, "sql", destination="db:t") == []


def test_harvest_leaves_a_media_under_another_attempts_live_claim_alone(ledger: Ledger) -> None:
    ledger.claim("1", owner="a", lease_seconds=60)
    assert ledger.harvest("1", "SEEN", business_id=BRAND, owner_ig_user_id="9") == "claimed_elsewhere"
    assert ledger.code("1").state == "issuing"


def test_a_ledger_has_one_identity_and_a_task_on_another_ledger_is_refused(
    ledger: Ledger, tmp_path: Path
) -> None:
    identity = ledger.identity()
    assert ledger.identity() == identity
    assert ledger.check_identity(identity) == identity
    other = Ledger.from_sqlite_path(tmp_path / "other.db")
    other.migrate()
    with pytest.raises(LedgerMismatchError, match=identity):
        other.check_identity(identity)


# --- resolution of the ledger's connection ----------------------------------------------------------------


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
    monkeypatch.delenv("AIRFLOW_CONN_PARTNERSHIP_ADS_DB", raising=False)
    return tmp_path


def test_a_ledger_connection_that_cannot_be_parsed_fails_closed_with_no_local_file(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_PARTNERSHIP_ADS_DB", '{"conn_type": "postgres", "host": ')
    with pytest.raises(LedgerUnavailableError, match="partnership_ads_db") as caught:
        Ledger.from_conn_id()
    assert "could not be parsed" in str(caught.value)
    assert not (home / "partnership_ads.db").exists()


def test_a_missing_ledger_connection_on_a_distributed_executor_is_an_error(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "CeleryExecutor")
    with pytest.raises(LedgerUnavailableError, match="CeleryExecutor"):
        Ledger.from_conn_id()
    assert not (home / "partnership_ads.db").exists()


def test_a_missing_ledger_connection_on_one_machine_uses_the_embedded_file(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "LocalExecutor")
    ledger = Ledger.from_conn_id()
    ledger.migrate()
    assert (home / "partnership_ads.db").exists()


def test_a_ledger_connection_that_is_not_sql_is_refused(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_PARTNERSHIP_ADS_DB", json.dumps({"conn_type": "http", "host": "https://example.com"})
    )
    with pytest.raises(LedgerUnavailableError, match="not a SQL connection"):
        Ledger.from_conn_id()
