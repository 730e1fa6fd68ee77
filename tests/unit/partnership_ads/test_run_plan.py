"""Run parameters: brand list resolution, validation messages, what scheduled and manual runs look at, and
the trigger's scope (size limits, output_uri inside the output root, brands and connections it serves)."""

from __future__ import annotations

import copy
import datetime as dt
import json
from typing import TYPE_CHECKING, Any

import pytest

from partnership_ads.brand import Brand
from partnership_ads.dag_settings import (
    MAX_CODES_LIMIT,
    MAX_CREATORS_PER_SHARD,
    MAX_ITEM_LENGTH,
    MAX_ITEMS,
    MAX_LENGTHS,
    MAX_TOKEN_EXPIRY_WARNING_DAYS,
    schedule,
)
from partnership_ads.output_location import output_root, output_schemes, resolve_output_uri
from partnership_ads.run_plan import (
    ConnectionLookupError,
    plan_run,
    resolve_brands,
    revoke_scope,
    validate_revoke_params,
    validate_run_params,
)
from partnership_ads.trigger_form import PIPELINE_PARAMS, REVOKE_PARAMS

if TYPE_CHECKING:
    from pathlib import Path

    from airflow.sdk import Param

FORMS = {"partnership_ad_codes": PIPELINE_PARAMS, "revoke_partnership_ad_codes": REVOKE_PARAMS}

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


TODAY = dt.date(2026, 3, 5)
MANUAL = {**BRAND, "meta_conn_id": "meta_graph_default"}


def _plan(
    params: dict, *, scheduled: bool, settings: dict | None = None, environ: dict | None = None
) -> list[Brand]:
    brands, _source = plan_run(
        params,
        scheduled=scheduled,
        get_variable=lambda key: (settings or {}).get(key),
        environ=environ or {},
        get_connection_type=_graph_connections,
        today=TODAY,
    )
    return brands


def test_a_scheduled_run_asks_for_every_ad_ready_item_whatever_its_publication_date() -> None:
    brands = _plan(BRAND, scheduled=True)
    assert brands == [
        Brand.from_dict(
            {
                **MANUAL,
                "filters": {"ad_eligibilities": ["AD_READY"]},
                "recheck_pending": True,
                "partitions": 1,
            }
        )
    ]


def test_a_scheduled_run_ignores_form_filters_it_cannot_have_been_given() -> None:
    # Scheduled runs get the Params' defaults; a date or eligibility there must not narrow the daily run.
    brands = _plan({**BRAND, "start_date": "2026-01-01", "end_date": "2026-01-02"}, scheduled=True)
    assert brands[0].filters == {"ad_eligibilities": ["AD_READY"]}


def test_lookback_days_bounds_a_scheduled_run_to_a_window_walked_in_parallel() -> None:
    brands = _plan(BRAND, scheduled=True, environ={"PARTNERSHIP_ADS_LOOKBACK_DAYS": "90"})
    assert brands[0].filters == {
        "ad_eligibilities": ["AD_READY"],
        "start_date": "2025-12-06",
        "end_date": "2026-03-05",
    }
    assert brands[0].partitions == 4


def test_the_lookback_variable_wins_over_the_environment() -> None:
    brands = _plan(
        BRAND,
        scheduled=True,
        settings={"partnership_ads_lookback_days": "1"},
        environ={"PARTNERSHIP_ADS_LOOKBACK_DAYS": "90"},
    )
    assert brands[0].filters["start_date"] == brands[0].filters["end_date"] == "2026-03-05"
    assert brands[0].partitions == 1


@pytest.mark.parametrize("value", ["0", "-3", "ten", "3651", "1.5"])
def test_a_bad_lookback_days_is_refused_naming_the_setting(value: str) -> None:
    with pytest.raises(ValueError, match=r"^lookback_days: env PARTNERSHIP_ADS_LOOKBACK_DAYS"):
        _plan(BRAND, scheduled=True, environ={"PARTNERSHIP_ADS_LOOKBACK_DAYS": value})


def test_deployment_default_filters_apply_to_scheduled_runs_only() -> None:
    settings = {"partnership_ads_scheduled_filters": json.dumps({"platform_types": ["INSTAGRAM"]})}
    scheduled = _plan(BRAND, scheduled=True, settings=settings)
    manual = _plan(BRAND, scheduled=False, settings=settings)
    assert scheduled[0].filters == {"platform_types": ["INSTAGRAM"], "ad_eligibilities": ["AD_READY"]}
    assert manual[0].filters == {}


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
    assert plain == [Brand.from_dict({**MANUAL, "filters": given, "recheck_pending": False, "partitions": 1})]
    assert asked[0].recheck_pending is True


