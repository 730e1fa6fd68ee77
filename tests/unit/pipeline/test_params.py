"""Run parameters: brand list resolution, validation messages, what scheduled and manual runs look at."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from partnership_ads.params import plan_run, resolve_brands, schedule, validate_run_params

BRAND = {"business_id": "111", "fb_page_id": "222", "ig_user_id": "333"}


def _no_variable(_key: str) -> None:
    return None


def test_trigger_params_name_the_brand() -> None:
    brands, source = resolve_brands(BRAND, get_variable=_no_variable, environ={})
    assert source == "params"
    assert brands == [{**BRAND, "meta_conn_id": "meta_graph_default"}]


def test_variable_brand_list_is_used_when_the_trigger_names_none() -> None:
    listed = [BRAND, {"business_id": "444", "ig_user_id": "555", "meta_conn_id": "meta_graph_b"}]
    brands, source = resolve_brands({}, get_variable=lambda _k: json.dumps(listed), environ={})
    assert source == "variable"
    assert [b["business_id"] for b in brands] == ["111", "444"]


def test_environment_brand_list_is_the_last_fallback() -> None:
    brands, source = resolve_brands(
        {}, get_variable=_no_variable, environ={"PARTNERSHIP_ADS_BRANDS": json.dumps([BRAND])}
    )
    assert (source, brands[0]["business_id"]) == ("environment", "111")


def test_no_brand_anywhere_fails_with_what_to_configure() -> None:
    with pytest.raises(ValueError, match="partnership_ads_brands"):
        resolve_brands({}, get_variable=_no_variable, environ={})


def test_brand_without_account_ids_is_rejected_naming_the_parameter() -> None:
    with pytest.raises(ValueError, match="fb_page_id / ig_user_id"):
        resolve_brands({"business_id": "111"}, get_variable=_no_variable, environ={})


def test_duplicate_business_in_the_brand_list_is_rejected() -> None:
    with pytest.raises(ValueError, match="listed twice"):
        resolve_brands({}, get_variable=lambda _k: json.dumps([BRAND, BRAND]), environ={})


def test_invalid_json_in_the_variable_is_reported_as_such() -> None:
    with pytest.raises(ValueError, match="not valid JSON"):
        resolve_brands({}, get_variable=lambda _k: "[{", environ={})


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


TODAY = dt.date(2026, 3, 5)
MANUAL = {**BRAND, "meta_conn_id": "meta_graph_default"}


def _plan(
    params: dict, *, scheduled: bool, settings: dict | None = None, environ: dict | None = None
) -> list:
    brands, _source = plan_run(
        params,
        scheduled=scheduled,
        get_variable=lambda key: (settings or {}).get(key),
        environ=environ or {},
        today=TODAY,
    )
    return brands


def test_a_scheduled_run_asks_for_every_ad_ready_item_whatever_its_publication_date() -> None:
    brands = _plan(BRAND, scheduled=True)
    assert brands == [
        {**MANUAL, "filters": {"ad_eligibilities": ["AD_READY"]}, "recheck_pending": True, "partitions": 1}
    ]


def test_a_scheduled_run_ignores_form_filters_it_cannot_have_been_given() -> None:
    # Scheduled runs get the Params' defaults; a date or eligibility there must not narrow the daily run.
    brands = _plan({**BRAND, "start_date": "2026-01-01", "end_date": "2026-01-02"}, scheduled=True)
    assert brands[0]["filters"] == {"ad_eligibilities": ["AD_READY"]}


def test_lookback_days_bounds_a_scheduled_run_to_a_window_walked_in_parallel() -> None:
    brands = _plan(BRAND, scheduled=True, environ={"PARTNERSHIP_ADS_LOOKBACK_DAYS": "90"})
    assert brands[0]["filters"] == {
        "ad_eligibilities": ["AD_READY"],
        "start_date": "2025-12-06",
        "end_date": "2026-03-05",
    }
    assert brands[0]["partitions"] == 4


def test_the_lookback_variable_wins_over_the_environment() -> None:
    brands = _plan(
        BRAND,
        scheduled=True,
        settings={"partnership_ads_lookback_days": "1"},
        environ={"PARTNERSHIP_ADS_LOOKBACK_DAYS": "90"},
    )
    assert brands[0]["filters"]["start_date"] == brands[0]["filters"]["end_date"] == "2026-03-05"
    assert brands[0]["partitions"] == 1


@pytest.mark.parametrize("value", ["0", "-3", "ten", "3651", "1.5"])
def test_a_bad_lookback_days_is_refused_naming_the_setting(value: str) -> None:
    with pytest.raises(ValueError, match=r"^lookback_days: env PARTNERSHIP_ADS_LOOKBACK_DAYS"):
        _plan(BRAND, scheduled=True, environ={"PARTNERSHIP_ADS_LOOKBACK_DAYS": value})


def test_deployment_default_filters_apply_to_scheduled_runs_only() -> None:
    settings = {"partnership_ads_scheduled_filters": json.dumps({"platform_types": ["INSTAGRAM"]})}
    scheduled = _plan(BRAND, scheduled=True, settings=settings)
    manual = _plan(BRAND, scheduled=False, settings=settings)
    assert scheduled[0]["filters"] == {"platform_types": ["INSTAGRAM"], "ad_eligibilities": ["AD_READY"]}
    assert manual[0]["filters"] == {}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("[1]", "must be a JSON object"),
        ("{", "not valid JSON"),
        ('{"colour": ["RED"]}', "unknown filter"),
        ('{"ad_eligibilities": ["INELIGIBLE"]}', "may not set"),
        ('{"start_date": "2026-01-01"}', "may not set"),
        ('{"platform_types": ["TIKTOK"]}', "platform_types"),
    ],
)
def test_bad_deployment_default_filters_are_refused(value: str, message: str) -> None:
    with pytest.raises(
        ValueError, match=f"^scheduled_filters: env PARTNERSHIP_ADS_SCHEDULED_FILTERS.*{message}"
    ):
        _plan(BRAND, scheduled=True, environ={"PARTNERSHIP_ADS_SCHEDULED_FILTERS": value})


def test_a_manual_run_keeps_its_form_filters_and_rechecks_only_when_asked() -> None:
    given = {"start_date": "2026-01-01", "end_date": "2026-01-31"}
    plain = _plan({**BRAND, **given}, scheduled=False)
    asked = _plan({**BRAND, **given, "recheck_pending": True}, scheduled=False)
    assert plain == [{**MANUAL, "filters": given, "recheck_pending": False, "partitions": 1}]
    assert asked[0]["recheck_pending"] is True


def test_a_non_boolean_recheck_pending_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^recheck_pending"):
        _plan({**BRAND, "recheck_pending": "yes"}, scheduled=False)


def test_the_schedule_is_daily_unless_the_deployment_sets_one() -> None:
    assert schedule({}) == "0 0 * * *"
    assert schedule({"PARTNERSHIP_ADS_SCHEDULE": "30 6 * * *"}) == "30 6 * * *"
