"""Codes and fenced claims (pa_ad_codes): one code per media, a stale writer refused, revocation final.
Real SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import pytest

from partnership_ads.ledger import ClaimKind, CodeState, Ledger, StaleClaimError

if TYPE_CHECKING:
    from pathlib import Path

    from tests.unit.conftest import FakeClock

BRAND = "111"


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


def test_a_released_first_claim_leaves_no_row_and_the_next_claim_is_fresh(ledger: Ledger) -> None:
    claim = ledger.claim("1", owner="a", lease_seconds=60)
    ledger.release_claim("1", owner="a", fence=claim.fence)
    assert ledger.code("1") is None
    assert ledger.claim("1", owner="b", lease_seconds=60).kind == ClaimKind.FRESH


def test_a_stale_heartbeat_does_not_renew_a_claim_taken_over(ledger: Ledger, clock: FakeClock) -> None:
    ledger.claim("1", owner="a", lease_seconds=60)
    clock.advance(61)
    ledger.claim("1", owner="b", lease_seconds=60)
    assert ledger.heartbeat("a", lease_seconds=600) == 0


def test_claim_holders_tell_the_holder_and_the_lease_left(ledger: Ledger, clock: FakeClock) -> None:
    ledger.claim("1", owner="a", lease_seconds=60)
    ledger.harvest("2", "C2", business_id=BRAND, owner_ig_user_id="9")
    clock.advance(20)
    assert ledger.claim_holders(["1", "2", "3"]) == {"1": ("a", 40.0)}


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


def test_codes_for_reads_many_media_in_chunks(ledger: Ledger) -> None:
    for content_id in ("1", "2", "3"):
        ledger.harvest(content_id, f"C{content_id}", business_id=BRAND, owner_ig_user_id="9")
    found = ledger.codes_for(["3", "1", "404", "1"], chunk=2)
    assert {cid: row.ad_code for cid, row in found.items()} == {"1": "C1", "3": "C3"}
    assert [row.content_id for row in ledger.codes(states=[CodeState.HARVESTED])] == ["1", "2", "3"]