def test_a_non_boolean_recheck_pending_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^recheck_pending"):
        _plan({**BRAND, "recheck_pending": "yes"}, scheduled=False)


def test_the_schedule_is_daily_unless_the_deployment_sets_one() -> None:
    assert schedule({}) == "0 0 * * *"
    assert schedule({"PARTNERSHIP_ADS_SCHEDULE": "30 6 * * *"}) == "30 6 * * *"


# --- size limits ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "limit"),
    [
        (
            "search_key",
            "x" * (MAX_LENGTHS["search_key"] + 1),
            f"at most {MAX_LENGTHS['search_key']} characters",
        ),
        ("search_key", "x" * 5_000_000, "at most 100 characters, got 5000000"),
        ("output_uri", "a/" * 600, f"at most {MAX_LENGTHS['output_uri']} characters"),
        ("meta_conn_id", "m" * 251, "at most 250 characters"),
        ("business_id", "1" * 33, "at most 32 characters"),
        ("business_id", 10**5000, "at most 32 characters"),
        ("start_date", "2026-01-01" + " " * 10, "at most 10 characters"),
        ("ad_partner_ig_user_ids", ["1"] * 200_000, "at most 100 values, got 200000"),
        ("ad_partner_page_ids", ",".join(["1"] * 101), "at most 100 values, got 101"),
        ("country_codes", ["US"] * 51, "at most 50 values"),
        ("ad_eligibilities", ["AD_READY"] * 5, "at most 4 values"),
        ("sinks", ["sql"] * 5, "at most 4 values"),
    ],
    ids=lambda value: value if isinstance(value, str) and len(value) < 40 else type(value).__name__,
)
def test_a_parameter_over_its_size_limit_is_refused_naming_it_and_the_limit(
    name: str, value: object, limit: str
) -> None:
    with pytest.raises(ValueError, match=f"^{name}: {limit}") as caught:
        validate_run_params({name: value})
    assert len(str(caught.value)) < 200, "the message must not carry the oversized value"


def test_one_oversized_value_in_an_id_list_is_refused_naming_its_position() -> None:
    with pytest.raises(ValueError, match=r"^ad_partner_ig_user_ids\[1\]: at most 32 characters"):
        validate_run_params({"ad_partner_ig_user_ids": ["1", "2" * 5000]})


def test_text_where_a_string_is_expected_may_not_be_a_list() -> None:
    with pytest.raises(ValueError, match=r"^search_key: must be text"):
        validate_run_params({"search_key": ["x"] * 1000})


def test_values_at_their_limits_are_accepted() -> None:
    filters = validate_run_params(
        {
            "search_key": "x" * MAX_LENGTHS["search_key"],
            "ad_partner_ig_user_ids": ["1" * MAX_ITEM_LENGTH] * MAX_ITEMS["ad_partner_ig_user_ids"],
            "max_codes": MAX_CODES_LIMIT,
        }
    )
    assert len(filters["ad_partner_ig_user_ids"]) == MAX_ITEMS["ad_partner_ig_user_ids"]


@pytest.mark.parametrize("bad", [0, 1001, "50", True, pytest.param(10**5000, id="huge")])
def test_a_bad_creators_per_shard_fails_the_run_before_any_call(bad: Any) -> None:
    with pytest.raises(ValueError, match=r"^creators_per_shard: must be a whole number from 1 to 1000"):
        validate_run_params({"creators_per_shard": bad})


def test_max_codes_above_its_limit_is_refused_without_printing_it() -> None:
    with pytest.raises(ValueError, match=f"^max_codes: must be a whole number from 0 to {MAX_CODES_LIMIT}"):
        validate_run_params({"max_codes": 10**5000})


def _schema(param: Param) -> dict[str, Any]:
    return param.dump()["schema"]


