"""The benchmark code runs and checks what it claims, on tiny sizes. Correctness only: timings are never
asserted here (they belong to `make bench`)."""

from __future__ import annotations

import json
import sqlite3
from typing import TYPE_CHECKING

import pytest

from include.bench import baseline
from include.bench.report import Row, Stats, markdown_table, text_table
from include.bench.run import BENCHMARKS, main

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
            f"--out={out}",
            f"--state-dir={tmp_path / 'state'}",
        ]
    )
    assert code == 0
    result = json.loads(out.read_text())
    rows = {row["key"]: row for row in result["rows"]}
    assert list(rows) == list(BENCHMARKS)
    assert rows["partitioned"]["details"]["identical_to_sequential_walk"] is True
    assert rows["issuance"]["details"]["all_runs_issued_every_code"] is True
    assert rows["issuance"]["details"]["throttling_errors"] == 0
    assert rows["issuance"]["details"]["fewer_creators"]["creators"] == 3
    assert rows["issuance"]["details"]["fewer_creators"]["all_runs_issued_every_code"] is True
    e2e_checks = rows["e2e"]["details"]["checks"]
    assert {c["who"] for c in e2e_checks} == {"baseline", "pipeline"}
    assert all(c["issued"] == 5 for c in e2e_checks)
    assert rows["scheduled"]["details"]["posts"] == [0]
    assert rows["scheduled"]["details"]["pages"] >= 1
    assert rows["scheduled_new"]["details"]["posts"] == [3]
    assert set(rows["parse"]["details"]) == {"partnership_ad_codes.py", "revoke_partnership_ad_codes.py"}
    assert result["machine"]["nproc"] >= 1
