"""Drills on the distributed topology: Celery workers, PostgreSQL and Redis failing during a sharded run.

One native topology for the four drills (module fixture): api-server, scheduler, dag-processor, triggerer and
two Celery workers (two slots each) on a PostgreSQL cluster and a Redis server of the drills' own (never the
shared ones: they are restarted here), the graph sandbox in ``rotate`` mode. Each drill triggers a run
through the REST API with small creator shards (several ``issue_ad_codes`` shards at once), injects its fault
in the middle of issuance, lets Airflow's retries finish the run, and audits the sandbox's own record against
the ledger and the three sinks: 0 lost, 0 duplicated, 0 invalidated.

1. ``distributed_sigkill_worker``: SIGKILL of the whole process group of the Celery worker running an issue
   shard (worker, pool, task supervisor, task) once the sandbox has issued some but not all codes; the worker
   is started again as a supervisor would, the scheduler fails the orphaned try on its missed heartbeats and
   the retry recovers by the ledger's claims.
2. ``distributed_redis_restart``: the Celery broker restarted while shards run.
3. ``distributed_postgres_restart``: the PostgreSQL cluster (metadata and ledger databases) restarted while
   shards run; any Airflow process that dies of it is started again.
4. ``distributed_throttle_10min``: a POST answered with a throttle telling
   ``estimated_time_to_regain_access`` = 10 minutes (over the hook's ``max_throttle_wait_seconds``). The
   shard must be ``deferred`` as the REST API shows it (not holding a worker slot); the slot-seconds it held
   between the throttled answer and the deferral are recorded. Ten real minutes are not waited: the
   sandbox's clock is advanced ten minutes, the ledger's record of the block is ended (as ten minutes
   would), and the deferred task instance is cleared through the REST API (``clearTaskInstances``), so a
   new try resumes from the ledger's state.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

import pytest

from include.drills.audit import audit, open_ledger
from include.drills.distributed import FINISHED, ISSUE_TASK, DistributedTopology, Run, describe_tries, key_of
from include.drills.results import DrillResult
from include.topology.native import TopologyError
from include.topology.own_servers import OwnPostgres, OwnRedis, OwnServerError
from tests.drills.conftest import WORK

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from include.drills.harness import DrillEnv
    from tests.drills.conftest import Evidence

pytestmark = [pytest.mark.drill, pytest.mark.timeout(900)]

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
SANDBOX_ITEMS = 80  # 3 brands, about 34 POSTs by 20 creators
CREATORS_PER_SHARD = 2  # 3 to 4 shards per brand
RETRY_DELAY_SECONDS = 2
CLAIM_LEASE_SECONDS = 15  # heartbeated every 3.75 s while a try lives; 120 s in the DAG
GRAPH_TIMEOUT_SECONDS = 10  # the sandbox answers in milliseconds; 60 s by default
HEARTBEAT_TIMEOUT_SECONDS = 20
RUN_TIMEOUT = 300
TOLD_MINUTES = 10
CONF = {"creators_per_shard": CREATORS_PER_SHARD}


@pytest.fixture(scope="module")
def distributed(drill_results: Path) -> Iterator[DistributedTopology]:
    """The topology on servers of its own; fails under CI=true when they cannot start, skips elsewhere."""
    postgres = OwnPostgres("pa-drills")
    redis = OwnRedis("pa-drills")
    try:
        postgres.start()
        redis.start()
    except (OwnServerError, TimeoutError, OSError) as exc:
        postgres.stop()
        redis.stop()
        message = f"the distributed drills need their own PostgreSQL and Redis: {exc}"
        if IN_CI:
            pytest.fail(f"{message}; CI=true requires them", pytrace=False)
        pytest.skip(message)
    world: DistributedTopology | None = None
    try:
        world = DistributedTopology.start(
            WORK / "distributed",
            postgres=postgres,
            redis=redis,
            sandbox_items=SANDBOX_ITEMS,
            retry_delay_seconds=RETRY_DELAY_SECONDS,
            claim_lease_seconds=CLAIM_LEASE_SECONDS,
            graph_timeout_seconds=GRAPH_TIMEOUT_SECONDS,
            extra_env={
                # Only the runs the drills trigger.
                "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
                "PARTNERSHIP_ADS_TASK_RETRIES": "3",
                # A killed worker's task is failed (and retried) after 20 s without a heartbeat, not 300 s.
                "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(HEARTBEAT_TIMEOUT_SECONDS),
                "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "2",
                # A task left queued (its broker message lost or reserved by a worker that never ran it) is
                # queued again after 30 s, checked every 5 s, instead of 600 s and 120 s.
                "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "30",
                "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT_CHECK_INTERVAL": "5",
                # Runs may write files under the drills' folder only (each drill its own output_uri).
                "PARTNERSHIP_ADS_OUTPUT_ROOT": str(WORK / "distributed"),
            },
        )
        world.wait_for_dag()
        yield world
    except (TopologyError, TimeoutError) as exc:
        if IN_CI:
            pytest.fail(f"the distributed topology did not start: {exc}", pytrace=False)
        raise
    finally:
        if world is not None:
            world.stop()
        redis.stop()
        postgres.stop()


def _created(drill: DrillEnv) -> int:
    return len([c for c in drill.sandbox.ad_codes() if c["origin"] == "created"])


def _posts_needed(drill: DrillEnv) -> int:
    """Media that need a POST (a media two brands partner on is one POST)."""
    return len({e.content_id for e in drill.expected if not e.seeded_ad_code})


def _running_issue_shards(run: Run) -> list[dict[str, Any]]:
    return [ti for ti in run.task_instances() if ti["task_id"] == ISSUE_TASK and ti["state"] == "running"]


def _wait_mid_issuance(drill: DrillEnv, run: Run, *, at_least: int, timeout: float = 180) -> dict[str, Any]:
    """Wait until a shard runs and the sandbox has created ``at_least`` codes but not all; returns the
    running shard with the most recent start."""
    needed = _posts_needed(drill)
    deadline = time.monotonic() + timeout
    while True:
        created = _created(drill)
        running = [ti for ti in _running_issue_shards(run) if ti.get("hostname")]
        if running and at_least <= created < needed:
            return max(running, key=lambda ti: ti["start_date"] or "")
        assert run.get()["state"] not in FINISHED, f"the run ended before the fault: {run.all_tries()}"
        assert created < needed, f"issuance finished ({created} codes) before the fault could be injected"
        assert time.monotonic() < deadline, f"issuance not under way after {timeout}s ({created} codes)"
        time.sleep(0.2)


def _label(run: Run, ti: dict[str, Any]) -> str:
    """The task instance's map index label (``business <id> · shard k/n``) as the REST API shows it now."""
    for other in run.task_instances():
        if key_of(other) == key_of(ti):
            return str(other.get("rendered_map_index"))
    return key_of(ti)


