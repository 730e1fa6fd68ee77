"""``python -m include.bench``: run the six benchmarks, print the table, write it as JSON under .demo/bench/.

1. discovery: ``iter_advertisable_content`` over ~10,000 items at page size 50, against ``pages x latency``.
2. partitioned discovery: the same items as a date window split into 4 partitions walked in parallel.
3. issuance: ``IssueAdCodesOperator`` issuing 2,000 codes at concurrency 16, against ``2,000 x latency / 16``,
   with zero throttling errors from the sandbox's rate budget.
4. memory: peak RSS of ``FetchAdvertisableContentOperator`` over 20,000 and 200,000 items.
5. parse time: importing each DAG file beyond the cost of importing Airflow.
6. end to end: ``airflow dags test partnership_ad_codes`` (10,000 items, 2,000 to issue) against the
   hand-written baseline script (``include/bench/baseline.py``), the two in alternation.
7. scheduled, nothing new: the daily scheduled run (fetch + issue with ``plan_run(scheduled=True)``) over the
   same world once every AD_READY item holds a code: pages fetched, wall time against ``pages x latency``,
   and zero POSTs.
8. scheduled, a few new: the same after ``--scheduled-new`` items became AD_READY: exactly that many POSTs,
   wall time against ``(pages + ceil(new / concurrency)) x latency``.

Every timed figure is the median of ``--runs`` samples with min and max; ratios are taken within one sample.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from include.bench import parse_time
from include.bench.fixture_world import ROOT, STATE, World, start_world
from include.bench.report import Row, Stats, machine, markdown_table, text_table, write_json

if TYPE_CHECKING:
    from collections.abc import Callable

_CREATOR_CONN_ENV = "AIRFLOW_CONN_META_GRAPH_CREATOR_"
BENCHMARKS = ("discovery", "partitioned", "issuance", "memory", "parse", "e2e", "scheduled", "scheduled_new")
# Graph's throttling codes (reference page): app, user, page, application, custom and BUC limits.
THROTTLE_CODES = frozenset({4, 17, 32, 341, 613, *range(80000, 80010), 80014})


def say(message: str) -> None:
    """Progress on stderr, so stdout carries only the table."""
    print(f"[bench {datetime.now().strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class Runner:
    """Runs probes and commands with the benchmark's environment; their output goes to one log file."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.log_path = state_dir / "bench.log"

    def command(
        self, cmd: list[str], env: dict[str, str], *, timeout: float = 900, capture: bool = True
    ) -> tuple[float, str]:
        """Run ``cmd``; returns (wall seconds, stdout). Raises with the log's tail when it fails.

        With ``capture=False`` stdout goes straight to the log (long task logs) and "" is returned.
        """
        with self.log_path.open("a") as log:
            log.write(f"\n===== {' '.join(cmd[:6])} ...\n")
            log.flush()
            start = time.perf_counter()
            result = subprocess.run(
                cmd,
                env=env,
                cwd=ROOT,
                stdout=subprocess.PIPE if capture else log,
                stderr=log,
                text=True,
                timeout=timeout,
                check=False,
            )
            seconds = time.perf_counter() - start
            if capture:
                log.write(result.stdout[-20000:])
        if result.returncode != 0:
            tail = self.log_path.read_text()[-3000:]
            raise RuntimeError(f"{' '.join(cmd[:4])} failed with exit code {result.returncode}:\n{tail}")
        return seconds, result.stdout or ""

    def probe(self, kind: str, env: dict[str, str], *args: str) -> dict[str, Any]:
        _, out = self.command([sys.executable, "-m", "include.bench.probe", kind, *args], env)
        return json.loads(out.strip().splitlines()[-1])


def brand_args(world: World) -> list[str]:
    brand = world.brand
    args = ["--business-id", str(brand["business_id"]), "--meta-conn-id", str(brand["meta_conn_id"])]
    if brand.get("ig_user_id"):
        args += ["--ig-user-id", str(brand["ig_user_id"])]
    if brand.get("fb_page_id"):
        args += ["--fb-page-id", str(brand["fb_page_id"])]
    return args


# --------------------------------------------------------------------------------------------- 1. discovery


