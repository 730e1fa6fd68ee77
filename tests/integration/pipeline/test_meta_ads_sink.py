"""The meta_ads sink against the real graph sandbox: one creative and one PAUSED ad per code, checked at the
sandbox's control API; bad settings refused before any creative; revoked codes leave stale ads untouched."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from airflow.sdk.exceptions import AirflowException

from include.demo import sandbox_ad_settings
from partnership_ads.brand import Brand
from partnership_ads.graph.ads import partnership_ad_name
from partnership_ads.operators import RevokeAdCodesOperator
from tests.integration.pipeline.conftest import context

if TYPE_CHECKING:
    from tests.integration.pipeline.conftest import Pipeline


def _brand(pipeline: Pipeline, **changes: Any) -> Brand:
    b = pipeline.brand
    settings = sandbox_ad_settings(pipeline.sandbox, b["business_id"])
    return Brand.from_dict({**b, **settings, **changes})


def _push(pipeline: Pipeline, brand: Brand, run_id: str = "manual__1") -> dict[str, Any]:
    from partnership_ads.operators import PushAdCodesOperator

    op = PushAdCodesOperator(task_id="push", brand=brand, sinks=["meta_ads"])
    return op.execute(context(run_id))


def test_one_paused_ad_per_code_in_the_brands_ad_set_and_a_rerun_creates_none(pipeline: Pipeline) -> None:
    pipeline.issue(pipeline.fetch())
    brand = _brand(pipeline)
    codes = {c.content_id: c.ad_code for c in pipeline.ledger.codes() if c.ad_code}
    assert codes
    pushed = _push(pipeline, brand)
    assert pushed["delivered"] == {"meta_ads": len(codes)}
    assert pushed["meta_ads"]["ads_created"] == len(codes)
    assert pushed["meta_ads"]["ads_failed"] == pushed["meta_ads"]["ads_stale"] == 0
    ads = pipeline.sandbox.ads()
    creatives = pipeline.sandbox.ad_creatives()
    assert len(ads) == len(creatives) == len(codes)
    assert {a["status"] for a in ads} == {"PAUSED"}
    assert {a["adset_id"] for a in ads} == {brand.adset_id}
    assert {a["name"] for a in ads} == {partnership_ad_name(cid, code) for cid, code in codes.items()}
    assert {c["ad_code"] for c in creatives} == set(codes.values())
    rows = pipeline.ledger.ad_rows(brand.business_id)
    assert {r.ad_id for r in rows} == {a["id"] for a in ads}
    assert {r.creative_id for r in rows} == {c["id"] for c in creatives}
    # The rerun (a new run, the outbox says nothing is pending) and a forced one (outbox forgotten) make none.
    again = _push(pipeline, brand, run_id="manual__2")
    assert again["meta_ads"]["ads_created"] == 0
    with pipeline.ledger._transaction() as cur:
        cur.execute("DELETE FROM pa_outbox WHERE sink = 'meta_ads'")
    forced = _push(pipeline, brand, run_id="manual__3")
    assert forced["meta_ads"]["ads_already_present"] == len(codes)
    assert len(pipeline.sandbox.ads()) == len(codes)
    assert len(pipeline.sandbox.ad_creatives()) == len(codes)
    assert not any(code in json.dumps(forced) for code in codes.values())


def test_meta_ads_is_off_unless_a_run_names_it(pipeline: Pipeline) -> None:
    pipeline.issue(pipeline.fetch())
    pushed = pipeline.push()
    assert "meta_ads" not in pushed["sinks"]
    assert pipeline.sandbox.ad_creatives() == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"adset_id": "other-account"}, "adset_id"),
        ({"ad_account_id": "act_999999"}, "ad_account_id"),
        ({"ad_format": 7}, "ad_format"),
        ({"ad_account_id": "123"}, "ad_account_id"),
    ],
    ids=["adset-outside-the-account", "unknown-account", "unknown-ad-format", "not-act-digits"],
)
def test_a_bad_setting_is_refused_naming_brand_and_field_before_any_creative(
    pipeline: Pipeline, change: dict[str, Any], field: str
) -> None:
    pipeline.issue(pipeline.fetch())
    if change.get("adset_id") == "other-account":
        world = pipeline.sandbox.control("GET", "world").json()
        business = next(b for b in world["businesses"] if b["business_id"] == pipeline.brand["business_id"])
        change = {"adset_id": business["ad_accounts"][1]["adsets"][0]["id"]}
    brand = _brand(pipeline, **change)
    with pytest.raises(AirflowException, match=rf"business {brand.business_id}: {field}"):
        _push(pipeline, brand)
    assert pipeline.sandbox.ad_creatives() == []
    assert pipeline.sandbox.ads() == []


def _brand_on_a_new_token(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch, conn_id: str, **token_fields: Any
) -> tuple[Brand, str]:
    """The pipeline's brand on connection ``conn_id``: the brand connection with a newly minted token."""
    b = pipeline.brand
    token = pipeline.sandbox.mint_token(
        role="brand",
        business_id=b["business_id"],
        fb_page_id=b["fb_page_id"],
        ig_user_id=b["ig_user_id"],
        **token_fields,
    )
    conn = json.loads(pipeline_env_conn(b["meta_conn_id"]))
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({**conn, "password": token}))
    return _brand(pipeline, meta_conn_id=conn_id), token


