"""What the benchmarks rely on: partitioned discovery in arrival order, and a session that resolves the
environment's proxy settings once instead of on every call. Real HTTP against the graph sandbox."""

from __future__ import annotations

import datetime as dt
import json
import threading
from typing import TYPE_CHECKING, Any

import pytest

from partnership_ads.graph.partition import ArrivalMerge
from partnership_ads.hooks import PartnershipAdsHook

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from include.graph_sandbox.testing import SandboxServer

TODAY = dt.datetime.now(dt.UTC).date()


@pytest.fixture
def brand(sandbox: SandboxServer) -> dict[str, Any]:
    return sandbox.brand_token()


@pytest.fixture
def hook(
    sandbox: SandboxServer, brand: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> PartnershipAdsHook:
    connection = {
        "conn_type": "meta_graph",
        "host": sandbox.url,
        "password": brand["access_token"],
        "extra": {"max_retries": 1, "timeout": 5},
    }
    monkeypatch.setenv("AIRFLOW_CONN_META_GRAPH_THROUGHPUT", json.dumps(connection))
    return PartnershipAdsHook(meta_conn_id="meta_graph_throughput")


def _account(brand: dict[str, Any]) -> dict[str, Any]:
    return {"ig_user_id": brand["ig_user_id"], "fb_page_id": brand["fb_page_id"]}


def test_unordered_partitioned_walk_yields_every_item_of_the_sequential_walk_once(
    hook: PartnershipAdsHook, brand: dict[str, Any]
) -> None:
    window = {"start_date": TODAY - dt.timedelta(days=729), "end_date": TODAY}
    sequential = [
        item["content_id"]
        for item in hook.iter_advertisable_content(
            brand["business_id"], **_account(brand), page_size=10, sort_by="DATE", **window
        )
    ]
    partitioned = [
        item["content_id"]
        for item in hook.iter_advertisable_content(
            brand["business_id"], **_account(brand), page_size=10, partitions=4, ordered=False, **window
        )
    ]
    assert len(partitioned) == len(set(partitioned))
    assert sorted(partitioned) == sorted(sequential)
    assert len(sequential) > 40  # several pages per partition, or the test proves little


def test_arrival_merge_does_not_hold_later_producers_behind_the_first() -> None:
    first_may_finish = threading.Event()

    def slow_first() -> Iterator[list[dict[str, str]]]:
        yield [{"content_id": "a0"}]
        first_may_finish.wait(10)
        yield [{"content_id": "a1"}]

    def fast_second() -> Iterator[list[dict[str, str]]]:
        for index in range(6):
            yield [{"content_id": f"b{index}"}]
        first_may_finish.set()

    # With queue_pages=1 an ordered merge would deadlock-wait here for ten seconds: the second producer
    # could not get past its one buffered page while the consumer waits for the first producer.
    ids = [
        item["content_id"] for page in ArrivalMerge([slow_first, fast_second], queue_pages=1) for item in page
    ]
    assert sorted(ids) == ["a0", "a1", *(f"b{i}" for i in range(6))]
    assert ids.index("b5") < ids.index("a1")


def test_session_resolves_proxy_settings_once_for_its_base_url(
    hook: PartnershipAdsHook, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.invalid:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    session = hook.get_conn()
    assert session.trust_env is False  # no per-call scan of os.environ
    assert session.proxies.get("http") == "http://proxy.invalid:3128"


def test_fetch_operator_with_partitions_snapshots_every_item_of_the_window_once(
    sandbox: SandboxServer, brand: dict[str, Any], hook: PartnershipAdsHook, tmp_path: Path
) -> None:
    from types import SimpleNamespace

    from partnership_ads.operators import FetchAdvertisableContentOperator
    from partnership_ads.snapshot import iter_rows

    window = {"start_date": (TODAY - dt.timedelta(days=729)).isoformat(), "end_date": TODAY.isoformat()}
    sequential = {
        item["content_id"]
        for item in hook.iter_advertisable_content(
            brand["business_id"], **_account(brand), sort_by="DATE", **window
        )
    }
    operator = FetchAdvertisableContentOperator(
        task_id="fetch",
        business_id=brand["business_id"],
        **_account(brand),
        filters=window,
        meta_conn_id="meta_graph_throughput",
        snapshot_root=str(tmp_path / "snapshots"),
        page_size=10,
        partitions=4,
    )
    ti = SimpleNamespace(dag_id="d", task_id="fetch", map_index=-1, try_number=1)
    summary = operator.execute({"run_id": "partitioned", "ti": ti})
    ids = [row["content_id"] for row in iter_rows(summary["snapshot_path"], columns=["content_id"])]
    assert len(ids) == len(set(ids)) == summary["items"]
    assert set(ids) == sequential
    windows = {
        (r["params"].get("start_date"), r["params"].get("end_date"))
        for r in sandbox.requests_log()
        if r["path"].endswith("partnership-ads-advertisable-content")
    }
    assert len(windows) == 5  # the sequential walk's window and the four partitions
