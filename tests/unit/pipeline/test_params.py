"""Run parameters: brand list resolution, validation messages, scheduled date window."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from partnership_ads.params import plan_run, resolve_brands, scheduled_window, validate_run_params

BRAND = {"business_id": "111", "fb_page_id": "222", "ig_user_id": "333"}


def _no_variable(_key: str) -> None:
    return None


def _graph_connections(conn_id: str) -> str | None:
    """A deployment whose every connection is a meta_graph one (scope rules are tested below)."""
    return "meta_graph"


def test_trigger_params_name_the_brand() -> None:
    brands, source = resolve_brands(
        BRAND, get_variable=_no_variable, environ={}, get_connection_type=_graph_connections
    )
    assert source == "params"
    assert brands == [{**BRAND, "meta_conn_id": "meta_graph_default"}]


def test_variable_brand_list_is_used_when_the_trigger_names_none() -> None:
    listed = [BRAND, {"business_id": "444", "ig_user_id": "555", "meta_conn_id": "meta_graph_b"}]
    brands, source = resolve_brands(
        {}, get_variable=lambda _k: json.dumps(listed), environ={}, get_connection_type=_graph_connections
    )
    assert source == "variable"
    assert [b["business_id"] for b in brands] == ["111", "444"]


def test_environment_brand_list_is_the_last_fallback() -> None:
    brands, source = resolve_brands(
        {},
        get_variable=_no_variable,
        environ={"PARTNERSHIP_ADS_BRANDS": json.dumps([BRAND])},
        get_connection_type=_graph_connections,
    )
    assert (source, brands[0]["business_id"]) == ("environment", "111")


def test_no_brand_anywhere_fails_with_what_to_configure() -> None:
    with pytest.raises(ValueError, match="partnership_ads_brands"):
        resolve_brands({}, get_variable=_no_variable, environ={}, get_connection_type=_graph_connections)


def test_brand_without_account_ids_is_rejected_naming_the_parameter() -> None:
    with pytest.raises(ValueError, match="fb_page_id / ig_user_id"):
        resolve_brands(
            {"business_id": "111"},
            get_variable=_no_variable,
            environ={},
            get_connection_type=_graph_connections,
        )


def test_duplicate_business_in_the_brand_list_is_rejected() -> None:
    with pytest.raises(ValueError, match="listed twice"):
        resolve_brands(
            {},
            get_variable=lambda _k: json.dumps([BRAND, BRAND]),
            environ={},
            get_connection_type=_graph_connections,
        )


def test_invalid_json_in_the_variable_is_reported_as_such() -> None:
    with pytest.raises(ValueError, match="not valid JSON"):
        resolve_brands({}, get_variable=lambda _k: "[{", environ={}, get_connection_type=_graph_connections)


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"start_date": "2026-01-01"}, "end_date"),
        ({"ad_eligibilities": ["READY"]}, "ad_eligibilities"),
        ({"sinks": ["s3"]}, "sinks"),
        ({"max_codes": -1}, "max_codes"),
        ({"file_format": "xlsx"}, "file_format"),
        ({"country_codes": ["USA"]}, "country_codes"),
    ],
)
def test_bad_parameter_is_rejected_naming_it(params: dict, name: str) -> None:
    with pytest.raises(ValueError, match=f"^{name}"):
        validate_run_params(params)


def test_valid_filters_are_returned_without_unset_ones() -> None:
    filters = validate_run_params({"ad_eligibilities": ["AD_READY"], "search_key": None, "dry_run": True})
    assert filters == {"ad_eligibilities": ["AD_READY"]}


def test_daily_data_interval_becomes_a_one_day_window() -> None:
    start = dt.datetime(2026, 3, 4, tzinfo=dt.UTC)
    window = scheduled_window(start, start + dt.timedelta(days=1))
    assert window == {"start_date": "2026-03-04", "end_date": "2026-03-04"}


@pytest.mark.parametrize(("scheduled", "window"), [(True, True), (False, False)])
def test_only_a_scheduled_run_without_start_date_searches_its_data_interval(
    scheduled: bool, window: bool
) -> None:
    start = dt.datetime(2026, 3, 4, tzinfo=dt.UTC)
    brands, source = plan_run(
        {**BRAND, "ad_eligibilities": ["AD_READY"]},
        scheduled=scheduled,
        data_interval_start=start,
        data_interval_end=start + dt.timedelta(days=1),
        get_variable=_no_variable,
        environ={},
        get_connection_type=_graph_connections,
    )
    expected = {"ad_eligibilities": ["AD_READY"]}
    if window:
        expected |= {"start_date": "2026-03-04", "end_date": "2026-03-04"}
    assert source == "params"
    assert brands == [{**BRAND, "meta_conn_id": "meta_graph_default", "filters": expected}]


def test_a_scheduled_run_keeps_the_start_date_it_was_given() -> None:
    start = dt.datetime(2026, 3, 4, tzinfo=dt.UTC)
    given = {"start_date": "2026-01-01", "end_date": "2026-01-31"}
    brands, _source = plan_run(
        {**BRAND, **given},
        scheduled=True,
        data_interval_start=start,
        data_interval_end=start + dt.timedelta(days=1),
        get_variable=_no_variable,
        environ={},
        get_connection_type=_graph_connections,
    )
    assert brands[0]["filters"] == given
