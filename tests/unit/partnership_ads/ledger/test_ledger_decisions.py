"""Per-brand decisions (pa_brand_items): what each brand's run decided, and what is left to do.
Real SQLite and PostgreSQL."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from partnership_ads.ledger import Ledger

BRAND = "111"


def test_a_later_decision_replaces_the_earlier_one_for_the_same_item(ledger: Ledger) -> None:
    ledger.record_brand_item(BRAND, "1", "over_max_codes", run_id="r1", detail="budget")
    ledger.record_brand_items(BRAND, [("1", "issued", None), ("2", "failed", "boom")], run_id="r2")
    assert ledger.brand_items(BRAND) == [("1", "issued", None), ("2", "failed", "boom")]
    assert ledger.brand_items(BRAND, status="failed") == [("2", "failed", "boom")]


def test_pending_items_are_undecided_ones_without_a_code_and_claims_left_behind(ledger: Ledger) -> None:
    ledger.record_brand_items(
        BRAND,
        [("1", "awaiting_creator_authorisation", None), ("2", "issued", None), ("3", "failed", "boom")],
        run_id="r1",
    )
    ledger.harvest("3", "C3", business_id=BRAND, owner_ig_user_id="9")  # a later run found its code
    ledger.claim("4", owner="crashed", lease_seconds=60, business_id=BRAND)  # no decision written
    assert ledger.pending_content_ids(BRAND) == ["1", "4"]
    assert ledger.pending_content_ids("222") == []


def test_coded_items_of_a_brand_published_since_a_day(ledger: Ledger) -> None:
    ledger.upsert_content(
        BRAND,
        [
            {"content_id": "old", "creation_time": "2026-01-01T00:00:00+0000"},
            {"content_id": "new", "creation_time": "2026-05-01T00:00:00+0000"},
            {"content_id": "undated"},
        ],
        run_id="r1",
    )
    for content_id in ("old", "new", "undated"):
        ledger.record_brand_item(BRAND, content_id, "harvested", run_id="r1")
        ledger.harvest(content_id, f"C-{content_id}", business_id=BRAND, owner_ig_user_id="9")
    assert ledger.coded_content_ids(BRAND) == ["new", "old", "undated"]
    assert ledger.coded_content_ids(BRAND, published_since="2026-03-01") == ["new", "undated"]
    assert ledger.brands_for(["old", "elsewhere"]) == [BRAND]
    assert ledger.brands_for([]) == []
