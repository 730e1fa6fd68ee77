"""Drills: a sink that is down for several tries of the push task.

1. The webhook answers 503 to the first four batches (two tries of each brand's push task, whole DAG run with
   the DAG's own retries): once it is back it gets every code exactly once, and the SQL table and the files,
   which took everything on the first try, are not sent anything again.
2. The SQL sink's database is unreachable (a PostgreSQL behind a proxy that is switched off) for three tries
   of the push operator: the webhook and the files get everything on the first try and nothing after; once
   the database is back the table gets every code exactly once.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import psycopg2
import pytest

from include.drills.audit import audit, describe_fired, file_rows, open_ledger, sql_sink_rows
from include.drills.crash import Zygote
from include.drills.proxy import SwitchableProxy
from include.drills.results import DrillResult

if TYPE_CHECKING:
    from collections.abc import Callable

    from include.drills.harness import DrillEnv

pytestmark = pytest.mark.drill

WEBHOOK_DOWN = {
    "kind": "http_500",
    "status": 503,
    "method": "POST",
    "path": "/__sandbox__/webhook",
    "count": 4,
}


def _stamp(text: str) -> float:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def test_a_webhook_down_for_two_tries_gets_every_code_once_and_the_other_sinks_nothing_twice(
    make_drill: Callable[..., DrillEnv],
) -> None:
    began = time.monotonic()
    drill = make_drill("sink_outage_webhook")
    drill.sandbox.schedule_fault(**WEBHOOK_DOWN)
    run = drill.run_dag("run")
    result = audit(drill)
    push_tries = run.tries_of("push_ad_codes")
    deliveries = drill.sandbox.webhook_deliveries()
    first_accepted = min((d["received_at"] for d in deliveries), default=0.0)
    ledger = open_ledger(drill)
    ledger_rows = ledger.hook.get_records("SELECT delivered_at FROM partnership_ad_codes")
    resent_sql = [r for r in ledger_rows if _stamp(r[0]) > first_accepted]
    resent_files = [r for r in file_rows(drill.work / "out") if _stamp(r["delivered_at"]) > first_accepted]
    retried_thrice = all(states == ["failed", "failed", "success"] for states in push_tries.values())
    verdict = (
        run.state == "success"
        and retried_thrice
        and len(push_tries) == 2
        and not resent_sql
        and not resent_files
        and result.redelivered == 0
        and len(sql_sink_rows(ledger)) == result.expected
    )
    DrillResult.from_audit(
        result,
        drill="sink_outage_webhook",
        trials=1,
        faults=f"webhook 503 x4 ({describe_fired(drill.sandbox.requests_log()) or 'receiver faults'})",
        passed=verdict and result.clean,
        notes=[f"push tries {push_tries}", *result.problems[:10]],
        seconds=time.monotonic() - began,
    ).write()
    assert run.state == "success", f"{run.tries} (log {run.log_path})"
    assert retried_thrice, f"each push should fail twice then succeed: {push_tries}"
    assert result.clean, result.summary()
    assert result.redelivered == 0, "a webhook batch was delivered twice"
    assert not resent_sql and not resent_files, "a sink that had the codes was sent them again"


def test_a_sql_sink_database_unreachable_for_three_tries_gets_every_code_once_when_back(
    make_drill: Callable[..., DrillEnv], postgres_database: str
) -> None:
    began = time.monotonic()
    drill = make_drill("sink_outage_database", brands=1)
    target = urlsplit(postgres_database)
    proxy = SwitchableProxy(target.hostname or "127.0.0.1", target.port or 5432)
    sink_uri = f"postgresql://{target.username}@127.0.0.1:{proxy.port}{target.path}"
    env = {**drill.env, "AIRFLOW_CONN_DRILL_SINK_DB": sink_uri}
    brand = drill.facts["brands"][0]
    ids = {k: brand[k] for k in ("business_id", "fb_page_id", "ig_user_id", "meta_conn_id")}
    logs = drill.work / "logs"
    logs.mkdir()
    zygote = Zygote(env)
    tries: list[int] = []
    try:
        assert zygote.run("fetch", run_id="outage", log=logs / "fetch.log", **ids) == 0
        snapshot = drill.work / "snapshots" / brand["business_id"] / "outage.parquet"
        assert (
            zygote.run("issue", run_id="outage", log=logs / "issue.log", snapshot_path=str(snapshot), **ids)
            == 0
        )
        push = {
            "business_id": brand["business_id"],
            "sql_conn_id": "drill_sink_db",
            "output_uri": str(drill.work / "out"),
        }
        proxy.set_down(True)
        for attempt in (1, 2, 3):
            tries.append(
                zygote.run(
                    "push", run_id="outage", try_number=attempt, log=logs / f"push{attempt}.log", **push
                )
            )
        after_outage = time.time()
        webhook_during = len(drill.sandbox.webhook_deliveries())
        proxy.set_down(False)
        tries.append(zygote.run("push", run_id="outage", try_number=4, log=logs / "push4.log", **push))
    finally:
        zygote.close()
        refused = proxy.refused
        proxy.close()
    with psycopg2.connect(postgres_database) as conn, conn.cursor() as cur:
        cur.execute("SELECT business_id, content_id, ad_code, state, delivered_at FROM partnership_ad_codes")
        sink_rows = cur.fetchall()
    drill.keep_database_rows(postgres_database, "postgres_sink")
    result = audit(drill, sql_rows=[tuple(map(str, r[:4])) for r in sink_rows])
    late_files = [r for r in file_rows(drill.work / "out") if _stamp(r["delivered_at"]) > after_outage]
    webhook_after = len(drill.sandbox.webhook_deliveries()) - webhook_during
    verdict = (
        tries == [1, 1, 1, 0]
        and refused > 0
        and not late_files
        and webhook_after == 0
        and len(sink_rows) == result.expected
    )
    DrillResult.from_audit(
        result,
        drill="sink_outage_database",
        trials=1,
        faults=f"sink database unreachable for 3 tries ({refused} connections refused)",
        passed=verdict and result.clean,
        notes=[f"push exit codes {tries}", *result.problems[:10]],
        seconds=time.monotonic() - began,
    ).write()
    assert tries == [1, 1, 1, 0], f"push exit codes per try: {tries} (logs in {logs})"
    assert refused > 0, "the proxy never refused a connection: the outage did not happen"
    assert result.clean, result.summary()
    assert len(sink_rows) == result.expected
    assert not late_files and webhook_after == 0, "the files or the webhook were sent codes again"
