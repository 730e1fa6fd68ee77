"""The per-token, per-business sliding-window call budget and its usage headers."""

from __future__ import annotations

import json


def _buc(response) -> dict:
    return json.loads(response.headers["x-business-use-case-usage"])


def test_usage_headers_are_on_every_response(graph):
    response = graph.discover()
    buc = _buc(response)
    [entry] = buc[graph.brand["business_id"]]
    assert {"type", "call_count", "total_cputime", "total_time", "estimated_time_to_regain_access"} <= set(
        entry
    )
    assert set(json.loads(response.headers["x-app-usage"])) == {"call_count", "total_time", "total_cputime"}


def test_usage_headers_are_on_error_responses_too(graph):
    response = graph.discover(limit=0)
    assert response.status_code == 400
    assert graph.brand["business_id"] in _buc(response)


def test_call_count_is_the_percentage_of_the_budget(graph, sandbox):
    sandbox.configure(rate_limit_calls=4)
    counts = [_buc(graph.discover())[graph.brand["business_id"]][0]["call_count"] for _ in range(3)]
    assert counts == [25, 50, 75]


def test_exhausted_budget_returns_the_buc_throttling_error(graph, sandbox):
    sandbox.configure(rate_limit_calls=2, rate_limit_window_s=600)
    graph.discover()
    graph.discover()
    response = graph.discover()
    error = graph.error(response, 400)
    assert error["code"] == 80002
    assert error["is_transient"] is True
    [entry] = _buc(response)[graph.brand["business_id"]]
    assert entry["call_count"] == 100
    assert entry["estimated_time_to_regain_access"] == 10


def test_throttle_code_and_regain_time_are_configurable(graph, sandbox):
    sandbox.configure(
        rate_limit_calls=1, throttle_code=80004, throttle_regain_minutes=7, buc_type="ads_management"
    )
    graph.discover()
    response = graph.discover()
    assert graph.error(response, 400)["code"] == 80004
    [entry] = _buc(response)[graph.brand["business_id"]]
    assert (entry["estimated_time_to_regain_access"], entry["type"]) == (7, "ads_management")


def test_window_slides_so_calls_are_allowed_again(graph, sandbox):
    sandbox.configure(rate_limit_calls=1, rate_limit_window_s=60)
    graph.discover()
    assert graph.discover().status_code == 400
    sandbox.advance_clock(61)
    assert graph.discover().status_code == 200


def test_budget_is_per_token(graph, sandbox):
    sandbox.configure(rate_limit_calls=1)
    graph.discover()
    assert graph.discover().status_code == 400
    other = sandbox.mint_token(
        role="brand",
        scopes=graph.brand["scopes"],
        business_id=graph.brand["business_id"],
        fb_page_id=graph.brand["fb_page_id"],
        ig_user_id=graph.brand["ig_user_id"],
    )
    assert graph.discover(other).status_code == 200


def test_brand_token_shares_its_business_bucket_across_both_edges(graph, sandbox, own_media):
    sandbox.configure(rate_limit_calls=1)
    graph.discover()
    media = own_media(graph.brand["ig_user_id"]).content_id
    response = graph.ad_code("POST", media, graph.brand["access_token"])
    assert graph.error(response, 400)["code"] == 80002
    assert graph.brand["business_id"] in _buc(response)


def test_ad_code_calls_are_budgeted(graph, sandbox, own_media):
    sandbox.configure(rate_limit_calls=1)
    creator = sandbox.creator_tokens()[0]
    media = own_media(creator["ig_user_id"]).content_id
    assert graph.ad_code("POST", media, creator["access_token"]).status_code == 200
    response = graph.ad_code("POST", media, creator["access_token"])
    assert graph.error(response, 400)["code"] == 80002
    assert creator["ig_user_id"] in _buc(response)
