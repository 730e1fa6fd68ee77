"""pa_ads (migration 0009): the meta_ads sink's creative and ad per code, stale ads (SQLite, PostgreSQL)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from partnership_ads.graph.ads import ad_code_fingerprint

if TYPE_CHECKING:
    from partnership_ads.ledger import Ledger

BRAND = "111"
ACCOUNT = "act_42"


def _coded(ledger: Ledger, content_id: str, code: str) -> str:
    ledger.upsert_content(
        BRAND, [{"content_id": content_id, "platform": "INSTAGRAM", "author_ig_user_id": "9"}], run_id="r1"
    )
    ledger.harvest(content_id, code, business_id=BRAND, owner_ig_user_id="9")
    return ad_code_fingerprint(code)


def _made(ledger: Ledger, content_id: str, fp: str, ad_id: str | None = "ad1") -> None:
    ledger.record_ad_creative(
        BRAND, ACCOUNT, content_id, fp, name=f"pa {content_id} {fp}", adset_id="7", creative_id="cr1"
    )
    if ad_id:
        ledger.record_ad(BRAND, ACCOUNT, content_id, fp, ad_id=ad_id)


def test_the_creative_is_recorded_before_the_ad_and_no_code_in_clear(ledger: Ledger) -> None:
    fp = _coded(ledger, "1", "SECRETCODE1")
    _made(ledger, "1", fp, ad_id=None)
    row = ledger.ad_row(BRAND, ACCOUNT, "1", fp)
    assert row is not None and row.creative_id == "cr1" and row.ad_id is None
    ledger.record_ad(BRAND, ACCOUNT, "1", fp, ad_id="ad9")
    row = ledger.ad_row(BRAND, ACCOUNT, "1", fp)
    assert row is not None and row.ad_id == "ad9" and row.ad_recorded_at
    assert "SECRETCODE1" not in repr(ledger.ad_rows())


def test_an_ad_without_its_creative_recorded_is_refused(ledger: Ledger) -> None:
    with pytest.raises(LookupError, match="no creative recorded for media 5"):
        ledger.record_ad(BRAND, ACCOUNT, "5", "abc", ad_id="ad1")


def test_a_revoked_or_rotated_code_makes_its_ad_stale_once_and_a_current_one_does_not(ledger: Ledger) -> None:
    fps = {c: _coded(ledger, c, f"CODE{c}") for c in ("1", "2", "3")}
    for c, fp in fps.items():
        _made(ledger, c, fp, ad_id=f"ad{c}")
    ledger.mark_revoked("1")
    ledger.harvest("2", "CODE2-ROTATED", business_id=BRAND, owner_ig_user_id="9")
    stale = ledger.mark_stale_ads(BRAND, ACCOUNT, ad_code_fingerprint)
    assert {(r.content_id, r.stale_reason) for r in stale} == {("1", "revoked"), ("2", "rotated")}
    first = {r.content_id: r.stale_at for r in stale}
    again = ledger.mark_stale_ads(BRAND, ACCOUNT, ad_code_fingerprint)
    assert {r.content_id: r.stale_at for r in again} == first
    assert ledger.ad_row(BRAND, ACCOUNT, "3", fps["3"]).stale_at is None  # type: ignore[union-attr]
