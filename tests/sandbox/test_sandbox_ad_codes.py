"""The ad code edge: who may create and delete, the code's lifecycle, and the official SDK's dialect."""

from __future__ import annotations

import pytest
import requests
from facebook_business.adobjects.igmedia import IGMedia
from facebook_business.api import FacebookAdsApi, FacebookSession
from facebook_business.exceptions import FacebookRequestError

from include.graph_sandbox.world import BRAND_SCOPES


@pytest.fixture
def creator(sandbox) -> dict:
    return sandbox.creator_tokens()[0]


@pytest.fixture
def media(creator, own_media) -> str:
    """An Instagram media of `creator` without a code (tagging at least one sandbox brand)."""
    return own_media(creator["ig_user_id"]).content_id


def _lookup(graph, world, media_id: str, **params) -> requests.Response:
    """Direct lookup through a brand tagged on `media_id`."""
    entry = world.by_id[media_id].entries[0]
    business = world.businesses[entry.business_id]
    token = next(
        t for t in graph.sandbox.tokens() if t["business_id"] == entry.business_id and t["role"] == "brand"
    )
    return graph.discover(
        token["access_token"],
        business_id=business.business_id,
        ig_user_id=business.pairs[0].ig_user_id,
        **params,
    )


def test_owner_creates_a_code(graph, creator, media):
    response = graph.ad_code("POST", media, creator["access_token"])
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"ad_code"}
    assert len(response.json()["ad_code"]) > 20


def test_created_code_appears_in_every_partnership_info_entry(graph, world, creator, media):
    code = graph.ad_code("POST", media, creator["access_token"]).json()["ad_code"]
    body = _lookup(graph, world, media, content_ids=media, fields="partnership_info{ad_code}").json()
    assert [p["ad_code"] for p in body["data"][0]["partnership_info"]] == [code] * len(
        world.by_id[media].entries
    )


def test_created_code_is_found_by_ad_codes_lookup(graph, world, creator, media):
    code = graph.ad_code("POST", media, creator["access_token"]).json()["ad_code"]
    body = _lookup(graph, world, media, ad_codes=f'["{code}"]').json()
    assert body == {"data": [{"content_id": media}]}


def test_created_code_is_listed_by_the_control_api(graph, sandbox, creator, media):
    code = graph.ad_code("POST", media, creator["access_token"]).json()["ad_code"]
    [record] = [r for r in sandbox.ad_codes() if r["ad_code"] == code]
    assert record["media_id"] == media
    assert record["valid"] is True
    assert record["issued_at"]
    assert record["invalidated_at"] is None


def test_deleted_code_disappears(graph, world, sandbox, creator, media):
    code = graph.ad_code("POST", media, creator["access_token"]).json()["ad_code"]
    response = graph.ad_code("DELETE", media, creator["access_token"])
    assert response.json() == {"success": True}
    assert _lookup(graph, world, media, ad_codes=code).json() == {"data": []}
    body = _lookup(graph, world, media, content_ids=media, fields="partnership_info{ad_code}").json()
    assert {p["ad_code"] for p in body["data"][0]["partnership_info"]} == {None}
    [record] = [r for r in sandbox.ad_codes() if r["ad_code"] == code]
    assert record["valid"] is False
    assert record["invalidated_at"]


def test_repeated_post_returns_the_same_code_by_default(graph, creator, media):
    first = graph.ad_code("POST", media, creator["access_token"]).json()["ad_code"]
    assert graph.ad_code("POST", media, creator["access_token"]).json()["ad_code"] == first


def test_repeated_post_rotates_the_code_when_configured(graph, world, sandbox, creator, media):
    sandbox.configure(ad_code_repeat="rotate")
    first = graph.ad_code("POST", media, creator["access_token"]).json()["ad_code"]
    second = graph.ad_code("POST", media, creator["access_token"]).json()["ad_code"]
    assert second != first
    assert _lookup(graph, world, media, ad_codes=first).json() == {"data": []}
    assert _lookup(graph, world, media, ad_codes=second).json() == {"data": [{"content_id": media}]}
    validity = {r["ad_code"]: r["valid"] for r in sandbox.ad_codes()}
    assert (validity[first], validity[second]) == (False, True)


def test_seeded_code_is_returned_on_post_by_default(graph, sandbox, own_media):
    for creator in sandbox.creator_tokens():
        try:
            item = own_media(creator["ig_user_id"], with_code=True)
        except LookupError:
            continue
        response = graph.ad_code("POST", item.content_id, creator["access_token"])
        assert response.json() == {"ad_code": item.seeded_ad_code}
        return
    pytest.fail("no creator owns a media with a seeded code")


def test_another_creator_gets_a_permission_error(graph, sandbox, media):
    other = sandbox.creator_tokens()[1]
    error = graph.error(graph.ad_code("POST", media, other["access_token"]), 403)
    assert error["code"] == 10


def test_brand_token_cannot_create_a_code_for_creator_media(graph, media):
    error = graph.error(graph.ad_code("POST", media, graph.brand["access_token"]), 403)
    assert error["code"] == 10