def test_a_token_without_ads_management_is_refused_before_any_creative(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    from include.graph_sandbox.world import BRAND_SCOPES

    pipeline.issue(pipeline.fetch())
    scopes = [s for s in BRAND_SCOPES if s != "ads_management"]
    brand, _token = _brand_on_a_new_token(pipeline, monkeypatch, "meta_graph_no_ads", scopes=scopes)
    with pytest.raises(AirflowException, match=r"meta_conn_id: .*lacks the ads_management permission"):
        _push(pipeline, brand)
    assert pipeline.sandbox.ad_creatives() == []


def test_an_invalidated_brand_token_is_refused_before_any_creative(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sink reads the token's validity and scopes through the hook's one debug_token inspection."""
    pipeline.issue(pipeline.fetch())
    brand, token = _brand_on_a_new_token(pipeline, monkeypatch, "meta_graph_dead")
    pipeline.sandbox.invalidate_token(token)
    with pytest.raises(AirflowException, match=r"meta_conn_id: .*is not valid; replace it") as raised:
        _push(pipeline, brand)
    assert token not in str(raised.value)
    assert pipeline.sandbox.ad_creatives() == []


def pipeline_env_conn(conn_id: str) -> str:
    import os

    return os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"]


def test_a_revoked_code_leaves_its_ad_stale_and_untouched(pipeline: Pipeline) -> None:
    pipeline.issue(pipeline.fetch())
    brand = _brand(pipeline)
    _push(pipeline, brand)
    before = pipeline.sandbox.ads()
    media_id = pipeline.ledger.ad_rows(brand.business_id)[0].content_id
    RevokeAdCodesOperator(task_id="revoke", media_ids=[media_id]).execute(context("manual__revoke"))
    pushed = _push(pipeline, brand, run_id="manual__2")
    assert pushed["meta_ads"]["ads_stale"] == 1
    assert pushed["meta_ads"]["stale"][0]["content_id"] == media_id
    assert pushed["meta_ads"]["stale"][0]["reason"] == "revoked"
    assert pushed["meta_ads"]["ads_created"] == 0
    assert pipeline.sandbox.ads() == before


def test_a_code_meta_refuses_is_counted_failed_and_stays_pending_while_the_others_get_their_ad(
    pipeline: Pipeline,
) -> None:
    pipeline.issue(pipeline.fetch())
    brand = _brand(pipeline)
    ledger = pipeline.ledger
    codes = [c for c in ledger.codes() if c.ad_code]
    refused = codes[0].content_id
    ledger.harvest(refused, "NOTAVALIDCODE123", business_id=brand.business_id, owner_ig_user_id="1")
    pushed = _push(pipeline, brand)
    assert pushed["meta_ads"]["ads_failed"] == 1
    assert pushed["meta_ads"]["failed"][0]["content_id"] == refused
    assert "NOTAVALIDCODE123" not in json.dumps(pushed)
    assert pushed["meta_ads"]["ads_created"] == pushed["delivered"]["meta_ads"] == len(codes) - 1
    pending = ledger.pending_deliveries(brand.business_id, "meta_ads", destination=str(brand.ad_account_id))
    assert [r.content_id for r in pending] == [refused]
    assert len(pipeline.sandbox.ads()) == len(codes) - 1
