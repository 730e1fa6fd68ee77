"""Paging (opaque forward cursors) and every filter of the search mode."""

from __future__ import annotations

import datetime as dt

import pytest

from include.graph_sandbox.world import pair_key


def _expected(world, brand, predicate=lambda item, entry: True) -> set[str]:
    """Content ids of the default brand (IG account's pair) that satisfy `predicate(item, entry)`."""
    business = world.businesses[brand["business_id"]]
    key = pair_key(business.pairs[0])
    ids = set()
    for item in world.items:
        entry = next((e for e in item.entries if e.pair_key == key), None)
        if entry is not None and predicate(item, entry):
            ids.add(item.content_id)
    return ids


def _ids(items) -> list[str]:
    return [i["content_id"] for i in items]


def test_every_page_but_the_last_has_an_after_cursor(graph):
    pages = []
    after = None
    while True:
        body = graph.discover(limit=40, after=after).json()
        pages.append(body)
        if "paging" not in body:
            break
        assert set(body["paging"]) == {"cursors"}
        after = body["paging"]["cursors"]["after"]
    assert len(pages) > 2
    assert all(len(p["data"]) == 40 for p in pages[:-1])
    assert "paging" not in pages[-1]


def test_walking_all_pages_yields_every_matching_item_once(graph, world):
    walked = _ids(graph.walk(limit=13))
    assert len(walked) == len(set(walked))
    assert set(walked) == _expected(world, graph.brand)


def test_walking_by_date_yields_every_item_once_newest_first(graph, world):
    items = graph.walk(limit=17, sort_by="DATE", fields="creation_time")
    dates = [i["creation_time"] for i in items]
    assert dates == sorted(dates, reverse=True)
    assert sorted(_ids(items)) == sorted(_expected(world, graph.brand))


def test_recommended_order_is_stable_across_page_sizes(graph):
    assert _ids(graph.walk(limit=7)) == _ids(graph.walk(limit=50))


def test_recommended_is_the_default_sort(graph):
    assert _ids(graph.walk(limit=50)) == _ids(graph.walk(limit=50, sort_by="RECOMMENDED"))


def test_cursor_is_opaque_base64(graph):
    after = graph.discover(limit=2).json()["paging"]["cursors"]["after"]
    assert after.replace("-", "").replace("_", "").isalnum()
    assert graph.brand["business_id"] not in after


def test_last_page_filled_exactly_to_the_limit_has_no_paging(graph, world):
    total = len(_expected(world, graph.brand, lambda i, e: i.media_type == "CAROUSEL"))
    assert 1 < total <= 50
    assert "paging" not in graph.discover(limit=total, media_types="CAROUSEL").json()
    assert "paging" in graph.discover(limit=total - 1, media_types="CAROUSEL").json()


@pytest.mark.parametrize(
    ("params", "predicate"),
    [
        ({"media_types": '["VIDEO"]'}, lambda i, e: i.media_type == "VIDEO"),
        ({"post_types": "STORY,REEL"}, lambda i, e: i.post_type in ("STORY", "REEL")),
        ({"content_types": '["AFFILIATE"]'}, lambda i, e: "AFFILIATE" in e.content_types),
        ({"ad_eligibilities": '["AD_READY"]'}, lambda i, e: e.ad_eligibility == "AD_READY"),
        ({"ad_usages": "ACTIVE"}, lambda i, e: i.ad_usage == "ACTIVE"),
        ({"is_recommended": "true"}, lambda i, e: i.is_recommended),
        ({"is_recommended": "false"}, lambda i, e: True),
        ({"search_key": "GIVEAWAY"}, lambda i, e: "giveaway" in i.caption.casefold()),
        ({"search_key": "straße"}, lambda i, e: "straße".casefold() in i.caption.casefold()),
        (
            {"media_types": "IMAGE", "ad_eligibilities": "AD_READY", "platform_types": "INSTAGRAM"},
            lambda i, e: (
                i.media_type == "IMAGE" and e.ad_eligibility == "AD_READY" and i.platform == "INSTAGRAM"
            ),
        ),
    ],
    ids=lambda v: str(v) if isinstance(v, dict) else "",
)
def test_filter_returns_exactly_the_matching_items(graph, world, params, predicate):
    expected = _expected(world, graph.brand, predicate)
    assert expected, "the filter should match something in the default world"
    walked = _ids(graph.walk(limit=50, **params))
    assert sorted(walked) == sorted(expected)


