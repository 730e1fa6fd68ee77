"""The control API: tokens, ad code registry, request log, config, reset and the webhook receiver."""

from __future__ import annotations

import pytest
import requests

from include.graph_sandbox.world import BRAND_SCOPES, CREATOR_SCOPES


def test_default_tokens_have_the_documented_shape(sandbox):
    tokens = sandbox.tokens()
    for record in tokens:
        assert {"access_token", "role", "scopes", "business_id", "fb_page_id", "ig_user_id"} <= set(record)
        assert record["access_token"].startswith("EAAB")
        assert "sandbox" in record["access_token"]
    brands = [t for t in tokens if t["role"] == "brand"]
    creators = [t for t in tokens if t["role"] == "creator"]
    assert len(brands) >= 2
    assert all(set(t["scopes"]) == set(BRAND_SCOPES) for t in brands)
    assert {"ads_management", "ads_read"} <= set(BRAND_SCOPES)
    assert 8 <= len(creators) <= 20
    assert all(set(t["scopes"]) == set(CREATOR_SCOPES) and t["business_id"] is None for t in creators)


def test_minted_token_works_and_is_listed(sandbox, graph):
    token = sandbox.mint_token(
        role="brand",
        scopes=list(BRAND_SCOPES),
        business_id=graph.brand["business_id"],
        fb_page_id=graph.brand["fb_page_id"],
        ig_user_id=graph.brand["ig_user_id"],
    )
    [record] = [t for t in sandbox.tokens() if t["access_token"] == token]
    assert record["minted"] is True
    assert sandbox.brand_token()["access_token"] != token
    assert graph.discover(token).status_code == 200


def test_mint_rejects_unknown_fields(sandbox):
    with pytest.raises(RuntimeError, match="unknown token fields"):
        sandbox.mint_token(role="brand", colour="blue")


def test_request_log_records_calls_with_tokens_redacted(sandbox, graph):
    graph.discover(limit=0, appsecret_proof="abc123")
    entry = sandbox.requests_log()[-1]
    assert entry["method"] == "GET"
    assert entry["path"].endswith("/partnership-ads-advertisable-content")
    assert entry["status"] == 400
    assert entry["error_code"] == 100
    assert entry["params"]["access_token"] == "[REDACTED]"
    assert entry["params"]["appsecret_proof"] == "[REDACTED]"
    assert entry["params"]["limit"] == "0"
    assert graph.brand["access_token"] not in str(sandbox.requests_log())


def test_control_calls_are_not_in_the_request_log(sandbox):
    sandbox.tokens()
    assert sandbox.requests_log() == []


def test_reset_restores_the_seeded_state(sandbox, graph, own_media):
    creator = sandbox.creator_tokens()[0]
    media = own_media(creator["ig_user_id"]).content_id
    before = sandbox.ad_codes()
    graph.ad_code("POST", media, creator["access_token"])
    minted = sandbox.mint_token(role="creator", scopes=[])
    sandbox.reset()
    assert sandbox.ad_codes() == before
    assert minted not in {t["access_token"] for t in sandbox.tokens()}
    assert sandbox.requests_log() == []


def test_config_can_be_read_and_patched(sandbox):
    assert sandbox.config()["ad_code_repeat"] == "same"
    assert sandbox.configure(ad_code_repeat="rotate")["ad_code_repeat"] == "rotate"
    assert sandbox.config()["ad_code_repeat"] == "rotate"


@pytest.mark.parametrize(
    "change", [{"colour": "blue"}, {"ad_code_repeat": "sometimes"}, {"rate_limit_calls": 0}]
)
def test_invalid_config_is_rejected(sandbox, change):
    with pytest.raises(RuntimeError, match="400"):
        sandbox.configure(**change)


def test_reset_with_config_restores_startup_config(sandbox):
    sandbox.configure(ad_code_repeat="rotate")
    sandbox.reset(config=True)
    assert sandbox.config()["ad_code_repeat"] == "same"


def test_webhook_stores_body_and_headers(sandbox):
    response = requests.post(
        f"{sandbox.url}/__sandbox__/webhook",
        json={"ad_code": "AQxyz", "n": 1},
        headers={"X-Run": "r1"},
        timeout=10,
    )
    assert response.status_code == 200
    [delivery] = sandbox.webhook_deliveries()
    assert delivery["body"] == {"ad_code": "AQxyz", "n": 1}
    assert delivery["headers"]["x-run"] == "r1"


def test_webhook_rejects_non_json(sandbox):
    response = requests.post(f"{sandbox.url}/__sandbox__/webhook", data="<xml/>", timeout=10)
    assert response.status_code == 400
    assert sandbox.webhook_deliveries() == []


def test_unknown_control_endpoint_is_404(sandbox):
    assert requests.get(f"{sandbox.url}/__sandbox__/nothing", timeout=10).status_code == 404


def test_world_summary_lists_businesses_and_creators(sandbox):
    world = sandbox.world()
    assert len(world["businesses"]) >= 3
    assert len(world["creators"]) == len(sandbox.creator_tokens())


def test_request_started_before_a_reset_is_not_logged_after_it(sandbox, graph):
    sandbox.schedule_fault(kind="delay", delay_ms=300)
    with pytest.raises(requests.exceptions.ReadTimeout):
        graph.session.get(
            f"{sandbox.graph_url}/{graph.brand['business_id']}/partnership-ads-advertisable-content",
            params={"access_token": graph.brand["access_token"], "ig_user_id": graph.brand["ig_user_id"]},
            timeout=0.05,
        )
    sandbox.reset()
    # This call is held by the server longer than the delayed one, so that one has finished by now.
    sandbox.configure(latency_ms=500)
    graph.discover(limit=3)
    assert [e["params"].get("limit") for e in sandbox.requests_log()] == ["3"]