@pytest.mark.parametrize(("form", "name"), [(f, n) for f, params in FORMS.items() for n in params])
def test_every_trigger_form_parameter_carries_the_size_limit_the_run_checks(form: str, name: str) -> None:
    schema = _schema(FORMS[form][name])
    kinds = set(schema["type"]) if isinstance(schema["type"], list) else {schema["type"]}
    if "string" in kinds:
        assert schema.get("maxLength") == MAX_LENGTHS[name]
    if "array" in kinds:
        assert schema.get("maxItems") == MAX_ITEMS[name]
        assert schema["items"]["maxLength"] == MAX_ITEM_LENGTH
    if "integer" in kinds:
        limits = {
            "max_codes": MAX_CODES_LIMIT,
            "creators_per_shard": MAX_CREATORS_PER_SHARD,
            "token_expiry_warning_days": MAX_TOKEN_EXPIRY_WARNING_DAYS,
            "ad_format": 3,
        }
        assert schema.get("maximum") == limits[name]
    assert kinds - {"null", "string", "array", "integer", "boolean"} == set()


def test_the_trigger_form_refuses_an_oversized_value_before_a_run_exists() -> None:
    from airflow.sdk.definitions.param import ParamValidationError

    param = copy.deepcopy(PIPELINE_PARAMS["ad_partner_ig_user_ids"])
    with pytest.raises(ParamValidationError):
        param.resolve(["1"] * (MAX_ITEMS["ad_partner_ig_user_ids"] + 1))


# --- output_uri -------------------------------------------------------------------------------------------


def _resolve(value: object, root: Path | str | None, schemes: frozenset[str] = frozenset({"file"})) -> str:
    return resolve_output_uri(value, root=None if root is None else str(root), schemes=schemes)


def test_a_relative_output_uri_is_taken_below_the_root(tmp_path: Path) -> None:
    assert _resolve("manual/june", tmp_path) == str(tmp_path.resolve() / "manual" / "june")


def test_an_absolute_output_uri_inside_the_root_is_accepted(tmp_path: Path) -> None:
    assert _resolve(str(tmp_path / "a"), tmp_path) == str(tmp_path.resolve() / "a")
    assert _resolve((tmp_path / "b").as_uri(), tmp_path) == str(tmp_path.resolve() / "b")


@pytest.mark.parametrize("value", ["../escape", "manual/../../escape", "./.."])
def test_a_dot_dot_escape_from_the_root_is_refused(tmp_path: Path, value: str) -> None:
    root = tmp_path / "out"
    with pytest.raises(ValueError, match=r"^output_uri: .* outside the output root"):
        _resolve(value, root)


@pytest.mark.parametrize("value", ["/etc", "/tmp", "file:///etc/cron.d"])
def test_an_absolute_output_uri_outside_the_root_is_refused(tmp_path: Path, value: str) -> None:
    with pytest.raises(ValueError, match=r"^output_uri: .* outside the output root"):
        _resolve(value, tmp_path / "out")


def test_a_sibling_folder_sharing_the_roots_prefix_is_outside_it(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"outside the output root"):
        _resolve(str(tmp_path / "out-evil"), tmp_path / "out")


def test_a_symbolic_link_out_of_the_root_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "out"
    root.mkdir()
    (root / "link").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    with pytest.raises(ValueError, match=r"outside the output root"):
        _resolve("link/codes", root)


@pytest.mark.parametrize("value", ["manual\x00/x", "file:///tmp/out/a%00b", "manual\n"])
def test_a_nul_or_control_character_is_refused(tmp_path: Path, value: str) -> None:
    with pytest.raises(ValueError, match=r"^output_uri: contains .*(NUL|control)"):
        _resolve(value, "/tmp/out")


def test_a_file_url_naming_another_host_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"another host"):
        _resolve(f"file://evil.example{tmp_path}", tmp_path)


def test_a_home_relative_output_uri_is_not_expanded(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"'~' is not expanded"):
        _resolve("~/codes", tmp_path)


def test_a_scheme_the_deployment_does_not_allow_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^output_uri: scheme 's3' is not allowed here \(allowed: file\)"):
        _resolve("s3://bucket/codes/manual", "s3://bucket/codes")


def test_an_allowed_remote_scheme_must_stay_under_the_roots_bucket_and_prefix() -> None:
    schemes = frozenset({"file", "s3"})
    assert _resolve("s3://bucket/codes/manual/", "s3://bucket/codes", schemes) == "s3://bucket/codes/manual"
    assert _resolve("manual", "s3://bucket/codes", schemes) == "s3://bucket/codes/manual"
    for outside in ("s3://other/codes/manual", "s3://bucket/codes-x", "s3://bucket/other"):
        with pytest.raises(ValueError, match=r"outside the output root"):
            _resolve(outside, "s3://bucket/codes", schemes)
    with pytest.raises(ValueError, match=r"'..' segments"):
        _resolve("s3://bucket/codes/../other", "s3://bucket/codes", schemes)


