"""Grouping items into creator shards: bounded, stable, a creator never split, the brand's own media apart."""

from __future__ import annotations

from typing import Any

import pytest

from partnership_ads.issuance_plan import check_creators_per_shard, group_into_shards


def _items(creators: int, per_creator: int = 2) -> dict[str, list[str]]:
    return {f"c{n:03d}": [f"m{n:03d}-{k}" for k in range(per_creator)] for n in range(creators)}


def test_creators_are_grouped_by_at_most_n_in_id_order_and_never_split() -> None:
    items = _items(7, per_creator=3)
    shards = group_into_shards("b1", items, creators_per_shard=3, own_ig_user_id=None)
    assert [s.creators for s in shards] == [("c000", "c001", "c002"), ("c003", "c004", "c005"), ("c006",)]
    assert [s.label for s in shards] == ["1/3", "2/3", "3/3"]
    for shard in shards:
        assert list(shard.content_ids) == [cid for c in shard.creators for cid in items[c]]
    assert sorted(cid for s in shards for cid in s.content_ids) == sorted(
        c for v in items.values() for c in v
    )


def test_the_brands_own_media_come_first_in_a_shard_of_their_own() -> None:
    items = {**_items(4), "own": ["o1", "o2"]}
    shards = group_into_shards("b1", items, creators_per_shard=50, own_ig_user_id="own")
    assert shards[0].own_media and shards[0].creators == ("own",) and shards[0].content_ids == ("o1", "o2")
    assert [s.own_media for s in shards[1:]] == [False]
    assert shards[1].creators == ("c000", "c001", "c002", "c003")


def test_no_items_no_shards_and_the_same_input_gives_the_same_plan() -> None:
    assert group_into_shards("b1", {}, creators_per_shard=5, own_ig_user_id="own") == []
    items = _items(12)
    assert group_into_shards("b1", items, creators_per_shard=5, own_ig_user_id=None) == group_into_shards(
        "b1", dict(reversed(list(items.items()))), creators_per_shard=5, own_ig_user_id=None
    )


def test_operator_kwargs_are_json_and_name_the_shard() -> None:
    from partnership_ads.brand import Brand

    brand = Brand(business_id="1", fb_page_id="2", ig_user_id="3", meta_conn_id="meta_graph_default")
    shard = group_into_shards("1", _items(2), creators_per_shard=1, own_ig_user_id="3")[1]
    kwargs = shard.operator_kwargs(brand, "/tmp/s.parquet")
    assert kwargs == {
        "brand": brand.as_dict(),
        "snapshot_path": "/tmp/s.parquet",
        "content_ids": ["m001-0", "m001-1"],
        "shard": "2/2",
    }


@pytest.mark.parametrize("value", [1, 50, 1000])
def test_sizes_from_1_to_1000_are_accepted(value: int) -> None:
    assert check_creators_per_shard(value) == value


@pytest.mark.parametrize("value", [0, -5, 1001, "10", 1.5, True, None, [5]])
def test_other_sizes_are_refused_naming_the_parameter(value: Any) -> None:
    with pytest.raises(ValueError, match=r"creators_per_shard: must be a whole number from 1 to 1000"):
        check_creators_per_shard(value)
