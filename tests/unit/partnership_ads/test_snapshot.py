"""Snapshot flattening and the page-by-page Parquet writer."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pyarrow.parquet as pq

from partnership_ads.snapshot import SnapshotWriter, flatten, iter_rows

if TYPE_CHECKING:
    from pathlib import Path

ITEM = {
    "content_id": "17",
    "platform": "INSTAGRAM",
    "author": {"display_name": "ana", "ig_user_id": "9"},
    "partnership_info": [
        {"ad_eligibility": "INELIGIBLE", "tagged_partner": {"ig_user_id": "other"}, "ad_code": "NOT_OURS"},
        {"ad_eligibility": "AD_READY", "tagged_partner": {"ig_user_id": "333"}, "content_types": ["TAGGED"]},
    ],
    "organic_insights": {"likes": 5, "views": None},
}


def test_flatten_takes_the_brands_own_partnership_entry_not_the_first() -> None:
    row = flatten(ITEM, business_id="111", ig_user_id="333", fb_page_id=None)
    assert (row["ad_eligibility"], row["ad_code"]) == ("AD_READY", None)
    assert len(json.loads(row["partnership_info_json"])) == 2


def test_flatten_matches_the_brand_by_page_id_too() -> None:
    item = {
        "content_id": "1",
        "partnership_info": [{"ad_eligibility": "AD_READY", "tagged_partner": {"fb_page_id": "7"}}],
    }
    assert flatten(item, business_id="1", ig_user_id=None, fb_page_id="7")["ad_eligibility"] == "AD_READY"


def test_unknown_insights_stay_null_not_zero() -> None:
    row = flatten(ITEM, business_id="111", ig_user_id="333", fb_page_id=None)
    assert (row["organic_insights_likes"], row["organic_insights_views"]) == (5, None)
    assert row["author_display_name"] == "ana"


def test_writer_appends_pages_and_publishes_the_file_on_close(tmp_path: Path) -> None:
    path = tmp_path / "b" / "run.parquet"
    writer = SnapshotWriter(path)
    writer.write_page([flatten(ITEM, business_id="111", ig_user_id="333", fb_page_id=None)])
    assert not path.exists()
    writer.write_page(
        [flatten({**ITEM, "content_id": "18"}, business_id="111", ig_user_id="333", fb_page_id=None)]
    )
    writer.close()
    assert [r["content_id"] for r in iter_rows(path, columns=["content_id"])] == ["17", "18"]


def test_writer_gathers_pages_into_row_groups_of_a_bounded_size(tmp_path: Path) -> None:
    path = tmp_path / "run.parquet"
    writer = SnapshotWriter(path, row_group_rows=4)
    for n in range(5):  # pages of 3 rows: groups are written once 4 rows are buffered
        items = [{**ITEM, "content_id": f"{n}-{i}"} for i in range(3)]
        writer.write_page([flatten(i, business_id="111", ig_user_id="333", fb_page_id=None) for i in items])
    writer.close()
    metadata = pq.ParquetFile(path).metadata
    assert [metadata.row_group(g).num_rows for g in range(metadata.num_row_groups)] == [6, 6, 3]
    assert len(list(iter_rows(path, columns=["content_id"]))) == 15


def test_rows_of_given_items_only_across_batches_in_file_order(tmp_path: Path) -> None:
    path = tmp_path / "run.parquet"
    writer = SnapshotWriter(path, row_group_rows=4)
    items = [{**ITEM, "content_id": str(100 + i)} for i in range(12)]
    writer.write_page([flatten(i, business_id="111", ig_user_id="333", fb_page_id=None) for i in items])
    writer.close()
    rows = iter_rows(
        path, columns=["content_id", "permalink"], batch_size=5, content_ids=["111", "101", "999"]
    )
    assert [r["content_id"] for r in rows] == ["101", "111"]
    assert list(iter_rows(path, columns=["content_id"], content_ids=[])) == []


def test_aborted_writer_leaves_no_file(tmp_path: Path) -> None:
    writer = SnapshotWriter(tmp_path / "run.parquet")
    writer.abort()
    assert list(tmp_path.iterdir()) == []