def _finish(
    name: str,
    drill: DrillEnv,
    run: Run,
    final: dict[str, Any],
    *,
    faults: str,
    checks: dict[str, bool],
    notes: list[str],
    began: float,
    world: DistributedTopology,
    evidence: Evidence,
) -> None:
    """Audit, write the drill's row, keep the evidence for the secret scan, and assert."""
    ledger = open_ledger(drill)
    result = audit(drill, ledger=ledger)
    tries = run.all_tries()
    checks = {"run succeeded": final["state"] == "success", **checks}
    failed = [what for what, ok in checks.items() if not ok]
    evidence.add_drill(drill)
    drill.keep_evidence()
    # Both databases go with the drills' PostgreSQL: dumped for the secret scan (XCom, ledger, SQL sink).
    drill.keep_database_rows(world.ledger_uri, "ledger")
    drill.keep_database_rows(world.config.postgres_uri(world.config.metadata_database), "airflow_metadata")
    DrillResult.from_audit(
        result,
        drill=name,
        trials=1,
        faults=faults,
        passed=not failed and result.clean,
        notes=[*notes, f"tries not a single success: {describe_tries(tries)}"]
        + [f"check failed: {what}" for what in failed]
        + result.problems[:10],
        seconds=time.monotonic() - began,
    ).write()
    assert not failed, f"{failed}; tries {tries}; notes {notes}"
    assert result.clean, result.summary()


