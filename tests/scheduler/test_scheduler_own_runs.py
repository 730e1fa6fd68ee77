"""The scheduler's own runs of partnership_ad_codes, on the production topology, with no conf at all.

A topology of its own (the shared one in tests/topology switches the job scheduler off): api-server,
scheduler, dag-processor, triggerer and two Celery workers on real PostgreSQL and Redis, the graph sandbox
with a world of 150 items published over two years, the three demo brands in ``PARTNERSHIP_ADS_BRANDS``.
The DAG's cron is a deployment setting; here it is every minute so that the scheduler makes the next run
within the test (``PARTNERSHIP_ADS_SCHEDULE``). Nothing is triggered by hand: the DAG is unpaused and the
scheduler's runs are followed.

1. The first scheduled run issues a code for every AD_READY Instagram item that needs one, whatever its
   publication date, and names every item awaiting its creator.
2. Then one waiting item turns INELIGIBLE, one coded item turns NEEDS_ATTENTION, and the missing creator's
   connection is added through the REST API. The first scheduled run that starts afterwards issues the other
   waiting items, reports the ineligible one as not AD_READY (no POST for it) and the coded one as having
   lost its eligibility (its code kept, nothing deleted).

The oracle is the sandbox itself, read over plain HTTP with the brands' tokens: never the pipeline's code.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg2
import pytest
import requests

from include.demo import sandbox_brands
from include.graph_sandbox.testing import SandboxClient
from include.topology.native import NativeTopology, drop_databases
from tests.topology.conftest import DAG_ID, AirflowApi, own_topology_config

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[2]
REDIS_DB = 7  # `make native-up` uses 5, the shared test topology 6
ITEMS = 150
#: Task states of a task instance that runs or will run even while its DAG is paused.
IN_FLIGHT = {"queued", "running", "deferred", "restarting"}
FIELDS = (
    "content_id,platform,creation_time,author{ig_user_id},"
    "partnership_info{ad_eligibility,ad_code,tagged_partner{ig_user_id,fb_page_id}}"
)


@dataclass
class Scheduled:
    topology: NativeTopology
    api: AirflowApi
    sandbox: SandboxClient
    ledger_uri: str
    brands: list[dict[str, Any]]

    def scheduled_runs(self) -> list[dict[str, Any]]:
        runs = self.api.call("GET", f"dags/{DAG_ID}/dagRuns", params={"limit": 100})["dag_runs"]
        return sorted((r for r in runs if r["run_type"] == "scheduled"), key=lambda r: r["run_after"])

    def wait_for_scheduled_run(self, *, started_after: str | None, timeout: float = 420) -> dict[str, Any]:
        """The first scheduled run that started after ``started_after`` (ISO time), once it has finished."""
        deadline = time.monotonic() + timeout
        while True:
            runs = [
                r
                for r in self.scheduled_runs()
                if r.get("start_date") and (started_after is None or r["start_date"] > started_after)
            ]
            if runs:
                return self.api.wait_for_run(DAG_ID, runs[0]["dag_run_id"], timeout=timeout)
            assert time.monotonic() < deadline, (
                f"no scheduled run started after {started_after} in {timeout}s"
            )
            time.sleep(3)

    def pause_and_drain(self, timeout: float = 300) -> None:
        """Pause the DAG, let its tasks in flight end, then stop the runs still active.

        While the DAG is paused the scheduler starts none of its queued runs and queues no further task of a
        running one, so such a run would wait for the unpause and then carry on with what it read before the
        change. Once none of its tasks is in flight it is marked failed instead: the run this test follows
        is the first to start after the change.
        """
        self.api.call("PATCH", f"dags/{DAG_ID}", json={"is_paused": True})
        deadline = time.monotonic() + timeout
        while True:
            runs = self.api.call("GET", f"dags/{DAG_ID}/dagRuns", params={"limit": 100})["dag_runs"]
            active = [r["dag_run_id"] for r in runs if r["state"] in {"queued", "running"}]
            in_flight = [
                (run_id, ti["task_id"], ti["state"])
                for run_id in active
                for ti in self.api.call(
                    "GET", f"dags/{DAG_ID}/dagRuns/{run_id}/taskInstances", params={"limit": 1000}
                )["task_instances"]
                if ti["state"] in IN_FLIGHT
            ]
            if not in_flight:
                break
            assert time.monotonic() < deadline, f"tasks still in flight after {timeout}s: {in_flight}"
            time.sleep(2)
        for run_id in active:
            self.api.call("PATCH", f"dags/{DAG_ID}/dagRuns/{run_id}", json={"state": "failed"})

    def summary_log(self, run_id: str) -> str:
        response = self.api.session.get(
            f"{self.api.url}/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/run_summary/logs/1",
            params={"full_content": "true"},
            headers={"Accept": "application/json"},
            timeout=30,
        )
        response.raise_for_status()
        return json.dumps(response.json())

    def brand_items(self, status: str) -> set[str]:
        with psycopg2.connect(self.ledger_uri) as connection, connection.cursor() as cursor:
            cursor.execute("SELECT content_id FROM pa_brand_items WHERE status = %s", (status,))
            return {row[0] for row in cursor.fetchall()}

    def ad_ready_instagram(self) -> dict[str, dict[str, Any]]:
        """content_id -> {author, ad_code, creation_time, brand_ig} of each Instagram item AD_READY now."""
        tokens = {t["business_id"]: t["access_token"] for t in self.sandbox.tokens() if t["role"] == "brand"}
        found: dict[str, dict[str, Any]] = {}
        for brand in self.brands:
            params: dict[str, Any] = {
                "fields": FIELDS,
                "limit": 50,
                "ig_user_id": brand["ig_user_id"],
                "access_token": tokens[brand["business_id"]],
            }
            url = f"{self.sandbox.graph_url}/{brand['business_id']}/partnership-ads-advertisable-content"
            while True:
                body = requests.get(url, params=params, timeout=30).json()
                for item in body["data"]:
                    entry = next(
                        e
                        for e in item["partnership_info"]
                        if e["tagged_partner"].get("ig_user_id") == brand["ig_user_id"]
                    )
                    if item["platform"] == "INSTAGRAM" and entry["ad_eligibility"] == "AD_READY":
                        found[item["content_id"]] = {
                            "author": item["author"]["ig_user_id"],
                            "ad_code": entry.get("ad_code"),
                            "creation_time": item["creation_time"],
                            "brand_ig": brand["ig_user_id"],
                        }
                after = (body.get("paging") or {}).get("cursors", {}).get("after")
                if not body.get("paging") or not after:
                    break
                params["after"] = after
        return found

    def valid_codes(self) -> dict[str, str]:
        return {r["media_id"]: r["ad_code"] for r in self.sandbox.ad_codes() if r["valid"]}


@pytest.fixture(scope="module")
def scheduled(pytestconfig: pytest.Config) -> Iterator[Scheduled]:
    config = own_topology_config(
        pytestconfig,
        "sched",
        redis_db=REDIS_DB,
        sandbox_items=ITEMS,
        extra_env={"PARTNERSHIP_ADS_SCHEDULE": "* * * * *", "PARTNERSHIP_ADS_TASK_RETRIES": "0"},
    )
    topology = NativeTopology(config)
    try:
        state = topology.up()
        api = AirflowApi.login(state.api_url, state.admin_password())
        sandbox = SandboxClient(state.sandbox_url)
        yield Scheduled(
            topology=topology,
            api=api,
            sandbox=sandbox,
            ledger_uri=config.postgres_uri(config.ledger_database),
            brands=sandbox_brands(sandbox, 3),
        )
    finally:
        topology.down()
        drop_databases(config)


@dataclass
class FirstRun:
    run: dict[str, Any]
    before: dict[str, dict[str, Any]]
    connected: set[str]
    awaiting: set[str]


@pytest.fixture(scope="module")
def first_run(scheduled: Scheduled) -> FirstRun:
    scheduled.api.wait_for_dag(DAG_ID)
    before = scheduled.ad_ready_instagram()
    connected = {
        name.removeprefix("meta_graph_creator_")
        for name in (c["conn_id"] for c in _env_creator_connections(scheduled))
    }
    scheduled.api.call("PATCH", f"dags/{DAG_ID}", json={"is_paused": False})
    run = scheduled.wait_for_scheduled_run(started_after=None)
    awaiting = {
        cid
        for cid, item in before.items()
        if not item["ad_code"] and item["author"] not in connected and item["author"] != item["brand_ig"]
    }
    return FirstRun(run=run, before=before, connected=connected, awaiting=awaiting)


def _env_creator_connections(scheduled: Scheduled) -> list[dict[str, str]]:
    """The creators the topology was given a connection for (the demo wiring: every creator but the last)."""
    creators = [t for t in scheduled.sandbox.tokens() if t["role"] == "creator" and not t["minted"]]
    return [{"conn_id": f"meta_graph_creator_{c['ig_user_id']}"} for c in creators[:-1]]


def test_the_first_scheduled_run_succeeds_with_no_conf(first_run: FirstRun) -> None:
    assert first_run.run["run_type"] == "scheduled"
    assert first_run.run["conf"] in ({}, None)
    assert first_run.run["state"] == "success"


def test_the_first_scheduled_run_issues_every_ad_ready_item_that_needs_a_code_at_any_date(
    scheduled: Scheduled, first_run: FirstRun
) -> None:
    needing = {
        cid
        for cid, item in first_run.before.items()
        if not item["ad_code"]
        and (item["author"] in first_run.connected or item["author"] == item["brand_ig"])
    }
    dates = sorted(first_run.before[cid]["creation_time"] for cid in needing)
    assert len(needing) >= 5 and dates[0][:4] != dates[-1][:4], (
        "the world must spread needing items over years"
    )
    codes = scheduled.valid_codes()
    assert not needing - set(codes), f"no code for {sorted(needing - set(codes))}"


def test_the_first_scheduled_run_names_every_item_awaiting_its_creator(
    scheduled: Scheduled, first_run: FirstRun
) -> None:
    assert first_run.awaiting, "the world must have items whose creator has no connection"
    assert first_run.awaiting <= scheduled.brand_items("awaiting_creator_authorisation")
    log = scheduled.summary_log(first_run.run["dag_run_id"])
    missing = [cid for cid in first_run.awaiting if cid not in log]
    assert not missing, f"not named in the run summary's log: {missing}"


@dataclass
class SecondRun:
    run: dict[str, Any]
    ineligible: str
    lost: str
    released: set[str]
    posts_before: int


@pytest.fixture(scope="module")
def second_run(scheduled: Scheduled, first_run: FirstRun) -> SecondRun:
    awaiting = sorted(first_run.awaiting)
    assert len(awaiting) >= 2, "needs one waiting item to turn ineligible and one to be issued"
    ineligible = awaiting[0]
    lost = sorted(set(scheduled.valid_codes()) & set(first_run.before))[0]
    # Pause while the world changes: a run the scheduler starts halfway would see only part of the changes
    # (and settle the ineligible item before the run this test follows).
    scheduled.pause_and_drain()
    for content_id in (ineligible, lost):
        item = first_run.before[content_id]
        brand = next(b for b in scheduled.brands if b["ig_user_id"] == item["brand_ig"])
        scheduled.sandbox.set_eligibility(
            content_id,
            "INELIGIBLE" if content_id == ineligible else "NEEDS_ATTENTION",
            business_id=brand["business_id"],
        )
    creator = first_run.before[awaiting[1]]["author"]
    token = next(
        t for t in scheduled.sandbox.tokens() if t["role"] == "creator" and t["ig_user_id"] == creator
    )
    posts_before = len(_posts(scheduled))
    scheduled.api.call(
        "POST",
        "connections",
        json={
            "connection_id": f"meta_graph_creator_{creator}",
            "conn_type": "meta_graph",
            "host": scheduled.sandbox.url,
            "password": token["access_token"],
            "extra": json.dumps({"api_version": scheduled.sandbox.api_version}),
        },
    )
    resumed_at = _now_iso()
    scheduled.api.call("PATCH", f"dags/{DAG_ID}", json={"is_paused": False})
    run = scheduled.wait_for_scheduled_run(started_after=resumed_at)
    released = {cid for cid in first_run.awaiting if first_run.before[cid]["author"] == creator} - {
        ineligible
    }
    return SecondRun(run=run, ineligible=ineligible, lost=lost, released=released, posts_before=posts_before)


def _now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")


def _posts(scheduled: Scheduled) -> list[dict[str, Any]]:
    return [
        r
        for r in scheduled.sandbox.requests_log()
        if r.get("method") == "POST" and "partnership_ad_code" in r.get("path", "")
    ]


def test_the_next_scheduled_run_issues_the_items_whose_creator_connected(
    scheduled: Scheduled, second_run: SecondRun
) -> None:
    assert second_run.run["state"] == "success"
    assert second_run.released, "the creator had only the item that turned ineligible"
    codes = scheduled.valid_codes()
    assert not second_run.released - set(codes)


def test_the_next_scheduled_run_reports_the_ineligible_item_and_does_not_issue_it(
    scheduled: Scheduled, second_run: SecondRun
) -> None:
    assert second_run.ineligible in scheduled.brand_items("not_ad_ready")
    assert second_run.ineligible not in scheduled.valid_codes()
    new_posts = _posts(scheduled)[second_run.posts_before :]
    assert not [p for p in new_posts if second_run.ineligible in p["path"]]
    assert second_run.ineligible in scheduled.summary_log(second_run.run["dag_run_id"])


def test_the_next_scheduled_run_reports_lost_eligibility_and_keeps_the_code(
    scheduled: Scheduled, second_run: SecondRun
) -> None:
    assert second_run.lost in scheduled.brand_items("eligibility_lost")
    assert second_run.lost in scheduled.valid_codes()
    assert not [r for r in scheduled.sandbox.requests_log() if r.get("method") == "DELETE"]
    assert second_run.lost in scheduled.summary_log(second_run.run["dag_run_id"])
