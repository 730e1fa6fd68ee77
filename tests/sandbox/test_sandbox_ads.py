"""The Marketing API objects of a partnership ad: ad accounts, ad sets, creatives from ad codes, and ads.

Plain `requests` (and the official SDK at the end) against the session's sandbox.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from facebook_business.adobjects.ad import Ad
from facebook_business.adobjects.adaccount import AdAccount
from facebook_business.adobjects.adcreative import AdCreative
from facebook_business.api import FacebookAdsApi, FacebookSession
from facebook_business.exceptions import FacebookRequestError

from include.graph_sandbox.ads import (
    SUBCODE_AD_CODE_INVALIDATED,
    SUBCODE_AD_CODE_UNKNOWN,
    SUBCODE_NOT_A_PARTNER,
)
from include.graph_sandbox.world import ADS_SCOPES, BRAND_SCOPES


@dataclass
class Brand:
    """The default brand, its ad accounts and a valid ad code of a media it is tagged on."""

    token: str
    business_id: str
    page_id: str
    ig_user_id: str
    account: str  # act_<digits>
    other_account: str
    adsets: list[str]  # of `account`; adsets[0] is ACTIVE, the others PAUSED
    other_adset: str  # of `other_account`
    ad_code: str
    media_id: str


@pytest.fixture
def brand(sandbox, world) -> Brand:
    record = sandbox.brand_token()
    business = world.businesses[record["business_id"]]
    first, second = (world.ad_accounts[ref] for ref in business.ad_account_ids)
    item = next(
        i
        for i in world.items
        if i.seeded_ad_code and any(e.business_id == business.business_id for e in i.entries)
    )
    return Brand(
        token=record["access_token"],
        business_id=business.business_id,
        page_id=record["fb_page_id"],
        ig_user_id=record["ig_user_id"],
        account=first.id,
        other_account=second.id,
        adsets=[a.adset_id for a in first.adsets],
        other_adset=second.adsets[0].adset_id,
        ad_code=item.seeded_ad_code,
        media_id=item.content_id,
    )


class Ads:
    """Calls to the Marketing API routes, form-encoded with JSON strings as the Marketing API takes them."""

    def __init__(self, sandbox, brand: Brand) -> None:
        self.sandbox = sandbox
        self.brand = brand
        self.session = requests.Session()

    def get(self, path: str, token: str | None = None, **params: Any) -> requests.Response:
        query = {"access_token": token or self.brand.token, **params}
        return self.session.get(f"{self.sandbox.graph_url}/{path}", params=query, timeout=30)

    def post(self, path: str, token: str | None = None, **form: Any) -> requests.Response:
        data = {k: v if isinstance(v, str) else json.dumps(v) for k, v in form.items() if v is not None}
        data["access_token"] = token or self.brand.token
        return self.session.post(f"{self.sandbox.graph_url}/{path}", data=data, timeout=30)

    def creative_form(self, **overrides: Any) -> dict[str, Any]:
        form: dict[str, Any] = {
            "name": "pa 1 abc",
            "object_id": self.brand.page_id,
            "branded_content": {"instagram_boost_post_access_token": self.brand.ad_code, "ad_format": 1},
            "instagram_branded_content": {"sponsor_id": self.brand.ig_user_id},
        }
        form.update(overrides)
        return form

    def create_creative(self, token: str | None = None, account: str | None = None, **overrides: Any):
        return self.post(
            f"{account or self.brand.account}/adcreatives", token, **self.creative_form(**overrides)
        )

    def creative_id(self, **overrides: Any) -> str:
        response = self.create_creative(**overrides)
        assert response.status_code == 200, response.text
        return response.json()["id"]

    def create_ad(self, creative_id: str, token: str | None = None, **overrides: Any) -> requests.Response:
        form: dict[str, Any] = {
            "name": "pa ad",
            "adset_id": self.brand.adsets[0],
            "creative": {"creative_id": creative_id},
            "status": "PAUSED",
        }
        form.update(overrides)
        return self.post(f"{self.brand.account}/ads", token, **form)


@pytest.fixture
def ads(sandbox, brand) -> Ads:
    return Ads(sandbox, brand)


def error_of(response: requests.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    assert set(body) == {"error"}
    assert {"message", "type", "code", "fbtrace_id", "is_transient"} <= set(body["error"])
    return body["error"]


# ------------------------------------------------------------------------------ accounts and ad sets


def test_brand_tokens_carry_ads_management_and_ads_read_by_default(sandbox):
    brands = [t for t in sandbox.tokens() if t["role"] == "brand"]
    assert all(set(ADS_SCOPES) <= set(t["scopes"]) for t in brands)


def test_owned_ad_accounts_lists_the_business_accounts_with_fields(ads, brand):
    body = ads.get(f"{brand.business_id}/owned_ad_accounts", fields="id,account_id,name,currency").json()
    assert [a["id"] for a in body["data"]] == [brand.account, brand.other_account]
    first = body["data"][0]
    assert first["account_id"] == brand.account.removeprefix("act_")
    assert set(first) == {"id", "account_id", "name", "currency"}
    assert "next" not in body["paging"]


def test_owned_ad_accounts_pages_with_the_after_cursor_and_next(ads, brand):
    path = f"{brand.business_id}/owned_ad_accounts"
    first = ads.get(path, limit=1).json()
    assert first["data"] == [{"id": brand.account}]
    assert "access_token" not in first["paging"]["next"]
    second = ads.get(path, limit=1, after=first["paging"]["cursors"]["after"]).json()
    assert second["data"] == [{"id": brand.other_account}]
    assert "next" not in second["paging"]


def test_owned_ad_accounts_of_another_business_is_refused(ads, sandbox, brand):
    other = next(
        t for t in sandbox.tokens() if t["role"] == "brand" and t["business_id"] != brand.business_id
    )
    error = error_of(ads.get(f"{other['business_id']}/owned_ad_accounts"), 403)
    assert error["code"] == 200


def test_ad_account_node_reads_its_fields(ads, brand):
    body = ads.get(brand.account, fields="name,account_status,business{id}").json()
    assert body["id"] == brand.account
    assert body["account_status"] == 1
    assert body["business"] == {"id": brand.business_id}


def test_adsets_edge_lists_fields_and_pages(ads, brand):
    path = f"{brand.account}/adsets"
    body = ads.get(path, fields="id,name,status,campaign_id,effective_status", limit=3).json()
    assert [a["id"] for a in body["data"]] == brand.adsets[:3]
    assert body["data"][0]["status"] == "ACTIVE"
    rest = ads.get(path, limit=3, after=body["paging"]["cursors"]["after"]).json()
    assert [a["id"] for a in rest["data"]] == brand.adsets[3:]
    assert "next" not in rest["paging"]


def test_adsets_edge_filters_on_name(ads, world, brand):
    wanted = world.adsets[brand.adsets[1]][1].name
    rule = [{"field": "name", "operator": "EQUAL", "value": wanted}]
    body = ads.get(f"{brand.account}/adsets", filtering=json.dumps(rule), fields="name").json()
    assert body["data"] == [{"id": brand.adsets[1], "name": wanted}]


def test_unknown_ad_account_is_graph_method_exception(ads):
    error = error_of(ads.get("act_999999999/adsets"), 400)
    assert (error["code"], error["error_subcode"]) == (100, 33)


def test_another_business_cannot_read_the_account(ads, sandbox, brand):
    other = next(
        t for t in sandbox.tokens() if t["role"] == "brand" and t["business_id"] != brand.business_id
    )
    error = error_of(ads.get(f"{brand.account}/adsets", other["access_token"]), 403)
    assert error["code"] == 200
    assert "ads_management or ads_read" in error["message"]


def test_unknown_field_on_an_ad_object_is_refused(ads, brand):
    error = error_of(ads.get(f"{brand.account}/adsets", fields="id,colour"), 400)
    assert error["code"] == 100
    assert "nonexisting field (colour)" in error["message"]


# ------------------------------------------------------------------------------ creatives


def test_creative_is_created_from_an_ad_code_and_read_back(ads, sandbox, brand):
    creative_id = ads.creative_id(name="pa 17 0123456789")
    body = ads.get(
        creative_id,
        fields="id,name,account_id,object_id,source_instagram_media_id,branded_content{ad_format},"
        "instagram_branded_content",
    ).json()
    assert body == {
        "id": creative_id,
        "name": "pa 17 0123456789",
        "account_id": brand.account.removeprefix("act_"),
        "object_id": brand.page_id,
        "source_instagram_media_id": brand.media_id,
        "branded_content": {"ad_format": 1},
        "instagram_branded_content": {"sponsor_id": brand.ig_user_id},
    }
    [listed] = sandbox.ad_creatives()
    assert (listed["id"], listed["account_id"], listed["media_id"]) == (
        creative_id,
        brand.account,
        brand.media_id,
    )
    assert listed["ad_code"] == brand.ad_code


def test_creative_with_a_facebook_sponsor_page_and_every_ad_format(ads, brand):
    for ad_format in (1, 2, 3):
        form = {"instagram_boost_post_access_token": brand.ad_code, "ad_format": ad_format}
        response = ads.create_creative(
            branded_content=form,
            instagram_branded_content=None,
            facebook_branded_content={"sponsor_page_id": brand.page_id},
        )
        assert response.status_code == 200, response.text


@pytest.mark.parametrize("ad_format", [0, 4, "x", None, True])
def test_ad_format_must_be_1_2_or_3(ads, brand, ad_format):
    branded = {"instagram_boost_post_access_token": brand.ad_code, "ad_format": ad_format}
    error = error_of(ads.create_creative(branded_content=branded), 400)
    assert error["code"] == 100
    assert "ad_format" in error["message"]


def test_unknown_ad_code_is_refused_without_quoting_it(ads, sandbox):
    code = "AQ" + "z" * 60
    branded = {"instagram_boost_post_access_token": code, "ad_format": 1}
    response = ads.create_creative(branded_content=branded)
    error = error_of(response, 400)
    assert (error["code"], error["error_subcode"]) == (100, SUBCODE_AD_CODE_UNKNOWN)
    assert code not in response.text
    assert sandbox.ad_creatives() == []


def _owner_token(sandbox, world, media_id: str) -> str:
    author = world.by_id[media_id].author.ig_user_id
    return next(t["access_token"] for t in sandbox.tokens() if t["ig_user_id"] == author)


def test_rotated_ad_code_is_refused(ads, sandbox, world, brand):
    sandbox.configure(ad_code_repeat="rotate")
    owner = _owner_token(sandbox, world, brand.media_id)
    new_code = ads.post(f"{brand.media_id}/partnership_ad_code", owner).json()["ad_code"]
    error = error_of(ads.create_creative(), 400)
    assert (error["code"], error["error_subcode"]) == (100, SUBCODE_AD_CODE_INVALIDATED)
    branded = {"instagram_boost_post_access_token": new_code, "ad_format": 3}
    assert ads.create_creative(branded_content=branded).status_code == 200


def test_deleted_ad_code_is_refused(ads, sandbox, world, brand):
    owner = _owner_token(sandbox, world, brand.media_id)
    response = requests.delete(
        f"{sandbox.graph_url}/{brand.media_id}/partnership_ad_code",
        params={"access_token": owner},
        timeout=30,
    )
    assert response.json() == {"success": True}
    error = error_of(ads.create_creative(), 400)
    assert error["error_subcode"] == SUBCODE_AD_CODE_INVALIDATED


def test_ad_code_of_a_media_the_business_is_not_tagged_on_is_refused(ads, world, brand):
    foreign = next(
        i
        for i in world.items
        if i.seeded_ad_code and all(e.business_id != brand.business_id for e in i.entries)
    )
    branded = {"instagram_boost_post_access_token": foreign.seeded_ad_code, "ad_format": 1}
    error = error_of(ads.create_creative(branded_content=branded), 400)
    assert (error["code"], error["error_subcode"]) == (100, SUBCODE_NOT_A_PARTNER)


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"object_id": None}, "object_id is required"),
        ({"object_id": "100000000000001"}, "object_id"),
        ({"branded_content": None}, "branded_content is required"),
        ({"branded_content": "not json"}, "branded_content must be a JSON object"),
        ({"branded_content": {"ad_format": 1}}, "instagram_boost_post_access_token] is required"),
        ({"instagram_branded_content": {"sponsor_id": "17841400000000001"}}, "sponsor_id"),
        ({"facebook_branded_content": {"sponsor_page_id": "100000000000001"}}, "sponsor_page_id"),
        ({"name": "n" * 401}, "at most 400"),
    ],
)
def test_creative_parameters_are_validated(ads, sandbox, overrides, words):
    error = error_of(ads.create_creative(**overrides), 400)
    assert error["code"] == 100
    assert words in error["message"]
    assert sandbox.ad_creatives() == []


def test_sponsor_of_another_business_is_refused(ads, sandbox, brand):
    other = next(
        t for t in sandbox.tokens() if t["role"] == "brand" and t["business_id"] != brand.business_id
    )
    error = error_of(ads.create_creative(instagram_branded_content={"sponsor_id": other["ig_user_id"]}), 400)
    assert "sponsor_id" in error["message"]
    error = error_of(ads.create_creative(object_id=other["fb_page_id"]), 400)
    assert "object_id" in error["message"]


def test_writing_needs_ads_management(ads, sandbox, brand):
    scopes = [s for s in BRAND_SCOPES if s != "ads_management"]
    token = sandbox.mint_token(role="brand", scopes=scopes, business_id=brand.business_id)
    error = error_of(ads.create_creative(token), 403)
    assert error["code"] == 200
    assert "ads_management" in error["message"]
    # ads_read still reads.
    assert ads.get(f"{brand.account}/adcreatives", token).status_code == 200


def test_a_brand_token_without_ads_scopes_can_neither_read_nor_write(ads, sandbox, brand):
    scopes = [s for s in BRAND_SCOPES if s not in ADS_SCOPES]
    token = sandbox.mint_token(role="brand", scopes=scopes, business_id=brand.business_id)
    assert error_of(ads.get(f"{brand.account}/adsets", token), 403)["code"] == 200
    assert error_of(ads.create_creative(token), 403)["code"] == 200


def test_another_business_cannot_create_in_the_account(ads, sandbox, brand):
    other = next(
        t for t in sandbox.tokens() if t["role"] == "brand" and t["business_id"] != brand.business_id
    )
    error = error_of(ads.create_creative(other["access_token"]), 403)
    assert error["code"] == 200
    assert sandbox.ad_creatives() == []


def test_a_creative_is_hidden_from_another_business(ads, sandbox):
    creative_id = ads.creative_id()
    other = next(
        t for t in sandbox.tokens() if t["role"] == "brand" and t["business_id"] != ads.brand.business_id
    )
    error = error_of(ads.get(creative_id, other["access_token"]), 400)
    assert (error["code"], error["error_subcode"]) == (100, 33)


def test_request_log_redacts_the_ad_code(ads, sandbox, brand):
    ads.creative_id()
    [entry] = [e for e in sandbox.requests_log() if e["path"].endswith("/adcreatives")]
    assert json.loads(entry["params"]["branded_content"]) == {
        "instagram_boost_post_access_token": "[REDACTED]",
        "ad_format": 1,
    }
    assert brand.ad_code not in json.dumps(sandbox.requests_log())


def test_request_log_redacts_a_branded_content_that_is_not_json(ads, sandbox, brand):
    ads.create_creative(branded_content=f"code={brand.ad_code}")
    assert brand.ad_code not in json.dumps(sandbox.requests_log())


def test_adcreatives_edge_filters_on_name_and_pages(ads, brand):
    ids = [ads.creative_id(name=f"pa {n} x") for n in range(3)]
    other = ads.creative_id(name="something else")
    path = f"{brand.account}/adcreatives"
    first = ads.get(path, fields="name", limit=2).json()
    assert [c["id"] for c in first["data"]] == ids[:2]
    second = ads.get(path, fields="name", limit=2, after=first["paging"]["cursors"]["after"]).json()
    assert [c["id"] for c in second["data"]] == [ids[2], other]
    assert "next" not in second["paging"]
    rule = [{"field": "name", "operator": "EQUAL", "value": "pa 1 x"}]
    assert ads.get(path, filtering=json.dumps(rule)).json()["data"] == [{"id": ids[1]}]
    contain = [{"field": "name", "operator": "CONTAIN", "value": "PA "}]
    assert [c["id"] for c in ads.get(path, filtering=json.dumps(contain)).json()["data"]] == ids
    assert ads.get(f"{brand.other_account}/adcreatives").json() == {"data": []}


@pytest.mark.parametrize(
    ("filtering", "words"),
    [
        ('[{"field": "colour", "operator": "EQUAL", "value": "x"}]', "Filtering field colour is invalid"),
        ('[{"field": "name", "operator": "LIKE", "value": "x"}]', "operator"),
        ('[{"field": "name", "operator": "IN", "value": "x"}]', "non-empty array"),
        ('{"field": "name"}', "JSON array"),
    ],
)
def test_invalid_filtering_is_refused(ads, brand, filtering, words):
    error = error_of(ads.get(f"{brand.account}/adcreatives", filtering=filtering), 400)
    assert error["code"] == 100
    assert words in error["message"]


def test_a_cursor_of_another_query_is_refused(ads, brand):
    ads.creative_id()
    ads.creative_id()
    after = ads.get(f"{brand.account}/adcreatives", limit=1).json()["paging"]["cursors"]["after"]
    error = error_of(ads.get(f"{brand.account}/ads", after=after), 400)
    assert error["code"] == 100


# ------------------------------------------------------------------------------ ads


def test_ad_is_created_paused_and_read_back(ads, sandbox, brand):
    creative_id = ads.creative_id()
    response = ads.create_ad(creative_id, name="pa 1 ad")
    assert response.status_code == 200, response.text
    ad_id = response.json()["id"]
    body = ads.get(
        ad_id, fields="name,adset_id,campaign_id,creative,status,effective_status,created_time"
    ).json()
    assert body["id"] == ad_id
    assert (body["name"], body["adset_id"], body["status"], body["effective_status"]) == (
        "pa 1 ad",
        brand.adsets[0],
        "PAUSED",
        "PAUSED",
    )
    assert body["creative"] == {"id": creative_id, "name": "pa 1 abc"}
    assert body["created_time"].endswith("+0000")
    [listed] = sandbox.ads()
    assert (listed["id"], listed["creative_id"], listed["status"]) == (ad_id, creative_id, "PAUSED")


def test_active_ad_in_a_paused_ad_set_is_adset_paused(ads, brand):
    creative_id = ads.creative_id()
    ad_id = ads.create_ad(creative_id, status="ACTIVE", adset_id=brand.adsets[1]).json()["id"]
    assert ads.get(ad_id, fields="effective_status").json()["effective_status"] == "ADSET_PAUSED"


def test_ads_edge_filters_on_name_and_adset(ads, brand):
    creative_id = ads.creative_id()
    first = ads.create_ad(creative_id, name="pa one").json()["id"]
    second = ads.create_ad(creative_id, name="pa two", adset_id=brand.adsets[2]).json()["id"]
    path = f"{brand.account}/ads"
    by_name = [{"field": "name", "operator": "EQUAL", "value": "pa two"}]
    assert ads.get(path, filtering=json.dumps(by_name)).json()["data"] == [{"id": second}]
    by_adset = [{"field": "adset.id", "operator": "IN", "value": [brand.adsets[0]]}]
    assert ads.get(path, filtering=json.dumps(by_adset)).json()["data"] == [{"id": first}]
    paged = ads.get(path, limit=1).json()
    assert paged["data"] == [{"id": first}]
    assert "next" in paged["paging"]


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"name": None}, "name is required"),
        ({"adset_id": None}, "adset_id is required"),
        ({"status": "DELETED"}, "status must be one of"),
        ({"creative": None}, "creative is required"),
        ({"creative": {"id": "1"}}, "creative_id"),
        ({"creative": {"creative_id": "120900000000000999"}}, "is not a creative of ad account"),
    ],
)
def test_ad_parameters_are_validated(ads, sandbox, overrides, words):
    creative_id = ads.creative_id()
    error = error_of(ads.create_ad(creative_id, **overrides), 400)
    assert error["code"] == 100
    assert words in error["message"]
    assert sandbox.ads() == []


def test_ad_set_of_another_account_is_refused(ads, brand):
    error = error_of(ads.create_ad(ads.creative_id(), adset_id=brand.other_adset), 400)
    assert "is not an ad set of ad account" in error["message"]


def test_creative_of_another_account_is_refused(ads, brand):
    creative_id = ads.creative_id(account=brand.other_account)
    error = error_of(ads.create_ad(creative_id), 400)
    assert "is not a creative of ad account" in error["message"]


def test_ad_without_status_is_active_as_in_the_marketing_api(ads):
    ad_id = ads.create_ad(ads.creative_id(), status=None).json()["id"]
    assert ads.get(ad_id, fields="status").json()["status"] == "ACTIVE"


# ------------------------------------------------------------------------------ rate limits and faults


def test_calls_report_ad_account_usage_and_the_ads_management_bucket(ads, brand):
    response = ads.create_creative()
    account_usage = json.loads(response.headers["x-ad-account-usage"])
    assert set(account_usage) == {"acc_id_util_pct", "reset_time_duration"}
    assert account_usage["acc_id_util_pct"] > 0
    buc = json.loads(response.headers["x-business-use-case-usage"])
    assert buc[brand.business_id][0]["type"] == "ads_management"
    owned = ads.get(f"{brand.business_id}/owned_ad_accounts")
    assert "x-ad-account-usage" not in owned.headers
    assert (
        json.loads(owned.headers["x-business-use-case-usage"])[brand.business_id][0]["type"]
        == "ads_management"
    )


def test_the_ads_bucket_is_separate_from_discovery(ads, sandbox, graph, brand):
    sandbox.configure(rate_limit_calls=2)
    assert graph.discover().status_code == 200
    assert graph.discover().status_code == 200
    assert ads.get(f"{brand.account}/adsets").status_code == 200


def test_exhausted_budget_throttles_with_80004_and_usage_headers(ads, sandbox, brand):
    sandbox.configure(rate_limit_calls=2, throttle_regain_minutes=3)
    ads.get(f"{brand.account}/adsets")
    ads.create_creative()
    response = ads.create_creative()
    error = error_of(response, 400)
    assert (error["code"], error["is_transient"]) == (80004, True)
    assert json.loads(response.headers["x-ad-account-usage"]) == {
        "acc_id_util_pct": 100.0,
        "reset_time_duration": 180,
    }
    entry = json.loads(response.headers["x-business-use-case-usage"])[brand.business_id][0]
    assert (entry["type"], entry["estimated_time_to_regain_access"]) == ("ads_management", 3)
    assert len(sandbox.ad_creatives()) == 1
    sandbox.advance_clock(3601)
    assert ads.create_creative().status_code == 200


def test_throttle_fault_on_the_ads_path(ads, sandbox, brand):
    sandbox.schedule_fault(kind="throttle", method="POST", path="/ads$", regain_minutes=2)
    response = ads.create_ad(ads.creative_id())
    error = error_of(response, 400)
    assert error["code"] == 80004
    assert json.loads(response.headers["x-ad-account-usage"])["reset_time_duration"] == 120
    assert sandbox.ads() == []


def test_fault_after_the_handler_creates_the_creative_and_drops_the_answer(ads, sandbox):
    sandbox.schedule_fault(kind="drop", method="POST", path="adcreatives", after=True)
    with pytest.raises(requests.ConnectionError):
        ads.create_creative()
    assert len(sandbox.ad_creatives()) == 1
    [entry] = [e for e in sandbox.requests_log() if e["path"].endswith("/adcreatives")]
    assert entry["fault"] == "drop"
    assert ads.brand.ad_code not in json.dumps(entry)


def test_http_500_fault_before_the_handler_creates_nothing(ads, sandbox):
    sandbox.schedule_fault(kind="http_500", method="POST", path="adcreatives")
    assert error_of(ads.create_creative(), 500)["code"] == 1
    assert sandbox.ad_creatives() == []


def test_reset_forgets_creatives_and_ads(ads, sandbox):
    ads.create_ad(ads.creative_id())
    sandbox.reset()
    assert (sandbox.ad_creatives(), sandbox.ads()) == ([], [])


def test_world_lists_ad_accounts_and_adsets(sandbox, brand):
    [business] = [b for b in sandbox.world()["businesses"] if b["business_id"] == brand.business_id]
    assert [a["id"] for a in business["ad_accounts"]] == [brand.account, brand.other_account]
    assert [s["id"] for s in business["ad_accounts"][0]["adsets"]] == brand.adsets


# ------------------------------------------------------------------------------ the official SDK


@pytest.fixture
def sdk(sandbox, monkeypatch, brand) -> FacebookAdsApi:
    """The official SDK pointed at the sandbox: FacebookSession.GRAPH is where it builds URLs from."""
    monkeypatch.setattr(FacebookSession, "GRAPH", sandbox.url)
    api = FacebookAdsApi.init(access_token=brand.token, api_version=sandbox.api_version)
    api._session.requests.verify = True
    return api


def test_sdk_creates_a_creative_and_an_ad_and_reads_them_back(sdk, sandbox, brand):
    account = AdAccount(brand.account, api=sdk)
    creative = account.create_ad_creative(
        params={
            AdCreative.Field.name: "pa sdk",
            AdCreative.Field.object_id: brand.page_id,
            AdCreative.Field.branded_content: {
                "instagram_boost_post_access_token": brand.ad_code,
                "ad_format": 2,
            },
            AdCreative.Field.instagram_branded_content: {"sponsor_id": brand.ig_user_id},
        }
    )
    ad = account.create_ad(
        params={
            Ad.Field.name: "pa sdk ad",
            Ad.Field.adset_id: brand.adsets[0],
            Ad.Field.creative: {"creative_id": creative["id"]},
            Ad.Field.status: Ad.Status.paused,
        }
    )
    read = AdCreative(creative["id"], api=sdk).api_get(
        fields=[AdCreative.Field.name, AdCreative.Field.object_id]
    )
    assert (read[AdCreative.Field.name], read[AdCreative.Field.object_id]) == ("pa sdk", brand.page_id)
    read_ad = Ad(ad["id"], api=sdk).api_get(fields=[Ad.Field.name, Ad.Field.status, Ad.Field.adset_id])
    assert (read_ad[Ad.Field.name], read_ad[Ad.Field.status], read_ad[Ad.Field.adset_id]) == (
        "pa sdk ad",
        "PAUSED",
        brand.adsets[0],
    )
    assert [c["ad_format"] for c in sandbox.ad_creatives()] == [2]


def test_sdk_pages_an_edge_with_its_cursor(sdk, ads, brand):
    ids = [ads.creative_id(name=f"pa {n}") for n in range(3)]
    cursor = AdAccount(brand.account, api=sdk).get_ad_creatives(fields=["name"], params={"limit": 1})
    assert [c["id"] for c in cursor] == ids


def test_sdk_parses_an_invalid_ad_code_error(sdk, brand):
    with pytest.raises(FacebookRequestError) as raised:
        AdAccount(brand.account, api=sdk).create_ad_creative(
            params={
                "object_id": brand.page_id,
                "branded_content": {"instagram_boost_post_access_token": "AQnope", "ad_format": 1},
            }
        )
    assert (raised.value.api_error_code(), raised.value.api_error_subcode()) == (100, SUBCODE_AD_CODE_UNKNOWN)
