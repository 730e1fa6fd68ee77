"""Drill: the issuing task killed with SIGKILL at random points, twenty trials, each followed by a rerun.

Each trial starts from the same state (sandbox reset in ``rotate`` mode, the ledger right after discovery),
runs ``IssueAdCodesOperator`` in a forked child and kills it:

- ``after-post``: the sandbox creates the code of one POST, then holds the answer (a ``delay`` fault with
  ``after: true``); the child is killed while it waits, i.e. between a successful POST and its ledger write;
- ``after-codes``: killed the moment the sandbox has created a random number of codes;
- ``random``: killed after a random delay (before, during or after any claim, POST or ledger write).

Then the operator runs again at once, while the dead attempt's claims are still live (it waits them out and
recovers each by lookup), and the push operator delivers. Every trial must end with no code invalidated by a
repeated POST, and no code missing from the ledger or the sinks.
"""

from __future__ import annotations

import random
import shutil
import time
from typing import TYPE_CHECKING

import pytest

from include.drills.audit import audit, open_ledger
from include.drills.crash import Zygote, wait_for, with_graph_timeout
from include.drills.results import DrillResult

if TYPE_CHECKING:
    from collections.abc import Callable

    from include.drills.harness import DrillEnv

pytestmark = pytest.mark.drill

TRIALS = 20
LEASE_SECONDS = 1.0
MODES = ("after-post", "after-codes", "random")


def test_sigkill_of_the_issuing_task_then_rerun_loses_and_invalidates_nothing(
    make_drill: Callable[..., DrillEnv],
) -> None:
    began = time.monotonic()
    drill = make_drill("crashes", brands=1)
    sandbox = drill.sandbox
    sandbox.configure(latency_ms=20)
    brand = drill.facts["brands"][0]
    ledger_path = drill.facts["ledger_path"]
    snapshot = drill.work / "snapshots" / brand["business_id"] / "drill_crash.parquet"
    issue_kwargs = {
        "snapshot_path": str(snapshot),
        "business_id": brand["business_id"],
        "fb_page_id": brand["fb_page_id"],
        "ig_user_id": brand["ig_user_id"],
        "meta_conn_id": brand["meta_conn_id"],
        "claim_lease_seconds": LEASE_SECONDS,
    }
    push_kwargs = {"business_id": brand["business_id"], "output_uri": str(drill.work / "out")}
    logs = drill.work / "logs"
    logs.mkdir()
    rng = random.Random(20)
    # A request time-out above the 3 s answer delay of the after-post faults, short enough to wait out.
    zygote = Zygote(with_graph_timeout(drill.env, 5.0))
    totals = {"issued": 0, "invalidated": 0, "lost": 0, "duplicated": 0, "expected": 0}
    in_window = 0
    problems: list[str] = []
    kills: dict[str, int] = dict.fromkeys(MODES, 0)
    try:
        assert (
            zygote.run(
                "fetch",
                run_id="drill_crash",
                log=logs / "fetch.log",
                **{k: issue_kwargs[k] for k in ("business_id", "fb_page_id", "ig_user_id", "meta_conn_id")},
            )
            == 0
        ), (logs / "fetch.log").read_text()[-3000:]
        template = drill.work / "ledger_after_fetch.db"
        shutil.copy(ledger_path, template)
        # Calibration: how long one uninterrupted issuing run takes, so random kills land inside it.
        started = time.monotonic()
        assert zygote.run("issue", run_id="calibration", log=logs / "calibration.log", **issue_kwargs) == 0
        full_run = time.monotonic() - started
        trial = attempts = 0
        while trial < TRIALS and attempts < TRIALS * 2:
            attempts += 1
            mode = MODES[trial % len(MODES)]
            sandbox.reset()
            shutil.copy(template, ledger_path)
            shutil.rmtree(drill.work / "out", ignore_errors=True)
            if mode == "after-post":
                sandbox.schedule_fault(
                    kind="delay",
                    method="POST",
                    path="partnership_ad_code",
                    after=True,
                    delay_ms=3000,
                    fraction=0.25,
                    count=1,
                    seed=trial,
                )
            pid = zygote.start(
                "issue", run_id=f"trial{trial}", log=logs / f"trial{trial}-killed.log", **issue_kwargs
            )
            if mode == "after-post":
                landed = wait_for(lambda: not sandbox.control("GET", "faults").json()["data"])
            elif mode == "after-codes":
                target = rng.randint(1, 12)
                landed = wait_for(
                    lambda target=target: (
                        len([c for c in sandbox.ad_codes() if c["origin"] == "created"]) >= target
                    )
                )
            else:
                time.sleep(rng.uniform(0.02, 0.7 * full_run))
                landed = True
            zygote.kill(pid)
            if zygote.wait() != -9:
                continue  # the child finished before the kill: not a crash trial, draw again
            kills[mode] += 1
            created = {c["media_id"] for c in sandbox.ad_codes() if c["origin"] == "created"}
            recorded = {r.content_id for r in open_ledger(drill).codes() if r.ad_code}
            in_window += len(created - recorded)
            sandbox.clear_faults()
            # The rerun starts at once: the dead attempt's claims are still live. It must wait them out
            # (never report them claimed elsewhere and succeed) and recover each by lookup.
            rerun = zygote.run(
                "issue",
                run_id=f"trial{trial}",
                try_number=2,
                log=logs / f"trial{trial}-rerun.log",
                **issue_kwargs,
            )
            pushed = zygote.run(
                "push", run_id=f"trial{trial}", log=logs / f"trial{trial}-push.log", **push_kwargs
            )
            result = audit(drill)
            for key in totals:
                totals[key] += getattr(result, key)
            if rerun != 0 or pushed != 0 or not result.clean or not landed:
                problems.append(
                    f"trial {trial} ({mode}): landed={landed} rerun={rerun} push={pushed}; {result.summary()}"
                )
            trial += 1
    finally:
        zygote.close()
        sandbox.configure(latency_ms=0)
    verdict = not problems and in_window > 0 and sum(kills.values()) == TRIALS
    DrillResult(
        drill="crash_sigkill_issue",
        trials=TRIALS,
        faults=f"SIGKILL: {kills['after-post']} after a POST, {kills['after-codes']} after N codes, "
        f"{kills['random']} at random; {in_window} codes created but unrecorded at the kill",
        verdict="PASS" if verdict else "FAIL",
        notes=problems[:10],
        seconds=round(time.monotonic() - began, 1),
        **totals,
    ).write()
    assert not problems, "\n".join(problems)
    assert sum(kills.values()) == TRIALS, f"not every child was killed by SIGKILL: {kills}"
    assert in_window > 0, "no kill landed between a successful POST and its ledger write"
