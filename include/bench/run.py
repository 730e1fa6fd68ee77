"""``python -m include.bench``: run the benchmarks, print the table, write it as JSON under .demo/bench/.

1. discovery: ``iter_advertisable_content`` over ~10,000 items at page size 50, against ``pages x latency``.
2. partitioned discovery: the same items as a date window split into 4 partitions walked in parallel.
3a/3b. issuance of 2,000 codes as the DAG's issue stage runs it (``plan_issuance``, then every creator shard
   as its own process, all at once, 16 POST slots in all), against ``2,000 x latency / 16``, with zero
   throttling errors; 3a in the world of 400 creators, 3b in one of ``--issuance-creators`` (40).
4. memory: peak RSS of ``FetchAdvertisableContentOperator`` over 20,000 and 200,000 items.
5. parse time: importing each DAG file beyond the cost of importing Airflow.
6. end to end: a triggered run of ``partnership_ad_codes`` on the native Celery topology (10,000 items, 2,000
   to issue) against the hand-written baseline script (``include/bench/baseline.py``), in alternation.
7. scheduled, nothing new: the daily scheduled run (fetch + issue with ``plan_run(scheduled=True)``) over the
   same world once every AD_READY item holds a code: pages fetched, wall time against ``pages x latency``,
   and zero POSTs.
8. scheduled, a few new: the same after ``--scheduled-new`` items became AD_READY: exactly that many POSTs,
   wall time against ``(pages + ceil(new / concurrency)) x latency``.
9. scale-out: the same run over the sandbox's three brands on the native topology with 2 Celery workers,
   then with 1 (same ``worker_concurrency``).
10. worker slot-seconds an issue task holds after the sandbox answers one POST with "wait 10 minutes", until
   the task is deferred to the triggerer ("not measured" until the issue stage defers).

Every timed figure is the median of ``--runs`` samples with min and max; ratios are taken within one sample.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import shutil
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from include.bench import parse_time
from include.bench.fixture_world import ROOT, STATE, World, start_world
from include.bench.native import DAG_ID, NativeBench, api_time
from include.bench.report import Row, Stats, machine, markdown_table, text_table, write_json

if TYPE_CHECKING:
    from collections.abc import Callable

_CREATOR_CONN_ENV = "AIRFLOW_CONN_META_GRAPH_CREATOR_"
#: Names this bench run's PostgreSQL databases, so that two runs on one server never share one.
_RUN_TAG = uuid.uuid4().hex[:6]
BENCHMARKS = (
    "discovery",
    "partitioned",
    "issuance",
    "issuance_few",
    "memory",
    "parse",
    "e2e",
    "scheduled",
    "scheduled_new",
    "scale_out",
    "throttle_slots",
)
#: Rows on the native Celery topology (started once for all of them).
NATIVE = ("e2e", "scale_out", "throttle_slots")
# Graph's throttling codes (reference page): app, user, page, application, custom and BUC limits.
THROTTLE_CODES = frozenset({4, 17, 32, 341, 613, *range(80000, 80010), 80014})


def say(message: str) -> None:
    """Progress on stderr, so stdout carries only the table."""
    print(f"[bench {datetime.now().strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _read_result(process: subprocess.Popen[str], timeout: float) -> tuple[str, float]:
    """A probe's whole output, and when its last line (the result) arrived; waits for the process."""
    assert process.stdout is not None
    out: list[str] = []
    ended = time.perf_counter()
    for line in process.stdout:
        out.append(line)
        ended = time.perf_counter()
    process.wait(timeout=timeout)
    return "".join(out), ended


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

    def shards(
        self, env: dict[str, str], run_id: str, shards: list[dict[str, Any]], *, timeout: float = 900
    ) -> tuple[float, list[dict[str, Any]]]:
        """Every shard in a process of its own, released together once all have done their imports.

        Returns (wall seconds from the release to the last shard's end, each shard's result in order).
        """
        cmd = [sys.executable, "-m", "include.bench.probe", "shard", "--run-id", run_id]
        with self.log_path.open("a") as log:
            log.write(f"\n===== {len(shards)} shard probes for {run_id}\n")
            log.flush()
            processes = [
                subprocess.Popen(
                    cmd,
                    env=env,
                    cwd=ROOT,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=log,
                    text=True,
                )
                for _ in shards
            ]
            try:
                for process in processes:
                    ready = process.stdout.readline() if process.stdout else ""
                    if '"ready"' not in ready:
                        raise RuntimeError(f"a shard probe did not start (see {self.log_path})")
                start = time.perf_counter()
                for index, (process, shard) in enumerate(zip(processes, shards, strict=True)):
                    assert process.stdin is not None
                    process.stdin.write(json.dumps({**shard, "map_index": index}) + "\n")
                    process.stdin.flush()
                # Every shard's output is drained at once: read one after another, a shard that logs more
                # than a pipe holds (64 KB) would stall until the shards before it ended. A shard ends when
                # it writes its result (as a task instance ends when execute returns), not when its
                # interpreter has exited.
                with ThreadPoolExecutor(max_workers=len(processes)) as readers:
                    read = list(readers.map(lambda process: _read_result(process, timeout), processes))
                outputs = [out for out, _ended in read]
                wall = max(ended for _out, ended in read) - start
            finally:
                for process in processes:
                    if process.poll() is None:
                        process.kill()
                        process.wait()
        if any(process.returncode for process in processes):
            tail = self.log_path.read_text()[-3000:]
            raise RuntimeError(f"a shard probe failed:\n{tail}")
        return wall, [json.loads(out.strip().splitlines()[-1]) for out in outputs]


