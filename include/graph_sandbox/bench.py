"""Benchmark of the sandbox itself: `python -m include.graph_sandbox.bench [--items 100000] [--requests 200]`.

Measures the median time to serve a page of 50 items with every field (walking the pages of one brand
with `after` cursors) over real HTTP, so that client benchmarks can tell how much of their time is the
sandbox's. Target: under 10 ms median with 100,000 items.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import requests

from include.graph_sandbox.testing import start_sandbox

ALL_FIELDS = (
    "content_id,platform,media_type,post_type,caption,permalink,creation_time,"
    "author{display_name,ig_user_id,fb_page_id,profile_picture_url},is_recommended,ad_usage,"
    "partnership_info{ad_eligibility,tagged_partner{display_name,ig_user_id,fb_page_id,profile_picture_url},"
    "permission_status,permission_type,ad_code,content_types},"
    "organic_insights{likes,comments,views,reach,shares,interaction,saves}"
)
TARGET_MS = 10.0


def run(items: int, n_requests: int) -> dict[str, float]:
    """Start a sandbox with `items` items and time `n_requests` full-field pages of 50."""
    started = time.perf_counter()
    with start_sandbox(seed=7, items=items, rate_limit_calls=10**9) as sandbox:
        build_s = time.perf_counter() - started
        brand = sandbox.brand_token()
        url = f"{sandbox.graph_url}/{brand['business_id']}/partnership-ads-advertisable-content"
        base = {
            "access_token": brand["access_token"],
            "ig_user_id": brand["ig_user_id"],
            "fields": ALL_FIELDS,
            "limit": "50",
        }
        session = requests.Session()
        timings: list[float] = []
        after: str | None = None
        for _ in range(n_requests):
            params = dict(base, after=after) if after else base
            t0 = time.perf_counter()
            response = session.get(url, params=params, timeout=30)
            timings.append((time.perf_counter() - t0) * 1000)
            response.raise_for_status()
            body = response.json()
            after = body.get("paging", {}).get("cursors", {}).get("after")
    timings.sort()
    return {
        "items": items,
        "requests": n_requests,
        "startup_s": round(build_s, 2),
        "median_ms": round(statistics.median(timings), 3),
        "p95_ms": round(timings[int(len(timings) * 0.95) - 1], 3),
        "target_ms": TARGET_MS,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m include.graph_sandbox.bench", description=__doc__)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args(argv)
    result = run(args.items, args.requests)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
