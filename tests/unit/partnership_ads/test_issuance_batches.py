"""Batched ledger writes on issuance's hot path (issue 13), against the real graph sandbox.

- At most one ledger transaction per batch of up to 50 claims or recorded codes (counted commits).
- max_codes is the brand's cap for the whole run, shared by concurrent shard tasks through the ledger.
- SIGKILL after codes were POSTed and before their batch was recorded: the next attempt finds each code by
  lookup and records it; no media is POSTed twice (the sandbox runs in ``rotate`` mode and logs requests).
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
import types
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from include.demo import pipeline_environment
from include.drills.crash import with_graph_timeout
from include.graph_sandbox.testing import SandboxServer, start_sandbox
from partnership_ads.brand import Brand
from partnership_ads.issuance import CLAIM_BATCH, Issuance, IssuanceSettings, _Work
from partnership_ads.ledger import Ledger, LedgerCore
from partnership_ads.operators import FetchAdvertisableContentOperator, IssueAdCodesOperator

if TYPE_CHECKING:
    from collections.abc import Iterator

ITEMS = 200
CHILD = Path(__file__).with_name("issuance_kill_child.py")


@pytest.fixture(scope="module")
def big_sandbox() -> Iterator[SandboxServer]:
    """A world with more than 200 issuable items for one brand; a repeated POST invalidates a code."""
    with start_sandbox(seed=13, items=1600, ad_code_repeat="rotate") as server:
        yield server


@pytest.fixture(params=["sqlite", "postgres"])
def world(
    request: pytest.FixtureRequest,
    big_sandbox: SandboxServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, Any]:
    """The sandbox reset, one brand's connections in the environment, its discovery snapshot taken."""
    big_sandbox.reset(config=True)
    big_sandbox.clear_faults()
    env, facts = pipeline_environment(big_sandbox, state_dir=tmp_path, brands=1, skip_creators=0)
    # A dead attempt's POST is waited out (the request time-out) before the lookup: keep it short.
    env = with_graph_timeout(env, 2.0)
    if request.param == "postgres":
        env["AIRFLOW_CONN_PARTNERSHIP_ADS_DB"] = request.getfixturevalue("postgres_database")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    brand = facts["brands"][0]
    fetched = FetchAdvertisableContentOperator(task_id="fetch", **brand).execute(_context("fetch_run"))
    return {"env": env, "brand": brand, "snapshot_path": fetched["snapshot_path"], "tmp": tmp_path}


def _context(run_id: str) -> dict[str, Any]:
    ti = types.SimpleNamespace(dag_id="partnership_ad_codes", task_id="issue", map_index=-1, try_number=1)
    return {"run_id": run_id, "ti": ti}


def _issuance(world: dict[str, Any], *, owner: str, run_id: str = "run1", **settings: Any) -> Issuance:
    ledger = Ledger.from_conn_id()
    ledger.migrate()
    return Issuance(
        Brand.from_dict(world["brand"]),
        ledger,
        snapshot_path=world["snapshot_path"],
        owner=owner,
        run_id=run_id,
        settings=IssuanceSettings(**settings),
        log=_Log(),
    )


