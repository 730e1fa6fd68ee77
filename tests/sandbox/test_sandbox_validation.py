"""Parameter validation on the discovery edge: every rejected request is Meta's (#100) envelope."""

from __future__ import annotations

import datetime as dt

import pytest


def _code100(graph, response, status: int = 400) -> str:
    error = graph.error(response, status)
    assert error["code"] == 100, error
    assert error["type"] == "OAuthException"
    return error["message"]


def test_default_limit_is_25(graph):
    assert len(graph.discover().json()["data"]) == 25


@pytest.mark.parametrize("limit", ["0", "51", "-3", "abc"])
def test_limit_outside_1_to_50_is_rejected(graph, limit):
    assert "limit" in _code100(graph, graph.discover(limit=limit))


@pytest.mark.parametrize("limit", [1, 50])
def test_limit_bounds_are_accepted(graph, limit):
    assert len(graph.discover(limit=limit).json()["data"]) == limit


def test_before_cursor_is_400(graph):
    assert "before" in _code100(graph, graph.discover(before="QVFIUg"))


def test_neither_page_nor_ig_account_is_rejected(graph):
    assert "fb_page_id or ig_user_id" in _code100(graph, graph.discover(no_account=True))


def test_start_date_without_end_date_is_rejected(graph):
    assert "together" in _code100(graph, graph.discover(start_date="2025-01-01"))


def test_end_date_without_start_date_is_rejected(graph):
    assert "together" in _code100(graph, graph.discover(end_date="2025-01-01"))


def test_date_in_wrong_format_is_rejected(graph):
    assert "YYYY-MM-DD" in _code100(graph, graph.discover(start_date="01/02/2025", end_date="2025-03-01"))


def test_date_in_the_future_is_rejected(graph):
    future = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=2)).isoformat()
    assert "future" in _code100(graph, graph.discover(start_date="2025-01-01", end_date=future))


def test_start_date_after_end_date_is_rejected(graph):
    assert "less than or equal" in _code100(
        graph, graph.discover(start_date="2025-03-01", end_date="2025-01-01")
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("media_types", '["GIF"]'),
        ("post_types", "FEED,LIVE"),
        ("content_types", '["SPONSORED"]'),
        ("ad_eligibilities", "READY"),
        ("ad_usages", '["USED"]'),
        ("platform_types", "THREADS"),
        ("sort_by", "POPULAR"),
    ],
)
def test_unknown_enum_value_is_rejected(graph, name, value):
    assert name in _code100(graph, graph.discover(**{name: value}))


def test_malformed_json_vector_is_rejected(graph):
    assert "media_types" in _code100(graph, graph.discover(media_types='["IMAGE"'))


def test_json_and_comma_separated_vectors_are_equivalent(graph):
    as_json = graph.walk(media_types='["IMAGE","VIDEO"]', limit=50)
    as_csv = graph.walk(media_types="IMAGE,VIDEO", limit=50)
    assert as_json == as_csv
    assert as_json


def test_two_kinds_of_direct_lookup_are_rejected(graph):
    assert "Only one" in _code100(graph, graph.discover(content_ids='["1"]', ad_codes='["x"]'))


def test_more_than_50_lookup_values_are_rejected(graph):
    ids = ",".join(str(10**15 + n) for n in range(51))
    assert "at most 50" in _code100(graph, graph.discover(content_ids=ids))


@pytest.mark.parametrize(
    "extra",
    [{"media_types": "IMAGE"}, {"sort_by": "DATE"}, {"after": "QVFIUg"}, {"search_key": "summer"}],
)
def test_direct_lookup_with_filters_sort_or_after_is_rejected(graph, extra):
    assert "cannot be combined" in _code100(graph, graph.discover(content_ids='["1"]', **extra))


def test_unknown_field_is_rejected_like_meta(graph):
    message = _code100(graph, graph.discover(fields="content_id,likes_count"))
    assert message.startswith("(#100) Tried accessing nonexisting field (likes_count)")


def test_unknown_nested_field_is_rejected(graph):
    message = _code100(graph, graph.discover(fields="partnership_info{tagged_partner{username}}"))
    assert "nonexisting field (username)" in message


def test_sub_fields_on_a_scalar_are_rejected(graph):
    assert "nonexisting field (text)" in _code100(graph, graph.discover(fields="caption{text}"))


def test_unbalanced_braces_are_a_syntax_error(graph):
    assert "Syntax error" in _code100(graph, graph.discover(fields="author{display_name"))


def test_malformed_after_cursor_is_rejected(graph):
    assert "cursor" in _code100(graph, graph.discover(after="!!not-base64!!"))


def test_tampered_after_cursor_is_rejected(graph):
    after = graph.discover(limit=5).json()["paging"]["cursors"]["after"]
    tampered = after[:-2] + ("AA" if after[-2:] != "AA" else "BB")
    assert "cursor" in _code100(graph, graph.discover(limit=5, after=tampered))


def test_cursor_from_another_query_is_rejected(graph):
    after = graph.discover(limit=5, sort_by="DATE").json()["paging"]["cursors"]["after"]
    assert "cursor" in _code100(graph, graph.discover(limit=5, sort_by="RECOMMENDED", after=after))


def test_malformed_version_segment_is_an_error(graph, sandbox):
    response = graph.session.get(
        f"{sandbox.url}/v25/{graph.brand['business_id']}/partnership-ads-advertisable-content",
        params={"access_token": graph.brand["access_token"], "ig_user_id": graph.brand["ig_user_id"]},
        timeout=10,
    )
    assert graph.error(response, 400)["code"] == 2500


def test_any_well_formed_version_is_served(graph, sandbox):
    response = graph.session.get(
        f"{sandbox.url}/v99.9/{graph.brand['business_id']}/partnership-ads-advertisable-content",
        params={"access_token": graph.brand["access_token"], "ig_user_id": graph.brand["ig_user_id"]},
        timeout=10,
    )
    assert response.status_code == 200


def test_unknown_edge_is_an_error(graph, sandbox):
    response = graph.session.get(
        f"{sandbox.graph_url}/{graph.brand['business_id']}/advertisable-posts",
        params={"access_token": graph.brand["access_token"]},
        timeout=10,
    )
    assert graph.error(response, 400)["code"] == 2500
