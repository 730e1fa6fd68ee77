"""Token health: debug_token as Meta documents it, the 190 subcodes of expired, invalidated and de-authorised
tokens on every other call, the control calls that change a token, and the default world's examples."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import pytest
from facebook_business.api import FacebookAdsApi, FacebookSession
from facebook_business.exceptions import FacebookRequestError

from include.graph_sandbox.world import CREATOR_SCOPES, DEFAULT_APP_ID, build_world

if TYPE_CHECKING:
    import requests

    from include.graph_sandbox.testing import SandboxServer

DAY = 86400
CREATOR_SCOPE = "instagram_branded_content_creator"
DATA_KEYS = {
    "app_id",
    "type",
    "application",
    "data_access_expires_at",
    "expires_at",
    "is_valid",
    "issued_at",
    "scopes",
    "granular_scopes",
    "user_id",
}


@pytest.fixture
def creator(sandbox: SandboxServer) -> dict[str, Any]:
    return sandbox.creator_tokens()[0]


@pytest.fixture
def app_token(sandbox: SandboxServer) -> str:
    return sandbox.app()["app_token"]


@pytest.fixture
def debug(graph: Any) -> Any:
    """GET debug_token as plain HTTP; `access_token` is the inspecting token (app token or user token)."""

    def _debug(input_token: str | None, access_token: str | None) -> requests.Response:
        params = {k: v for k, v in (("input_token", input_token), ("access_token", access_token)) if v}
        return graph.session.get(f"{graph.sandbox.graph_url}/debug_token", params=params, timeout=10)

    return _debug


def _data(response: requests.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"data"}, body
    return body["data"]


def _post_code(graph: Any, own_media: Any, creator: dict[str, Any]) -> requests.Response:
    return graph.ad_code("POST", own_media(creator["ig_user_id"]).content_id, creator["access_token"])


# valid tokens -----------------------------------------------------------------------------------------
def test_app_token_reads_a_valid_creator_token_as_meta_documents(debug, sandbox, creator, app_token):
    data = _data(debug(creator["access_token"], app_token))
    assert set(data) == DATA_KEYS
    assert data["is_valid"] is True
    assert (data["app_id"], data["type"], data["expires_at"]) == (DEFAULT_APP_ID, "USER", 0)
    assert data["application"] == sandbox.app()["name"]
    assert set(data["scopes"]) == set(CREATOR_SCOPES)
    assert {"scope": CREATOR_SCOPE, "target_ids": [creator["ig_user_id"]]} in data["granular_scopes"]
    assert data["user_id"] == creator["user_id"]
    assert data["issued_at"] < time.time() < data["data_access_expires_at"]


def test_brand_token_is_a_never_expiring_system_user_token(debug, sandbox, app_token):
    brand = sandbox.brand_token()
    data = _data(debug(brand["access_token"], app_token))
    assert (data["type"], data["expires_at"], data["data_access_expires_at"]) == ("SYSTEM_USER", 0, 0)
    assert {"scope": "business_management", "target_ids": [brand["business_id"]]} in data["granular_scopes"]


def test_a_valid_token_may_inspect_itself(debug, creator):
    data = _data(debug(creator["access_token"], creator["access_token"]))
    assert data["is_valid"] is True
    assert data["user_id"] == creator["user_id"]


def test_a_valid_token_of_the_same_app_may_inspect_another(debug, sandbox, creator):
    data = _data(debug(creator["access_token"], sandbox.brand_token()["access_token"]))
    assert data["is_valid"] is True


# expiring and expired -----------------------------------------------------------------------------------
def test_token_expiring_in_three_days_is_valid_with_its_expiry(debug, sandbox, creator, app_token):
    record = sandbox.expire_token(creator["ig_user_id"], in_seconds=3 * DAY)
    data = _data(debug(creator["access_token"], app_token))
    assert data["is_valid"] is True
    assert data["expires_at"] == int(record["expires_at"])
    assert 2 * DAY < data["expires_at"] - time.time() <= 3 * DAY + 5


def test_token_expiring_in_three_days_is_expired_after_the_clock_moves_three_days(
    debug, sandbox, creator, app_token
):
    sandbox.expire_token(creator["ig_user_id"], in_seconds=3 * DAY)
    sandbox.advance_clock(3 * DAY)
    data = _data(debug(creator["access_token"], app_token))
    assert data["is_valid"] is False
    assert (data["error"]["code"], data["error"]["subcode"]) == (190, 463)
    assert "Session has expired" in data["error"]["message"]
    assert set(data["scopes"]) == set(CREATOR_SCOPES)


def test_expired_token_fails_other_calls_with_190_463(graph, sandbox, creator, own_media):
    sandbox.expire_token(creator["ig_user_id"])
    error = graph.error(_post_code(graph, own_media, creator), 400)
    assert (error["code"], error["error_subcode"], error["type"]) == (190, 463, "OAuthException")


def test_expired_token_cannot_inspect_itself(graph, debug, sandbox, creator):
    sandbox.expire_token(creator["ig_user_id"])
    error = graph.error(debug(creator["access_token"], creator["access_token"]), 400)
    assert (error["code"], error["error_subcode"]) == (190, 463)


# invalidated, de-authorised, re-scoped ------------------------------------------------------------------
def test_invalidated_token_is_reported_invalid_with_subcode_460(debug, sandbox, creator, app_token):
    sandbox.invalidate_token(creator["ig_user_id"])
    data = _data(debug(creator["access_token"], app_token))
    assert data["is_valid"] is False
    assert (data["error"]["code"], data["error"]["subcode"]) == (190, 460)


def test_invalidated_token_fails_other_calls_with_190_460(graph, sandbox, creator, own_media):
    sandbox.invalidate_token(creator["ig_user_id"])
    error = graph.error(_post_code(graph, own_media, creator), 400)
    assert (error["code"], error["error_subcode"]) == (190, 460)


def test_deauthorised_token_is_reported_invalid_with_subcode_458(debug, sandbox, creator, app_token):
    sandbox.deauthorise_token(creator["ig_user_id"])
    data = _data(debug(creator["access_token"], app_token))
    assert data["is_valid"] is False
    assert (data["error"]["code"], data["error"]["subcode"]) == (190, 458)
    assert DEFAULT_APP_ID in data["error"]["message"]


def test_deauthorised_brand_token_fails_discovery_with_190_458(graph, sandbox):
    sandbox.deauthorise_token(graph.brand["business_id"])
    error = graph.error(graph.discover(), 400)
    assert (error["code"], error["error_subcode"]) == (190, 458)


def test_rescoped_token_without_the_creator_scope_is_valid_but_cannot_issue_codes(
    graph, debug, sandbox, creator, app_token, own_media
):
    scopes = [s for s in CREATOR_SCOPES if s != CREATOR_SCOPE]
    sandbox.rescope_token(creator["ig_user_id"], scopes=scopes)
    data = _data(debug(creator["access_token"], app_token))
    assert data["is_valid"] is True
    assert CREATOR_SCOPE not in data["scopes"]
    assert CREATOR_SCOPE not in {g["scope"] for g in data["granular_scopes"]}
    error = graph.error(_post_code(graph, own_media, creator), 403)
    assert error["code"] == 10


def test_creator_scope_targeted_at_another_account_cannot_issue_codes(
    graph, debug, sandbox, creator, app_token, own_media
):
    other = sandbox.creator_tokens()[1]["ig_user_id"]
    sandbox.rescope_token(
        creator["ig_user_id"],
        granular_scopes=[
            {"scope": "instagram_basic", "target_ids": [creator["ig_user_id"]]},
            {"scope": CREATOR_SCOPE, "target_ids": [other]},
        ],
    )
    data = _data(debug(creator["access_token"], app_token))
    assert {"scope": CREATOR_SCOPE, "target_ids": [other]} in data["granular_scopes"]
    error = graph.error(_post_code(graph, own_media, creator), 403)
    assert error["code"] == 10
    assert "other accounts only" in error["message"]


# refusals -----------------------------------------------------------------------------------------------
def test_token_of_another_app_may_not_inspect_this_apps_tokens(graph, debug, sandbox, creator):
    foreign = sandbox.mint_token(role="creator", scopes=list(CREATOR_SCOPES), app_id="555000111222333")
    error = graph.error(debug(creator["access_token"], foreign), 400)
    assert error["code"] == 100
    assert "did not match the Viewing App" in error["message"]


def test_app_token_of_another_app_is_refused(graph, debug, creator):
    error = graph.error(debug(creator["access_token"], "555000111222333|" + "0" * 32), 400)
    assert error["code"] == 190


def test_app_token_with_a_wrong_secret_is_refused(graph, debug, creator):
    error = graph.error(debug(creator["access_token"], f"{DEFAULT_APP_ID}|{'f' * 32}"), 400)
    assert error["code"] == 190
    assert "signature" in error["message"]


def test_app_token_is_accepted_by_debug_token_only(graph, app_token):
    error = graph.error(graph.discover(app_token), 400)
    assert error["code"] == 190


def test_debug_token_without_an_access_token_is_error_104(graph, debug, creator):
    assert graph.error(debug(creator["access_token"], None), 400)["code"] == 104


def test_debug_token_without_input_token_is_error_100(graph, debug, app_token):
    assert graph.error(debug(None, app_token), 400)["code"] == 100


def test_unknown_input_token_is_invalid_with_code_190(debug, app_token):
    data = _data(debug("EAAB" + "q" * 60, app_token))
    assert data["is_valid"] is False
    assert data["error"]["code"] == 190
    assert data["scopes"] == []


def test_debug_token_log_redacts_both_tokens(debug, sandbox, creator, app_token):
    sandbox.control("DELETE", "requests")
    debug(creator["access_token"], app_token)
    [entry] = sandbox.requests_log()
    assert entry["params"] == {"input_token": "[REDACTED]", "access_token": "[REDACTED]"}
    secret = sandbox.app()["app_secret"]
    assert secret not in str(sandbox.requests_log())


# app secret ---------------------------------------------------------------------------------------------
def test_app_secret_is_deterministic_per_seed(sandbox):
    app = sandbox.app()
    assert app["app_id"] == DEFAULT_APP_ID
    assert app["app_secret"] == build_world(seed=7, items=10).apps[DEFAULT_APP_ID].app_secret
    assert app["app_secret"] != build_world(seed=8, items=10).apps[DEFAULT_APP_ID].app_secret
    assert len(app["app_secret"]) == 32
    assert app["requires_appsecret_proof"] is False


def test_configured_app_secret_is_the_one_the_app_token_uses(debug, sandbox, creator):
    sandbox.configure(app_secrets={DEFAULT_APP_ID: "configured-secret"})
    app = sandbox.app()
    assert (app["app_secret"], app["requires_appsecret_proof"]) == ("configured-secret", True)
    assert _data(debug(creator["access_token"], f"{DEFAULT_APP_ID}|configured-secret"))["is_valid"] is True


# control API --------------------------------------------------------------------------------------------
def test_reset_undoes_every_token_change(debug, sandbox, creator, app_token):
    sandbox.rescope_token(creator["ig_user_id"], scopes=[])
    sandbox.invalidate_token(creator["ig_user_id"])
    sandbox.reset()
    data = _data(debug(creator["access_token"], app_token))
    assert data["is_valid"] is True
    assert set(data["scopes"]) == set(CREATOR_SCOPES)


def test_token_value_travels_in_the_body_not_the_url(sandbox, creator):
    record = sandbox.change_token(creator["access_token"], invalidated=True)
    assert record["invalidated"] is True
    assert record["user_id"] == creator["user_id"]


def test_token_can_be_named_by_user_id(sandbox, creator):
    assert sandbox.deauthorise_token(creator["user_id"])["deauthorised"] is True


def test_generated_token_wins_over_a_minted_one_of_the_same_owner(sandbox, creator):
    minted = sandbox.mint_token(role="creator", scopes=[], ig_user_id=creator["ig_user_id"])
    record = sandbox.invalidate_token(creator["ig_user_id"])
    assert record["access_token"] == creator["access_token"]
    assert record["access_token"] != minted


def test_two_minted_tokens_of_one_owner_must_be_named_by_user_id(sandbox):
    for _ in range(2):
        sandbox.mint_token(role="creator", scopes=[], ig_user_id="1999")
    with pytest.raises(RuntimeError, match="409"):
        sandbox.invalidate_token("1999")


def test_unknown_token_owner_is_404(sandbox):
    with pytest.raises(RuntimeError, match="404"):
        sandbox.invalidate_token("424242")


def test_unknown_token_change_is_rejected(sandbox, creator):
    with pytest.raises(RuntimeError, match="unknown token changes"):
        sandbox.change_token(creator["ig_user_id"], revoked=True)


def test_expires_at_zero_means_never(debug, sandbox, creator, app_token):
    sandbox.expire_token(creator["ig_user_id"])
    sandbox.change_token(creator["ig_user_id"], expires_at=0)
    data = _data(debug(creator["access_token"], app_token))
    assert (data["is_valid"], data["expires_at"]) == (True, 0)


# the default world's examples ---------------------------------------------------------------------------
def test_token_health_examples_are_off_by_default(sandbox):
    examples = sandbox.world()["token_health_examples"]
    assert examples["enabled"] is False
    assert all(t["expires_at"] is None for t in sandbox.creator_tokens())


def test_token_health_examples_show_expiring_expired_and_missing_scope(debug, sandbox, app_token):
    sandbox.configure(token_health_examples=True)
    examples = sandbox.world()["token_health_examples"]
    assert examples["enabled"] is True
    by_ig = {t["ig_user_id"]: t["access_token"] for t in sandbox.creator_tokens()}
    expiring = _data(debug(by_ig[examples["expiring"]], app_token))
    assert expiring["is_valid"] is True
    assert 0 < expiring["expires_at"] - time.time() < 7 * DAY
    expired = _data(debug(by_ig[examples["expired"]], app_token))
    assert (expired["is_valid"], expired["error"]["subcode"]) == (False, 463)
    missing = _data(debug(by_ig[examples["missing_creator_scope"]], app_token))
    assert missing["is_valid"] is True
    assert CREATOR_SCOPE not in missing["scopes"]


def test_token_health_examples_are_creators_the_demo_connects(sandbox):
    creators = [t["ig_user_id"] for t in sandbox.creator_tokens()]
    examples = sandbox.world()["token_health_examples"]
    chosen = [examples[k] for k in ("expiring", "expired", "missing_creator_scope")]
    assert len(set(chosen)) == 3
    assert set(chosen) <= set(creators[:-1])  # include/demo.py connects every creator but the last


def test_token_health_examples_are_deterministic_per_seed():
    assert build_world(seed=7, items=500).token_health == build_world(seed=7, items=500).token_health


def test_reset_with_config_turns_token_health_examples_off(sandbox):
    sandbox.configure(token_health_examples=True)
    sandbox.reset(config=True)
    assert all(t["expires_at"] is None for t in sandbox.creator_tokens())


# the official SDK ---------------------------------------------------------------------------------------
@pytest.fixture
def sdk_debug(sandbox, monkeypatch, app_token):
    """debug_token through the official SDK pointed at the sandbox (FacebookSession.GRAPH), as the app."""
    monkeypatch.setattr(FacebookSession, "GRAPH", sandbox.url)
    api = FacebookAdsApi.init(access_token=app_token, api_version=sandbox.api_version)

    def _debug(input_token: str) -> dict[str, Any]:
        return api.call("GET", ("debug_token",), params={"input_token": input_token}).json()["data"]

    return _debug


def test_sdk_reads_a_valid_token(sdk_debug, creator):
    data = sdk_debug(creator["access_token"])
    assert data["is_valid"] is True
    assert data["user_id"] == creator["user_id"]


def test_sdk_reads_an_expired_token(sdk_debug, sandbox, creator):
    sandbox.expire_token(creator["ig_user_id"], in_seconds=DAY)
    sandbox.advance_clock(DAY)
    data = sdk_debug(creator["access_token"])
    assert data["is_valid"] is False
    assert (data["error"]["code"], data["error"]["subcode"]) == (190, 463)


def test_sdk_raises_on_another_apps_token(sdk_debug, sandbox):
    foreign = sandbox.mint_token(role="creator", scopes=[], app_id="555000111222333")
    with pytest.raises(FacebookRequestError) as raised:
        sdk_debug(foreign)
    assert raised.value.api_error_code() == 100
