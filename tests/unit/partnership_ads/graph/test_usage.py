"""Parsing of the rate-limit usage headers."""

from __future__ import annotations

import json

from requests.structures import CaseInsensitiveDict

from partnership_ads.graph.usage import parse_usage


def headers(**values: object) -> CaseInsensitiveDict[str]:
    return CaseInsensitiveDict({name.replace("_", "-"): json.dumps(value) for name, value in values.items()})


def test_highest_percentage_over_every_bucket_is_reported() -> None:
    usage = parse_usage(
        headers(
            x_app_usage={"call_count": 28, "total_time": 25, "total_cputime": 25},
            x_business_use_case_usage={
                "123": [
                    {"type": "instagram", "call_count": 95, "total_cputime": 20, "total_time": 20},
                    {"type": "pages", "call_count": 3},
                ]
            },
            x_ad_account_usage={"acc_id_util_pct": 9.67, "reset_time_duration": 100},
        )
    )
    assert usage.app_percent == 28
    assert usage.ad_account_percent == 9.67
    assert [entry.type for entry in usage.buc] == ["instagram", "pages"]
    assert usage.max_percent == 95
    assert usage.describe() == "95%"


def test_regain_time_is_read_in_minutes_and_given_in_seconds() -> None:
    usage = parse_usage(
        headers(
            x_business_use_case_usage={
                "1": [{"type": "instagram", "call_count": 100, "estimated_time_to_regain_access": 3}],
                "2": [{"type": "pages", "call_count": 10, "estimated_time_to_regain_access": 0}],
            }
        )
    )
    assert usage.regain_seconds == 180.0


def test_missing_regain_time_is_none() -> None:
    usage = parse_usage(headers(x_business_use_case_usage={"1": [{"type": "instagram", "call_count": 100}]}))
    assert usage.regain_seconds is None


def test_header_names_are_case_insensitive() -> None:
    usage = parse_usage(CaseInsensitiveDict({"X-App-Usage": '{"call_count": 81}'}))
    assert usage.max_percent == 81


def test_malformed_headers_are_ignored() -> None:
    usage = parse_usage(
        CaseInsensitiveDict(
            {"x-app-usage": "{not json", "x-business-use-case-usage": '["list"]', "x-ad-account-usage": "7"}
        )
    )
    assert usage.max_percent is None
    assert usage.describe() == "n/a"


def test_no_headers_means_no_usage() -> None:
    assert parse_usage(CaseInsensitiveDict()).max_percent is None
