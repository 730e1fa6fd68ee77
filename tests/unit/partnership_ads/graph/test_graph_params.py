"""Validation and rendering of discovery and lookup parameters, before any request."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from partnership_ads.graph.params import (
    FILTER_NAMES,
    build_discovery_query,
    build_lookup_requests,
    validate_business_id,
)

TODAY = dt.date(2026, 6, 30)


def query(**kwargs: object) -> dict[str, str]:
    filters = {
        k: v for k, v in kwargs.items() if k not in {"fb_page_id", "ig_user_id", "fields", "page_size"}
    }
    account = {k: kwargs[k] for k in ("fb_page_id", "ig_user_id") if k in kwargs} or {
        "ig_user_id": "17841400000"
    }
    extra = {k: kwargs[k] for k in ("fields", "page_size") if k in kwargs}
    return build_discovery_query(**account, **extra, filters=filters, today=lambda: TODAY).params


def test_every_filter_renders_with_the_apis_own_name() -> None:
    params = query(
        ad_partner_ig_user_ids=["111", 222],
        ad_partner_page_ids=["333"],
        platform_types=["INSTAGRAM"],
        media_types=["IMAGE", "VIDEO"],
        post_types=["REEL"],
        content_types=["BRANDED_CONTENT", "COLLAB_POST"],
        ad_eligibilities=["AD_READY"],
        ad_usages=["NEVER_USED"],
        country_codes=["us", "BR"],
        start_date=dt.date(2026, 1, 1),
        end_date="2026-03-31",
        search_key="summer",
        sort_by="DATE",
        is_recommended=True,
    )
    assert set(params) == FILTER_NAMES | {"ig_user_id", "limit"}
    assert json.loads(params["ad_partner_ig_user_ids"]) == ["111", "222"]
    assert json.loads(params["media_types"]) == ["IMAGE", "VIDEO"]
    assert json.loads(params["country_codes"]) == ["US", "BR"]
    assert (params["start_date"], params["end_date"]) == ("2026-01-01", "2026-03-31")
    assert params["is_recommended"] == "true"
    assert params["sort_by"] == "DATE"
    assert params["limit"] == "50"


def test_enum_values_are_accepted_in_any_case_and_sent_upper_case() -> None:
    assert query(ad_eligibilities=["ad_ready", "Needs_Attention"])["ad_eligibilities"] == (
        '["AD_READY","NEEDS_ATTENTION"]'
    )


def test_a_comma_separated_string_is_a_vector() -> None:
    assert query(platform_types="INSTAGRAM,FACEBOOK")["platform_types"] == '["INSTAGRAM","FACEBOOK"]'


def test_none_and_empty_list_mean_no_filter() -> None:
    params = query(ad_eligibilities=[], media_types=None)
    assert "ad_eligibilities" not in params
    assert "media_types" not in params


def test_unknown_filter_is_named() -> None:
    with pytest.raises(ValueError, match=r"^ad_eligibility: unknown filter"):
        query(ad_eligibility=["AD_READY"])


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ad_eligibilities", ["READY"]),
        ("platform_types", ["THREADS"]),
        ("media_types", ["GIF"]),
        ("post_types", ["LIVE"]),
        ("content_types", ["SPONSORED"]),
        ("ad_usages", ["USED"]),
        ("sort_by", "NEWEST"),
    ],
)
def test_unknown_enum_value_is_named_with_the_allowed_values(name: str, value: object) -> None:
    with pytest.raises(ValueError, match=rf"^{name}: .* is not one of "):
        query(**{name: value})


@pytest.mark.parametrize("page_size", [0, 51, -1, True, 2.5, "50"])
def test_page_size_outside_1_to_50_is_refused(page_size: object) -> None:
    with pytest.raises(ValueError, match=r"^page_size: must be"):
        query(page_size=page_size)


def test_limit_is_a_synonym_of_page_size_with_the_same_rule() -> None:
    assert query(limit=10)["limit"] == "10"
    with pytest.raises(ValueError, match=r"^limit: must be from 1 to 50"):
        query(limit=51)


def test_start_date_without_end_date_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^end_date: required together with start_date"):
        query(start_date="2026-01-01")


def test_end_date_without_start_date_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^start_date: required together with end_date"):
        query(end_date="2026-01-01")


def test_future_date_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^end_date: 2026-07-01 is in the future"):
        query(start_date="2026-06-01", end_date="2026-07-01")


def test_start_after_end_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^start_date: 2026-03-02 is after end_date 2026-03-01"):
        query(start_date="2026-03-02", end_date="2026-03-01")


@pytest.mark.parametrize("value", ["2026/01/01", "2026-1-1", "2026-02-30", 20260101, dt.datetime(2026, 1, 1)])
def test_malformed_date_is_refused(value: object) -> None:
    with pytest.raises(ValueError, match=r"^start_date: "):
        query(start_date=value, end_date="2026-03-01")


def test_same_start_and_end_date_is_accepted() -> None:
    params = query(start_date="2026-03-01", end_date=dt.date(2026, 3, 1))
    assert params["start_date"] == params["end_date"] == "2026-03-01"


@pytest.mark.parametrize("lookup", ["content_ids", "permalinks", "ad_codes"])
def test_lookups_cannot_be_mixed_with_filters(lookup: str) -> None:
    with pytest.raises(ValueError, match=rf"^{lookup}: is a direct lookup and cannot be combined"):
        query(**{lookup: ["1"]}, ad_eligibilities=["AD_READY"])


@pytest.mark.parametrize("name", ["after", "before", "fields", "access_token"])
def test_parameters_the_hook_manages_are_refused_as_filters(name: str) -> None:
    filters = {name: "x"}
    with pytest.raises(ValueError, match=rf"^{name}: not accepted as a filter"):
        build_discovery_query(ig_user_id="1", filters=filters, today=lambda: TODAY)


def test_neither_page_nor_instagram_account_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^fb_page_id / ig_user_id: at least one is required"):
        build_discovery_query(filters={}, today=lambda: TODAY)


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("ad_partner_ig_user_ids", ["12a"], "not a numeric id"),
        ("country_codes", ["USA"], "ISO 3166-1 alpha-2"),
        ("search_key", "  ", "non-empty string"),
        ("is_recommended", "maybe", "true or false"),
    ],
)
def test_scalar_rules_name_the_parameter(name: str, value: object, fragment: str) -> None:
    with pytest.raises(ValueError, match=rf"^{name}: ") as caught:
        query(**{name: value})
    assert fragment in str(caught.value)


def test_business_id_must_be_numeric() -> None:
    with pytest.raises(ValueError, match=r"^business_id: "):
        validate_business_id("act_123")


def test_lookup_over_50_values_is_split_into_requests_of_at_most_50() -> None:
    ids = [str(1000 + n) for n in range(120)]
    requests = list(build_lookup_requests(ig_user_id="1", content_ids=ids, fields="content_id"))
    chunks = [json.loads(r["content_ids"]) for r in requests]
    assert [len(chunk) for chunk in chunks] == [50, 50, 20]
    assert [value for chunk in chunks for value in chunk] == ids
    assert all(r["fields"] == "content_id" and r["ig_user_id"] == "1" for r in requests)


def test_lookup_sends_repeated_values_once() -> None:
    (request,) = build_lookup_requests(fb_page_id="5", ad_codes=["A", "B", "A"])
    assert json.loads(request["ad_codes"]) == ["A", "B"]


def test_lookup_needs_exactly_one_kind() -> None:
    with pytest.raises(ValueError, match=r"^content_ids / permalinks / ad_codes: exactly one"):
        build_lookup_requests(ig_user_id="1")
    with pytest.raises(ValueError, match=r"^content_ids / ad_codes: only one kind of direct lookup"):
        build_lookup_requests(ig_user_id="1", content_ids=["1"], ad_codes=["X"])


def test_lookup_validates_every_value_before_the_first_request() -> None:
    ids = [str(n) for n in range(60)] + ["not-an-id"]
    with pytest.raises(ValueError, match=r"^content_ids: 'not-an-id' is not"):
        build_lookup_requests(ig_user_id="1", content_ids=ids)


def test_lookup_accepts_facebook_post_ids() -> None:
    (request,) = build_lookup_requests(fb_page_id="5", content_ids=["123_456"])
    assert json.loads(request["content_ids"]) == ["123_456"]


def test_permalinks_must_be_urls() -> None:
    with pytest.raises(ValueError, match=r"^permalinks: 'instagram.com/p/x' is not a permalink URL"):
        build_lookup_requests(ig_user_id="1", permalinks=["instagram.com/p/x"])


def test_lookup_needs_page_or_instagram_account() -> None:
    with pytest.raises(ValueError, match=r"^fb_page_id / ig_user_id"):
        build_lookup_requests(content_ids=["1"])
