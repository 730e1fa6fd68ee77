"""Drill: the ledger's connection cannot be read, or is absent where no embedded ledger is allowed.

Issue 11, finding 1. Two whole DAG runs (``python -m include.drills.dagrun``, i.e. ``airflow dags test``:
tasks in process, the DAG's own retries with their delay compressed to a second):

1. ``AIRFLOW_CONN_PARTNERSHIP_ADS_DB`` is truncated JSON (a hand-edited value, a secrets backend answering
   half a value);
2. the connection is absent and the executor setting is ``CeleryExecutor``: each worker would open a private
   ledger of its own (``airflow dags test`` runs the tasks in its own process all the same).

Both must fail in ``resolve_brands`` (every try) with an error naming ``partnership_ads_db`` and saying what
to do, before any Graph call: the sandbox's request log shows no discovery GET and no POST, no code is
created, nothing is delivered, and no SQLite ledger appears at ``$AIRFLOW_HOME/partnership_ads.db`` (where
the ledger used to fall back) or anywhere under the drill's folder. Before issue 11 both runs succeeded on a
fresh local file and posted a code for every item again.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import pytest

from include.drills.harness import DrillEnv
from include.drills.results import DrillResult

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from include.graph_sandbox.testing import SandboxServer
    from tests.drills.conftest import Evidence

pytestmark = pytest.mark.drill

CONN_VAR = "AIRFLOW_CONN_PARTNERSHIP_ADS_DB"
OUTCOMES: dict[str, bool] = {}
CASES = 2


@pytest.fixture(scope="module")
def ledger_drill(
    drill_sandbox: SandboxServer, drill_airflow_db: Path, drill_results: Path, evidence: Evidence
) -> Iterator[DrillEnv]:
    """One drill environment (one brand) for both runs; writes the drill's row when the module ends."""
    from tests.drills.conftest import WORK

    began = time.monotonic()
    drill = DrillEnv.create(
        "ledger_unreadable",
        drill_sandbox,
        work=WORK / "ledger_unreadable",
        airflow_db=drill_airflow_db,
        brands=1,
    )
    evidence.add_drill(drill)
    yield drill
    drill.keep_evidence()
    created = [c for c in drill.sandbox.ad_codes() if c["origin"] != "seeded"]
    passed = sum(OUTCOMES.values())
    DrillResult(
        drill="ledger_unreadable",
        trials=len(OUTCOMES),
        faults="partnership_ads_db truncated JSON; absent under CeleryExecutor; "
        f"{passed} failed closed before any call",
        issued=len(created),
        verdict="PASS" if passed == len(OUTCOMES) == CASES and not created else "FAIL",
        notes=[case for case, ok in OUTCOMES.items() if not ok],
        seconds=round(time.monotonic() - began, 1),
    ).write()


def _graph_calls(drill: DrillEnv) -> list[dict[str, Any]]:
    return [e for e in drill.sandbox.requests_log() if not e["path"].startswith("/__sandbox__")]


def _sqlite_files(drill: DrillEnv) -> set[str]:
    """Every SQLite database under the drill's folder (by its header, whatever its name)."""
    found: set[str] = set()
    for path in drill.work.rglob("*"):
        if path.is_file():
            with path.open("rb") as handle:
                if handle.read(16) == b"SQLite format 3\x00":
                    found.add(str(path))
    return found


def _run_failing_closed(drill: DrillEnv, label: str, env: dict[str, str]) -> str:
    """Run the pipeline with ``env``; check it failed closed and return its log."""
    drill.sandbox.control("DELETE", "requests")
    databases_before = _sqlite_files(drill)
    run = drill.run_dag(label, env=env)
    log = run.log_path.read_text(errors="replace")
    assert run.state == "failed", f"{run.tries} (log {run.log_path})"
    resolve_tries = run.tries.get("resolve_brands", [])
    # Every try fails the same way (the error is retryable: a backend may recover), none falls back.
    assert len(resolve_tries) > 1 and set(resolve_tries) == {"failed"}, run.tries
    assert all(
        states in (["upstream_failed"], ["skipped"])
        for task, states in run.tries.items()
        if task != "resolve_brands"
    ), run.tries
    assert "LedgerUnavailableError" in log, log[-3000:]
    assert _graph_calls(drill) == [], "a Graph call was made although the ledger could not be opened"
    assert [c for c in drill.sandbox.ad_codes() if c["origin"] != "seeded"] == []
    assert drill.sandbox.webhook_deliveries() == []
    home = drill.work / "airflow"
    assert not (home / "partnership_ads.db").exists(), "the old fallback ledger file was created"
    assert _sqlite_files(drill) == databases_before, "a SQLite database appeared under the drill's folder"
    assert not (drill.work / "out").exists()
    assert not (drill.work / "snapshots").exists()
    return log


def test_a_ledger_connection_that_cannot_be_parsed_fails_the_first_task_before_any_call(
    ledger_drill: DrillEnv,
) -> None:
    OUTCOMES["partnership_ads_db truncated JSON"] = False
    drill = ledger_drill
    value = drill.env[CONN_VAR]
    truncated = value[: len(value) // 2]
    log = _run_failing_closed(drill, "truncated-json", {**drill.env, CONN_VAR: truncated})
    assert (
        "The ledger is unavailable: Connection 'partnership_ads_db' is set in "
        "AIRFLOW_CONN_PARTNERSHIP_ADS_DB but could not be parsed: fix the value (JSON or URI). Stopping "
        "before any call." in log
    ), log[-3000:]
    assert truncated not in log, "the connection's value must not be quoted in the log"
    OUTCOMES["partnership_ads_db truncated JSON"] = True


def test_a_missing_ledger_connection_under_celery_fails_the_first_task_before_any_call(
    ledger_drill: DrillEnv,
) -> None:
    OUTCOMES["partnership_ads_db absent under CeleryExecutor"] = False
    drill = ledger_drill
    env = {k: v for k, v in drill.env.items() if k != CONN_VAR}
    env["AIRFLOW__CORE__EXECUTOR"] = "CeleryExecutor"
    log = _run_failing_closed(drill, "absent-celery", env)
    assert (
        "The ledger's connection 'partnership_ads_db' is not defined, and this deployment runs "
        "CeleryExecutor: each worker would keep a private ledger of its own. Define the connection "
        "(PostgreSQL) on every worker." in log
    ), log[-3000:]
    OUTCOMES["partnership_ads_db absent under CeleryExecutor"] = True