def bench_discovery(world: World, runner: Runner, runs: int, target: float = 1.10) -> Row:
    latency = world.latency_ms / 1000
    seconds: list[float] = []
    ratios: list[float] = []
    items = pages = 0
    for n in range(runs):
        world.sandbox.reset()
        result = runner.probe("discovery", world.env, *brand_args(world))
        items = int(result["items"])
        pages = world.discovery_pages(items)
        seconds.append(result["seconds"])
        ratios.append(result["seconds"] / (pages * latency))
        say(f"discovery run {n + 1}/{runs}: {result['seconds']:.2f}s for {items} items ({ratios[-1]:.3f}x)")
    ratio = Stats.of(ratios)
    return Row(
        key="discovery",
        title=f"1. discovery, {items:,} items / {pages} pages",
        measured=Stats.of(seconds),
        unit="s",
        reference=f"bound {pages} pages x {world.latency_ms:g} ms = {pages * latency:.2f} s",
        target=f"<= {target:.2f}x bound",
        met=ratio.median <= target,
        ratio=ratio,
        details={"items": items, "pages": pages, "latency_ms": world.latency_ms},
    )


# ----------------------------------------------------------------------------------- 2. partitioned walk


def bench_partitioned(
    world: World, runner: Runner, runs: int, partitions: int = 4, target_speedup: float = 3.0
) -> Row:
    latency = world.latency_ms / 1000
    end = datetime.now(UTC).date()
    start = end - dt.timedelta(days=729)  # the sandbox dates its content over the last two years
    window = ["--start-date", start.isoformat(), "--end-date", end.isoformat()]
    reference_ids = runner.state_dir / "partitioned_sequential_ids.json"
    # The sequential walk of the same window gives the expected items and order; latency does not change
    # them, so it runs at zero latency to save time.
    world.sandbox.configure(latency_ms=0)
    try:
        runner.probe("discovery", world.env, *brand_args(world), *window, "--ids-file", str(reference_ids))
    finally:
        world.sandbox.configure(latency_ms=world.latency_ms)
    expected = json.loads(reference_ids.read_text())
    pages = world.discovery_pages(len(expected))
    bound = pages * latency
    seconds: list[float] = []
    ratios: list[float] = []
    identical = True
    for n in range(runs):
        world.sandbox.reset()
        ids_file = runner.state_dir / f"partitioned_ids_{n}.json"
        result = runner.probe(
            "discovery",
            world.env,
            *brand_args(world),
            *window,
            "--partitions",
            str(partitions),
            "--ids-file",
            str(ids_file),
        )
        got = json.loads(ids_file.read_text())
        # Same items, each exactly once (pages arrive in whichever partition answers first).
        same = sorted(got) == sorted(expected) and len(set(got)) == len(got)
        identical = identical and same
        seconds.append(result["seconds"])
        ratios.append(result["seconds"] / bound)
        say(
            f"partitioned run {n + 1}/{runs}: {result['seconds']:.2f}s for {len(got)} items "
            f"({bound / result['seconds']:.2f}x faster than the bound; same items once each: {same})"
        )
    ratio = Stats.of(ratios)
    return Row(
        key="partitioned",
        title=f"2. partitioned discovery, {partitions} partitions",
        measured=Stats.of(seconds),
        unit="s",
        reference=f"sequential bound {pages} pages x {world.latency_ms:g} ms = {bound:.2f} s",
        target=f">= {target_speedup:g}x faster (<= {1 / target_speedup:.3f}x bound), same items once",
        met=ratio.median <= 1 / target_speedup and identical,
        ratio=ratio,
        details={
            "items": len(expected),
            "pages_sequential": pages,
            "window": [start.isoformat(), end.isoformat()],
            "partitions": partitions,
            "identical_to_sequential_walk": identical,
            "speedup_median": 1 / ratio.median,
        },
    )


# ------------------------------------------------------------------------------------------- 3. issuance


def _throttle_errors(world: World) -> tuple[int, int]:
    """(POSTs answered, throttling errors) in the sandbox's request log since its last reset."""
    log = world.sandbox.requests_log()
    posts = sum(1 for r in log if r["method"] == "POST" and r["path"].endswith("/partnership_ad_code"))
    throttled = sum(1 for r in log if r.get("error_code") in THROTTLE_CODES)
    return posts, throttled


