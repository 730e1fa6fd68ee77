"""One measurement in a fresh process: ``python -m include.bench.probe KIND [options]``.

The benchmark runner starts a probe per sample so that every sample pays the same start-up, imports outside
the timed section, keeps its task logs out of the terminal (stderr goes to a file) and, for memory, has a peak
RSS of its own. The probe prints one JSON line on stdout, its result.

Kinds:
- ``discovery``: walk ``iter_advertisable_content`` sequentially; ``--partitions N --start-date --end-date``
  for the partitioned walk. Result: seconds, items, and (with ``--ids-file``) the content ids in order.
- ``fetch``: run ``FetchAdvertisableContentOperator`` (snapshot + ledger). Result: seconds, items, pages,
  snapshot_path, peak RSS (``ru_maxrss``) after imports and at the end.
- ``issue``: run ``IssueAdCodesOperator`` on a snapshot. Result: seconds and counts by outcome.
- ``plan``: run ``PlanIssuanceOperator`` on a snapshot (the DAG's planning step). Result: seconds, the shards
  (their operator arguments) and, read after the timed section, the owner of every item of every shard.
- ``shard``: one creator shard as its own task process: imports first, then prints ``{"ready": true}`` and
  waits for one JSON line on stdin (the shard's operator arguments and ``max_concurrency``); the timed
  section is ``IssueAdCodesOperator.execute`` on those. Result: seconds and counts by outcome.
- ``scheduled``: what a scheduled run of the DAG does for the brand: ``plan_run(scheduled=True)``, then fetch
  and issue with that plan. Result: seconds (fetch + issue), pages, items, looked_up and counts by outcome.

Connections come from the environment (``AIRFLOW_CONN_*``), as in a task. Every probe starts as a Celery
worker's task process does: Airflow preloaded and those imports frozen out of the garbage collector
(:func:`_preload_as_a_celery_worker`).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from types import SimpleNamespace
from typing import Any


def _peak_rss_mb() -> float:
    # ru_maxrss is in kilobytes on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _preload_as_a_celery_worker() -> None:
    """Start from what a task process of the deployment inherits, before any probe's own imports.

    Airflow's Celery worker preloads Airflow and a few expensive modules, then calls ``gc.freeze()`` before it
    forks its pool (``on_celery_import_modules`` in the Celery provider's ``celery_executor_utils``); a task
    process is forked from a pool process, so its garbage collector never walks the objects of those imports.
    A probe that imported Airflow without freezing would pay for every full collection walking them (measured
    about 0.16 s each, several per shard), which no task of the deployment pays. The deployment's workers also
    import the project's execute-time modules before forking (:mod:`partnership_ads.celery_config`), so the
    probe imports them too, after the freeze as Celery does.
    """
    import contextlib
    import gc

    import airflow.sdk
    import jinja2.ext  # noqa: F401

    with contextlib.suppress(ImportError):
        import airflow.providers.standard.operators.bash
        import airflow.providers.standard.operators.python  # noqa: F401
    with contextlib.suppress(ImportError):
        import numpy  # noqa: F401
    gc.freeze()
    # Then the deployment's own preload (``imports`` of partnership_ads.celery_config.CELERY_CONFIG), which
    # Celery imports after that signal's handler has frozen Airflow's modules, and before it forks its pool.
    import partnership_ads.worker_preload  # noqa: F401


def _context(run_id: str, map_index: int = -1) -> dict[str, Any]:
    """The part of a task context the operators read."""
    pushed: dict[str, Any] = {}
    ti = SimpleNamespace(
        dag_id="bench",
        task_id="bench",
        run_id=run_id,
        map_index=map_index,
        try_number=1,
        xcom_push=lambda key, value: pushed.__setitem__(key, value),
        pushed=pushed,
    )
    return {"run_id": run_id, "ti": ti}


def discovery(args: argparse.Namespace) -> dict[str, Any]:
    from partnership_ads.hooks import PartnershipAdsHook
    from partnership_ads.snapshot import DEFAULT_FIELDS

    hook = PartnershipAdsHook(meta_conn_id=args.meta_conn_id)
    hook.get_conn()  # session set-up (connection settings, masking) is not part of the walk
    filters: dict[str, Any] = {}
    if args.start_date:
        filters.update(start_date=args.start_date, end_date=args.end_date, sort_by="DATE")
    ids: list[str] = []
    start = time.perf_counter()
    for item in hook.iter_advertisable_content(
        args.business_id,
        ig_user_id=args.ig_user_id,
        fb_page_id=args.fb_page_id,
        fields=DEFAULT_FIELDS,
        page_size=args.page_size,
        partitions=args.partitions,
        # Arrival order: the partitions walk in parallel; the runner compares the items as a set.
        ordered=args.partitions == 1,
        **filters,
    ):
        ids.append(item["content_id"])
    seconds = time.perf_counter() - start
    if args.ids_file:
        with open(args.ids_file, "w") as handle:
            json.dump(ids, handle)
    return {"seconds": seconds, "items": len(ids), "unique": len(set(ids))}


def fetch(args: argparse.Namespace) -> dict[str, Any]:
    from partnership_ads.operators import FetchAdvertisableContentOperator

    operator = FetchAdvertisableContentOperator(
        task_id="fetch_advertisable_content",
        business_id=args.business_id,
        ig_user_id=args.ig_user_id,
        fb_page_id=args.fb_page_id,
        meta_conn_id=args.meta_conn_id,
        snapshot_root=args.snapshot_root,
    )
    rss_before = _peak_rss_mb()
    start = time.perf_counter()
    summary = operator.execute(_context(args.run_id))
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "items": summary["items"],
        "pages": summary["pages"],
        "snapshot_path": summary["snapshot_path"],
        "peak_rss_mb_after_imports": rss_before,
        "peak_rss_mb": _peak_rss_mb(),
    }


def issue(args: argparse.Namespace) -> dict[str, Any]:
    from partnership_ads.operators import IssueAdCodesOperator

    operator = IssueAdCodesOperator(
        task_id="issue_ad_codes",
        snapshot_path=args.snapshot_path,
        business_id=args.business_id,
        ig_user_id=args.ig_user_id,
        fb_page_id=args.fb_page_id,
        meta_conn_id=args.meta_conn_id,
        max_codes=args.max_codes,
        max_concurrency=args.concurrency,
    )
    start = time.perf_counter()
    summary = operator.execute(_context(args.run_id))
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "counts": summary["counts"]}


def plan(args: argparse.Namespace) -> dict[str, Any]:
    from partnership_ads.brand import Brand
    from partnership_ads.operators import PlanIssuanceOperator

    brand = Brand(
        business_id=args.business_id,
        fb_page_id=args.fb_page_id,
        ig_user_id=args.ig_user_id,
        meta_conn_id=args.meta_conn_id,
    )
    operator = PlanIssuanceOperator(
        task_id="plan_issuance",
        fetched=[{"brand": brand.as_dict(), "snapshot_path": args.snapshot_path}],
        creators_per_shard=args.creators_per_shard,
    )
    start = time.perf_counter()
    shards = operator.execute(_context(args.run_id))
    seconds = time.perf_counter() - start
    # Not timed: who owns each item (the bench chooses its codes per creator; see run.allot_shards).
    import pyarrow.parquet as pq

    table = pq.read_table(args.snapshot_path, columns=["content_id", "author_ig_user_id"])
    owners = dict(
        zip(
            table.column("content_id").to_pylist(), table.column("author_ig_user_id").to_pylist(), strict=True
        )
    )
    wanted = {cid for shard in shards for cid in shard["content_ids"]}
    return {
        "seconds": seconds,
        "shards": shards,
        "owners": {cid: owners.get(cid) or "" for cid in wanted},
    }


def shard(args: argparse.Namespace) -> dict[str, Any]:
    import airflow.sdk  # noqa: F401  (a Celery worker's task process has Airflow imported)

    from partnership_ads.operators import IssueAdCodesOperator

    print(json.dumps({"ready": True}), flush=True)
    kwargs = json.loads(sys.stdin.readline())
    map_index = int(kwargs.pop("map_index", -1))
    operator = IssueAdCodesOperator(task_id="issue_ad_codes", **kwargs)
    start, cpu_start = time.perf_counter(), time.process_time()
    summary = operator.execute(_context(args.run_id, map_index))
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    counts, shard_name = summary["counts"], summary.get("shard")
    return {"seconds": seconds, "cpu_seconds": cpu, "counts": counts, "shard": shard_name}


def scheduled(args: argparse.Namespace) -> dict[str, Any]:
    import os

    from partnership_ads.deployment import connection_type
    from partnership_ads.operators import FetchAdvertisableContentOperator, IssueAdCodesOperator
    from partnership_ads.run_plan import plan_run

    brand = {"business_id": args.business_id, "ig_user_id": args.ig_user_id, "fb_page_id": args.fb_page_id}
    brands, _source = plan_run(
        {**brand, "meta_conn_id": args.meta_conn_id},
        scheduled=True,
        get_variable=lambda _key: None,
        get_connection_type=connection_type,
        environ=os.environ,
    )
    plan = brands[0]
    fetch_op = FetchAdvertisableContentOperator(
        task_id="fetch_advertisable_content",
        **brand,
        meta_conn_id=args.meta_conn_id,
        snapshot_root=args.snapshot_root,
        filters=dict(plan.filters),
        recheck_pending=plan.recheck_pending,
        partitions=plan.partitions,
    )
    start = time.perf_counter()
    fetched = fetch_op.execute(_context(args.run_id))
    issue_op = IssueAdCodesOperator(
        task_id="issue_ad_codes",
        snapshot_path=fetched["snapshot_path"],
        **brand,
        meta_conn_id=args.meta_conn_id,
        max_concurrency=args.concurrency,
    )
    issued = issue_op.execute(_context(args.run_id))
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "pages": fetched["pages"],
        "items": fetched["items"],
        "looked_up": fetched["looked_up"],
        "counts": issued["counts"],
    }


def main(argv: list[str] | None = None) -> int:
    from partnership_ads.conn_ids import DEFAULT_META_CONN_ID

    parser = argparse.ArgumentParser(prog="python -m include.bench.probe")
    parser.add_argument("kind", choices=("discovery", "fetch", "issue", "plan", "shard", "scheduled"))
    parser.add_argument("--business-id", default="")
    parser.add_argument("--ig-user-id")
    parser.add_argument("--fb-page-id")
    parser.add_argument("--meta-conn-id", default=DEFAULT_META_CONN_ID)
    parser.add_argument("--page-size", type=int, default=50)
    parser.add_argument("--partitions", type=int, default=1)
    parser.add_argument("--start-date")
    parser.add_argument("--end-date")
    parser.add_argument("--ids-file")
    parser.add_argument("--snapshot-root")
    parser.add_argument("--snapshot-path")
    parser.add_argument("--run-id", default="bench")
    parser.add_argument("--max-codes", type=int)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--creators-per-shard", type=int, default=50)
    args = parser.parse_args(argv)
    _preload_as_a_celery_worker()
    result = {
        "discovery": discovery,
        "fetch": fetch,
        "issue": issue,
        "plan": plan,
        "shard": shard,
        "scheduled": scheduled,
    }[args.kind](args)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
