"""Field expansion, and the seed document's own example requests and responses."""

from __future__ import annotations

import pytest

from include.graph_sandbox.bench import ALL_FIELDS
from include.graph_sandbox.world import EXAMPLE_BUSINESS_ID, EXAMPLE_IG_USER_ID

BRANDPAGE_IG = "17841400455970028"
# The seed's documented response fields, written out independently of the sandbox's schema.
TOP_LEVEL_FIELDS = (
    "content_id platform media_type post_type caption permalink creation_time author is_recommended ad_usage "
    "partnership_info organic_insights"
).split()
PARTNERSHIP_INFO_FIELDS = (
    "ad_eligibility tagged_partner permission_status permission_type ad_code content_types".split()
)


@pytest.fixture
def example_token(sandbox) -> str:
    return sandbox.brand_token(EXAMPLE_BUSINESS_ID)["access_token"]


def _example(graph, token, ig_user_id: str = BRANDPAGE_IG, **params):
    response = graph.discover(token, business_id=EXAMPLE_BUSINESS_ID, ig_user_id=ig_user_id, **params)
    assert response.status_code == 200, response.text
    return response.json()


def test_seed_example_default_fields(graph, example_token):
    assert _example(graph, example_token, fields="content_id") == {
        "data": [{"content_id": "17854360229135492"}]
    }


def test_seed_example_without_fields_returns_only_content_id(graph, example_token):
    assert _example(graph, example_token) == {"data": [{"content_id": "17854360229135492"}]}


def test_seed_example_top_level_fields(graph, example_token):
    body = _example(graph, example_token, fields="content_id,platform,caption,creation_time")
    assert body == {
        "data": [
            {
                "content_id": "17854360229135492",
                "platform": "INSTAGRAM",
                "caption": "Summer vibes with our new collection",
                "creation_time": "2025-06-28",
            }
        ]
    }


def test_seed_example_author_sub_fields(graph, example_token):
    body = _example(graph, example_token, fields="content_id,author{display_name,ig_user_id}")
    assert body == {
        "data": [
            {
                "content_id": "17854360229135492",
                "author": {"display_name": "StyleCreator_Ana", "ig_user_id": "1122334455"},
            }
        ]
    }


def test_seed_example_partnership_info_with_nested_tagged_partner(graph, example_token):
    body = _example(
        graph,
        example_token,
        fields="content_id,partnership_info{ad_eligibility,tagged_partner{display_name,profile_picture_url}}",
    )
    [item] = body["data"]
    assert set(item) == {"content_id", "partnership_info"}
    [info] = item["partnership_info"]
    assert info["ad_eligibility"] == "AD_READY"
    assert set(info["tagged_partner"]) == {"display_name", "profile_picture_url"}
    assert info["tagged_partner"]["display_name"] == "BrandPage"
    assert info["tagged_partner"]["profile_picture_url"].startswith("https://")


def test_seed_example_organic_insights_metrics(graph, example_token):
    body = _example(graph, example_token, fields="content_id,organic_insights{likes,views,reach}")
    assert body == {
        "data": [
            {
                "content_id": "17854360229135492",
                "organic_insights": {"likes": 15240, "views": 105000, "reach": 90000},
            }
        ]
    }


def test_seed_example_pagination_first_and_next_page(graph, example_token):
    first = _example(
        graph, example_token, ig_user_id=EXAMPLE_IG_USER_ID, fields="content_id,platform", limit=3
    )
    assert first["data"] == [
        {"content_id": "111", "platform": "INSTAGRAM"},
        {"content_id": "222", "platform": "FACEBOOK"},
        {"content_id": "333", "platform": "INSTAGRAM"},
    ]
    after = first["paging"]["cursors"]["after"]
    second = _example(
        graph,
        example_token,
        ig_user_id=EXAMPLE_IG_USER_ID,
        fields="content_id,platform",
        limit=3,
        after=after,
    )
    assert second == {
        "data": [
            {"content_id": "444", "platform": "FACEBOOK"},
            {"content_id": "555", "platform": "INSTAGRAM"},
        ]
    }


def test_every_field_and_sub_field_is_served(graph):
    item = graph.discover(fields=ALL_FIELDS, limit=1).json()["data"][0]
    assert set(item) == set(TOP_LEVEL_FIELDS)
    assert set(item["author"]) == {"display_name", "ig_user_id", "fb_page_id", "profile_picture_url"}
    assert set(item["partnership_info"][0]) == set(PARTNERSHIP_INFO_FIELDS)
    assert set(item["organic_insights"]) == {
        "likes",
        "comments",
        "views",
        "reach",
        "shares",
        "interaction",
        "saves",
    }


def test_object_field_without_braces_returns_all_its_sub_fields(graph):
    item = graph.discover(fields="author", limit=1).json()["data"][0]
    assert set(item["author"]) == {"display_name", "ig_user_id", "fb_page_id", "profile_picture_url"}


def test_content_id_is_returned_even_when_not_asked(graph):
    assert set(graph.discover(fields="platform", limit=1).json()["data"][0]) == {"content_id", "platform"}


def test_partnership_info_has_one_entry_per_tagged_partner(graph, world):
    items = graph.walk(limit=50, fields="partnership_info{tagged_partner{ig_user_id,fb_page_id}}")
    counts = {i["content_id"]: len(i["partnership_info"]) for i in items}
    assert all(counts[cid] == len(world.by_id[cid].entries) for cid in counts)
    assert max(counts.values()) >= 2


def test_brand_is_not_always_the_first_partner(graph):
    items = graph.walk(
        limit=50, platform_types="INSTAGRAM", fields="partnership_info{tagged_partner{ig_user_id}}"
    )
    positions = {
        [p["tagged_partner"]["ig_user_id"] for p in i["partnership_info"]].index(graph.brand["ig_user_id"])
        for i in items
    }
    assert positions >= {0, 1}


def test_organic_insights_are_nullable_ints(graph):
    items = graph.walk(limit=50, fields="organic_insights")
    values = [v for i in items for v in i["organic_insights"].values()]
    assert None in values
    assert all(v is None or isinstance(v, int) for v in values)


def test_null_fields_can_be_omitted(graph, sandbox):
    sandbox.configure(null_fields="omit")
    items = graph.walk(limit=50, fields="organic_insights,partnership_info{ad_code}")
    assert all(None not in i["organic_insights"].values() for i in items)
    assert any(len(i["organic_insights"]) < 7 for i in items)
    assert any("ad_code" not in p for i in items for p in i["partnership_info"])


def test_non_ascii_captions_survive_json_escaping(graph):
    captions = [i["caption"] for i in graph.walk(limit=50, fields="caption")]
    assert any(not c.isascii() for c in captions)