def brand_args(world: World) -> list[str]:
    brand = world.brand
    args = ["--business-id", str(brand["business_id"]), "--meta-conn-id", str(brand["meta_conn_id"])]
    if brand.get("ig_user_id"):
        args += ["--ig-user-id", str(brand["ig_user_id"])]
    if brand.get("fb_page_id"):
        args += ["--fb-page-id", str(brand["fb_page_id"])]
    return args


# --------------------------------------------------------------------------------------------- 1. discovery


def bench_discovery(world: World, runner: Runner, runs: int, target: float = 1.05) -> Row:
    """Row 1; the target is what a bare ``requests.Session`` walking the same pages achieves at 50 ms."""
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
        target=f"<= {target:.2f}x bound (a bare requests.Session)",
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
    world: World,
    runner: Runner,
    runs: int,
    codes: int,
    concurrency: int,
    *,
    key: str = "issuance",
    label: str = "3a",
    creators_per_shard: int = 50,
    target: float = 1.25,
) -> Row:
    """Row 3a/3b: a brand's issue stage as the DAG runs it (planning, then every shard at once)."""
    latency = world.latency_ms / 1000
    bound = codes * latency / concurrency
    samples = _sharded_issuance_samples(world, runner, runs, codes, concurrency, creators_per_shard, key)
    ratios = [s["seconds"] / bound for s in samples]
    ratio = Stats.of(ratios)
    throttled = sum(s["throttled"] for s in samples)
    issued_ok = all(s["issued"] == codes for s in samples)
    last = samples[-1]
    creators = sum(1 for k in world.env if k.startswith(_CREATOR_CONN_ENV))
    return Row(
        key=key,
        title=(
            f"{label}. issuance, {codes:,} codes from {last['owners_posted']} accounts "
            f"in {len(last['shards'])} shards, concurrency {concurrency} in all"
        ),
        measured=Stats.of([s["seconds"] for s in samples]),
        unit="s",
        reference=f"bound {codes} x {world.latency_ms:g} ms / {concurrency} = {bound:.2f} s",
        target=f"<= {target:.2f}x bound, 0 throttled (got {throttled})",
        met=ratio.median <= target and throttled == 0 and issued_ok,
        ratio=ratio,
        details={
            "codes": codes,
            "concurrency_total": concurrency,
            "creators_per_shard": creators_per_shard,
            "creator_connections": creators,
            "method": (
                "planning (PlanIssuanceOperator, timed in its process) then every shard as its own fresh "
                "process (IssueAdCodesOperator with the shard's content_ids; Airflow and the operator "
                "imported before the timed section), all shards started together, ledger on PostgreSQL; "
                "measured = planning seconds + wall time from releasing the shards to the last one "
                "writing its result (interpreter exit not counted). The codes are "
                "chosen after planning, round robin over each shard's creators; each shard gets "
                "max_concurrency slots (sum = concurrency) and codes in proportion to its slots."
            ),
            "throttling_errors": throttled,
            "all_runs_issued_every_code": issued_ok,
            "samples": samples,
        },
    )


