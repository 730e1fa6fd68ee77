"""Token health records (pa_token_health): one at a time and many at once. Real SQLite and PostgreSQL."""

from __future__ import annotations

from typing import TYPE_CHECKING

from partnership_ads.token_health import TokenHealth, token_fingerprint

if TYPE_CHECKING:
    from partnership_ads.ledger import Ledger
    from tests.unit.conftest import FakeClock


def _health(clock: FakeClock, subject: str, conn_id: str, state: str = "ok") -> TokenHealth:
    return TokenHealth(
        subject,
        conn_id,
        state,
        f"{state} for {subject}",
        clock(),
        clock().timestamp() + 30 * 86400,
        30,
        fingerprint=token_fingerprint(f"token-{subject}-{conn_id}"),
    )


def test_many_records_are_written_in_one_go_and_read_back_by_subject_and_connection(
    ledger: Ledger, clock: FakeClock
) -> None:
    healths = [_health(clock, str(n), f"meta_graph_creator_{n}") for n in range(700)]
    healths.append(_health(clock, "5", "meta_graph_other", "expired"))
    ledger.record_token_healths(healths)
    keys = [("5", "meta_graph_creator_5"), ("5", "meta_graph_other"), ("699", "meta_graph_creator_699")]
    found = ledger.token_healths([*keys, ("5", "meta_graph_missing"), ("9999", "meta_graph_creator_9999")])
    assert sorted(found) == sorted(keys)
    assert found[("5", "meta_graph_other")].state == "expired"
    assert found[("699", "meta_graph_creator_699")] == ledger.token_health("699", "meta_graph_creator_699")
    assert found[("5", "meta_graph_creator_5")].fingerprint == healths[5].fingerprint
    assert len(ledger.token_health_records()) == 701


def test_a_later_finding_replaces_the_record_and_nothing_is_written_for_none(
    ledger: Ledger, clock: FakeClock
) -> None:
    ledger.record_token_healths([])
    assert ledger.token_healths([("1", "c1")]) == {}
    ledger.record_token_healths([_health(clock, "1", "c1")])
    clock.advance(3600)
    ledger.record_token_healths([_health(clock, "1", "c1", "invalid")])
    record = ledger.token_healths([("1", "c1")])[("1", "c1")]
    assert (record.state, record.checked_at) == ("invalid", clock())


def test_the_overview_names_a_brand_by_its_record_even_before_the_ledger_knows_the_business(
    ledger: Ledger, clock: FakeClock
) -> None:
    """A brand whose very first fetch failed on its token has no content in the ledger yet: its record's
    ``subject_kind`` still names it a brand, with the brand's action, not a creator's re-authorisation."""
    from partnership_ads.token_health import BRAND

    dead_brand = TokenHealth(
        "555000", "meta_graph_default", "expired", "the token expired", clock(), subject_kind=BRAND
    )
    ledger.record_token_healths([dead_brand, _health(clock, "17841", "meta_graph_creator_17841", "expired")])
    assert ledger.token_health("555000", "meta_graph_default").subject_kind == BRAND
    rows = {row["subject_id"]: row for row in ledger.token_health_overview()}
    assert "555000" not in ledger.brands()
    assert (rows["555000"]["kind"], rows["555000"]["brands"]) == ("brand", ["555000"])
    assert rows["555000"]["action"] == "replace the brand's token on connection meta_graph_default"
    assert rows["17841"]["kind"] == "creator" and "re-authorise" in str(rows["17841"]["action"])


def test_a_record_from_before_migration_0010_is_told_by_its_subject(ledger: Ledger, clock: FakeClock) -> None:
    ledger.record_token_healths([_health(clock, "777", "meta_graph_default"), _health(clock, "888", "c888")])
    with ledger._transaction() as cur:  # what a ledger migrated before 0010 holds: no kind
        cur.execute("UPDATE pa_token_health SET subject_kind = NULL")
    assert ledger.token_health("777", "meta_graph_default").subject_kind is None
    rows = {row["subject_id"]: row["kind"] for row in ledger.token_health_overview(business_ids=["777"])}
    assert rows == {"777": "brand", "888": "creator"}
