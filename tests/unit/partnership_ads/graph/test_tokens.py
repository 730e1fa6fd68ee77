"""hook.inspect_token(): debug_token on the real sandbox, with the app token or the token itself, and no token
in any log line, URL or exception text."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

import pytest

from include.demo import _meta_conn
from partnership_ads.graph.errors import GraphAuthError
from partnership_ads.hooks import PartnershipAdsHook

if TYPE_CHECKING:
    from include.graph_sandbox.testing import SandboxServer

DAY = 86400


@pytest.fixture
def creator(sandbox: SandboxServer) -> dict[str, Any]:
    return sandbox.creator_tokens()[0]


@pytest.fixture
def hook_for(sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> Any:
    serial = {"n": 0}

    def make(
        token: str, *, app_credentials: bool = True, app_secret: str | None = None
    ) -> PartnershipAdsHook:
        serial["n"] += 1
        conn_id = f"i14_tokens_{serial['n']}"
        app = sandbox.app()
        extra = {"app_id": app["app_id"], "app_secret": app_secret or app["app_secret"]}
        monkeypatch.setenv(
            f"AIRFLOW_CONN_{conn_id.upper()}",
            _meta_conn(sandbox.url, sandbox.api_version, token, extra if app_credentials else None),
        )
        return PartnershipAdsHook(meta_conn_id=conn_id)

    return make


@pytest.mark.parametrize("app_credentials", [True, False], ids=["app_token", "self"])
def test_a_valid_creator_token_reads_its_scopes_targets_and_no_expiry(
    hook_for: Any, creator: dict[str, Any], app_credentials: bool
) -> None:
    info = hook_for(creator["access_token"], app_credentials=app_credentials).inspect_token()
    assert info.is_valid is True
    assert info.by_app_token is app_credentials
    assert "instagram_branded_content_creator" in info.scopes
    assert info.granular_scopes["instagram_branded_content_creator"] == (creator["ig_user_id"],)
    assert info.expires_at is None
    assert info.user_id == creator["user_id"]


def test_the_app_token_reads_an_expired_token_with_subcode_463(
    sandbox: SandboxServer, hook_for: Any, creator: dict[str, Any]
) -> None:
    sandbox.expire_token(creator["access_token"], in_seconds=DAY)
    sandbox.advance_clock(2 * DAY)
    info = hook_for(creator["access_token"]).inspect_token()
    assert (info.is_valid, info.error_code, info.error_subcode) == (False, 190, 463)
    assert info.expires_at is not None


def test_an_expired_token_inspecting_itself_is_reported_invalid_not_raised(
    sandbox: SandboxServer, hook_for: Any, creator: dict[str, Any]
) -> None:
    sandbox.expire_token(creator["access_token"])
    info = hook_for(creator["access_token"], app_credentials=False).inspect_token()
    assert (info.is_valid, info.error_code, info.error_subcode) == (False, 190, 463)


@pytest.mark.parametrize(("change", "subcode"), [("invalidate_token", 460), ("deauthorise_token", 458)])
def test_invalidated_and_deauthorised_tokens_carry_their_subcode(
    sandbox: SandboxServer, hook_for: Any, creator: dict[str, Any], change: str, subcode: int
) -> None:
    getattr(sandbox, change)(creator["access_token"])
    info = hook_for(creator["access_token"]).inspect_token()
    assert (info.is_valid, info.error_subcode) == (False, subcode)


def test_a_missing_granular_scope_is_read(
    sandbox: SandboxServer, hook_for: Any, creator: dict[str, Any]
) -> None:
    sandbox.rescope_token(
        creator["access_token"],
        granular_scopes=[{"scope": "instagram_branded_content_creator", "target_ids": ["1"]}],
    )
    info = hook_for(creator["access_token"]).inspect_token()
    assert info.granular_scopes["instagram_branded_content_creator"] == ("1",)


def test_a_wrong_app_secret_raises_without_any_secret_in_the_text_or_logs(
    sandbox: SandboxServer, hook_for: Any, creator: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "wrongsecret0123456789abcdef"
    hook = hook_for(creator["access_token"], app_secret=wrong)
    with caplog.at_level(logging.DEBUG), pytest.raises(GraphAuthError) as raised:
        hook.inspect_token()
    text = (
        f"{raised.value}\n{raised.value!r}\n{json.dumps(raised.value.__dict__, default=str)}\n{caplog.text}"
    )
    assert creator["access_token"] not in text
    assert wrong not in text


def test_no_token_in_logs_while_inspecting(
    sandbox: SandboxServer, hook_for: Any, creator: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        info = hook_for(creator["access_token"]).inspect_token()
    assert info.is_valid
    app = sandbox.app()
    assert creator["access_token"] not in caplog.text
    assert app["app_secret"] not in caplog.text
    assert creator["access_token"] not in repr(info)
    logged = [r for r in sandbox.requests_log() if r["path"].endswith("debug_token")]
    assert logged, "debug_token was called"
    assert creator["access_token"] not in json.dumps(logged)