def test_sigkill_of_a_celery_worker_mid_issuance_loses_duplicates_and_invalidates_nothing(
    distributed: DistributedTopology, evidence: Evidence
) -> None:
    began = time.monotonic()
    world = distributed
    drill = world.prepare("distributed_sigkill_worker")
    # Slow answers so that a shard is still posting when the worker is killed.
    world.sandbox.configure(latency_ms=150)
    run = world.trigger(drill, CONF)
    victim = _wait_mid_issuance(drill, run, at_least=3)
    worker = world.worker_of(victim)
    # Every shard that runs on that worker now dies with it.
    victims = [
        ti for ti in _running_issue_shards(run) if ti.get("hostname") and world.worker_of(ti) == worker
    ]
    victims = victims or [victim]
    created_at_kill = _created(drill)
    killed = world.sigkill_worker(worker)
    world.sandbox.configure(latency_ms=0)
    log_offset = os.path.getsize(world.topology.process(worker).log)
    world.respawn_dead()
    world.wait_worker_ready(worker, log_offset=log_offset)
    final = run.wait(timeout=RUN_TIMEOUT, on_poll=lambda _run: world.respawn_dead())
    victim_tries = {
        f"{key_of(ti)} ({_label(run, ti)})": [t["state"] for t in run.tries(ti["task_id"], ti["map_index"])]
        for ti in victims
    }
    notes = [
        f"killed {worker} (pids {killed}) while {', '.join(victim_tries)} ran, "
        f"{created_at_kill} of {_posts_needed(drill)} codes created",
        f"killed shards' tries: {victim_tries}",
    ]
    _finish(
        "distributed_sigkill_worker",
        drill,
        run,
        final,
        faults=f"SIGKILL of a Celery worker's process group mid-issuance ({created_at_kill} codes created)",
        checks={
            # A shard may finish in the instant before the kill; at least one must have died with the worker.
            "a killed shard was tried again": any(
                len(states) >= 2 and states[-2] == "failed" for states in victim_tries.values()
            ),
            "every killed shard ended in success": all(s[-1] == "success" for s in victim_tries.values()),
        },
        notes=notes,
        began=began,
        world=world,
        evidence=evidence,
    )


def test_a_redis_restart_mid_issuance_loses_duplicates_and_invalidates_nothing(
    distributed: DistributedTopology, evidence: Evidence
) -> None:
    _restart_mid_issuance(
        distributed, evidence, "distributed_redis_restart", distributed.redis, "Redis (Celery broker)"
    )


def test_a_postgres_restart_mid_issuance_loses_duplicates_and_invalidates_nothing(
    distributed: DistributedTopology, evidence: Evidence
) -> None:
    _restart_mid_issuance(
        distributed,
        evidence,
        "distributed_postgres_restart",
        distributed.postgres,
        "PostgreSQL (metadata + ledger)",
    )


def _restart_mid_issuance(
    world: DistributedTopology, evidence: Evidence, name: str, server: OwnPostgres | OwnRedis, what: str
) -> None:
    """Restart ``server`` while shards issue: the run (and its retries) still ends with every code once."""
    began = time.monotonic()
    drill = world.prepare(name)
    world.sandbox.configure(latency_ms=100)
    run = world.trigger(drill, CONF)
    _wait_mid_issuance(drill, run, at_least=2)
    created_at_restart = _created(drill)
    respawned_before = len(world.respawned)
    took = server.restart()
    world.sandbox.configure(latency_ms=0)
    final = run.wait(timeout=RUN_TIMEOUT, on_poll=lambda _run: world.respawn_dead())
    _finish(
        name,
        drill,
        run,
        final,
        faults=f"{what} restarted mid-issuance ({created_at_restart} codes created)",
        checks={},
        notes=[
            f"restart took {took:.1f}s; processes started again: "
            f"{world.respawned[respawned_before:] or 'none'}"
        ],
        began=began,
        world=world,
        evidence=evidence,
    )


def _epoch(stamp: str | None) -> float | None:
    if not stamp:
        return None
    return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def _shard_of(run: Run, content_id: str) -> int:
    """The map index of the issue shard that holds ``content_id`` (from plan_issuance's XCom, via REST)."""
    path = f"dags/{run.dag_id}/dagRuns/{run.run_id}/taskInstances/plan_issuance/xcomEntries/return_value"
    value = run.api.call("GET", path, params={"deserialize": "true"})["value"]
    shards = json.loads(value) if isinstance(value, str) else value
    found = [index for index, shard in enumerate(shards) if content_id in (shard.get("content_ids") or [])]
    assert len(found) == 1, f"media {content_id} is in shards {found}"
    return found[0]


def _slot_seconds(tries: list[dict[str, Any]], since: float, until: float) -> float:
    """Seconds the task's tries were running on a worker between ``since`` and ``until`` (try history)."""
    held = 0.0
    for attempt in tries:
        start = _epoch(attempt.get("start_date"))
        if start is None:
            continue
        end = _epoch(attempt.get("end_date")) or until
        held += max(0.0, min(end, until) - max(start, since))
    return held


