"""PartnershipAdsHook itself: its connection, its session and what reaches the wire (loopback HTTP)."""

from __future__ import annotations

import base64
import inspect
from typing import TYPE_CHECKING

from airflow.providers.http.hooks.http import HttpHook
from requests_toolbelt.adapters.socket_options import TCPKeepAliveAdapter

from partnership_ads.graph.session import POOL_MAXSIZE
from partnership_ads.hooks import DiscoveryScope, PartnershipAdsHook

if TYPE_CHECKING:
    import pytest

    from tests.unit.partnership_ads.conftest import RecordingServer

TOKEN = "EAABunitTOKEN0123456789"
APP_SECRET = "unit-app-secret-0123456789abcdef"
BUSINESS = "154364196807760"


def lookup(hook: PartnershipAdsHook) -> list[dict[str, object]]:
    return hook.lookup_advertisable_content(BUSINESS, ig_user_id="17841400000", content_ids=["1"])


def test_extras_and_login_never_reach_the_wire_and_the_token_travels_as_oauth(
    make_hook, recording_server: RecordingServer
) -> None:
    hook = make_hook(
        recording_server.url,
        login="someone",
        extra={"app_secret": APP_SECRET, "X_Custom_Header": "leak", "api_version": "v24.0"},
    )
    lookup(hook)
    (request,) = recording_server.received
    names = {name.lower() for name in request.headers}
    assert not names & {"app_secret", "x_custom_header", "api_version", "max_retries", "timeout"}
    assert APP_SECRET not in str(request.headers)
    assert request.headers["Authorization"] == f"OAuth {TOKEN}"  # never "Basic <login:token>"
    assert base64.b64encode(f"someone:{TOKEN}".encode()).decode() not in str(request.headers)
    assert request.path.startswith(f"/v24.0/{BUSINESS}/partnership-ads-advertisable-content?")
    assert "appsecret_proof=" in request.path


def test_the_session_comes_from_a_composed_http_hook_on_the_same_connection(make_hook) -> None:
    hook = make_hook("https://graph.example.test")
    assert isinstance(hook.http, HttpHook)
    assert not isinstance(hook, HttpHook)
    assert hook.http.http_conn_id == hook.meta_conn_id


def test_the_connection_is_read_once_for_the_settings_and_the_session(
    make_hook, recording_server: RecordingServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.sdk import BaseHook

    reads: list[str] = []
    real = BaseHook.get_connection.__func__  # type: ignore[attr-defined]

    def counting(cls: type, conn_id: str) -> object:
        reads.append(conn_id)
        return real(cls, conn_id)

    monkeypatch.setattr(BaseHook, "get_connection", classmethod(counting))
    hook = make_hook(recording_server.url)
    lookup(hook)
    hook.close()
    lookup(hook)  # a new session: still no second read
    assert reads == [hook.meta_conn_id]

    given = PartnershipAdsHook(meta_conn_id="meta_graph_not_defined_anywhere", connection=hook.connection())
    lookup(given)
    assert reads == [hook.meta_conn_id], "a hook given its connection reads none"
    assert given.settings.access_token == hook.settings.access_token


def test_a_bare_host_is_served_over_https_by_the_hooks_own_adapter(make_hook) -> None:
    # HttpHook's base_url would default a bare host to http://; the hook builds its URLs from its settings.
    hook = make_hook("graph.example.test")
    session = hook.get_conn()
    assert hook.settings.url("1/edge") == "https://graph.example.test/v25.0/1/edge"
    adapter = session.get_adapter("https://graph.example.test/v25.0/1/edge")
    assert isinstance(adapter, TCPKeepAliveAdapter)
    assert adapter._pool_maxsize == POOL_MAXSIZE
    assert adapter.max_retries.total == 0


def test_extras_named_like_headers_never_reach_the_wire_and_the_headers_match_a_bare_connection(
    make_hook, recording_server: RecordingServer
) -> None:
    # HttpHook.get_conn sends each of these as a header, and the login and token as basic auth.
    leaky = make_hook(
        recording_server.url,
        login="someone",
        extra={
            "X-Custom": "s3cret",
            "app_secret": APP_SECRET,
            "accept-encoding": "identity",
            "stream": True,
            "max_redirects": 1,
        },
    )
    bare = make_hook(recording_server.url)
    lookup(leaky)
    lookup(bare)
    sent, expected = recording_server.received
    assert "s3cret" not in str(sent.headers)
    assert APP_SECRET not in str(sent.headers)
    assert "x-custom" not in {name.lower() for name in sent.headers}
    assert list(sent.headers.items()) == list(expected.headers.items())  # names, values and order


def test_headers_given_to_get_conn_are_sent_with_the_hooks_user_agent(
    make_hook, recording_server: RecordingServer
) -> None:
    hook = make_hook(recording_server.url)
    hook.get_conn(headers={"X-Request-Source": "unit", "User-Agent": "overridden"})
    lookup(hook)
    (request,) = recording_server.received
    assert request.headers["X-Request-Source"] == "unit"
    assert request.headers["User-Agent"] == "partnership-ads-airflow/0.1"
    assert request.headers["Accept"] == "application/json"


def test_requests_options_among_the_extras_configure_the_session(make_hook) -> None:
    proxies = {"https": "http://proxy.invalid:3128"}
    hook = make_hook(
        "https://graph.example.test", extra={"verify": False, "proxies": proxies, "trust_env": False}
    )
    session = hook.get_conn()
    assert session.verify is False
    assert session.proxies == proxies
    assert session.trust_env is False
    assert session.auth is None


def test_test_connection_validates_the_settings_without_sending_a_request(
    make_hook, recording_server: RecordingServer
) -> None:
    ok, message = make_hook(recording_server.url).test_connection()
    assert ok is True
    assert message == f"Settings are valid ({recording_server.url}, v25.0); no request was sent"
    refused, why = make_hook("http://graph.example.test").test_connection()
    assert refused is False
    assert "plain http:// is refused" in why
    assert recording_server.received == []


def test_close_releases_the_session_and_the_next_call_opens_a_new_one(
    make_hook, recording_server: RecordingServer
) -> None:
    hook = make_hook(recording_server.url)
    first = hook.get_conn()
    assert hook.get_conn() is first
    hook.close()
    assert hook.get_conn() is not first
    lookup(hook)
    assert len(recording_server.received) == 1


def test_unknown_extras_and_a_foreign_connection_type_are_warned_by_name_only(
    make_hook, recording_server: RecordingServer, capfd: pytest.CaptureFixture[str]
) -> None:
    hook = make_hook(recording_server.url, conn_type="http", extra={"X_Custom_Header": "value-never-logged"})
    assert hook.settings.ignored_extras == ("X_Custom_Header",)
    output = capfd.readouterr().out
    assert "ignoring unknown extras X_Custom_Header (never sent as HTTP headers)" in output
    assert "has type 'http'; expected 'meta_graph'" in output
    assert "value-never-logged" not in output


def test_the_hook_overrides_no_private_member_of_a_base_class() -> None:
    # The hook once overrode HttpHook's private methods, which change between provider releases.
    own = {name for name in vars(PartnershipAdsHook) if name.startswith("_") and not name.startswith("__")}
    for base in inspect.getmro(PartnershipAdsHook)[1:]:
        assert not own & set(vars(base)), f"overrides private members of {base.__name__}"


def test_discovery_scope_keeps_its_import_path_from_the_hooks_module() -> None:
    from partnership_ads.graph.discovery import DiscoveryScope as Defined

    assert DiscoveryScope is Defined