def test_brand_token_creates_a_code_for_its_own_media(graph, own_media):
    item = own_media(graph.brand["ig_user_id"])
    response = graph.ad_code("POST", item.content_id, graph.brand["access_token"])
    assert response.status_code == 200, response.text


def test_owner_without_creator_scope_gets_a_permission_error(graph, sandbox, creator, media):
    token = sandbox.mint_token(
        role="creator", scopes=["instagram_basic", "business_management"], ig_user_id=creator["ig_user_id"]
    )
    error = graph.error(graph.ad_code("POST", media, token), 403)
    assert error["code"] == 10
    assert "instagram_branded_content_creator" in error["message"]


def test_owner_without_instagram_basic_gets_a_permission_error(graph, sandbox, creator, media):
    token = sandbox.mint_token(
        role="creator",
        scopes=["business_management", "instagram_branded_content_creator"],
        ig_user_id=creator["ig_user_id"],
    )
    assert graph.error(graph.ad_code("DELETE", media, token), 403)["code"] == 10


def test_other_creator_cannot_delete_a_code(graph, sandbox, creator, media):
    graph.ad_code("POST", media, creator["access_token"])
    other = sandbox.creator_tokens()[1]
    assert graph.error(graph.ad_code("DELETE", media, other["access_token"]), 403)["code"] == 10


def test_facebook_post_cannot_get_an_instagram_ad_code(graph, world, sandbox):
    post = next(i for i in world.items if i.platform == "FACEBOOK" and i.author.fb_page_id)
    token = sandbox.mint_token(
        role="creator", scopes=list(BRAND_SCOPES), fb_page_id=post.author.fb_page_id, ig_user_id=None
    )
    error = graph.error(graph.ad_code("POST", post.content_id, token), 400)
    assert (error["code"], error["error_subcode"]) == (100, 33)
    assert "Facebook post" in error["error_user_msg"]


def test_unknown_media_is_graph_method_exception(graph, creator):
    error = graph.error(graph.ad_code("POST", "17899999999999999", creator["access_token"]), 400)
    assert (error["type"], error["code"], error["error_subcode"]) == ("GraphMethodException", 100, 33)


def test_curl_style_multipart_form_is_accepted(sandbox, creator, media):
    response = requests.post(
        f"{sandbox.graph_url}/{media}/partnership_ad_code",
        files={"access_token": (None, creator["access_token"])},
        timeout=10,
    )
    assert response.status_code == 200, response.text


def test_delete_with_form_body_token_is_accepted(sandbox, creator, media):
    response = requests.delete(
        f"{sandbox.graph_url}/{media}/partnership_ad_code",
        files={"access_token": (None, creator["access_token"])},
        timeout=10,
    )
    assert response.json() == {"success": True}


@pytest.fixture
def sdk(sandbox, monkeypatch):
    """The official SDK pointed at the sandbox: FacebookSession.GRAPH is where it builds URLs from."""
    monkeypatch.setattr(FacebookSession, "GRAPH", sandbox.url)

    def _init(token: str) -> FacebookAdsApi:
        api = FacebookAdsApi.init(access_token=token, api_version=sandbox.api_version)
        api._session.requests.verify = True
        return api

    return _init


def test_sdk_creates_and_deletes_a_code(sdk, sandbox, creator, media):
    api = sdk(creator["access_token"])
    created = IGMedia(media, api=api).create_partnership_ad_code()
    code = created["ad_code"]
    assert {r["ad_code"]: r["valid"] for r in sandbox.ad_codes()}[code] is True
    # The SDK's ObjectParser strips `success` from {"success": true}; no exception means it succeeded.
    IGMedia(media, api=api).delete_partnership_ad_code()
    assert {r["ad_code"]: r["valid"] for r in sandbox.ad_codes()}[code] is False


def test_sdk_parses_permission_error(sdk, sandbox, media):
    api = sdk(sandbox.creator_tokens()[1]["access_token"])
    with pytest.raises(FacebookRequestError) as raised:
        IGMedia(media, api=api).create_partnership_ad_code()
    assert raised.value.api_error_code() == 10
    assert raised.value.http_status() == 403
    assert raised.value.api_error_type() == "OAuthException"


def test_sdk_parses_token_error(sdk, media):
    api = sdk("EAAB" + "q" * 60)
    with pytest.raises(FacebookRequestError) as raised:
        IGMedia(media, api=api).create_partnership_ad_code()
    assert (raised.value.api_error_code(), raised.value.api_error_subcode()) == (190, 467)


def test_sdk_parses_throttling_error(sdk, sandbox, creator, media):
    sandbox.configure(rate_limit_calls=1)
    api = sdk(creator["access_token"])
    IGMedia(media, api=api).create_partnership_ad_code()
    with pytest.raises(FacebookRequestError) as raised:
        IGMedia(media, api=api).create_partnership_ad_code()
    assert raised.value.api_error_code() == 80002
    assert raised.value.api_transient_error() is True
