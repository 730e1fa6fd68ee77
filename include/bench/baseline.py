"""The script a user would write by hand instead of the pipeline: the end-to-end benchmark's baseline.

It does the pipeline's job the straightforward way: one ``requests`` session, a loop over discovery pages
following ``paging.cursors.after``, then one ``POST /{ig-media-id}/partnership_ad_code`` after another for
every Instagram item that is ``AD_READY`` for the brand and has no code yet, and one SQLite row per code. It
is honest, not a strawman: it keeps the connection alive, asks for page size 50 and only the fields it
needs, and skips items whose owner it holds no token for. What it lacks is what the pipeline adds: overlap
of calls, retries, a ledger that survives a crash, sinks, a snapshot.

Run it (tokens come from the environment, never from the command line, so they stay out of ``ps``)::

    BASELINE_BRAND_TOKEN=... BASELINE_CREATOR_TOKENS='{"<ig_user_id>": "<token>", ...}' \\
    python -m include.bench.baseline --base-url http://127.0.0.1:8765 --business-id 123 \\
        --ig-user-id 456 --fb-page-id 789 --db .demo/bench/baseline.sqlite

It prints one JSON line: ``{"items": ..., "issued": ..., "harvested": ..., "skipped_no_token": ...}``.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import requests

if TYPE_CHECKING:
    from collections.abc import Iterator

FIELDS = (
    "content_id,platform,permalink,author{ig_user_id},"
    "partnership_info{ad_eligibility,ad_code,tagged_partner{ig_user_id,fb_page_id}}"
)


def iter_items(
    session: requests.Session,
    base: str,
    business_id: str,
    params: dict[str, str],
    token: str,
    timeout: float,
) -> Iterator[dict[str, Any]]:
    """Every discovery item, page after page, until a page comes back without ``paging``."""
    url = f"{base}/{business_id}/partnership-ads-advertisable-content"
    query = {**params, "fields": FIELDS, "limit": "50"}
    while True:
        response = session.get(
            url, params=query, headers={"Authorization": f"OAuth {token}"}, timeout=timeout
        )
        response.raise_for_status()
        body = response.json()
        yield from body.get("data", [])
        after = body.get("paging", {}).get("cursors", {}).get("after")
        if not after:
            return
        query["after"] = after


def brand_entry(
    item: dict[str, Any], ig_user_id: str | None, fb_page_id: str | None
) -> dict[str, Any] | None:
    """The ``partnership_info`` entry that tags this brand (there is one entry per tagged partner)."""
    for entry in item.get("partnership_info") or []:
        partner = entry.get("tagged_partner") or {}
        if (ig_user_id and partner.get("ig_user_id") == ig_user_id) or (
            fb_page_id and partner.get("fb_page_id") == fb_page_id
        ):
            return entry
    return None


def run(
    *,
    base_url: str,
    api_version: str,
    business_id: str,
    ig_user_id: str | None,
    fb_page_id: str | None,
    brand_token: str,
    creator_tokens: dict[str, str],
    db_path: str,
    extra_params: dict[str, str] | None = None,
    max_codes: int | None = None,
    timeout: float = 60.0,
) -> dict[str, int]:
    """Discover, issue one code at a time, and write each code as a row of ``partnership_ad_codes`` in SQLite.

    Returns counts: ``items`` seen, ``issued`` (new codes), ``harvested`` (codes already present),
    ``skipped_no_token`` (owner without a token). At most ``max_codes`` new codes are requested. Any HTTP
    error ends the run with ``requests.HTTPError``.
    """
    base = f"{base_url.rstrip('/')}/{api_version}"
    params: dict[str, str] = dict(extra_params or {})
    if ig_user_id:
        params["ig_user_id"] = ig_user_id
    if fb_page_id:
        params["fb_page_id"] = fb_page_id
    counts = {"items": 0, "issued": 0, "harvested": 0, "skipped_no_token": 0}
    db = sqlite3.connect(db_path)
    db.execute(
        "CREATE TABLE IF NOT EXISTS partnership_ad_codes (business_id TEXT, content_id TEXT, ig_user_id TEXT,"
        " permalink TEXT, ad_code TEXT, issued_at TEXT, PRIMARY KEY (business_id, content_id))"
    )
    session = requests.Session()
    to_issue: list[tuple[dict[str, Any], str]] = []
    for item in iter_items(session, base, business_id, params, brand_token, timeout):
        counts["items"] += 1
        if item.get("platform") != "INSTAGRAM":
            continue
        entry = brand_entry(item, ig_user_id, fb_page_id)
        if entry is None or entry.get("ad_eligibility") != "AD_READY":
            continue
        author = (item.get("author") or {}).get("ig_user_id") or ""
        if entry.get("ad_code"):
            counts["harvested"] += 1
            save(db, business_id, item, author, entry["ad_code"])
            continue
        owner_token = brand_token if author == ig_user_id else creator_tokens.get(author)
        if owner_token is None:
            counts["skipped_no_token"] += 1
            continue
        to_issue.append((item, owner_token))
    for item, owner_token in to_issue[:max_codes]:
        response = session.post(
            f"{base}/{item['content_id']}/partnership_ad_code",
            headers={"Authorization": f"OAuth {owner_token}"},
            timeout=timeout,
        )
        response.raise_for_status()
        author = (item.get("author") or {}).get("ig_user_id") or ""
        save(db, business_id, item, author, response.json()["ad_code"])
        counts["issued"] += 1
    db.commit()
    db.close()
    return counts


def save(db: sqlite3.Connection, business_id: str, item: dict[str, Any], author: str, ad_code: str) -> None:
    """One row per code, replaced when the media already has one."""
    db.execute(
        "INSERT OR REPLACE INTO partnership_ad_codes VALUES (?, ?, ?, ?, ?, ?)",
        (
            business_id,
            item["content_id"],
            author,
            item.get("permalink"),
            ad_code,
            datetime.now(UTC).isoformat(),
        ),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--api-version", default="v25.0")
    parser.add_argument("--business-id", required=True)
    parser.add_argument("--ig-user-id")
    parser.add_argument("--fb-page-id")
    parser.add_argument("--db", required=True, help="SQLite file the codes are written to")
    parser.add_argument("--param", action="append", default=[], help="extra discovery filter NAME=VALUE")
    parser.add_argument("--max-codes", type=int, help="request at most this many new codes")
    args = parser.parse_args(argv)
    counts = run(
        base_url=args.base_url,
        api_version=args.api_version,
        business_id=args.business_id,
        ig_user_id=args.ig_user_id,
        fb_page_id=args.fb_page_id,
        brand_token=os.environ["BASELINE_BRAND_TOKEN"],
        creator_tokens=json.loads(os.environ.get("BASELINE_CREATOR_TOKENS", "{}")),
        db_path=args.db,
        extra_params=dict(p.split("=", 1) for p in args.param),
        max_codes=args.max_codes,
    )
    print(json.dumps(counts), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