def test_a_ten_minute_throttle_defers_the_shard_and_the_cleared_shard_finishes(
    distributed: DistributedTopology, evidence: Evidence
) -> None:
    began = time.monotonic()
    world = distributed
    drill = world.prepare("distributed_throttle_10min")
    # A media only one brand partners on: exactly one shard posts it.
    counts = Counter(e.content_id for e in drill.expected)
    posts = [e for e in drill.expected if not e.seeded_ad_code and counts[e.content_id] == 1]
    target = posts[len(posts) // 2]
    world.sandbox.schedule_fault(
        kind="throttle",
        code=80002,
        regain_minutes=TOLD_MINUTES,
        method="POST",
        path=f"/{target.content_id}/",
        count=1,
    )
    run = world.trigger(drill, CONF)
    deadline = time.monotonic() + 240
    throttled_at: float | None = None
    waiting: dict[str, Any] | None = None
    observed_at = 0.0
    throttled_shard: int | None = None
    while waiting is None:
        if throttled_at is None:
            hits = [e for e in world.sandbox.requests_log() if e.get("fault") == "throttle"]
            throttled_at = _epoch(hits[0]["time"]) if hits else None
        if throttled_at is not None:
            if throttled_shard is None:
                throttled_shard = _shard_of(run, target.content_id)
            shard_ti = next(
                ti
                for ti in run.task_instances()
                if ti["task_id"] == ISSUE_TASK and ti["map_index"] == throttled_shard
            )
            # Deferred (the expected behaviour), or failed / waiting for a retry (no worker slot held either,
            # but the task did not defer): either ends the wait, the check below tells them apart.
            if shard_ti["state"] in {"deferred", "up_for_retry", "failed"}:
                waiting = shard_ti
                observed_at = time.time()
                break
        assert run.get()["state"] not in FINISHED, f"the run ended before the throttle: {run.all_tries()}"
        assert time.monotonic() < deadline, f"no shard deferred after the throttle ({throttled_at=})"
        time.sleep(0.5)
    state_seen = str(waiting["state"])
    shard = (waiting["task_id"], waiting["map_index"])
    tries_before = run.tries(*shard)
    deferred_until = _epoch(waiting.get("end_date")) or observed_at
    held = _slot_seconds(tries_before, throttled_at, deferred_until)
    # Ten minutes pass for Meta (the sandbox's clock) and for the ledger's record of the block...
    world.sandbox.advance_clock(TOLD_MINUTES * 60)
    world.sandbox.clear_faults()
    ledger = open_ledger(drill)
    ledger.hook.run("DELETE FROM pa_throttles")
    # ...and the shard resumes now instead of in ten real minutes: cleared through the REST API.
    world.api.call(
        "POST",
        f"dags/{run.dag_id}/clearTaskInstances",
        json={
            "dry_run": False,
            "dag_run_id": run.run_id,
            "task_ids": [list(shard)],
            "only_failed": False,
            "reset_dag_runs": True,
            "include_downstream": False,
        },
    )
    final = run.wait(timeout=RUN_TIMEOUT, on_poll=lambda _run: world.respawn_dead())
    shard_tries = [t["state"] for t in run.tries(*shard)]
    notes = [
        f"shard {key_of(waiting)} ({_label(run, waiting)}) seen {state_seen} through GET "
        f"/api/v2/dags/{run.dag_id}/dagRuns/<run>/taskInstances (states seen: "
        f"{sorted(run.seen_states.get(key_of(waiting), set()))})",
        f"worker slot-seconds held between the throttled answer and the deferral: {held:.1f}",
        "resumed by clearing the deferred task instance (POST /api/v2/dags/{dag_id}/clearTaskInstances) "
        "after advancing the sandbox clock 600 s and ending the ledger's record of the block; no libfaketime",
        f"shard tries: {shard_tries}",
    ]
    _finish(
        "distributed_throttle_10min",
        drill,
        run,
        final,
        faults=f"throttle 80002 on a POST, told wait {TOLD_MINUTES} min (sandbox clock)",
        checks={
            "the throttled shard was deferred (REST API)": state_seen == "deferred",
            "the cleared shard finished": bool(shard_tries) and shard_tries[-1] == "success",
        },
        notes=notes,
        began=began,
        world=world,
        evidence=evidence,
    )
