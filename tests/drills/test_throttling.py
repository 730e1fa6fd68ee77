"""Drills: throttling in the middle of discovery and of issuance, during whole DAG runs.

1. Within the maximum wait: a BUC throttle (80004) telling ``estimated_time_to_regain_access`` on the
   second discovery page of one brand, code 4 on the second page of the other, and codes 17, 613 and 80002
   (the last telling its wait) on POSTs in the middle of issuance. The run must finish in one try of every
   task (no throttling error reaches a failed task), with every eligible code issued once, and waits no
   shorter than told.
2. Beyond the maximum wait: ``max_throttle_wait_seconds`` is set below the told wait. The issuing task must
   defer to the triggerer until the told wait is over (``airflow dags test`` runs the trigger in line) and
   finish the job in the same try when it resumes (no code lost, invalidated or doubled), again not calling
   before the told wait is over.

Told waits are fractional minutes (0.05 min = 3 s) so the drills stay short; "no shorter than told" is read
from the sandbox's request log: the gap between the throttled answer and the next call with the same token.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from include.drills.audit import audit, describe_fired
from include.drills.results import DrillResult

if TYPE_CHECKING:
    from collections.abc import Callable

    from include.drills.harness import DrillEnv

pytestmark = pytest.mark.drill

DISCOVERY = "partnership-ads-advertisable-content"
TOLD_MINUTES = 0.05
# A request another thread had already sent when the throttled answer arrived reaches the sandbox a few
# milliseconds later: it was in flight, not a call made after the answer. Arrivals within this window after
# the throttled answer count as in flight.
IN_FLIGHT_SECONDS = 0.1
# random.Random(10): first draw 0.57, second 0.43: with fraction 0.5 the fault skips page 1 and hits page 2.
SECOND_PAGE = {"fraction": 0.5, "seed": 10, "count": 1}


def _time(entry: dict[str, Any]) -> float:
    return dt.datetime.fromisoformat(entry["time"].replace("Z", "+00:00")).timestamp()


def _posts_needed(drill: DrillEnv) -> list[str]:
    return [e.content_id for e in drill.expected if not e.seeded_ad_code]


def _wait_gaps(drill: DrillEnv, log: list[dict[str, Any]]) -> list[tuple[str, float, float]]:
    """For every throttled answer that told a wait: (what, told seconds, gap to the next call, same token).

    Calls in flight when the answer arrived (see ``IN_FLIGHT_SECONDS``) are not counted as the next call.

    Discovery calls are made with the brand's token (same business path); POSTs with the media owner's token
    (the next POST on any media of the same author).
    """
    author = {e.content_id: e.author_ig_user_id for e in drill.eligible}
    gaps = []
    for index, entry in enumerate(log):
        if entry["fault"] != "throttle":
            continue
        told = float(entry.get("told_minutes") or 0) * 60
        if not told:
            continue
        if entry["method"] == "GET":

            def same_token(other: dict[str, Any], path: str = entry["path"]) -> bool:
                return other["path"] == path

        else:
            owner = author.get(entry["path"].split("/")[2])

            def same_token(other: dict[str, Any], owner: str | None = owner) -> bool:
                return other["method"] == "POST" and author.get(other["path"].split("/")[2]) == owner

        answered = _time(entry)
        later = [e for e in log[index + 1 :] if same_token(e) and _time(e) - answered > IN_FLIGHT_SECONDS]
        if later:
            gaps.append((f"{entry['method']} {entry['path']}", told, _time(later[0]) - _time(entry)))
    return gaps


def _told(log: list[dict[str, Any]], faults: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Attach each throttle's told wait (from the fault spec that matches its path) to the log entry."""
    for entry in log:
        if entry["fault"] == "throttle":
            for spec in faults:
                if spec["kind"] == "throttle" and spec["path"] in entry["path"]:
                    entry["told_minutes"] = spec.get("regain_minutes") or 0
    return log


def _record(
    name: str,
    drill: DrillEnv,
    log: list[dict[str, Any]],
    verdict: bool,
    notes: list[str],
    began: float,
    trials: int = 1,
) -> None:
    result = audit(drill)
    DrillResult.from_audit(
        result,
        drill=name,
        trials=trials,
        faults=describe_fired(log),
        passed=verdict and result.clean,
        notes=notes + result.problems[:10],
        seconds=time.monotonic() - began,
    ).write()


