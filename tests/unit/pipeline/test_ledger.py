"""The ledger on real SQLite and PostgreSQL: schema, claims, codes, outbox, run figures."""

from __future__ import annotations

import shutil
import threading
from typing import TYPE_CHECKING

import pytest

from partnership_ads.conn_ids import DEFAULT_LEDGER_CONN_ID, DEFAULT_WEBHOOK_CONN_ID
from partnership_ads.ledger import ClaimKind, CodeState, Ledger
from partnership_ads.sink_names import DEFAULT_SQL_TABLE

if TYPE_CHECKING:
    from pathlib import Path

    from tests.unit.pipeline.conftest import FakeClock

BRAND = "111"
SQL = f"{DEFAULT_LEDGER_CONN_ID}:{DEFAULT_SQL_TABLE}"
WEBHOOK = DEFAULT_WEBHOOK_CONN_ID


def _seen(ledger: Ledger, *content_ids: str, business_id: str = BRAND) -> None:
    ledger.upsert_content(
        business_id,
        [
            {
                "content_id": c,
                "platform": "INSTAGRAM",
                "permalink": f"https://x/{c}",
                "author_ig_user_id": "9",
            }
            for c in content_ids
        ],
        run_id="r1",
    )
    for c in content_ids:
        ledger.record_brand_item(business_id, c, "issued", run_id="r1")


def test_migrate_twice_applies_each_version_once(ledger: Ledger) -> None:
    assert ledger.migrate() == []
    assert ledger.applied_versions() == [version for version, _ in ledger.migrations()]


def test_a_second_process_migrating_a_migrated_database_changes_nothing(tmp_path: Path) -> None:
    first = Ledger.from_sqlite_path(tmp_path / "l.db")
    second = Ledger.from_sqlite_path(tmp_path / "l.db")
    assert first.migrate() == [version for version, _ in first.migrations()]
    assert second.migrate() == []


def test_first_claim_is_fresh_and_a_second_owner_sees_it_held(ledger: Ledger) -> None:
    assert ledger.claim("1", owner="a", lease_seconds=60).kind == ClaimKind.FRESH
    held = ledger.claim("1", owner="b", lease_seconds=60)
    assert held.kind == ClaimKind.HELD
    assert held.holder == "a"


def test_claim_on_a_media_with_a_code_returns_the_code(ledger: Ledger) -> None:
    fence = ledger.claim("1", owner="a", lease_seconds=60).fence
    ledger.record_code("1", "CODE", owner="a", fence=fence)
    claim = ledger.claim("1", owner="b", lease_seconds=60)
    assert (claim.kind, claim.ad_code) == (ClaimKind.HAS_CODE, "CODE")


def test_expired_claim_is_recovered_by_the_next_owner(ledger: Ledger, clock: FakeClock) -> None:
    ledger.claim("1", owner="crashed", lease_seconds=60)
    clock.advance(61)
    assert ledger.claim("1", owner="b", lease_seconds=60).kind == ClaimKind.RECOVERED
    assert ledger.code("1").claimed_by == "b"


def test_heartbeat_keeps_a_live_claim_from_being_taken(ledger: Ledger, clock: FakeClock) -> None:
    ledger.claim("1", owner="a", lease_seconds=60)
    clock.advance(50)
    assert ledger.heartbeat("a", lease_seconds=60) == 1
    clock.advance(50)
    assert ledger.claim("1", owner="b", lease_seconds=60).kind == ClaimKind.HELD


def test_failed_claim_is_recovered_not_fresh(ledger: Ledger) -> None:
    fence = ledger.claim("1", owner="a", lease_seconds=60).fence
    assert ledger.record_failure("1", owner="a", fence=fence, error="boom")
    assert ledger.code("1").state == CodeState.FAILED
    assert ledger.claim("1", owner="b", lease_seconds=60).kind == ClaimKind.RECOVERED