def test_without_an_output_root_a_trigger_may_not_choose_a_folder() -> None:
    with pytest.raises(
        ValueError, match=r"^output_uri: this deployment sets no output root.*partnership_ads_output_root"
    ):
        _resolve("manual", None)


def test_the_output_root_defaults_to_the_configured_output_folder() -> None:
    settings = {"partnership_ads_output_uri": "/srv/codes"}
    assert output_root(get_variable=settings.get, environ={}) == "/srv/codes"
    settings["partnership_ads_output_root"] = "/srv"
    assert output_root(get_variable=settings.get, environ={"PARTNERSHIP_ADS_OUTPUT_ROOT": "/x"}) == "/srv"
    assert output_root(get_variable=_no_variable, environ={"PARTNERSHIP_ADS_OUTPUT_ROOT": "/x"}) == "/x"


def test_the_allowed_schemes_come_from_the_deployment_and_default_to_local_files() -> None:
    assert output_schemes(get_variable=_no_variable, environ={}) == {"file"}
    env = {"PARTNERSHIP_ADS_OUTPUT_SCHEMES": "file, S3"}
    assert output_schemes(get_variable=_no_variable, environ=env) == {"file", "s3"}
    with pytest.raises(ValueError, match=r"partnership_ads_output_schemes"):
        output_schemes(get_variable=_no_variable, environ={"PARTNERSHIP_ADS_OUTPUT_SCHEMES": "s3://"})


def test_plan_run_refuses_an_output_uri_outside_the_root_before_resolving_brands(tmp_path: Path) -> None:
    def no_lookup(conn_id: str) -> str | None:
        raise AssertionError("the connection lookup ran before output_uri was checked")

    with pytest.raises(ValueError, match=r"^output_uri"):
        plan_run(
            {**BRAND, "output_uri": "../../etc"},
            scheduled=False,
            get_variable=_no_variable,
            environ={"PARTNERSHIP_ADS_OUTPUT_URI": str(tmp_path / "out")},
            get_connection_type=no_lookup,
        )


# --- brand scope ------------------------------------------------------------------------------------------

LISTED = [BRAND, {"business_id": "444", "ig_user_id": "555", "meta_conn_id": "meta_graph_b"}]


def _listed(params: dict[str, Any]) -> tuple[list[dict[str, Any]], str]:
    def no_lookup(conn_id: str) -> str | None:
        raise AssertionError("a listed brand's connection needs no lookup")

    return resolve_brands(
        params, get_variable=lambda _k: json.dumps(LISTED), environ={}, get_connection_type=no_lookup
    )


def test_with_a_brand_list_a_trigger_narrows_the_run_to_a_listed_brand_and_its_connection() -> None:
    brands, source = _listed({"business_id": "444"})
    assert source == "variable"
    assert brands == [
        {"business_id": "444", "fb_page_id": None, "ig_user_id": "555", "meta_conn_id": "meta_graph_b"}
    ]


def test_with_a_brand_list_a_business_outside_it_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^business_id: 999 is not in the deployment's brand list"):
        _listed({"business_id": "999", "fb_page_id": "1", "meta_conn_id": "meta_graph_b"})


@pytest.mark.parametrize(
    "conn_id", ["meta_graph_default", "meta_graph_creator_555", "partnership_ads_webhook"]
)
def test_with_a_brand_list_a_connection_other_than_the_listed_one_is_refused(conn_id: str) -> None:
    with pytest.raises(ValueError, match=r"^meta_conn_id: .* always uses the listed brand's meta_conn_id"):
        _listed({"business_id": "444", "meta_conn_id": conn_id})


def test_with_a_brand_list_the_listed_connection_may_be_repeated_in_the_form() -> None:
    brands, _ = _listed({"business_id": "444", "meta_conn_id": "meta_graph_b"})
    assert brands[0]["meta_conn_id"] == "meta_graph_b"


def test_with_a_brand_list_another_account_of_the_listed_brand_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^ig_user_id: '999'"):
        _listed({"business_id": "444", "ig_user_id": "999"})