def test_country_codes_filter_by_the_authors_country(graph, world):
    countries = sorted({c.country for c in world.creators})[:2]
    expected = _expected(world, graph.brand, lambda i, e: i.author.country in countries)
    assert expected
    walked = graph.walk(limit=50, country_codes=",".join(countries))
    assert sorted(_ids(walked)) == sorted(expected)


def test_date_range_filter_is_inclusive(graph, world):
    today = dt.datetime.now(dt.UTC).date()
    start, end = (today - dt.timedelta(days=200)).isoformat(), (today - dt.timedelta(days=100)).isoformat()
    expected = _expected(world, graph.brand, lambda i, e: start <= i.creation_time <= end)
    walked = graph.walk(limit=50, start_date=start, end_date=end, fields="creation_time")
    assert sorted(_ids(walked)) == sorted(expected)
    assert all(start <= i["creation_time"] <= end for i in walked)


def test_ad_partner_ig_user_ids_filters_by_author(graph, world):
    creator = world.creators[0]
    expected = _expected(world, graph.brand, lambda i, e: i.author.ig_user_id == creator.ig_user_id)
    walked = graph.walk(limit=50, ad_partner_ig_user_ids=f'["{creator.ig_user_id}"]')
    assert sorted(_ids(walked)) == sorted(expected)


def test_ad_partner_page_ids_filters_by_author_page(graph, world):
    creator = next(c for c in world.creators if c.fb_page_id)
    expected = _expected(world, graph.brand, lambda i, e: i.author.fb_page_id == creator.fb_page_id)
    walked = graph.walk(limit=50, ad_partner_page_ids=creator.fb_page_id)
    assert expected
    assert sorted(_ids(walked)) == sorted(expected)


def test_filtered_walk_pages_with_cursors_too(graph, world):
    expected = _expected(world, graph.brand, lambda i, e: e.ad_eligibility == "AD_READY")
    walked = _ids(graph.walk(limit=3, ad_eligibilities="AD_READY"))
    assert len(walked) == len(expected) == len(set(walked))


def test_lookup_by_content_ids_returns_requested_items_without_paging(graph, world):
    ids = sorted(_expected(world, graph.brand))[:3]
    body = graph.discover(content_ids=",".join(ids), limit=1).json()
    assert sorted(_ids(body["data"])) == ids
    assert "paging" not in body


def test_lookup_by_permalinks(graph, world):
    item = world.by_id[sorted(_expected(world, graph.brand))[0]]
    body = graph.discover(permalinks=f'["{item.permalink}"]').json()
    assert _ids(body["data"]) == [item.content_id]


def test_lookup_by_seeded_ad_code(graph, world):
    item = next(
        world.by_id[c] for c in sorted(_expected(world, graph.brand)) if world.by_id[c].seeded_ad_code
    )
    body = graph.discover(ad_codes=item.seeded_ad_code, fields="partnership_info{ad_code}").json()
    assert _ids(body["data"]) == [item.content_id]
    assert {p["ad_code"] for p in body["data"][0]["partnership_info"]} == {item.seeded_ad_code}


def test_lookup_leaves_out_content_of_other_brands(graph, world):
    mine = _expected(world, graph.brand)
    foreign = next(i.content_id for i in world.items if i.content_id not in mine)
    assert graph.discover(content_ids=foreign).json() == {"data": []}