def test_throttles_mid_discovery_and_issuance_are_waited_out_without_failing_a_task(
    make_drill: Callable[..., DrillEnv],
) -> None:
    began = time.monotonic()
    drill = make_drill("throttling")
    first, second = (b["business_id"] for b in drill.facts["brands"])
    posts = _posts_needed(drill)
    middle = posts[len(posts) // 2 : len(posts) // 2 + 3]
    faults = [
        {
            "kind": "throttle",
            "code": 80004,
            "regain_minutes": TOLD_MINUTES,
            "method": "GET",
            "path": f"/{first}/{DISCOVERY}",
            **SECOND_PAGE,
        },
        {
            "kind": "throttle",
            "code": 4,
            "regain_minutes": 0,
            "method": "GET",
            "path": f"/{second}/{DISCOVERY}",
            **SECOND_PAGE,
        },
        {"kind": "throttle", "code": 17, "regain_minutes": 0, "method": "POST", "path": f"/{middle[0]}/"},
        {"kind": "throttle", "code": 613, "regain_minutes": 0, "method": "POST", "path": f"/{middle[1]}/"},
        {
            "kind": "throttle",
            "code": 80002,
            "regain_minutes": TOLD_MINUTES,
            "method": "POST",
            "path": f"/{middle[2]}/",
        },
    ]
    for spec in faults:
        drill.sandbox.schedule_fault(**spec)
    run = drill.run_dag("run")
    log = _told(drill.sandbox.requests_log(), faults)
    throttled = [e for e in log if e["fault"] == "throttle"]
    gaps = _wait_gaps(drill, log)
    short = [g for g in gaps if g[2] < g[1]]
    extra_tries = {task: states for task, states in run.tries.items() if states != ["success"]}
    first_page_ok = all(
        any(e["path"] == f["path"] and e["fault"] is None and _time(e) <= _time(t) for e in log)
        for f in faults[:2]
        for t in throttled
        if t["path"] == f["path"]
    )
    notes = [f"waits (told s, waited s): {[(round(t), round(g, 2)) for _, t, g in gaps]}"]
    verdict = (
        run.state == "success" and len(throttled) == 5 and not short and not extra_tries and first_page_ok
    )
    _record("throttling_within_max_wait", drill, log, verdict, notes, began)
    assert run.state == "success", f"{run.tries} (log {run.log_path})"
    assert len(throttled) == 5, f"expected 5 throttled answers, got {[e['path'] for e in throttled]}"
    assert first_page_ok, "a discovery throttle hit the first page, not the middle of discovery"
    assert not extra_tries, f"a throttling error reached a failed task: {extra_tries}"
    assert len(gaps) == 2 and not short, f"waited less than told: {gaps}"
    assert audit(drill).clean, audit(drill).summary()


def test_a_throttle_beyond_the_maximum_wait_defers_the_task_and_it_finishes_when_resumed(
    make_drill: Callable[..., DrillEnv],
) -> None:
    began = time.monotonic()
    drill = make_drill("throttling_beyond_max", meta_extra={"max_throttle_wait_seconds": 1})
    posts = _posts_needed(drill)
    target = posts[len(posts) // 2]
    faults = [
        {
            "kind": "throttle",
            "code": 80002,
            "regain_minutes": TOLD_MINUTES,
            "method": "POST",
            "path": f"/{target}/",
        },
    ]
    for spec in faults:
        drill.sandbox.schedule_fault(**spec)
    run = drill.run_dag("run")
    log = _told(drill.sandbox.requests_log(), faults)
    gaps = _wait_gaps(drill, log)
    short = [g for g in gaps if g[2] < g[1]]
    issue_tries = run.tries_of("issue_ad_codes")
    # A deferral keeps the try: one successful try of every task, the issuing one resumed after the wait.
    extra_tries = {task: states for task, states in run.tries.items() if states != ["success"]}
    deferred = "deferring to the triggerer" in Path(run.log_path).read_text(errors="replace")
    notes = [
        f"issue tries {issue_tries}; deferred to the triggerer: {deferred}",
        f"waits (told s, waited s): {[(t, round(g, 2)) for _, t, g in gaps]}",
    ]
    verdict = run.state == "success" and deferred and not extra_tries and gaps and not short
    _record("throttling_beyond_max_wait", drill, log, bool(verdict), notes, began)
    assert run.state == "success", f"{run.tries} (log {run.log_path})"
    assert deferred, f"the issuing task did not defer to the triggerer (log {run.log_path})"
    assert not extra_tries, f"a task needed another try: {extra_tries}"
    assert gaps and not short, f"the next try called before the told wait was over: {gaps}"
    assert audit(drill).clean, audit(drill).summary()
