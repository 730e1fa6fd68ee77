"""Credentials: where the token may travel, token errors (code 190) and appsecret_proof."""

from __future__ import annotations

import hashlib
import hmac
import time

import requests

from include.graph_sandbox.world import BRAND_SCOPES, DEFAULT_APP_ID

SECRET = "sandbox-app-secret-0123456789"


def _proof(token: str, stamp: int | None = None) -> str:
    message = token if stamp is None else f"{token}|{stamp}"
    return hmac.new(SECRET.encode(), message.encode(), hashlib.sha256).hexdigest()


def test_token_in_query_string_is_accepted(graph):
    assert graph.discover().status_code == 200


def test_token_in_bearer_header_is_accepted(graph):
    response = graph.session.get(
        f"{graph.sandbox.graph_url}/{graph.brand['business_id']}/partnership-ads-advertisable-content",
        params={"ig_user_id": graph.brand["ig_user_id"]},
        headers={"Authorization": f"Bearer {graph.brand['access_token']}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text


def test_token_in_oauth_header_is_accepted(graph):
    response = graph.session.get(
        f"{graph.sandbox.graph_url}/{graph.brand['business_id']}/partnership-ads-advertisable-content",
        params={"ig_user_id": graph.brand["ig_user_id"]},
        headers={"Authorization": f"OAuth {graph.brand['access_token']}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text


def test_authorization_header_can_be_switched_off(graph, sandbox):
    sandbox.configure(accept_authorization_header=False)
    response = graph.session.get(
        f"{graph.sandbox.graph_url}/{graph.brand['business_id']}/partnership-ads-advertisable-content",
        params={"ig_user_id": graph.brand["ig_user_id"]},
        headers={"Authorization": f"Bearer {graph.brand['access_token']}"},
        timeout=10,
    )
    assert graph.error(response, 400)["code"] == 104


def test_token_in_form_body_is_accepted_for_post(sandbox, own_media):
    creator = sandbox.creator_tokens()[0]
    media_id = own_media(creator["ig_user_id"]).content_id
    response = requests.post(
        f"{sandbox.graph_url}/{media_id}/partnership_ad_code",
        data={"access_token": creator["access_token"]},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    assert response.json()["ad_code"]


def test_missing_token_is_error_104(graph):
    response = graph.session.get(
        f"{graph.sandbox.graph_url}/{graph.brand['business_id']}/partnership-ads-advertisable-content",
        params={"ig_user_id": graph.brand["ig_user_id"]},
        timeout=10,
    )
    error = graph.error(response, 400)
    assert error["code"] == 104
    assert error["type"] == "OAuthException"


def test_malformed_token_is_error_190(graph):
    error = graph.error(graph.discover(token="not a token!"), 400)
    assert error["code"] == 190
    assert "Cannot parse access token" in error["message"]


def test_unknown_token_is_error_190_subcode_467(graph):
    error = graph.error(graph.discover(token="EAAB" + "x" * 60), 400)
    assert (error["code"], error["error_subcode"]) == (190, 467)


def test_expired_token_is_error_190_subcode_463(graph, sandbox):
    token = sandbox.mint_token(
        role="brand",
        scopes=list(BRAND_SCOPES),
        business_id=graph.brand["business_id"],
        fb_page_id=graph.brand["fb_page_id"],
        ig_user_id=graph.brand["ig_user_id"],
        expires_at=time.time() + 600,
    )
    assert graph.discover(token=token).status_code == 200
    sandbox.advance_clock(601)
    error = graph.error(graph.discover(token=token), 400)
    assert (error["code"], error["error_subcode"]) == (190, 463)


def test_app_secret_requires_appsecret_proof(graph, sandbox):
    sandbox.configure(app_secrets={DEFAULT_APP_ID: SECRET})
    error = graph.error(graph.discover(), 400)
    assert error["code"] == 100
    assert "appsecret_proof" in error["message"]


def test_wrong_appsecret_proof_is_rejected(graph, sandbox):
    sandbox.configure(app_secrets={DEFAULT_APP_ID: SECRET})
    error = graph.error(graph.discover(appsecret_proof="0" * 64), 400)
    assert "Invalid appsecret_proof" in error["message"]


def test_plain_appsecret_proof_is_accepted(graph, sandbox):
    sandbox.configure(app_secrets={DEFAULT_APP_ID: SECRET})
    response = graph.discover(appsecret_proof=_proof(graph.brand["access_token"]))
    assert response.status_code == 200, response.text


def test_time_stamped_appsecret_proof_is_accepted(graph, sandbox):
    sandbox.configure(app_secrets={DEFAULT_APP_ID: SECRET})
    stamp = int(time.time())
    response = graph.discover(
        appsecret_proof=_proof(graph.brand["access_token"], stamp), appsecret_time=stamp
    )
    assert response.status_code == 200, response.text


def test_time_stamped_appsecret_proof_expires_after_five_minutes(graph, sandbox):
    sandbox.configure(app_secrets={DEFAULT_APP_ID: SECRET})
    stamp = int(time.time())
    proof = _proof(graph.brand["access_token"], stamp)
    sandbox.advance_clock(301)
    error = graph.error(graph.discover(appsecret_proof=proof, appsecret_time=stamp), 400)
    assert "appsecret_time" in error["message"]


def test_proof_for_another_token_is_rejected(graph, sandbox):
    sandbox.configure(app_secrets={DEFAULT_APP_ID: SECRET})
    other = sandbox.creator_tokens()[0]["access_token"]
    error = graph.error(graph.discover(appsecret_proof=_proof(other)), 400)
    assert "Invalid appsecret_proof" in error["message"]


def test_debug_token_reports_scopes_and_validity(graph, sandbox):
    response = graph.session.get(
        f"{sandbox.graph_url}/debug_token",
        params={"input_token": graph.brand["access_token"], "access_token": graph.brand["access_token"]},
        timeout=10,
    )
    data = response.json()["data"]
    assert data["is_valid"] is True
    assert set(data["scopes"]) == set(BRAND_SCOPES)