def allot_shards(
    shards: list[dict[str, Any]], owners: dict[str, str], codes: int, concurrency: int
) -> list[dict[str, Any]]:
    """Each shard's POST slots and the items it issues, so that the shards together hold ``concurrency``
    slots and issue ``codes`` codes, each shard's codes in proportion to its slots.

    The DAG gives every shard ``max_codes`` and ``max_concurrency`` of its own; a bound at ``concurrency``
    is honest only when the shards running at once hold no more slots than that, and the bench's
    ``codes`` must be split so that no shard idles while another works through a longer queue. Items are
    chosen round robin over the shard's creators (snapshot order within a creator), so every creator with an
    item to issue posts, and its connection is read, as in the whole brand. Items without an author (no
    connection can be named) are left out. Returns copies of the shards with ``content_ids`` replaced and
    ``max_concurrency`` set, in plan order; raises ValueError when it cannot be done.
    """
    by_shard: list[list[list[str]]] = []
    for shard in shards:
        per_owner: dict[str, list[str]] = {}
        for cid in shard["content_ids"]:
            owner = owners.get(cid, "")
            if owner:
                per_owner.setdefault(owner, []).append(cid)
        by_shard.append(list(per_owner.values()))
    avail = [sum(len(items) for items in owner_items) for owner_items in by_shard]
    live = [n for n, count in enumerate(avail) if count]
    if len(live) > concurrency:
        raise ValueError(f"{len(live)} shards to run at once but only {concurrency} POST slots in all")
    if sum(avail) < codes:
        raise ValueError(f"the plan holds {sum(avail)} items to issue; {codes} codes asked")
    slots = dict.fromkeys(live, 1)
    for _ in range(concurrency - len(live)):
        # The next slot goes where the items per slot are highest.
        best = max(live, key=lambda n: avail[n] / slots[n])
        slots[best] += 1
    quota = {n: codes * slots[n] // concurrency for n in live}
    for n in sorted(live, key=lambda n: -slots[n])[: codes - sum(quota.values())]:
        quota[n] += 1
    # A shard with fewer items than its share gives the rest to those with items to spare.
    spill = sum(max(0, quota[n] - avail[n]) for n in live)
    quota = {n: min(quota[n], avail[n]) for n in live}
    while spill:
        spare = [n for n in live if quota[n] < avail[n]]
        n = max(spare, key=lambda m: (avail[m] - quota[m]) / slots[m])
        quota[n] += 1
        spill -= 1
    allotted: list[dict[str, Any]] = []
    for n in live:
        chosen: list[str] = []
        owner_items = by_shard[n]
        depth = 0
        while len(chosen) < quota[n]:
            for items in owner_items:
                if depth < len(items) and len(chosen) < quota[n]:
                    chosen.append(items[depth])
            depth += 1
        allotted.append({**shards[n], "content_ids": chosen, "max_concurrency": slots[n]})
    return allotted


def _sharded_issuance_samples(
    world: World,
    runner: Runner,
    runs: int,
    codes: int,
    concurrency: int,
    creators_per_shard: int,
    tag: str,
) -> list[dict[str, Any]]:
    """``runs`` samples of planning + all shards at once; each a dict of its figures and checks."""
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
    latency = world.latency_ms / 1000
    bound = codes * latency / concurrency
    samples: list[dict[str, Any]] = []
    for n in range(runs):
        world.sandbox.reset()
        run_id = f"bench_{tag}_{n}"
        # PostgreSQL, the production ledger: the shards are separate processes writing at once.
        database = f"pa_bench_{_RUN_TAG}_{tag}_{n}"
        env = {**world.env, "AIRFLOW_CONN_PARTNERSHIP_ADS_DB": _postgres_ledger(database)}
        # The DAG's first task (resolve_brands) migrates the ledger before any other: so does the set-up
        # here, outside the timed section (the planning task then finds the schema in place).
        _migrate_ledger(env["AIRFLOW_CONN_PARTNERSHIP_ADS_DB"])
        planned = runner.probe(
            "plan",
            env,
            *brand_args(world),
            "--snapshot-path",
            str(fetched["snapshot_path"]),
            "--run-id",
            run_id,
            "--creators-per-shard",
            str(creators_per_shard),
        )
        shards = allot_shards(planned["shards"], planned["owners"], codes, concurrency)
        sandbox_cpu = _process_cpu_seconds(world.sandbox.process.pid)
        try:
            wall, results = runner.shards(env, run_id, shards)
        finally:
            _drop_postgres(database)
        sandbox_cpu = _process_cpu_seconds(world.sandbox.process.pid) - sandbox_cpu
        seconds = planned["seconds"] + wall
        posts, throttled = _throttle_errors(world)
        issued = sum(int(r["counts"].get("issued", 0)) for r in results)
        owners_posted = len({planned["owners"][cid] for s in shards for cid in s["content_ids"]})
        samples.append(
            {
                "seconds": seconds,
                "planning_seconds": planned["seconds"],
                "shards_wall_seconds": wall,
                "shard_seconds": [r["seconds"] for r in results],
                # CPU seconds (user + system) of each shard's timed section, and of the sandbox's process
                # meanwhile (its answers to the shards' requests): what the two cores carried in that time.
                "shard_cpu_seconds": [r["cpu_seconds"] for r in results],
                "sandbox_cpu_seconds": sandbox_cpu,
                "shards": [
                    {
                        "shard": s["shard"],
                        "creators": len({planned["owners"][cid] for cid in s["content_ids"]}),
                        "codes": len(s["content_ids"]),
                        "max_concurrency": s["max_concurrency"],
                    }
                    for s in shards
                ],
                "planned_shards": len(planned["shards"]),
                "owners_posted": owners_posted,
                "issued": issued,
                "posts": posts,
                "throttled": throttled,
            }
        )
        say(
            f"{tag} run {n + 1}/{runs}: {seconds:.2f}s (planning {planned['seconds']:.2f}s + "
            f"{len(shards)} shards {wall:.2f}s), issued {issued} from {owners_posted} creators, "
            f"{posts} POSTs, {throttled} throttled ({seconds / bound:.2f}x)"
        )
    return samples


def _process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (``/proc/<pid>/stat``, Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _postgres_ledger(name: str) -> str:
    """A fresh PostgreSQL database ``name`` on the configured server (dropped first if left over): its URI."""
    from include.topology.native import TopologyConfig

    config = TopologyConfig()
    import psycopg2

    admin = psycopg2.connect(config.postgres_uri("postgres"))
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            # Identifiers cannot be bound parameters; the name is built by the bench, not given by a user.
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            cur.execute(f'CREATE DATABASE "{name}"')
    finally:
        admin.close()
    return config.postgres_uri(name)


def _migrate_ledger(uri: str) -> None:
    """Apply the ledger's schema to the database at ``uri`` (set-up, as resolve_brands does in a run)."""
    from partnership_ads.ledger import Ledger

    variable = "AIRFLOW_CONN_PA_BENCH_SETUP_LEDGER"
    os.environ[variable] = uri
    try:
        Ledger.from_conn_id("pa_bench_setup_ledger").migrate()
    finally:
        os.environ.pop(variable, None)


def _drop_postgres(name: str) -> None:
    import psycopg2

    from include.topology.native import TopologyConfig

    admin = psycopg2.connect(TopologyConfig().postgres_uri("postgres"))
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.close()


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


def bench_e2e(
    world: World, runner: Runner, native: NativeBench, runs: int, codes: int, target: float = 0.4
) -> Row:
    """Row 6: a triggered run of the DAG on the native topology against the hand-written baseline."""
    work = runner.state_dir / "e2e"
    work.mkdir(parents=True, exist_ok=True)
    brand = world.brand
    baseline_env = {
        **world.env,
        "BASELINE_BRAND_TOKEN": world.brand_token,
        "BASELINE_CREATOR_TOKENS": json.dumps(world.creator_tokens()),
    }
    conf = {"business_id": str(brand["business_id"]), "max_codes": codes, "sinks": ["sql"]}
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
        native.fresh_ledger()
        run = native.wait_for_run(native.trigger(conf))
        seconds = native.run_seconds(run)
        posts, throttled = _throttle_errors(world)
        issued = native.ledger_count("SELECT count(*) FROM pa_ad_codes WHERE state = 'issued'")
        rows = native.ledger_count("SELECT count(*) FROM partnership_ad_codes")
        checks.append(
            {
                "run": n,
                "who": "pipeline",
                "state": run["state"],
                "issued": issued,
                "sql_rows": rows,
                "posts": posts,
                "throttled": throttled,
            }
        )
        if run["state"] != "success":
            raise RuntimeError(f"the triggered run {run['dag_run_id']} ended {run['state']}")
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
    issued_ok = all(c["issued"] == codes for c in checks)
    return Row(
        key="e2e",
        title=f"6. end to end, {codes:,} codes issued (triggered run, native topology)",
        measured=Stats.of(pipeline_seconds),
        unit="s",
        reference=f"baseline script {baseline.render('s', 1)}",
        target=f"<= {target:.2f}x baseline, {codes:,} issued" + ("" if issued_ok else " (got other counts)"),
        met=ratio.median <= target and issued_ok,
        ratio=ratio,
        details={
            "method": (
                "a run triggered through the REST API on the native Celery topology "
                f"({len(native.config.worker_names)} workers, worker_concurrency "
                f"{native.config.worker_concurrency}, ledger and SQL sink on PostgreSQL), timed from the "
                "run's queued_at to its end_date"
            ),
            "baseline_seconds": list(baseline_seconds),
            "checks": checks,
        },
    )


# ---------------------------------------------------------------------------------------- 9. scale-out


def bench_scale_out(
    world: World,
    runner: Runner,
    native: NativeBench,
    runs: int,
    codes: int,
    brands: int,
    target_speedup: float = 1.6,
) -> Row:
    """Row 9: the same multi-brand run with every worker, then with one worker stopped."""
    per_brand = math.ceil(codes / brands)
    conf = {"max_codes": per_brand, "sinks": ["sql"]}
    workers = len(native.config.worker_names)
    seconds: dict[int, list[float]] = {workers: [], 1: []}
    checks: list[dict[str, Any]] = []
    for count in (workers, 1):
        if count == 1 and workers > 1:
            for index in range(1, workers):
                native.stop_worker(index)
        for n in range(runs):
            world.sandbox.reset()
            native.fresh_ledger()
            run = native.wait_for_run(native.trigger(conf))
            took = native.run_seconds(run)
            posts, throttled = _throttle_errors(world)
            issued = native.ledger_count("SELECT count(*) FROM pa_ad_codes WHERE state = 'issued'")
            tis = native.task_instances(run["dag_run_id"])
            shards = sum(1 for ti in tis if ti["task_id"] == "issue_ad_codes")
            checks.append(
                {
                    "workers": count,
                    "run": n,
                    "state": run["state"],
                    "seconds": took,
                    "issued": issued,
                    "posts": posts,
                    "throttled": throttled,
                    "shard_tasks": shards,
                    "hostnames": sorted({ti.get("hostname") or "" for ti in tis} - {""}),
                    "task_seconds": _task_seconds(tis),
                }
            )
            if run["state"] != "success":
                raise RuntimeError(
                    f"scale-out run {run['dag_run_id']} ({count} workers) ended {run['state']}"
                )
            seconds[count].append(took)
            say(
                f"scale-out, {count} worker(s), run {n + 1}/{runs}: {took:.1f}s, {issued} issued, "
                f"{shards} shard tasks"
            )
    one, many = Stats.of(seconds[1]), Stats.of(seconds[workers])
    speedup = one.median / many.median
    # POSTs, not ledger states: a code may already have moved on from 'issued' when the ledger is read.
    same_work = len({c["posts"] for c in checks}) == 1
    return Row(
        key="scale_out",
        title=(
            f"9. scale-out, {brands} brands x max_codes {per_brand}: {workers} workers against 1 "
            f"(worker_concurrency {native.config.worker_concurrency})"
        ),
        measured=many,
        unit="s",
        reference=f"1 worker {one.render('s', 1)}; {checks[-1]['posts']:,} POSTs a run",
        target=f">= {target_speedup:g}x faster with {workers} workers (got {speedup:.2f}x)",
        met=speedup >= target_speedup and same_work,
        ratio=Stats.of([many.median / one.median]),
        details={
            "speedup": speedup,
            "method": (
                f"a run over {brands} brands triggered through the REST API, fresh ledger and sandbox each "
                f"time; first with {workers} workers, then with all but one stopped (same world, same "
                "topology; the API pool's slots are unchanged)"
            ),
            "checks": checks,
            "same_post_count_in_every_run": same_work,
        },
    )


def _task_seconds(tis: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per task id: how many tries, their summed and longest run time (start to end), and the longest wait
    from queued to start, in seconds (what explains a run's wall time)."""

    def moment(value: str | None) -> datetime | None:
        return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None

    out: dict[str, dict[str, float]] = {}
    for ti in tis:
        start, end, queued = (
            moment(ti.get("start_date")),
            moment(ti.get("end_date")),
            moment(ti.get("queued_when")),
        )
        figures = out.setdefault(
            ti["task_id"], {"tasks": 0, "run_sum": 0.0, "run_max": 0.0, "queued_max": 0.0}
        )
        figures["tasks"] += 1
        if start and end:
            figures["run_sum"] = round(figures["run_sum"] + (end - start).total_seconds(), 1)
            figures["run_max"] = round(max(figures["run_max"], (end - start).total_seconds()), 1)
        if start and queued:
            figures["queued_max"] = round(max(figures["queued_max"], (start - queued).total_seconds()), 1)
    return out


# ------------------------------------------------------------------------------ 10. slots held by a throttle


def deferral_merged() -> bool:
    """Whether the issue stage hands long throttles to the triggerer (a DateTimeTrigger in the operators)."""
    operators = ROOT / "plugins" / "partnership_ads" / "operators"
    return any("DateTimeTrigger" in path.read_text() for path in operators.glob("*.py"))


def bench_throttle_slots(
    world: World | None,
    native: NativeBench | None,
    *,
    told_seconds: int = 600,
    give_up_seconds: float = 120,
    target_s: float = 5.0,
) -> Row:
    """Row 10: worker slot-seconds an issue task holds after Meta says "wait 10 minutes"."""
    title = f"10. worker slot-seconds held during a {told_seconds // 60}-minute throttle"
    target = f"< {target_s:g} s held after the throttle"
    if world is None or native is None or not deferral_merged():
        return Row(
            key="throttle_slots",
            title=title,
            measured=None,
            unit="s",
            reference="the throttled issue task, throttle to deferral",
            target=target,
            met=False,
            not_measured="deferral not merged",
        )
    brand = world.brand
    world.sandbox.reset()
    world.sandbox.clear_faults()
    native.fresh_ledger()
    world.sandbox.schedule_fault(
        kind="throttle",
        code=80002,
        regain_minutes=told_seconds / 60,
        method="POST",
        path="/partnership_ad_code",
        count=1,
    )
    run_id = native.trigger({"business_id": str(brand["business_id"]), "max_codes": 200, "sinks": ["sql"]})
    # Poll the issue tasks until the one that was throttled is deferred (the poll interval is the resolution).
    throttled_at: float | None = None
    deferred_at: dict[int, float] = {}
    started_at: dict[int, float] = {}
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        now = time.time()
        if throttled_at is None:
            hits = [r for r in world.sandbox.requests_log() if r.get("fault") == "throttle"]
            if hits:
                throttled_at = api_time(hits[0]["time"])
        issue = [ti for ti in native.task_instances(run_id) if ti["task_id"] == "issue_ad_codes"]
        for ti in issue:
            if ti["state"] == "deferred" and ti["map_index"] not in deferred_at:
                deferred_at[ti["map_index"]] = now
                if ti.get("start_date"):
                    started_at[ti["map_index"]] = api_time(ti["start_date"])
        if throttled_at is not None and (deferred_at or now - throttled_at > give_up_seconds):
            break
        time.sleep(0.25)
    # End the run: its deferred task would wait the full throttle.
    native.call("PATCH", f"dags/{DAG_ID}/dagRuns/{run_id}", json={"state": "failed"})
    world.sandbox.clear_faults()
    if throttled_at is None:
        raise RuntimeError(f"run {run_id}: the sandbox throttled no POST within 15 minutes")
    # A task that started after the throttle (and deferred on the ledger's record of it) is counted from its
    # start, one running at the throttle from the throttle.
    per_task = {
        index: at - max(throttled_at, started_at.get(index, throttled_at))
        for index, at in deferred_at.items()
    }
    held = sum(per_task.values()) if deferred_at else time.time() - throttled_at
    return Row(
        key="throttle_slots",
        title=title,
        measured=Stats.of([held]),
        unit="s",
        reference="the throttled issue task, throttle to deferral",
        target=target + ("" if deferred_at else f" (not deferred within {give_up_seconds:g} s)"),
        met=bool(deferred_at) and held < target_s,
        details={
            "method": (
                "one POST answered with a throttle (code 80002, regain in "
                f"{told_seconds} s) during a triggered run on the native topology; the throttle's time "
                "from the sandbox's request log, the deferral's from polling the REST API's task instances "
                "every 0.25 s (an upper bound: a poll itself takes a moment); summed over the issue tasks "
                "that deferred, each from the throttle or its own later start"
            ),
            "held_seconds_by_map_index": per_task,
            "run_id": run_id,
        },
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


def bench_native(world: World, runner: Runner, args: argparse.Namespace, only: list[str]) -> list[Row]:
    """Rows 6, 10 and 9 on one native topology of 2 workers (row 9 stops one of them, so it runs last)."""
    rows: list[Row] = []
    if "throttle_slots" in only and not deferral_merged() and not {"e2e", "scale_out"} & set(only):
        return [bench_throttle_slots(world, None)]
    say(
        f"native topology: starting 2 Celery workers (worker_concurrency {args.worker_concurrency}), "
        f"redis db {args.redis_db}"
    )
    native = NativeBench.start(
        world,
        runner.state_dir / "native",
        workers=2,
        worker_concurrency=args.worker_concurrency,
        redis_db=args.redis_db,
        brands=args.brands,
    )
    try:
        if "e2e" in only:
            rows.append(bench_e2e(world, runner, native, args.e2e_runs, args.codes))
        if "throttle_slots" in only:
            rows.append(bench_throttle_slots(world, native))
        if "scale_out" in only:
            rows.append(bench_scale_out(world, runner, native, args.scale_runs, args.codes, args.brands))
    finally:
        native.stop()
    return rows


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m include.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=float, default=50.0, help="latency the sandbox adds per call")
    parser.add_argument("--runs", type=int, default=3, help="samples per timed figure")
    parser.add_argument("--e2e-runs", type=int, default=1, help="alternating rounds of the end-to-end pair")
    parser.add_argument("--memory-runs", type=int, default=1, help="samples per memory figure")
    parser.add_argument("--items", type=int, default=10_000, help="items the brand's discovery holds")
    parser.add_argument("--codes", type=int, default=2_000, help="codes to issue")
    parser.add_argument("--concurrency", type=int, default=16, help="issuance concurrency")
    parser.add_argument(
        "--issuance-creators",
        type=int,
        default=40,
        help="row 3b: the same codes from a world with this many creators; 0: skip row 3b",
    )
    parser.add_argument(
        "--creators-per-shard", type=int, default=50, help="rows 3a/3b: the DAG's creators_per_shard"
    )
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument(
        "--issuance-runs", type=int, help="rows 3a and 3b: samples each (default 2, or --runs when smaller)"
    )
    parser.add_argument("--brands", type=int, default=3, help="row 9: brands of the run (the sandbox has 3)")
    parser.add_argument("--scale-runs", type=int, default=1, help="row 9: runs with 2 workers, then with 1")
    parser.add_argument(
        "--worker-concurrency", type=int, default=2, help="rows 6, 9, 10: each Celery worker's task slots"
    )
    parser.add_argument("--redis-db", type=int, default=8, help="rows 6, 9, 10: the Celery broker's Redis db")
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
    if args.issuance_runs is None:
        args.issuance_runs = min(2, args.runs)
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
        for name in ("discovery", "partitioned", "issuance", "scheduled", "scheduled_new", *NATIVE)
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
                rows.append(
                    bench_issuance(
                        world,
                        runner,
                        args.issuance_runs,
                        args.codes,
                        args.concurrency,
                        creators_per_shard=args.creators_per_shard,
                    )
                )
            if "scheduled" in only or "scheduled_new" in only:
                scheduled_rows = [
                    row
                    for row in bench_scheduled(world, runner, args.runs, args.scheduled_new, args.concurrency)
                    if row.key in only
                ]
            if any(name in only for name in NATIVE):
                native_rows = bench_native(world, runner, args, only)
        finally:
            world.sandbox.stop()
    if "issuance_few" in only and args.issuance_creators:
        say(f"issuance with {args.issuance_creators} creators: starting a sandbox")
        few = start_world(
            brand_items=args.items,
            latency_ms=args.latency_ms,
            state_dir=runner.state_dir / f"issuance_{args.issuance_creators}_creators",
            creators=args.issuance_creators,
        )
        try:
            rows.append(
                bench_issuance(
                    few,
                    runner,
                    args.issuance_runs,
                    args.codes,
                    args.concurrency,
                    key="issuance_few",
                    label="3b",
                    creators_per_shard=args.creators_per_shard,
                )
            )
        finally:
            few.sandbox.stop()
    if "memory" in only:
        small, large = (int(x) for x in args.memory_items.split(","))
        rows.append(bench_memory(runner, (small, large), args.memory_runs))
    if "parse" in only:
        env = {**os.environ, "AIRFLOW_HOME": str(args.state_dir / "airflow")}
        rows.append(bench_parse(runner, max(args.runs, 3), env))
    if "scheduled" in only or "scheduled_new" in only:
        rows.extend(scheduled_rows)
    if any(name in only for name in NATIVE):
        rows.extend(native_rows)
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
    print()
    print(markdown_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
