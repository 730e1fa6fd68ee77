"""Drill: two runs of the DAG for the same brand started at once, sharing the ledger (real PostgreSQL), the
sinks and the sandbox (``rotate`` mode). No media may get two POSTs; every eligible item ends with one valid
code, in the ledger and in every sink.

The two runs use separate Airflow metadata databases (two deployments, or ``max_active_runs`` bypassed): the
only thing that keeps them from issuing twice is the ledger's claim on each media.
"""

from __future__ import annotations

import re
import shutil
import time
from collections import Counter
from typing import TYPE_CHECKING

import pytest

from include.drills.audit import audit
from include.drills.results import DrillResult

if TYPE_CHECKING:
    from collections.abc import Callable

    from include.drills.harness import DrillEnv

pytestmark = pytest.mark.drill


def test_two_simultaneous_runs_for_the_same_brand_never_post_twice_for_a_media(
    make_drill: Callable[..., DrillEnv], postgres_database: str
) -> None:
    began = time.monotonic()
    drill = make_drill("concurrent_runs", brands=1, ledger_uri=postgres_database)
    second_home = drill.work / "airflow-2"
    second_home.mkdir()
    shutil.copy(drill.work / "airflow" / "airflow.db", second_home / "airflow.db")
    second_env = {**drill.env, "AIRFLOW_HOME": str(second_home)}
    # Every POST answers after 2 s, so one run's issuance lasts longer than the two processes' start-up skew
    # and the runs really meet on the same media.
    drill.sandbox.schedule_fault(
        kind="delay", method="POST", path="partnership_ad_code", delay_ms=2000, fraction=1
    )
    first = drill.start_dag("run-a")
    second = drill.start_dag("run-b", env=second_env)
    results = [drill.wait_dag(first), drill.wait_dag(second)]
    drill.sandbox.clear_faults()
    posts = Counter(
        e["path"].split("/")[2]
        for e in drill.sandbox.requests_log()
        if e["method"] == "POST" and e["status"] == 200
    )
    twice = sorted(media for media, n in posts.items() if n > 1)
    # Proof that the runs met: one of them found a media claimed by the other while it was being issued.
    contended = sum(
        max(
            (int(n) for n in re.findall(r"claimed_elsewhere (\d+)", r.log_path.read_text(errors="replace"))),
            default=0,
        )
        for r in results
    )
    result = audit(drill)
    drill.keep_database_rows(postgres_database, "postgres_ledger")
    states = [r.state for r in results]
    notes = [
        f"run states {states}",
        f"POSTs {sum(posts.values())} on {len(posts)} media; claimed_elsewhere seen {contended} times",
    ]
    if result.redelivered:
        notes.append(f"{result.redelivered} code(s) sent to the webhook twice in the same batch (same key)")
    verdict = states == ["success", "success"] and not twice and result.clean and contended > 0
    DrillResult.from_audit(
        result,
        drill="concurrent_runs",
        trials=1,
        faults="two DAG runs for one brand at once",
        passed=verdict,
        notes=notes + result.problems[:10],
        seconds=time.monotonic() - began,
    ).write()
    assert states == ["success", "success"], (
        f"{[r.tries for r in results]} (logs {[r.log_path for r in results]})"
    )
    assert not twice, f"media posted twice: {twice}"
    assert contended > 0, "the two runs never competed for a media: the drill proved nothing"
    assert result.clean, result.summary()
