"""Drill: two workers, the first one's lease ending while its POST is in flight, in ``rotate`` mode.

Worker A (a forked issuing task) sends a POST that the sandbox holds for 4 s before creating the code, and is
frozen with SIGSTOP right then: its heartbeat stops with it, so its 1-second lease runs out while the POST is
still in flight. Worker B (another process) then issues for the same brand: it takes A's claim over (a new
fencing token), lets the lost claim's possible POST time out before looking the media up, finds the code A's
POST created and records it; no second POST. A is then resumed: its answer arrives, its write carries the old
fencing token and is refused, and it settles the media by lookup. In ``rotate`` mode a second POST would have
invalidated the first code, so the audit's ``invalidated`` column is the proof.

On the code before fencing, B looked up at once, posted again (one code invalidated), and A's late write then
overwrote whatever B had recorded: the ledger could keep a code Meta had already replaced.
"""

from __future__ import annotations

import os
import signal
import time
from typing import TYPE_CHECKING

import pytest

from include.drills.audit import audit
from include.drills.crash import Zygote, wait_for, with_graph_timeout
from include.drills.results import DrillResult

if TYPE_CHECKING:
    from collections.abc import Callable

    from include.drills.harness import DrillEnv

pytestmark = pytest.mark.drill

LEASE_SECONDS = 1.0
POST_HELD_MS = 4000
GRAPH_TIMEOUT = 8.0  # above the held POST: a lost claim's POST is waited out this long after its lease


def test_a_worker_whose_lease_ends_mid_post_is_fenced_and_nothing_is_posted_twice(
    make_drill: Callable[..., DrillEnv],
) -> None:
    began = time.monotonic()
    drill = make_drill("stale_writer", brands=1)
    sandbox = drill.sandbox
    brand = drill.facts["brands"][0]
    env = with_graph_timeout(drill.env, GRAPH_TIMEOUT)
    worker_a, worker_b = Zygote(env), Zygote(env)
    logs = drill.work / "logs"
    logs.mkdir()
    ids = {k: brand[k] for k in ("business_id", "fb_page_id", "ig_user_id", "meta_conn_id")}
    snapshot = drill.work / "snapshots" / brand["business_id"] / "drill_stale.parquet"
    issue = {**ids, "snapshot_path": str(snapshot), "claim_lease_seconds": LEASE_SECONDS}
    notes: list[str] = []
    try:
        assert worker_a.run("fetch", run_id="drill_stale", log=logs / "fetch.log", **ids) == 0
        sandbox.schedule_fault(
            kind="delay", method="POST", path="partnership_ad_code", delay_ms=POST_HELD_MS, count=1
        )
        pid_a = worker_a.start(
            "issue", run_id="drill_stale", log=logs / "worker_a.log", max_concurrency=1, **issue
        )
        in_flight = wait_for(lambda: not sandbox.control("GET", "faults").json()["data"])
        os.kill(pid_a, signal.SIGSTOP)  # A's POST is held by the sandbox; A and its heartbeat freeze
        time.sleep(LEASE_SECONDS + 0.5)
        b_exit = worker_b.run(
            "issue", run_id="drill_stale", try_number=2, log=logs / "worker_b.log", max_concurrency=4, **issue
        )
        os.kill(pid_a, signal.SIGCONT)
        a_exit = worker_a.wait()
        pushed = worker_b.run(
            "push", run_id="drill_stale", log=logs / "push.log", business_id=brand["business_id"]
        )
    finally:
        worker_a.close()
        worker_b.close()
    log_a = (logs / "worker_a.log").read_text()
    log_b = (logs / "worker_b.log").read_text()
    fenced = "claim was taken over while its POST was in flight" in log_a
    waited = "a lost claim's POST may be in flight" in log_b
    result = audit(drill)
    for name, ok in (
        ("A's POST was in flight when A froze", in_flight),
        ("B waited out the lost claim's POST", waited),
        ("A's late write was refused and settled by lookup", fenced),
        ("both workers and the push succeeded", (a_exit, b_exit, pushed) == (0, 0, 0)),
    ):
        if not ok:
            notes.append(f"not seen: {name}")
    passed = not notes and result.clean
    DrillResult.from_audit(
        result,
        drill="stale_writer",
        trials=1,
        faults=f"worker A frozen (SIGSTOP) with a POST held {POST_HELD_MS} ms, its lease "
        f"{LEASE_SECONDS:g} s; worker B takes over",
        passed=passed,
        notes=notes + ([result.summary()] if not result.clean else []),
        seconds=time.monotonic() - began,
    ).write()
    assert not notes, notes
    assert result.clean, result.summary()
