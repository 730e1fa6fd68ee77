"""Batched ledger writes (issue 13): claim_many and record_codes, one transaction per batch, with exactly the
semantics of claim() and record_code(); and the run's shared POST budget. Real SQLite and PostgreSQL."""

from __future__ import annotations

import random
import threading
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pytest

from partnership_ads.ledger import ClaimKind, CodeRecord, CodeState, Ledger, LedgerCore

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from tests.unit.conftest import FakeClock

BRAND = "111"


def twin(ledger: Ledger) -> Ledger:
    """Another Ledger on the same database: its own connections and write lock, like another process."""
    return Ledger(ledger.hook, clock=ledger._test_clock)


@pytest.fixture
def commits(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Every committed ledger transaction from now on (True: a write)."""
    seen: list[bool] = []
    original = LedgerCore._transaction

    @contextmanager
    def counted(self: LedgerCore, *, write: bool = True) -> Iterator[Any]:
        with original(self, write=write) as cur:
            yield cur
        seen.append(write)

    monkeypatch.setattr(LedgerCore, "_transaction", counted)
    return seen


def test_claim_many_claims_new_media_fresh_with_fence_one_in_one_transaction(
    ledger: Ledger, commits: list[bool]
) -> None:
    claims = ledger.claim_many([(str(i), "9") for i in range(120)], owner="a", lease_seconds=60)
    assert {c.kind for c in claims.values()} == {ClaimKind.FRESH}
    assert {c.fence for c in claims.values()} == {1}
    assert len(claims) == 120
    assert commits == [True]
    row = ledger.code("7")
    assert (row.state, row.claimed_by, row.owner_ig_user_id) == (CodeState.ISSUING, "a", "9")


def test_claim_many_answers_each_kind_as_claim_does(ledger: Ledger, clock: FakeClock) -> None:
    ledger.claim("held", owner="other", lease_seconds=60)
    coded = ledger.claim("coded", owner="other", lease_seconds=60)
    ledger.record_code("coded", "CODE", owner="other", fence=coded.fence)
    ledger.harvest("revoked", "OLD", business_id=BRAND, owner_ig_user_id="9")
    ledger.mark_revoked("revoked")
    failed = ledger.claim("failed", owner="other", lease_seconds=60)
    ledger.record_failure("failed", owner="other", fence=failed.fence, error="boom")
    ledger.claim("dead", owner="crashed", lease_seconds=10)
    clock.advance(25)  # "dead"'s lease ended 15 s ago; "held"'s still runs
    claims = ledger.claim_many(
        [(m, "9") for m in ("new", "held", "coded", "revoked", "failed", "dead")],
        owner="b",
        lease_seconds=60,
        business_id=BRAND,
    )
    assert (claims["new"].kind, claims["new"].fence) == (ClaimKind.FRESH, 1)
    assert (claims["held"].kind, claims["held"].holder) == (ClaimKind.HELD, "other")
    assert claims["held"].expires_at == ledger.code("held").claim_expires_at
    assert (claims["coded"].kind, claims["coded"].ad_code) == (ClaimKind.HAS_CODE, "CODE")
    assert claims["revoked"].kind == ClaimKind.REVOKED
    assert (claims["failed"].kind, claims["failed"].fence, claims["failed"].ended_ago) == (
        ClaimKind.RECOVERED,
        2,
        None,
    )
    assert (claims["dead"].kind, claims["dead"].fence) == (ClaimKind.RECOVERED, 2)
    assert claims["dead"].ended_ago == pytest.approx(15.0)
    assert ledger.code("dead").claimed_by == "b"
    assert ledger.code("held").claimed_by == "other"


def test_claim_many_of_a_repeated_media_claims_it_once(ledger: Ledger) -> None:
    claims = ledger.claim_many([("1", "9"), ("1", "8")], owner="a", lease_seconds=60)
    assert list(claims) == ["1"]
    assert ledger.code("1").owner_ig_user_id == "9"


def _race(
    ledger: Ledger, batches: list[list[str]], claim: Callable[[Ledger, list[str], str], Any]
) -> list[Any]:
    ledgers = [twin(ledger) for _ in batches]
    barrier = threading.Barrier(len(batches))
    out: list[Any] = [None] * len(batches)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait()
            out[i] = claim(ledgers[i], batches[i], f"o{i}")
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(batches))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for other in ledgers:
        other.close()
    assert not errors, errors
    return out


@pytest.mark.parametrize("round_", range(3))
def test_concurrent_claimers_of_overlapping_batches_each_win_a_media_exactly_once(
    ledger: Ledger, round_: int
) -> None:
    media = [f"m{i:03d}" for i in range(150)]
    rng = random.Random(round_)
    batches = [rng.sample(media, 100) for _ in range(3)]  # overlapping, each in its own random order
    out = _race(
        ledger,
        batches,
        lambda lg, ids, owner: lg.claim_many([(m, None) for m in ids], owner=owner, lease_seconds=60),
    )
    for m in media:
        winners = [i for i, claims in enumerate(out) if m in claims and claims[m].kind == ClaimKind.FRESH]
        wanted = [i for i, ids in enumerate(batches) if m in ids]
        assert len(winners) == (1 if wanted else 0), m
        if winners:
            assert ledger.code(m).claimed_by == f"o{winners[0]}"
            assert all(out[i][m].kind == ClaimKind.HELD for i in wanted if i != winners[0])


def test_concurrent_takeovers_of_dead_claims_recover_each_media_exactly_once(
    ledger: Ledger, clock: FakeClock
) -> None:
    media = [f"d{i:03d}" for i in range(80)]
    ledger.claim_many([(m, None) for m in media], owner="crashed", lease_seconds=10)
    clock.advance(11)
    out = _race(
        ledger,
        [media, list(reversed(media))],
        lambda lg, ids, owner: lg.claim_many([(m, None) for m in ids], owner=owner, lease_seconds=60),
    )
    for m in media:
        kinds = sorted(str(claims[m].kind) for claims in out)
        assert kinds == [ClaimKind.HELD, ClaimKind.RECOVERED], m
        assert ledger.code(m).fence == 2


def test_record_codes_writes_each_code_in_one_transaction(ledger: Ledger, commits: list[bool]) -> None:
    claims = ledger.claim_many([(str(i), None) for i in range(60)], owner="a", lease_seconds=60)
    del commits[:]
    records = [CodeRecord(m, f"C{m}", c.fence) for m, c in claims.items()]
    records[0] = CodeRecord(records[0].content_id, "FOUND", records[0].fence, CodeState.HARVESTED)
    assert ledger.record_codes(records, owner="a") == []
    assert commits == [True]
    assert ledger.code("1").ad_code == "C1"
    assert (ledger.code("1").state, ledger.code("1").claimed_by) == (CodeState.ISSUED, None)
    first = ledger.code(records[0].content_id)
    assert (first.ad_code, first.state) == ("FOUND", CodeState.HARVESTED)


def test_batched_claims_and_records_send_one_statement_per_hundred_media(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The batched path is one round trip per 100 media, not one per media (each was a round trip to
    PostgreSQL on the issuing task's critical path)."""
    from partnership_ads.ledger.codes import ROWS_PER_STATEMENT

    statements: list[str] = []
    original = LedgerCore._transaction

    class Counting:
        def __init__(self, cur: Any) -> None:
            self._cur = cur

        def execute(self, sql: str, params: Any = ()) -> Any:
            statements.append(sql.split()[0])
            return self._cur.execute(sql, params)

        def __getattr__(self, name: str) -> Any:
            return getattr(self._cur, name)

    @contextmanager
    def counted(self: LedgerCore, *, write: bool = True) -> Iterator[Any]:
        with original(self, write=write) as cur:
            yield Counting(cur)

    monkeypatch.setattr(LedgerCore, "_transaction", counted)
    media = [str(i) for i in range(ROWS_PER_STATEMENT + 50)]
    claims = ledger.claim_many([(m, "9") for m in media], owner="a", lease_seconds=60)
    assert statements == ["INSERT", "INSERT"]
    del statements[:]
    assert ledger.record_codes([CodeRecord(m, f"C{m}", claims[m].fence) for m in media], owner="a") == []
    assert statements == ["UPDATE", "UPDATE"]
    assert {ledger.code(m).ad_code for m in media} == {f"C{m}" for m in media}
    assert {ledger.code(m).state for m in media} == {CodeState.ISSUED}


def test_record_codes_refuses_a_media_twice_before_writing(ledger: Ledger) -> None:
    claims = ledger.claim_many([("1", None), ("2", None)], owner="a", lease_seconds=60)
    with pytest.raises(ValueError, match="appears twice"):
        ledger.record_codes(
            [CodeRecord("1", "A", claims["1"].fence), CodeRecord("1", "B", claims["1"].fence)], owner="a"
        )
    assert ledger.code("1").ad_code is None
    assert ledger.code("1").claimed_by == "a"


def test_record_codes_refuses_stale_claims_and_returns_them_instead_of_raising(
    ledger: Ledger, clock: FakeClock
) -> None:
    old = ledger.claim_many([("1", None), ("2", None), ("3", None)], owner="a", lease_seconds=10)
    clock.advance(11)
    taken = ledger.claim("2", owner="b", lease_seconds=60)  # a's lease on 2 ended: b took it over
    ledger.harvest("3", "SEEN", business_id=BRAND, owner_ig_user_id=None)  # a harvest moved 3's fence on
    stale = ledger.record_codes([CodeRecord(m, f"A{m}", old[m].fence) for m in ("1", "2", "3")], owner="a")
    assert sorted(stale) == ["2", "3"]
    assert ledger.code("1").ad_code == "A1"
    assert (ledger.code("2").ad_code, ledger.code("2").claimed_by) == (None, "b")
    assert ledger.code("3").ad_code == "SEEN"
    assert ledger.record_codes([CodeRecord("2", "B2", taken.fence)], owner="b") == []
    assert ledger.code("2").ad_code == "B2"


def test_reserve_posts_grants_up_to_the_limit_and_release_gives_back(ledger: Ledger) -> None:
    assert ledger.reserve_posts("run1", BRAND, limit=10, n=4) == 4
    assert ledger.reserve_posts("run1", BRAND, limit=10, n=8) == 6
    assert ledger.reserve_posts("run1", BRAND, limit=10, n=1) == 0
    ledger.release_posts("run1", BRAND, 3)
    assert ledger.reserve_posts("run1", BRAND, limit=10, n=5) == 3
    assert ledger.reserve_posts("run1", "other brand", limit=10, n=5) == 5
    assert ledger.reserve_posts("run2", BRAND, limit=0, n=5) == 0
    assert ledger.posts_used("run1", BRAND) == 10


def test_concurrent_reservers_never_exceed_the_runs_cap(ledger: Ledger) -> None:
    limit = 37
    rng = random.Random(5)
    wants = [[rng.randint(1, 9) for _ in range(6)] for _ in range(4)]

    def reserve(lg: Ledger, ns: list[int], _owner: str) -> int:
        granted = 0
        for i, n in enumerate(ns):
            got = lg.reserve_posts("run", BRAND, limit=limit, n=n)
            assert 0 <= got <= n
            granted += got
            # Some give one back (as an item that needed no POST does) and reserve again after.
            if got and n % 3 == 0 and i < len(ns) - 1:
                lg.release_posts("run", BRAND, 1)
                granted -= 1
        return granted

    granted = _race(ledger, wants, reserve)  # type: ignore[arg-type]
    assert sum(granted) == ledger.posts_used("run", BRAND) == limit


def test_throttles_of_many_connections_are_read_at_once(ledger: Ledger, commits: list[bool]) -> None:
    ledger.record_throttle("meta_graph_a", wait_seconds=30)
    del commits[:]
    left = ledger.throttled_for_many(["meta_graph_a", "meta_graph_b"])
    assert left == {"meta_graph_a": pytest.approx(30.0)}
    assert commits == [False]


def test_renew_claim_extends_only_a_claim_still_held_with_its_token(ledger: Ledger, clock: FakeClock) -> None:
    mine = ledger.claim_many([("1", None), ("2", None)], owner="a", lease_seconds=10)
    clock.advance(11)
    assert ledger.renew_claim("1", owner="a", fence=mine["1"].fence, lease_seconds=10)  # ended, not taken
    assert ledger.claim("1", owner="b", lease_seconds=10).kind == ClaimKind.HELD
    assert ledger.claim("2", owner="b", lease_seconds=10).kind == ClaimKind.RECOVERED
    assert not ledger.renew_claim("2", owner="a", fence=mine["2"].fence, lease_seconds=10)
    assert ledger.code("2").claimed_by == "b"


def test_harvest_many_answers_as_harvest_does_in_one_transaction_per_chunk(
    ledger: Ledger, commits: list[bool]
) -> None:
    ledger.harvest("same", "C-SAME", business_id=BRAND, owner_ig_user_id="9")
    ledger.harvest("rev", "C-REV", business_id=BRAND, owner_ig_user_id="9")
    assert ledger.mark_revoked("rev")
    held = ledger.claim("held", owner="another", lease_seconds=600, business_id=BRAND)
    assert held.kind == ClaimKind.FRESH
    commits.clear()
    records = [
        ("new", "C-NEW", "9"),
        ("same", "C-SAME", "9"),
        ("rev", "C-OTHER", "9"),
        ("held", "C-HELD", "9"),
        *((f"m{n}", f"C{n}", "8") for n in range(250)),
    ]
    outcomes = ledger.harvest_many(records, business_id=BRAND, chunk=200)
    assert outcomes["new"] == "harvested"
    assert outcomes["same"] == "already_in_ledger"
    assert outcomes["rev"] == "revoked"
    assert outcomes["held"] == "claimed_elsewhere"
    assert all(outcomes[f"m{n}"] == "harvested" for n in range(250))
    assert ledger.code("rev").ad_code == "C-REV" and ledger.code("held").state == CodeState.ISSUING
    assert ledger.code("m249").ad_code == "C249"
    assert commits.count(True) == 2  # 254 records, 200 per transaction