def bench_issuance(
    world: World, runner: Runner, runs: int, codes: int, concurrency: int, target: float = 1.25
) -> Row:
    latency = world.latency_ms / 1000
    bound = codes * latency / concurrency
    seconds, ratios, throttled_total, issued_ok, counts, fetched = _issuance_samples(
        world, runner, runs, codes, concurrency, "issuance"
    )
    ratio = Stats.of(ratios)
    return Row(
        key="issuance",
        title=f"3. issuance, {codes:,} codes at concurrency {concurrency}",
        measured=Stats.of(seconds),
        unit="s",
        reference=f"bound {codes} x {world.latency_ms:g} ms / {concurrency} = {bound:.2f} s",
        target=f"<= {target:.2f}x bound, 0 throttled (got {throttled_total})",
        met=ratio.median <= target and throttled_total == 0 and issued_ok,
        ratio=ratio,
        details={
            "codes": codes,
            "concurrency": concurrency,
            "creator_connections": sum(1 for k in world.env if k.startswith(_CREATOR_CONN_ENV)),
            "throttling_errors": throttled_total,
            "all_runs_issued_every_code": issued_ok,
            "last_counts": counts,
            "snapshot_items": fetched["items"],
        },
    )


def issuance_with_fewer_creators(runner: Runner, args: argparse.Namespace, creators: int) -> dict[str, Any]:
    """The issuance figure again, the same codes from a world with only ``creators`` creator accounts.

    Not a row of its own: a note on row 3 that separates the client's own overhead from the cost of reading
    one connection per creator (Airflow registers each connection's secrets with its log masker).
    """
    say(f"issuance again with {creators} creators: starting a sandbox")
    world = start_world(
        brand_items=args.items,
        latency_ms=args.latency_ms,
        state_dir=runner.state_dir / f"issuance_{creators}_creators",
        creators=creators,
    )
    try:
        seconds, ratios, throttled, issued_ok, counts, _ = _issuance_samples(
            world, runner, args.runs, args.codes, args.concurrency, f"issuance_{creators}_creators"
        )
    finally:
        world.sandbox.stop()
    return {
        "creators": creators,
        "seconds": asdict(Stats.of(seconds)),
        "ratio": asdict(Stats.of(ratios)),
        "throttling_errors": throttled,
        "all_runs_issued_every_code": issued_ok,
        "last_counts": counts,
    }


def _issuance_samples(
    world: World, runner: Runner, runs: int, codes: int, concurrency: int, tag: str
) -> tuple[list[float], list[float], int, bool, dict[str, int], dict[str, Any]]:
    """``runs`` issuance samples: (seconds, ratios, throttling errors, all issued, last counts, setup)."""
    latency = world.latency_ms / 1000
    bound = codes * latency / concurrency
    work = runner.state_dir / tag
    world.sandbox.configure(latency_ms=0)  # the snapshot is set-up, not measured
    try:
        fetched = runner.probe(
            "fetch",
            {**world.env, "AIRFLOW_CONN_PARTNERSHIP_ADS_DB": _sqlite_conn(work / "setup_ledger.db")},
            *brand_args(world),
            "--snapshot-root",
            str(work / "snapshots"),
            "--run-id",
            "bench_issuance_setup",
        )
    finally:
        world.sandbox.configure(latency_ms=world.latency_ms)
    seconds: list[float] = []
    ratios: list[float] = []
    throttled_total = 0
    issued_ok = True
    counts: dict[str, int] = {}
    for n in range(runs):
        world.sandbox.reset()
        env = {**world.env, "AIRFLOW_CONN_PARTNERSHIP_ADS_DB": _sqlite_conn(work / f"ledger_{n}.db")}
        result = runner.probe(
            "issue",
            env,
            *brand_args(world),
            "--snapshot-path",
            str(fetched["snapshot_path"]),
            "--run-id",
            f"bench_{tag}_{n}",
            "--max-codes",
            str(codes),
            "--concurrency",
            str(concurrency),
        )
        counts = result["counts"]
        posts, throttled = _throttle_errors(world)
        throttled_total += throttled
        issued_ok = issued_ok and counts.get("issued") == codes
        seconds.append(result["seconds"])
        ratios.append(result["seconds"] / bound)
        say(
            f"{tag} run {n + 1}/{runs}: {result['seconds']:.2f}s, issued {counts.get('issued')}, "
            f"{posts} POSTs, {throttled} throttled ({ratios[-1]:.2f}x)"
        )
    return seconds, ratios, throttled_total, issued_ok, counts, fetched