class _Log:
    """The task log, kept in memory."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def _add(self, msg: str, *args: Any, **_: Any) -> None:
        self.lines.append(msg % args if args else msg)

    info = warning = error = exception = debug = _add


def _work(issuance: Issuance, count: int) -> list[_Work]:
    """The first ``count`` items the run would claim and POST (AD_READY, no code, the owner's connection)."""
    selected, _lost = issuance.select()
    work: list[_Work] = []
    for row in selected:
        conn_id = issuance.owner_conn_id(row["author_ig_user_id"])
        if row["ad_code"] or conn_id is None:
            continue
        issuance._conn_of[str(row["content_id"])] = conn_id
        work.append(_Work(row, conn_id))
    assert len(work) >= count, f"the sandbox world has only {len(work)} issuable items"
    return work[:count]


@contextmanager
def counted_commits() -> Iterator[list[bool]]:
    """Every ledger transaction committed meanwhile, in any thread (True: a write)."""
    seen: list[bool] = []
    original = LedgerCore._transaction

    @contextmanager
    def counted(self: LedgerCore, *, write: bool = True) -> Iterator[Any]:
        with original(self, write=write) as cur:
            yield cur
        seen.append(write)

    LedgerCore._transaction = counted  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        LedgerCore._transaction = original  # type: ignore[method-assign]


def _post_counts(sandbox: SandboxServer) -> dict[str, int]:
    posts: dict[str, int] = {}
    for r in sandbox.requests_log():
        if r.get("method") == "POST" and "partnership_ad_code" in r.get("path", ""):
            media = r["path"].strip("/").split("/")[-2]
            posts[media] = posts.get(media, 0) + 1
    return posts


def test_200_codes_take_one_write_transaction_per_batch_of_claims_and_of_codes(
    world: dict[str, Any],
    big_sandbox: SandboxServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    issuance = _issuance(world, owner="bulk", max_concurrency=8)
    work = _work(issuance, ITEMS)
    big_sandbox.control("DELETE", "requests")
    calls: dict[str, int] = {"claim_many": 0, "record_codes": 0}
    for name in calls:
        original = getattr(Ledger, name)

        def counted(self: Ledger, *args: Any, _name: str = name, _original: Any = original, **kw: Any) -> Any:
            calls[_name] += 1
            return _original(self, *args, **kw)

        monkeypatch.setattr(Ledger, name, counted)
    with counted_commits() as commits:
        results = issuance.issue_all(work)
    writes, reads = commits.count(True), commits.count(False)
    with capsys.disabled():
        print(
            f"\n[{issuance.ledger.hook.conn_type}] {ITEMS} codes: {writes} write transactions "
            f"({calls['claim_many']} claim_many, {calls['record_codes']} record_codes, the rest decisions), "
            f"{reads} read transactions"
        )
    assert [r.outcome for r in results] == ["issued"] * ITEMS
    assert [r.content_id for r in results] == [w.content_id for w in work]
    batches = math.ceil(ITEMS / CLAIM_BATCH)
    assert calls["claim_many"] == batches
    # A flush when 50 codes wait, and one when a batch has no POST left in flight: at most two per batch.
    assert calls["record_codes"] <= 2 * batches
    # Claims and codes, and the per-brand decisions (one transaction per 200).
    assert writes <= batches * 2 + batches + 1
    assert reads <= batches
    recorded = issuance.ledger.codes_for([w.content_id for w in work])
    assert {m: r.ad_code for m, r in recorded.items()} == {r.content_id: r.ad_code for r in results}
    assert set(_post_counts(big_sandbox).values()) == {1}


def test_concurrent_shards_of_one_run_share_the_brands_max_codes(
    world: dict[str, Any], big_sandbox: SandboxServer
) -> None:
    cap = 70
    shards = [_issuance(world, owner=f"shard{i}", max_codes=cap) for i in range(2)]
    work = _work(shards[0], 160)
    for shard in shards[1:]:
        shard._conn_of.update(shards[0]._conn_of)
    parts = [work[0::2], work[1::2]]
    out: list[list[Any]] = [[], []]

    def run(i: int) -> None:
        out[i] = shards[i].issue_all(parts[i])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    results = out[0] + out[1]
    issued = [r for r in results if r.outcome == "issued"]
    over = [r for r in results if r.outcome == "over_max_codes"]
    assert len(issued) == cap
    assert len(over) == len(work) - cap
    assert {r.detail for r in over} == {f"over max_codes={cap}"}
    assert sum(_post_counts(big_sandbox).values()) == cap
    assert shards[0].ledger.posts_used("run1", world["brand"]["business_id"]) == cap


def test_sigkill_between_post_and_batch_record_then_rerun_posts_nothing_twice_and_loses_nothing(
    world: dict[str, Any], big_sandbox: SandboxServer
) -> None:
    kwargs = {
        **world["brand"],
        "snapshot_path": world["snapshot_path"],
        "claim_lease_seconds": 1.0,
        "max_concurrency": 8,
    }
    marker = world["tmp"] / "recording"
    spec = {"kwargs": kwargs, "run_id": "killed_run", "marker": str(marker)}
    child = subprocess.Popen(
        [sys.executable, str(CHILD), json.dumps(spec)],
        env={**os.environ, **world["env"]},
        stdout=subprocess.DEVNULL,
        stderr=open(world["tmp"] / "child.log", "w"),
    )
    try:
        deadline = time.monotonic() + 120
        while not marker.exists() and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert marker.exists(), (world["tmp"] / "child.log").read_text()[-3000:]
        time.sleep(0.3)  # more POSTs land and wait for their own batch's write
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(30)
    assert child.returncode == -signal.SIGKILL
    created = {c["media_id"]: c["ad_code"] for c in big_sandbox.ad_codes() if c["origin"] == "created"}
    ledger = Ledger.from_conn_id()
    waiting = [m for m, row in ledger.codes_for(list(created)).items() if not row.ad_code]
    assert created and len(waiting) == len(created), "the kill must land before any code was recorded"
    posts_before = _post_counts(big_sandbox)

    # The next attempt starts at once, while the dead attempt's claims are still live: it waits them out
    # and recovers each by lookup before any POST.
    result = IssueAdCodesOperator(task_id="issue", **kwargs).execute(_context("killed_run"))

    posts = _post_counts(big_sandbox)
    assert {m: n for m, n in posts.items() if n > 1} == {}
    assert all(posts[m] == posts_before[m] for m in posts_before)
    created_after = {c["media_id"]: c["ad_code"] for c in big_sandbox.ad_codes() if c["origin"] == "created"}
    recorded = {m: r.ad_code for m, r in ledger.codes_for(list(created_after)).items()}
    assert recorded == created_after  # every code POSTed, by either attempt, is in the ledger: 0 lost
    assert result["counts"]["harvested"] >= len(created)
    assert result["counts"].get("failed", 0) == 0


def test_a_claim_taken_over_while_its_item_waited_in_a_stalled_attempt_is_never_posted(
    world: dict[str, Any], big_sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The attempt's heartbeat stalls (as in a frozen process), its batch's leases end while items still wait
    for the one POST thread, and a rival takes them over: none of those is POSTed after the takeover."""
    lease = 0.6
    big_sandbox.configure(latency_ms=150)
    renew = Ledger.heartbeat

    def stalled(self: Ledger, owner: str, *, lease_seconds: float) -> int:
        if owner == "stalled":
            time.sleep(3)  # longer than the lease: the claims end meanwhile
        return renew(self, owner, lease_seconds=lease_seconds)

    monkeypatch.setattr(Ledger, "heartbeat", stalled)
    issuance = _issuance(world, owner="stalled", max_concurrency=1, claim_lease_seconds=lease)
    work = _work(issuance, 12)
    posted_at: dict[str, float] = {}
    post = Issuance._post

    def timed_post(self: Issuance, item: _Work) -> str:
        posted_at[item.content_id] = time.monotonic()
        return post(self, item)

    monkeypatch.setattr(Issuance, "_post", timed_post)
    rival: dict[str, Any] = {}

    def take_over() -> None:
        time.sleep(lease + 0.3)
        ledger = Ledger.from_conn_id()
        claims = ledger.claim_many([(w.content_id, None) for w in work], owner="rival", lease_seconds=60)
        rival["at"] = time.monotonic()
        rival["recovered"] = {m for m, c in claims.items() if c.kind == "recovered"}

    thread = threading.Thread(target=take_over)
    thread.start()
    results = issuance.issue_all(work)
    thread.join(30)
    recovered = rival["recovered"]
    assert recovered, "the rival took nothing over: the scenario did not happen"
    assert {m for m in recovered if posted_at.get(m, 0.0) > rival["at"]} == set()
    assert len(posted_at) < len(work)
    assert {r.outcome for r in results if r.content_id not in posted_at} == {"failed"}
    assert all(_post_counts(big_sandbox).get(m, 0) == (1 if m in posted_at else 0) for m in recovered)
