"""Drill: a code revoked between a run's fetch and its issue task is never delivered as active again.

Issue 11, finding 3.

1. A first whole DAG run (``python -m include.drills.dagrun``) issues every code and delivers it to the SQL
   table, the webhook receiver and the files.
2. A second run's fetch (the operator in a forked child of ``include.drills.crash``, not a DAG run: a whole
   run cannot be paused between two tasks) takes its snapshot: the media's ``partnership_info`` still shows
   the code.
3. The revoke DAG (``revoke_partnership_ad_codes``, a whole run with ``media_ids``) deletes the code at the
   sandbox, marks it revoked in the ledger and pushes ``state=revoked`` to every sink that had it.
4. The second run's issue and push operators run on the snapshot taken before the revocation.

Expected: the issue task reports the media ``revoked`` (never harvested), the ledger keeps it revoked, no
POST is made for it, and no sink receives it as active after the revocation: the SQL row stays ``revoked``,
the webhook receiver's last delivery of it is ``revoked``, the files' latest row is ``revoked``. Before
issue 11 the issue task harvested the snapshot's code over the revocation and the push re-delivered it as
active everywhere.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

import pytest

from include.drills.audit import audit, open_ledger, sink_history
from include.drills.crash import Zygote
from include.drills.results import DrillResult

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from include.drills.harness import DrillEnv

pytestmark = pytest.mark.drill

RUN = "second_run"
REVOKE_DAG = "revoke_partnership_ad_codes"


def _operator_result(log: Path) -> dict[str, Any]:
    """The ``RESULT:`` line a Zygote child logs when its operator returned."""
    for line in log.read_text(errors="replace").splitlines():
        if "RESULT: " in line:
            return json.loads(line.split("RESULT: ", 1)[1])
    raise AssertionError(f"no RESULT line in {log}: {log.read_text(errors='replace')[-3000:]}")


def test_a_code_revoked_between_fetch_and_issue_is_never_delivered_as_active_again(
    make_drill: Callable[..., DrillEnv],
) -> None:
    import pandas as pd

    began = time.monotonic()
    drill = make_drill("revoke_mid_run", brands=1)
    brand = drill.facts["brands"][0]
    ids = {k: brand[k] for k in ("business_id", "fb_page_id", "ig_user_id", "meta_conn_id")}
    first = drill.run_dag("first")
    assert first.state == "success", f"{first.tries} (log {first.log_path})"
    created = sorted(
        c["media_id"] for c in drill.sandbox.ad_codes() if c["origin"] == "created" and c["valid"]
    )
    assert created, "the first run created no code to revoke"
    media = created[0]
    ledger = open_ledger(drill)
    code = ledger.code(media).ad_code
    assert [s for _, s in sink_history(drill, media, ledger=ledger)["webhook"]] == ["active"]
    ledger_id = ledger.identity()

    logs = drill.work / "logs"
    zygote = Zygote(drill.env)
    try:
        fetched = zygote.run("fetch", run_id=RUN, log=logs / "fetch.log", ledger_id=ledger_id, **ids)
        assert fetched == 0, (logs / "fetch.log").read_text()[-3000:]
        snapshot = _operator_result(logs / "fetch.log")["snapshot_path"]
        shown = pd.read_parquet(snapshot)
        shown = shown[shown["content_id"].astype(str) == media]
        assert list(shown["ad_code"]) == [code], "the snapshot must still show the code"

        revoked_mark = time.time()
        revoke = drill.run_dag("revoke", {"media_ids": [media]}, dag_id=REVOKE_DAG)
        assert revoke.state == "success", f"{revoke.tries} (log {revoke.log_path})"
        assert not any(c["valid"] for c in drill.sandbox.ad_codes() if c["media_id"] == media)
        posts_before = len(drill.sandbox.requests_log())

        issue_log, push_log = logs / "issue.log", logs / "push.log"
        issued = zygote.run(
            "issue", run_id=RUN, log=issue_log, snapshot_path=snapshot, ledger_id=ledger_id, **ids
        )
        assert issued == 0, issue_log.read_text()[-3000:]
        pushed = zygote.run(
            "push", run_id=RUN, log=push_log, business_id=brand["business_id"], ledger_id=ledger_id
        )
        assert pushed == 0, push_log.read_text()[-3000:]
    finally:
        zygote.close()

    counts = _operator_result(issue_log)["counts"]
    decision = {cid: status for cid, status, _ in ledger.brand_items(brand["business_id"])}.get(media)
    row = ledger.code(media)
    later_posts = [
        e
        for e in drill.sandbox.requests_log()[posts_before:]
        if e["method"] == "POST" and not e["path"].startswith("/__sandbox__")
    ]
    history = sink_history(drill, media, ledger=ledger)
    active_after = {
        sink: [when for when, state in records if state == "active" and when >= revoked_mark]
        for sink, records in history.items()
        if sink != "sql"
    }
    latest = {sink: records[-1][1] if records else None for sink, records in history.items()}
    result = audit(drill, revoked=[media])
    verdict = (
        counts["revoked"] == 1
        and counts["harvested"] == 0
        and decision == "revoked"
        and (row.state, row.ad_code) == ("revoked", code)
        and not later_posts
        and not any(active_after.values())
        and latest == {"sql": "revoked", "webhook": "revoked", "files": "revoked"}
    )
    DrillResult.from_audit(
        result,
        drill="revoke_mid_run",
        trials=1,
        faults="revoke DAG run between a run's fetch and its issue task (operators run one by one)",
        passed=verdict and result.clean,
        notes=[f"issue counts {counts}", f"sinks' latest states {latest}", *result.problems[:8]],
        seconds=time.monotonic() - began,
    ).write()
    assert counts["revoked"] == 1 and counts["harvested"] == 0, f"issue counts {counts} (log {issue_log})"
    assert decision == "revoked", decision
    assert (row.state, row.ad_code) == ("revoked", code), row
    assert not later_posts, f"a POST after the revocation: {later_posts}"
    assert not any(active_after.values()), f"delivered as active after the revocation: {active_after}"
    assert latest == {"sql": "revoked", "webhook": "revoked", "files": "revoked"}, history
    assert result.clean, result.summary()
