"""Who may call the discovery edge, and which platforms each brand scope shows."""

from __future__ import annotations

import pytest

IG_BRAND = "instagram_branded_content_ads_brand"
FB_BRAND = "facebook_branded_content_ads_brand"


@pytest.fixture
def mint(sandbox, graph):
    """Mint a brand token for the default business with the given scopes."""

    def _mint(*scopes: str, business_id: str | None = None) -> str:
        return sandbox.mint_token(
            role="brand",
            scopes=list(scopes),
            business_id=business_id or graph.brand["business_id"],
            fb_page_id=graph.brand["fb_page_id"],
            ig_user_id=graph.brand["ig_user_id"],
        )

    return _mint


def _platforms(graph, token: str | None = None, **params) -> set[str]:
    return {item["platform"] for item in graph.walk(token, fields="platform", limit=50, **params)}


def test_both_brand_scopes_show_both_platforms(graph):
    assert _platforms(graph) == {"INSTAGRAM", "FACEBOOK"}


def test_instagram_brand_scope_alone_shows_instagram_only(graph, mint):
    token = mint("business_management", "instagram_basic", IG_BRAND)
    assert _platforms(graph, token) == {"INSTAGRAM"}


def test_facebook_brand_scope_alone_shows_facebook_only(graph, mint):
    token = mint("business_management", FB_BRAND)
    assert _platforms(graph, token) == {"FACEBOOK"}


def test_platform_types_without_its_scope_is_403(graph, mint):
    token = mint("business_management", FB_BRAND)
    error = graph.error(graph.discover(token, platform_types='["INSTAGRAM"]'), 403)
    assert error["code"] == 10


def test_platform_types_filters_to_requested_platform(graph):
    assert _platforms(graph, platform_types="FACEBOOK") == {"FACEBOOK"}


def test_instagram_brand_scope_without_instagram_basic_is_403(graph, mint):
    token = mint("business_management", IG_BRAND)
    error = graph.error(graph.discover(token), 403)
    assert error["code"] == 10
    assert "instagram_basic" in error["message"]


def test_token_without_any_brand_scope_is_403(graph, mint):
    token = mint("business_management", "instagram_basic")
    assert graph.error(graph.discover(token), 403)["code"] == 10


def test_token_without_business_management_is_403_code_200(graph, mint):
    token = mint("instagram_basic", IG_BRAND, FB_BRAND)
    assert graph.error(graph.discover(token), 403)["code"] == 200


def test_creator_token_cannot_discover(graph, sandbox):
    creator = sandbox.creator_tokens()[0]["access_token"]
    assert graph.error(graph.discover(creator), 403)["code"] == 200


def test_token_of_another_business_is_403(graph, sandbox):
    other = next(
        t for t in sandbox.tokens() if t["role"] == "brand" and t["business_id"] != graph.brand["business_id"]
    )
    error = graph.error(graph.discover(other["access_token"]), 403)
    assert error["code"] == 200


def test_unknown_business_is_graph_method_exception(graph):
    error = graph.error(graph.discover(business_id="999999999999999"), 400)
    assert (error["code"], error["error_subcode"], error["type"]) == (100, 33, "GraphMethodException")


def test_ig_account_of_another_business_is_rejected(graph, sandbox):
    other = next(
        t for t in sandbox.tokens() if t["role"] == "brand" and t["business_id"] != graph.brand["business_id"]
    )
    error = graph.error(graph.discover(ig_user_id=other["ig_user_id"]), 400)
    assert error["code"] == 100
    assert other["ig_user_id"] in error["message"]


def test_page_of_another_business_is_rejected(graph, sandbox):
    other = next(
        t for t in sandbox.tokens() if t["role"] == "brand" and t["business_id"] != graph.brand["business_id"]
    )
    error = graph.error(graph.discover(fb_page_id=other["fb_page_id"]), 400)
    assert error["code"] == 100


def test_page_and_ig_account_not_linked_is_rejected(graph, sandbox):
    world = sandbox.world()
    business = next(b for b in world["businesses"] if b["business_id"] == graph.brand["business_id"])
    error = graph.error(
        graph.discover(fb_page_id=business["unlinked_page_ids"][0], ig_user_id=graph.brand["ig_user_id"]), 400
    )
    assert error["code"] == 100
    assert "not linked" in error["message"]


def test_linked_page_and_ig_account_together_are_accepted(graph):
    response = graph.discover(fb_page_id=graph.brand["fb_page_id"], ig_user_id=graph.brand["ig_user_id"])
    assert response.status_code == 200, response.text


def test_page_alone_shows_the_linked_accounts_content(graph):
    by_page = [i["content_id"] for i in graph.walk(fb_page_id=graph.brand["fb_page_id"], limit=50)]
    by_ig = [i["content_id"] for i in graph.walk(limit=50)]
    assert by_page == by_ig
