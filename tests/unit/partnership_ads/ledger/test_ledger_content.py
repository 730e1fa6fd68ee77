"""Content seen per brand (pa_content). Real SQLite and PostgreSQL."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from partnership_ads.ledger import Ledger

BRAND = "111"


def test_content_upsert_keeps_one_row_per_brand_and_media(ledger: Ledger) -> None:
    ledger.upsert_content(BRAND, [{"content_id": "1", "permalink": "https://x/1"}], run_id="r1")
    ledger.upsert_content(BRAND, [{"content_id": "1", "permalink": "https://y/1"}], run_id="r2")
    assert ledger.content(BRAND, "1")["permalink"] == "https://y/1"
    assert ledger._query("SELECT COUNT(*), MAX(last_run_id) FROM pa_content") == [(1, "r2")]


def test_the_same_media_seen_by_two_brands_is_recorded_for_each(ledger: Ledger) -> None:
    ledger.upsert_content(BRAND, [{"content_id": "1", "permalink": "https://x/1"}], run_id="r1")
    ledger.upsert_content("222", [{"content_id": "1", "permalink": "https://z/1"}], run_id="r1")
    assert ledger.content(BRAND, "1")["permalink"] == "https://x/1"
    assert ledger.content("222", "1")["permalink"] == "https://z/1"
    assert ledger.content("333", "1") is None