def test_revoked_media_is_not_claimed_again(ledger: Ledger) -> None:
    ledger.harvest("1", "CODE", business_id=BRAND, owner_ig_user_id="9")
    assert ledger.mark_revoked("1")
    assert ledger.claim("1", owner="b", lease_seconds=60).kind == ClaimKind.REVOKED


def test_harvest_reports_new_codes_only(ledger: Ledger) -> None:
    assert ledger.harvest("1", "CODE", business_id=BRAND, owner_ig_user_id="9") == "harvested"
    assert ledger.harvest("1", "CODE", business_id=BRAND, owner_ig_user_id="9") == "already_in_ledger"
    assert ledger.harvest("1", "NEWER", business_id=BRAND, owner_ig_user_id="9") == "harvested"
    assert ledger.code("1").ad_code == "NEWER"


def test_concurrent_claimers_get_exactly_one_fresh_claim(tmp_path: Path) -> None:
    ledgers = [Ledger.from_sqlite_path(tmp_path / "l.db") for _ in range(8)]
    ledgers[0].migrate()
    kinds: list[ClaimKind] = []
    barrier = threading.Barrier(len(ledgers))

    def claim(i: int) -> None:
        barrier.wait()
        kinds.append(ledgers[i].claim("1", owner=f"o{i}", lease_seconds=60).kind)

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(len(ledgers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert kinds.count(ClaimKind.FRESH) == 1
    assert kinds.count(ClaimKind.HELD) == len(ledgers) - 1


def test_pending_deliveries_lists_each_code_until_the_sink_has_it(ledger: Ledger) -> None:
    _seen(ledger, "1", "2")
    ledger.harvest("1", "C1", business_id=BRAND, owner_ig_user_id="9")
    ledger.harvest("2", "C2", business_id=BRAND, owner_ig_user_id="9")
    pending = ledger.pending_deliveries(BRAND, "sql", destination=SQL)
    assert [(r.content_id, r.ad_code, r.state) for r in pending] == [
        ("1", "C1", "active"),
        ("2", "C2", "active"),
    ]
    ledger.mark_delivered("sql", pending[:1], destination=SQL)
    assert [r.content_id for r in ledger.pending_deliveries(BRAND, "sql", destination=SQL)] == ["2"]
    assert len(ledger.pending_deliveries(BRAND, "webhook", destination=WEBHOOK)) == 2


def test_a_new_code_for_a_delivered_media_is_pending_again(ledger: Ledger) -> None:
    _seen(ledger, "1")
    ledger.harvest("1", "C1", business_id=BRAND, owner_ig_user_id="9")
    ledger.mark_delivered("sql", ledger.pending_deliveries(BRAND, "sql", destination=SQL), destination=SQL)
    ledger.harvest("1", "C2", business_id=BRAND, owner_ig_user_id="9")
    assert [r.ad_code for r in ledger.pending_deliveries(BRAND, "sql", destination=SQL)] == ["C2"]


def test_revocation_is_pending_only_for_sinks_that_had_the_code(ledger: Ledger) -> None:
    _seen(ledger, "1")
    ledger.harvest("1", "C1", business_id=BRAND, owner_ig_user_id="9")
    ledger.mark_delivered("sql", ledger.pending_deliveries(BRAND, "sql", destination=SQL), destination=SQL)
    ledger.mark_revoked("1")
    assert [r.state for r in ledger.pending_deliveries(BRAND, "sql", destination=SQL)] == ["revoked"]
    assert ledger.pending_deliveries(BRAND, "webhook", destination=WEBHOOK) == []


def test_run_figures_are_replaced_on_rerun_of_the_summary(ledger: Ledger) -> None:
    ledger.record_run_figures("r1", BRAND, {"issued": 3})
    ledger.record_run_figures("r1", BRAND, {"issued": 4, "already_in_ledger": 1})
    assert ledger.run_figures("r1") == {BRAND: {"issued": 4, "already_in_ledger": 1}}
    assert ledger.latest_run_id() == "r1"


def test_outcomes_recorded_as_known_read_as_already_in_ledger_after_migration(tmp_path: Path) -> None:
    ledger = Ledger.from_sqlite_path(tmp_path / "l.db")
    current = ledger.sql_dir
    before_rename = tmp_path / "sql"
    before_rename.mkdir()
    for version, path in ledger.migrations():
        if version < "0003":
            shutil.copy(path, before_rename / path.name)
    ledger.sql_dir = before_rename
    ledger.migrate()
    ledger.record_run_figures("r0", BRAND, {"issued": 1, "known": 2})
    _seen(ledger, "1")
    ledger.record_brand_item(BRAND, "1", "known", run_id="r0")
    ledger.sql_dir = current
    assert "0003" in ledger.migrate()
    assert ledger.run_figures("r0") == {BRAND: {"issued": 1, "already_in_ledger": 2}}
    assert ledger.brand_items(BRAND) == [("1", "already_in_ledger", None)]


def test_content_upsert_keeps_one_row_per_brand_and_media(ledger: Ledger) -> None:
    _seen(ledger, "1")
    ledger.upsert_content(BRAND, [{"content_id": "1", "permalink": "https://y/1"}], run_id="r2")
    assert ledger.content(BRAND, "1")["permalink"] == "https://y/1"


def test_a_recorded_throttle_blocks_the_connection_until_its_end_and_the_later_end_wins(
    ledger: Ledger, clock: FakeClock
) -> None:
    ledger.record_throttle("meta_graph_creator_1", wait_seconds=30)
    ledger.record_throttle("meta_graph_creator_1", wait_seconds=10)
    clock.advance(20)
    assert ledger.throttled_for("meta_graph_creator_1") == 10
    assert ledger.throttled_for("meta_graph_creator_2") == 0
    clock.advance(15)
    assert ledger.throttled_for("meta_graph_creator_1") == 0


CONFIGURED = "/srv/partnership_ads/out"
OVERRIDE = "/srv/partnership_ads/out/manual"


def test_a_manual_override_destination_does_not_consume_the_configured_destinations_deliveries(
    ledger: Ledger,
) -> None:
    _seen(ledger, "1", "2")
    ledger.harvest("1", "C1", business_id=BRAND, owner_ig_user_id="9")
    ledger.harvest("2", "C2", business_id=BRAND, owner_ig_user_id="9")
    override = ledger.pending_deliveries(BRAND, "files", destination=OVERRIDE)
    ledger.mark_delivered("files", override, destination=OVERRIDE, run_id="manual__1")
    assert ledger.pending_deliveries(BRAND, "files", destination=OVERRIDE) == []
    configured = ledger.pending_deliveries(BRAND, "files", destination=CONFIGURED)
    assert [r.content_id for r in configured] == ["1", "2"]
    ledger.mark_delivered("files", configured, destination=CONFIGURED, run_id="scheduled__1")
    assert ledger.pending_deliveries(BRAND, "files", destination=CONFIGURED) == []
    assert {row[3] for row in ledger.deliveries(business_id=BRAND, sink="files")} == {CONFIGURED, OVERRIDE}


def test_a_revocation_is_pending_at_every_destination_that_had_the_code(ledger: Ledger) -> None:
    _seen(ledger, "1")
    ledger.harvest("1", "C1", business_id=BRAND, owner_ig_user_id="9")
    for destination in (CONFIGURED, OVERRIDE):
        ledger.mark_delivered(
            "files",
            ledger.pending_deliveries(BRAND, "files", destination=destination),
            destination=destination,
        )
    ledger.mark_revoked("1")
    for destination in (CONFIGURED, OVERRIDE):
        assert [r.state for r in ledger.pending_deliveries(BRAND, "files", destination=destination)] == [
            "revoked"
        ]
    assert ledger.pending_deliveries(BRAND, "files", destination="/srv/elsewhere") == []


def test_the_outbox_refuses_a_delivery_without_a_destination(ledger: Ledger) -> None:
    with pytest.raises(ValueError, match="destination"):
        ledger.pending_deliveries(BRAND, "files", destination="")


@pytest.fixture(params=["sqlite", "postgres"])
def ledger_before_0004(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Ledger:
    """A ledger with every migration but 0004 (the outbox per destination), on both databases."""
    if request.param == "sqlite":
        ledger = Ledger.from_sqlite_path(tmp_path / "l.db")
    else:
        monkeypatch.setenv("AIRFLOW_CONN_PARTNERSHIP_ADS_DB", request.getfixturevalue("postgres_database"))
        ledger = Ledger.from_conn_id(DEFAULT_LEDGER_CONN_ID)
    current = ledger.sql_dir
    before = tmp_path / "sql_before_0004"
    before.mkdir()
    for version, path in ledger.migrations():
        if version != "0004":
            shutil.copy(path, before / path.name)
    ledger.sql_dir = before
    ledger.migrate()
    ledger.sql_dir = current
    return ledger


def test_deliveries_from_before_0004_belong_to_the_configured_destination_only(
    ledger_before_0004: Ledger,
) -> None:
    ledger = ledger_before_0004
    _seen(ledger, "1", "2")
    ledger.harvest("1", "C1", business_id=BRAND, owner_ig_user_id="9")
    ledger.harvest("2", "C2", business_id=BRAND, owner_ig_user_id="9")
    # What version 0003 recorded: files and sql received code 1, keyed by sink name only.
    for sink in ("files", "sql"):
        ledger._execute(
            "INSERT INTO pa_deliveries (business_id, content_id, sink, ad_code, state, delivered_at, run_id) "
            "VALUES (?, '1', ?, 'C1', 'active', '2026-05-31T00:00:00.000000Z', 'scheduled__0')",
            (BRAND, sink),
        )
    assert "0004" in ledger.migrate()
    # A trigger's folder never takes them: it gets every code.
    assert [r.content_id for r in ledger.pending_deliveries(BRAND, "files", destination=OVERRIDE)] == [
        "1",
        "2",
    ]
    assert ledger.adopt_legacy_deliveries(BRAND, "files", CONFIGURED) == 1
    assert [r.content_id for r in ledger.pending_deliveries(BRAND, "files", destination=CONFIGURED)] == ["2"]
    assert ledger.adopt_legacy_deliveries(BRAND, "sql", SQL) == 1
    assert [r.content_id for r in ledger.pending_deliveries(BRAND, "sql", destination=SQL)] == ["2"]
    assert ledger.adopt_legacy_deliveries(BRAND, "files", CONFIGURED) == 0


def test_migration_0004_applied_again_sends_nothing_twice(ledger_before_0004: Ledger) -> None:
    ledger = ledger_before_0004
    _seen(ledger, "1")
    ledger.harvest("1", "C1", business_id=BRAND, owner_ig_user_id="9")
    ledger._execute(
        "INSERT INTO pa_deliveries (business_id, content_id, sink, ad_code, state, delivered_at, run_id) "
        "VALUES (?, '1', 'files', 'C1', 'active', '2026-05-31T00:00:00.000000Z', NULL)",
        (BRAND,),
    )
    ledger.migrate()
    ledger.adopt_legacy_deliveries(BRAND, "files", CONFIGURED)
    # A second task that read schema_migrations before the first recorded 0004 runs its statements again.
    ledger._execute("DELETE FROM schema_migrations WHERE version = '0004'")
    assert ledger.migrate() == ["0004"]
    ledger.adopt_legacy_deliveries(BRAND, "files", CONFIGURED)
    assert ledger.pending_deliveries(BRAND, "files", destination=CONFIGURED) == []
    assert [row[3] for row in ledger.deliveries(business_id=BRAND)] == [CONFIGURED]