def _sqlite_conn(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.unlink()
    return json.dumps({"conn_type": "sqlite", "host": str(path)})


# --------------------------------------------------------------------------------------------- 4. memory


def bench_memory(
    runner: Runner,
    sizes: tuple[int, int],
    runs: int,
    *,
    limit_mb: float = 300,
    growth: float = 1.3,
) -> Row:
    peaks: dict[int, list[float]] = {}
    details: dict[str, Any] = {}
    for size in sizes:
        say(f"memory: starting a sandbox with about {size:,} items for the brand")
        world = start_world(
            brand_items=size,
            latency_ms=0,
            state_dir=runner.state_dir / f"memory_{size}",
            rate_limit_calls=10_000_000,
        )
        try:
            peaks[size] = []
            for n in range(runs):
                env = {
                    **world.env,
                    "AIRFLOW_CONN_PARTNERSHIP_ADS_DB": _sqlite_conn(world.state_dir / f"ledger_{n}.db"),
                }
                result = runner.probe(
                    "fetch",
                    env,
                    *brand_args(world),
                    "--snapshot-root",
                    str(world.state_dir / "snapshots"),
                    "--run-id",
                    f"bench_memory_{n}",
                )
                peaks[size].append(result["peak_rss_mb"])
                details[f"items_{size}"] = result["items"]
                details[f"seconds_{size}"] = result["seconds"]
                details[f"rss_after_imports_mb_{size}"] = result["peak_rss_mb_after_imports"]
                say(
                    f"memory {size:,}: {result['items']:,} items in {result['seconds']:.1f}s, "
                    f"peak RSS {result['peak_rss_mb']:.0f} MB"
                )
        finally:
            world.sandbox.stop()
    small, large = sizes
    small_stats, large_stats = Stats.of(peaks[small]), Stats.of(peaks[large])
    growth_ratio = Stats.of([large_stats.median / small_stats.median])
    details.update(peak_rss_mb={str(k): v for k, v in peaks.items()})
    return Row(
        key="memory",
        title=f"4. fetch operator peak RSS, {large:,} items",
        measured=large_stats,
        unit="MB",
        reference=f"{small_stats.median:.0f} MB at {small:,} items",
        target=f"<= {limit_mb:g} MB and <= {growth:g}x the {small:,} figure",
        met=large_stats.median <= limit_mb and growth_ratio.median <= growth,
        ratio=growth_ratio,
        details=details,
    )


# ----------------------------------------------------------------------------------------- 5. parse time


def bench_parse(runner: Runner, runs: int, env: dict[str, str], limit_ms: float = 50) -> Row:
    samples = parse_time.measure(ROOT / "dags", runs, env)
    per_file = {name: Stats.of([s * 1000 for s in values]) for name, values in samples.items()}
    for name, stats in per_file.items():
        say(f"parse {name}: {stats.render('ms')}")
    worst_name, worst = max(per_file.items(), key=lambda kv: kv[1].median)
    return Row(
        key="parse",
        title=f"5. DAG parse time, slowest of {len(per_file)} ({worst_name})",
        measured=worst,
        unit="ms",
        reference="beyond importing airflow.sdk",
        target=f"< {limit_ms:g} ms each",
        met=all(stats.median < limit_ms for stats in per_file.values()),
        details={name: stats.median for name, stats in per_file.items()},
    )


# --------------------------------------------------------------------------------------------- 6. e2e


def bench_e2e(world: World, runner: Runner, runs: int, codes: int, target: float = 0.4) -> Row:
    work = runner.state_dir / "e2e"
    work.mkdir(parents=True, exist_ok=True)
    airflow = [sys.executable, "-m", "airflow"]
    say("e2e: airflow db migrate (set-up, not measured)")
    runner.command([*airflow, "db", "migrate"], world.env)
    brand = world.brand
    baseline_env = {
        **world.env,
        "BASELINE_BRAND_TOKEN": world.brand_token,
        "BASELINE_CREATOR_TOKENS": json.dumps(world.creator_tokens()),
    }
    conf = json.dumps({"max_codes": codes, "sinks": ["sql"]})
    pipeline_seconds: list[float] = []
    baseline_seconds: list[float] = []
    ratios: list[float] = []
    checks: list[dict[str, Any]] = []

    def run_baseline(n: int) -> float:
        world.sandbox.reset()
        db = work / f"baseline_{n}.sqlite"
        db.unlink(missing_ok=True)
        cmd = [
            sys.executable,
            "-m",
            "include.bench.baseline",
            "--base-url",
            world.sandbox.url,
            "--api-version",
            world.sandbox.api_version,
            "--business-id",
            str(brand["business_id"]),
            "--db",
            str(db),
            "--max-codes",
            str(codes),
        ]
        if brand.get("ig_user_id"):
            cmd += ["--ig-user-id", str(brand["ig_user_id"])]
        if brand.get("fb_page_id"):
            cmd += ["--fb-page-id", str(brand["fb_page_id"])]
        seconds, out = runner.command(cmd, baseline_env)
        counts = json.loads(out.strip().splitlines()[-1])
        posts, throttled = _throttle_errors(world)
        checks.append({"run": n, "who": "baseline", **counts, "posts": posts, "throttled": throttled})
        if counts["issued"] != codes:
            raise RuntimeError(f"the baseline issued {counts['issued']} codes, expected {codes}")
        return seconds

    def run_pipeline(n: int) -> float:
        world.sandbox.reset()
        ledger = work / f"ledger_{n}.db"
        env = {
            **world.env,
            "AIRFLOW_CONN_PARTNERSHIP_ADS_DB": _sqlite_conn(ledger),
            "PARTNERSHIP_ADS_SNAPSHOT_ROOT": str(work / f"snapshots_{n}"),
        }
        seconds, _ = runner.command(
            [*airflow, "dags", "test", "partnership_ad_codes", "-c", conf], env, capture=False
        )
        posts, throttled = _throttle_errors(world)
        with sqlite3.connect(ledger) as db:
            issued = db.execute("SELECT count(*) FROM pa_ad_codes WHERE state = 'issued'").fetchone()[0]
            rows = db.execute("SELECT count(*) FROM partnership_ad_codes").fetchone()[0]
        checks.append(
            {
                "run": n,
                "who": "pipeline",
                "issued": issued,
                "sql_rows": rows,
                "posts": posts,
                "throttled": throttled,
            }
        )
        if issued != codes:
            raise RuntimeError(
                f"the pipeline issued {issued} codes, expected {codes} (see {runner.log_path})"
            )
        return seconds

    for n in range(runs):
        # Alternate which goes first, so drift of the machine's load hits both sides alike.
        order: list[tuple[str, Callable[[int], float]]] = [
            ("baseline", run_baseline),
            ("pipeline", run_pipeline),
        ]
        if n % 2:
            order.reverse()
        got: dict[str, float] = {}
        for name, fn in order:
            got[name] = fn(n)
            say(f"e2e round {n + 1}/{runs}: {name} {got[name]:.1f}s")
        baseline_seconds.append(got["baseline"])
        pipeline_seconds.append(got["pipeline"])
        ratios.append(got["pipeline"] / got["baseline"])
    ratio = Stats.of(ratios)
    baseline = Stats.of(baseline_seconds)
    return Row(
        key="e2e",
        title=f"6. end to end, {codes:,} codes issued",
        measured=Stats.of(pipeline_seconds),
        unit="s",
        reference=f"baseline script {baseline.render('s', 1)}",
        target=f"<= {target:.2f}x baseline",
        met=ratio.median <= target,
        ratio=ratio,
        details={"baseline_seconds": list(baseline_seconds), "checks": checks},
    )


# ------------------------------------------------------------------------------------ 7-8. scheduled


def _turnable_items(world: World, count: int) -> list[str]:
    """Instagram items of the brand that are not AD_READY and hold no code: each can turn AD_READY."""
    import requests

    brand = world.brand
    params: dict[str, Any] = {
        "access_token": world.brand_token,
        "fields": "content_id,platform,partnership_info{ad_code,tagged_partner{ig_user_id}}",
        "ad_eligibilities": '["NEEDS_ATTENTION"]',
        "platform_types": '["INSTAGRAM"]',
        "limit": 50,
    }
    if brand.get("ig_user_id"):
        params["ig_user_id"] = brand["ig_user_id"]
    url = f"{world.sandbox.graph_url}/{brand['business_id']}/partnership-ads-advertisable-content"
    found: list[str] = []
    while len(found) < count:
        body = requests.get(url, params=params, timeout=60).json()
        found.extend(
            item["content_id"]
            for item in body["data"]
            if not any(entry.get("ad_code") for entry in item.get("partnership_info") or [])
        )
        after = ((body.get("paging") or {}).get("cursors") or {}).get("after")
        if not body.get("paging") or not after:
            break
        params["after"] = after
    if len(found) < count:
        raise RuntimeError(
            f"only {len(found)} NEEDS_ATTENTION Instagram items without a code; {count} needed"
        )
    return found[:count]


def bench_scheduled(
    world: World, runner: Runner, runs: int, new: int, concurrency: int, target: float = 1.25
) -> list[Row]:
    """Rows 7 and 8: a scheduled run's cost when nothing is new, and when ``new`` items turned AD_READY."""
    latency = world.latency_ms / 1000
    work = runner.state_dir / "scheduled"
    work.mkdir(parents=True, exist_ok=True)
    env = {
        **world.env,
        "AIRFLOW_CONN_PARTNERSHIP_ADS_DB": _sqlite_conn(work / "ledger.db"),
        "PARTNERSHIP_ADS_SNAPSHOT_ROOT": str(work / "snapshots"),
    }
    args = [*brand_args(world), "--concurrency", str(concurrency)]
    world.sandbox.reset()
    turnable = _turnable_items(world, new * runs)
    # Set-up, not measured: the first scheduled run gives every AD_READY item its code (at zero latency).
    world.sandbox.configure(latency_ms=0)
    try:
        first = runner.probe("scheduled", env, *args, "--run-id", "scheduled__setup")
    finally:
        world.sandbox.configure(latency_ms=world.latency_ms)
    say(
        f"scheduled: set-up run issued {first['counts']['issued']} codes over {first['items']} AD_READY items"
    )
    rows: list[Row] = []
    for key, fresh in (("scheduled", 0), ("scheduled_new", new)):
        seconds: list[float] = []
        ratios: list[float] = []
        posts_seen: list[int] = []
        pages = looked_up = 0
        for n in range(runs):
            items = turnable[n * fresh : (n + 1) * fresh]
            for content_id in items:
                world.sandbox.set_eligibility(
                    content_id, "AD_READY", business_id=str(world.brand["business_id"])
                )
            world.sandbox.control("DELETE", "requests")
            result = runner.probe("scheduled", env, *args, "--run-id", f"{key}__{n}")
            posts, throttled = _throttle_errors(world)
            lookups = math.ceil(result["looked_up"] / 50) if result["looked_up"] else 0
            pages, looked_up = result["pages"], result["looked_up"]
            bound = (pages + lookups + math.ceil(fresh / concurrency)) * latency
            if posts != fresh or result["counts"]["issued"] != fresh or throttled:
                raise RuntimeError(
                    f"{key} run {n}: {posts} POSTs and {result['counts']['issued']} issued, expected {fresh} "
                    f"({throttled} throttled; see {runner.log_path})"
                )
            posts_seen.append(posts)
            seconds.append(result["seconds"])
            ratios.append(result["seconds"] / bound)
            say(
                f"{key} run {n + 1}/{runs}: {result['seconds']:.2f}s, {pages} pages, {posts} POSTs "
                f"({ratios[-1]:.2f}x)"
            )
        ratio = Stats.of(ratios)
        bound_text = f"({pages} pages" + (f" + {math.ceil(fresh / concurrency)} POST rounds" if fresh else "")
        rows.append(
            Row(
                key=key,
                title=(
                    "7. scheduled run, nothing new"
                    if not fresh
                    else f"8. scheduled run, {fresh} items newly AD_READY"
                ),
                measured=Stats.of(seconds),
                unit="s",
                reference=f"bound {bound_text}) x {world.latency_ms:g} ms",
                target=f"<= {target:.2f}x bound, {fresh} POSTs",
                met=ratio.median <= target and all(p == fresh for p in posts_seen),
                ratio=ratio,
                details={
                    "pages": pages,
                    "ad_ready_items": first["items"],
                    "looked_up": looked_up,
                    "posts": posts_seen,
                    "codes_after_setup": first["counts"]["issued"] + first["counts"]["harvested"],
                },
            )
        )
    return rows


# --------------------------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m include.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=float, default=50.0, help="latency the sandbox adds per call")
    parser.add_argument("--runs", type=int, default=3, help="samples per timed figure")
    parser.add_argument("--e2e-runs", type=int, default=3, help="alternating rounds of the end-to-end pair")
    parser.add_argument("--memory-runs", type=int, default=1, help="samples per memory figure")
    parser.add_argument("--items", type=int, default=10_000, help="items the brand's discovery holds")
    parser.add_argument("--codes", type=int, default=2_000, help="codes to issue")
    parser.add_argument("--concurrency", type=int, default=16, help="issuance concurrency")
    parser.add_argument(
        "--issuance-creators",
        type=int,
        default=40,
        help="also issue the same codes from a world with this many creators (a note on row 3); 0: skip",
    )
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument(
        "--scheduled-new", type=int, default=20, help="items turned AD_READY before each run of row 8"
    )
    parser.add_argument(
        "--memory-items", default="20000,200000", help="the two discovery sizes of the memory figure"
    )
    parser.add_argument(
        "--only", default=",".join(BENCHMARKS), help=f"comma-separated subset of {BENCHMARKS}"
    )
    parser.add_argument("--out", type=Path, default=STATE / "results.json")
    parser.add_argument("--state-dir", type=Path, default=STATE / "run")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(only) - set(BENCHMARKS))
    if unknown:
        raise SystemExit(f"--only: unknown benchmark(s) {unknown}; choose from {BENCHMARKS}")
    args.state_dir = args.state_dir.resolve()
    args.out = args.out.resolve()
    started = datetime.now(UTC)
    host = machine()
    shutil.rmtree(args.state_dir, ignore_errors=True)
    args.state_dir.mkdir(parents=True, exist_ok=True)
    runner = Runner(args.state_dir)
    say(
        f"machine: {host['nproc']} cores, {host['cpu_model']}, Python {host['python']}, "
        f"load {host['load_average_at_start']}"
    )
    say(f"logs of every probe and command: {runner.log_path}")
    rows: list[Row] = []
    clock = time.perf_counter()
    network = [
        name
        for name in ("discovery", "partitioned", "issuance", "e2e", "scheduled", "scheduled_new")
        if name in only
    ]
    if network:
        say(f"starting the sandbox: about {args.items:,} items for the brand, {args.latency_ms:g} ms latency")
        world = start_world(brand_items=args.items, latency_ms=args.latency_ms, state_dir=args.state_dir)
        try:
            if "discovery" in only:
                rows.append(bench_discovery(world, runner, args.runs))
            if "partitioned" in only:
                rows.append(bench_partitioned(world, runner, args.runs, args.partitions))
            if "issuance" in only:
                rows.append(bench_issuance(world, runner, args.runs, args.codes, args.concurrency))
            if "e2e" in only:
                e2e_row = bench_e2e(world, runner, args.e2e_runs, args.codes)
            if "scheduled" in only or "scheduled_new" in only:
                scheduled_rows = [
                    row
                    for row in bench_scheduled(world, runner, args.runs, args.scheduled_new, args.concurrency)
                    if row.key in only
                ]
        finally:
            world.sandbox.stop()
    if "issuance" in only and args.issuance_creators:
        issuance_row = next(row for row in rows if row.key == "issuance")
        issuance_row.details["fewer_creators"] = issuance_with_fewer_creators(
            runner, args, args.issuance_creators
        )
    if "memory" in only:
        small, large = (int(x) for x in args.memory_items.split(","))
        rows.append(bench_memory(runner, (small, large), args.memory_runs))
    if "parse" in only:
        env = {**os.environ, "AIRFLOW_HOME": str(args.state_dir / "airflow")}
        rows.append(bench_parse(runner, max(args.runs, 3), env))
    if "e2e" in only:
        rows.append(e2e_row)
    if "scheduled" in only or "scheduled_new" in only:
        rows.extend(scheduled_rows)
    rows.sort(key=lambda row: BENCHMARKS.index(row.key))
    elapsed = time.perf_counter() - clock
    settings = {
        **{k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "elapsed_s": elapsed,
    }
    path = write_json(rows, settings, args.out, started, host)
    print()
    print(
        f"Benchmarks ({host['nproc']} cores, {host['cpu_model']}, Python {host['python']}; "
        f"latency {args.latency_ms:g} ms; median [min-max] of {args.runs} runs, e2e {args.e2e_runs} rounds)"
    )
    print(text_table(rows))
    print()
    print(f"{sum(r.met for r in rows)}/{len(rows)} targets met in {elapsed / 60:.1f} min; JSON: {path}")
    for row in rows:
        fewer = row.details.get("fewer_creators")
        if fewer:
            print(
                f"Note on row 3: the same {args.codes:,} codes from {fewer['creators']} creators "
                f"(one connection each): {Stats(**fewer['seconds']).render('s')}, "
                f"{Stats(**fewer['ratio']).render('x')} of the bound, {fewer['throttling_errors']} throttled"
            )
    print()
    print(markdown_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
