"""The outbox per destination (pa_outbox, migration 0004): what each sink delivered where.
Real SQLite and PostgreSQL."""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

import pytest

from partnership_ads.conn_ids import DEFAULT_LEDGER_CONN_ID, DEFAULT_WEBHOOK_CONN_ID
from partnership_ads.ledger import Ledger
from partnership_ads.sink_names import DEFAULT_SQL_TABLE

if TYPE_CHECKING:
    from pathlib import Path

    from partnership_ads.ledger import Ledger

BRAND = "111"
SQL = f"{DEFAULT_LEDGER_CONN_ID}:{DEFAULT_SQL_TABLE}"
WEBHOOK = DEFAULT_WEBHOOK_CONN_ID
CONFIGURED = "/srv/partnership_ads/out"
OVERRIDE = "/srv/partnership_ads/out/manual"


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


@pytest.fixture
def ledger_before_0004(unmigrated_ledger: Ledger, tmp_path: Path) -> Ledger:
    """A ledger with every migration but 0004 (the outbox per destination), on both databases."""
    ledger = unmigrated_ledger
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
