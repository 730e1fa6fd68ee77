"""The meta_ads sink's settings: off by default, required when named, checked for shape before any call."""

from __future__ import annotations

import pytest

from partnership_ads.brand import Brand
from partnership_ads.run_plan import check_ad_settings, validate_brand
from partnership_ads.sink_names import DEFAULT_SINK_NAMES, META_ADS_SINK, SINK_NAMES
from partnership_ads.sinks import MetaAdsConfig, MetaAdsSink, build_sinks
from partnership_ads.sinks.meta_ads import MetaAdsConfigError, meta_ads_config

BRAND = {"business_id": "111", "fb_page_id": "222", "ig_user_id": "333"}
ADS = {"ad_account_id": "act_42", "adset_id": "77", "ad_format": 2}


def test_meta_ads_is_a_sink_but_not_a_default_one() -> None:
    assert META_ADS_SINK in SINK_NAMES
    assert META_ADS_SINK not in DEFAULT_SINK_NAMES
    assert META_ADS_SINK not in [s.name for s in build_sinks(None)]


def test_naming_meta_ads_for_a_brand_without_an_ad_account_says_what_to_set() -> None:
    with pytest.raises(ValueError, match="'meta_ads' was selected but the brand has no ad_account_id"):
        build_sinks(["meta_ads"])


def test_a_brand_with_ad_settings_builds_the_sink_at_its_ad_account() -> None:
    config = meta_ads_config(Brand.from_dict({**BRAND, **ADS}))
    sinks = build_sinks(["meta_ads"], meta_ads=config)
    assert isinstance(sinks[0], MetaAdsSink)
    assert sinks[0].destination == "act_42"
    assert config == MetaAdsConfig("111", "meta_graph_default", "act_42", "77", 2, "222", "333")


def test_a_brand_round_trips_its_ad_settings_and_an_older_xcom_without_them_still_reads() -> None:
    brand = Brand.from_dict({**BRAND, **ADS})
    assert Brand.from_dict(brand.as_dict()) == brand
    old = Brand.from_dict(BRAND)
    assert (old.ad_account_id, old.adset_id, old.ad_format) == (None, None, 1)
    assert meta_ads_config(old) is None


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"ad_account_id": "42", "adset_id": "7"}, "^ad_account_id: '42' is not an ad account id"),
        ({"ad_account_id": "act_4x", "adset_id": "7"}, "^ad_account_id: "),
        ({"ad_account_id": "act_42", "adset_id": "7", "ad_format": 4}, "^ad_format: 4 is not an ad format"),
        ({"ad_account_id": "act_42", "adset_id": "7", "ad_format": True}, "^ad_format: "),
        ({"ad_account_id": "act_42", "adset_id": "x"}, "^adset_id: 'x' is not an ad set id"),
        ({"ad_account_id": "act_42"}, "^adset_id: required with ad_account_id"),
        ({"adset_id": "7"}, "^ad_account_id: required with adset_id"),
        ({"ad_format": 2}, "^ad_format: given without ad_account_id"),
    ],
)
def test_a_bad_ad_setting_is_refused_naming_the_field(settings: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_ad_settings(settings)


def test_ad_settings_default_the_format_and_are_absent_when_not_given() -> None:
    assert check_ad_settings({"ad_account_id": "act_42", "adset_id": 77}) == {
        "ad_account_id": "act_42",
        "adset_id": "77",
        "ad_format": 1,
    }
    assert check_ad_settings({}) == {}
    assert "ad_account_id" not in validate_brand(BRAND, where="list[0]")


def test_a_brand_list_entry_with_a_bad_ad_account_names_the_entry_and_the_field() -> None:
    with pytest.raises(ValueError, match=r"^list\[0\]: ad_account_id: "):
        validate_brand({**BRAND, "ad_account_id": "1234", "adset_id": "7"}, where="list[0]")


def test_the_sink_refuses_a_bad_shape_naming_the_brand_before_any_call() -> None:
    sink = MetaAdsSink(MetaAdsConfig("111", "meta_graph_default", "act_42", "77", 9, None, None))
    with pytest.raises(
        MetaAdsConfigError, match=r"^meta_ads: business 111: ad_format: 9 .*fb_page_id: required"
    ):
        sink.check_settings()


def test_with_a_brand_list_the_form_may_not_set_ad_settings_of_its_own() -> None:
    import json

    from partnership_ads.run_plan import resolve_brands

    listed = json.dumps([{**BRAND, **ADS}])

    def resolve(params: dict) -> list:
        return resolve_brands(
            params,
            get_variable=lambda name: None,
            environ={"PARTNERSHIP_ADS_BRANDS": listed},
            get_connection_type=lambda conn_id: "meta_graph",
        )[0]

    assert resolve({})[0]["ad_account_id"] == "act_42"
    assert resolve({"business_id": "111", "adset_id": "77"})[0]["adset_id"] == "77"
    with pytest.raises(ValueError, match=r"^adset_id: '78' is not what the brand list"):
        resolve({"business_id": "111", "adset_id": "78"})
    with pytest.raises(ValueError, match=r"^ad_account_id: a run over the brand list"):
        resolve({"ad_account_id": "act_1"})


def test_a_run_naming_meta_ads_is_refused_before_any_call_when_a_brand_has_no_ad_account() -> None:
    import json

    from partnership_ads.run_plan import plan_run

    listed = json.dumps([{**BRAND, **ADS}, {"business_id": "444", "ig_user_id": "555"}])

    def plan(params: dict) -> list:
        return plan_run(
            params,
            scheduled=False,
            get_variable=lambda name: None,
            environ={"PARTNERSHIP_ADS_BRANDS": listed},
            get_connection_type=lambda conn_id: "meta_graph",
        )[0]

    with pytest.raises(ValueError, match=r"^sinks: 'meta_ads' needs each brand's ad_account_id .*'444'"):
        plan({"sinks": ["sql", "meta_ads"]})
    assert [b.ad_account_id for b in plan({"sinks": ["meta_ads"], "business_id": "111"})] == ["act_42"]
    assert len(plan({"sinks": ["sql"]})) == 2