def test_with_a_brand_list_a_connection_without_a_business_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^meta_conn_id: a run over the brand list"):
        _listed({"meta_conn_id": "meta_graph_b"})


def test_a_creators_connection_in_the_brand_list_is_refused() -> None:
    listed = [{**BRAND, "meta_conn_id": "meta_graph_creator_9"}]
    with pytest.raises(ValueError, match=r"creator's connection"):
        resolve_brands(
            {}, get_variable=lambda _k: json.dumps(listed), environ={}, get_connection_type=_graph_connections
        )


CONNECTIONS = {
    "meta_graph_default": "meta_graph",
    "meta_graph_brand_2": "meta_graph",
    "partnership_ads_webhook": "http",
    "partnership_ads_db": "sqlite",
}


def _unlisted(conn_id: str | None, lookup: Any = CONNECTIONS.get) -> list[dict[str, Any]]:
    brands, _ = resolve_brands(
        {**BRAND, "meta_conn_id": conn_id}, get_variable=_no_variable, environ={}, get_connection_type=lookup
    )
    return brands


def test_without_a_brand_list_a_meta_graph_connection_is_accepted() -> None:
    assert _unlisted("meta_graph_brand_2")[0]["meta_conn_id"] == "meta_graph_brand_2"
    assert _unlisted(None)[0]["meta_conn_id"] == "meta_graph_default"


@pytest.mark.parametrize(
    ("conn_id", "words"),
    [
        ("partnership_ads_webhook", "is of type 'http', not meta_graph"),
        ("partnership_ads_db", "is of type 'sqlite', not meta_graph"),
        ("meta_graph_nobody", "does not exist"),
        ("meta_graph_creator_9", "creator's connection"),
    ],
)
def test_without_a_brand_list_a_foreign_connection_is_refused(conn_id: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        _unlisted(conn_id)


def test_a_connection_lookup_that_fails_stops_the_run_and_is_not_taken_for_absent() -> None:
    def unreachable(conn_id: str) -> str | None:
        raise ConnectionError("secrets backend timed out: token=abc123")

    with pytest.raises(
        ConnectionLookupError, match=r"could not read connection 'meta_graph_default'"
    ) as caught:
        _unlisted(None, unreachable)
    assert not isinstance(caught.value, ValueError)
    assert "abc123" not in str(caught.value), "the lookup's own text may carry a secret"


# --- revocation -------------------------------------------------------------------------------------------


def test_revoke_params_are_size_limited_and_numeric() -> None:
    assert validate_revoke_params(["1", "1", 2], None) == (["1", "2"], None)
    with pytest.raises(ValueError, match=f"^media_ids: at most {MAX_ITEMS['media_ids']} values"):
        validate_revoke_params(["1"] * 200_000, None)
    with pytest.raises(ValueError, match=r"^media_ids\[0\]"):
        validate_revoke_params(["abc"], None)
    with pytest.raises(ValueError, match=r"creator's connection"):
        validate_revoke_params(["1"], "meta_graph_creator_9")


def test_a_revocation_with_a_brand_list_uses_the_media_brands_listed_connection() -> None:
    scope = revoke_scope(
        None, get_variable=lambda _k: json.dumps(LISTED), environ={}, get_connection_type=CONNECTIONS.get
    )
    assert scope.connection_for("17", ["999", "444"], None) == ("444", "meta_graph_b")
    with pytest.raises(ValueError, match=r"^media_ids: 17 belongs to business 999, not to a brand"):
        scope.connection_for("17", ["999"], None)
    with pytest.raises(ValueError, match=r"^meta_conn_id: 'meta_graph_default' is not the connection"):
        scope.connection_for("17", ["444"], "meta_graph_default")
    with pytest.raises(ValueError, match=r"^media_ids: 17 is unknown to the ledger"):
        scope.connection_for("17", [], None)


def test_a_revocation_without_a_brand_list_needs_a_meta_graph_connection() -> None:
    scope = revoke_scope(None, get_variable=_no_variable, environ={}, get_connection_type=CONNECTIONS.get)
    assert scope.connection_for("17", ["999"], None) == ("999", "meta_graph_default")
    with pytest.raises(ValueError, match=r"not meta_graph"):
        revoke_scope(
            "partnership_ads_webhook",
            get_variable=_no_variable,
            environ={},
            get_connection_type=CONNECTIONS.get,
        )
