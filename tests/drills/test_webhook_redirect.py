"""Drill: a webhook receiver that answers 307 to another origin (issue 11, finding 5).

The operators run one by one in forked children (:class:`include.drills.crash.Zygote`) against the drill's
real ledger and the graph sandbox, not as a whole DAG run: the DAG has no parameter for the webhook
connection (and must not have one), so the misconfigured receiver is a second connection the push operator is
pointed at, and the fixed receiver is the drill's usual one (the sandbox's webhook receiver).

1. fetch and issue for one brand;
2. push to a receiver answering ``307`` to another local origin, with credentials in its path and query: the
   push fails, the other origin and the sandbox's receiver get nothing, the webhook's codes stay pending in
   the ledger, the SQL table and the files take every code, and no log shows the path or the query;
3. push again with the fixed receiver: it gets each code once; the SQL table and the files nothing again.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import time
from typing import TYPE_CHECKING

import pytest

from include.drills.audit import audit, file_rows, open_ledger, sql_sink_rows
from include.drills.crash import Zygote
from include.drills.receiver import LocalReceiver
from include.drills.results import DrillResult

if TYPE_CHECKING:
    from collections.abc import Callable

    from include.drills.harness import DrillEnv
    from tests.drills.conftest import Evidence

pytestmark = pytest.mark.drill

REDIRECTING_CONN_ID = "drill_redirecting_webhook"


def _stamp(text: str) -> float:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def test_a_redirecting_webhook_sends_nothing_elsewhere_and_the_fixed_one_gets_each_code_once(
    make_drill: Callable[..., DrillEnv], evidence: Evidence
) -> None:
    began = time.monotonic()
    drill = make_drill("webhook_redirect", brands=1)
    path_token, query_token = secrets.token_hex(12), secrets.token_hex(12)
    evidence.secrets.update((path_token, query_token))  # the secret scan looks for them in every file too
    brand = drill.facts["brands"][0]
    ids = {k: brand[k] for k in ("business_id", "fb_page_id", "ig_user_id", "meta_conn_id")}
    logs = drill.work / "logs"
    logs.mkdir()
    with LocalReceiver() as redirector, LocalReceiver() as elsewhere:
        redirector.redirect_to(elsewhere.url("/collect"), status=307)
        redirecting = {
            "conn_type": "http",
            "host": redirector.url(f"/hooks/{path_token}?token={query_token}"),
            "password": drill.webhook_secret,
        }
        env = {**drill.env, f"AIRFLOW_CONN_{REDIRECTING_CONN_ID.upper()}": json.dumps(redirecting)}
        zygote = Zygote(env)
        push = {"business_id": brand["business_id"], "output_uri": str(drill.work / "out")}
        try:
            assert zygote.run("fetch", run_id="redirect", log=logs / "fetch.log", **ids) == 0
            snapshot = drill.work / "snapshots" / brand["business_id"] / "redirect.parquet"
            issued = zygote.run(
                "issue", run_id="redirect", log=logs / "issue.log", snapshot_path=str(snapshot), **ids
            )
            assert issued == 0, f"issue failed (log {logs / 'issue.log'})"
            misdirected = zygote.run(
                "push",
                run_id="redirect",
                log=logs / "push1.log",
                webhook_conn_id=REDIRECTING_CONN_ID,
                **push,
            )
            after_first = time.time()
            ledger = open_ledger(drill)
            # The outbox is kept per destination (a webhook's is its connection id).
            pending = len(
                ledger.pending_deliveries(brand["business_id"], "webhook", destination=REDIRECTING_CONN_ID)
            )
            sandbox_during = len(drill.sandbox.webhook_deliveries())
            fixed = zygote.run("push", run_id="redirect", try_number=2, log=logs / "push2.log", **push)
        finally:
            zygote.close()
        redirected = len(redirector.received)
        stolen = len(elsewhere.received)

    first_log = (logs / "push1.log").read_text(errors="replace")
    leaked = [t for t in (path_token, query_token) if any(t in p.read_text() for p in logs.glob("*.log"))]
    result = audit(drill)
    rows = sql_sink_rows(ledger)
    stamps = ledger.hook.get_records("SELECT delivered_at FROM partnership_ad_codes")
    resent_sql = [r for r in stamps if _stamp(r[0]) > after_first]
    resent_files = [r for r in file_rows(drill.work / "out") if _stamp(r["delivered_at"]) > after_first]
    verdict = (
        misdirected == 1
        and fixed == 0
        and redirected == 1
        and stolen == 0
        and sandbox_during == 0
        and pending == len(rows) == result.expected > 0
        and "HTTP 307" in first_log
        and not leaked
        and not resent_sql
        and not resent_files
        and result.redelivered == 0
    )
    DrillResult.from_audit(
        result,
        drill="webhook_redirect",
        trials=1,
        faults=f"webhook 307 to another origin ({redirected} request(s) answered 307, {stolen} reached it)",
        passed=verdict and result.clean,
        notes=[
            f"push exit codes {[misdirected, fixed]}; {pending} code(s) pending after the redirect",
            *result.problems[:10],
        ],
        seconds=time.monotonic() - began,
    ).write()
    assert misdirected == 1, f"the push to the redirecting receiver should fail (log {logs / 'push1.log'})"
    assert "HTTP 307" in first_log and "redirect" in first_log, first_log[-2000:]
    assert stolen == 0, "the redirect's target received a request"
    assert redirected == 1, f"the redirecting receiver got {redirected} request(s), expected one batch"
    assert sandbox_during == 0, "the fixed receiver got something before it was configured"
    assert pending == len(rows) == result.expected > 0, (pending, len(rows), result.expected)
    assert not leaked, "the receiver's path or query appears in a log"
    assert fixed == 0, f"the push to the fixed receiver failed (log {logs / 'push2.log'})"
    assert result.clean, result.summary()
    assert result.redelivered == 0, "a webhook batch was delivered twice"
    assert not resent_sql and not resent_files, "the SQL table or the files were sent codes again"
