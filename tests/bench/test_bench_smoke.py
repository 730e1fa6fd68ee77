"""The benchmark code runs and checks what it claims, on tiny sizes. Correctness only: timings are never
asserted here (they belong to `make bench`)."""

from __future__ import annotations

import json
import sqlite3
from typing import TYPE_CHECKING

import pytest

from include.bench import baseline
from include.bench.report import Row, Stats, markdown_table, text_table
from include.bench.run import BENCHMARKS, NATIVE, allot_shards, bench_throttle_slots, main

if TYPE_CHECKING:
    from pathlib import Path

    from include.graph_sandbox.testing import SandboxServer


def test_baseline_issues_one_code_per_ready_item_and_writes_a_row_for_each(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    brand = sandbox.brand_token()
    creators = {t["ig_user_id"]: t["access_token"] for t in sandbox.creator_tokens()}
    db = tmp_path / "baseline.sqlite"
    counts = baseline.run(
        base_url=sandbox.url,
        api_version=sandbox.api_version,
        business_id=brand["business_id"],
        ig_user_id=brand["ig_user_id"],
        fb_page_id=brand["fb_page_id"],
        brand_token=brand["access_token"],
        creator_tokens=creators,
        db_path=str(db),
        max_codes=5,
    )
    posts = [r for r in sandbox.requests_log() if r["method"] == "POST" and r["status"] == 200]
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT count(*) FROM partnership_ad_codes").fetchone()[0]
    assert counts["issued"] == 5 == len(posts)
    assert rows == counts["issued"] + counts["harvested"]
    assert counts["items"] > counts["issued"]


def test_stats_and_tables_show_median_min_max_and_the_verdict() -> None:
    row = Row("discovery", "1. discovery", Stats.of([3.0, 1.0, 2.0]), "s", "bound", "<= 1.10x", False)
    assert (row.measured.median, row.measured.min, row.measured.max) == (2.0, 1.0, 3.0)
    assert "2.00 s [1.00-3.00]" in text_table([row])
    assert markdown_table([row]).splitlines()[-1].endswith("| NOT MET |")


def _shard(label: str, owners: dict[str, int]) -> tuple[dict[str, object], dict[str, str]]:
    ids = {f"{owner}-{n}": owner for owner, count in owners.items() for n in range(count)}
    return {"shard": label, "content_ids": list(ids)}, ids


def test_allotted_shards_hold_the_concurrency_and_the_codes_in_proportion_with_every_creator_posting() -> (
    None
):
    own, own_ids = _shard("1/3", {"brand": 400})
    first, first_ids = _shard("2/3", {f"c{n}": 30 for n in range(50)})
    second, second_ids = _shard("3/3", {f"d{n}": 30 for n in range(20)})
    owners = {**own_ids, **first_ids, **second_ids, "orphan": ""}
    second["content_ids"].append("orphan")
    allotted = allot_shards([own, first, second], owners, 2000, 16)
    assert sum(s["max_concurrency"] for s in allotted) == 16
    assert sum(len(s["content_ids"]) for s in allotted) == 2000
    for shard in allotted:
        # Codes per slot equal across shards (to rounding): no shard idles while another works.
        assert abs(len(shard["content_ids"]) / shard["max_concurrency"] - 2000 / 16) <= 1
    posting = {owners[cid] for s in allotted for cid in s["content_ids"]}
    assert posting == {"brand"} | {f"c{n}" for n in range(50)} | {f"d{n}" for n in range(20)}
    assert "orphan" not in {cid for s in allotted for cid in s["content_ids"]}


def test_allotting_more_shards_than_post_slots_is_refused() -> None:
    shards = [_shard(f"{n}/5", {f"c{n}": 10}) for n in range(5)]
    owners = {cid: owner for _, ids in shards for cid, owner in ids.items()}
    with pytest.raises(ValueError, match="5 shards"):
        allot_shards([s for s, _ in shards], owners, 20, 4)


def test_the_throttle_row_says_it_was_not_measured_without_a_topology() -> None:
    row = bench_throttle_slots(None, None)
    assert row.measured is None and not row.met
    assert row.cells()[1].startswith("not measured (") and row.cells()[-1] == "not measured"


@pytest.mark.e2e
def test_every_benchmark_runs_on_tiny_sizes_and_verifies_its_work(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    code = main(
        [
            "--runs=1",
            "--e2e-runs=1",
            "--latency-ms=2",
            "--items=150",
            "--codes=5",
            "--concurrency=4",
            "--issuance-creators=3",
            "--memory-items=150,300",
            "--scheduled-new=3",
            # The native topology's rows (6, 9, 10) take minutes even on tiny sizes: `make bench` runs them.
            "--only=" + ",".join(name for name in BENCHMARKS if name not in NATIVE),
            f"--out={out}",
            f"--state-dir={tmp_path / 'state'}",
        ]
    )
    assert code == 0
    result = json.loads(out.read_text())
    rows = {row["key"]: row for row in result["rows"]}
    assert list(rows) == [name for name in BENCHMARKS if name not in NATIVE]
    assert rows["partitioned"]["details"]["identical_to_sequential_walk"] is True
    for key in ("issuance", "issuance_few"):
        details = rows[key]["details"]
        assert details["all_runs_issued_every_code"] is True
        assert details["throttling_errors"] == 0
        sample = details["samples"][0]
        assert sample["issued"] == 5 and sum(s["max_concurrency"] for s in sample["shards"]) == 4
    assert rows["issuance_few"]["details"]["creator_connections"] == 3
    assert rows["scheduled"]["details"]["posts"] == [0]
    assert rows["scheduled"]["details"]["pages"] >= 1
    assert rows["scheduled_new"]["details"]["posts"] == [3]
    assert set(rows["parse"]["details"]) == {"partnership_ad_codes.py", "revoke_partnership_ad_codes.py"}
    assert result["machine"]["nproc"] >= 1
