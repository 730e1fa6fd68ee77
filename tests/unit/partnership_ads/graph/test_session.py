"""The hook's session and one request: what leaves, and what a failure tells (loopback sockets only)."""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

import pytest
import requests
from requests_toolbelt.adapters.socket_options import TCPKeepAliveAdapter

from partnership_ads.graph.errors import GraphConnectionError
from partnership_ads.graph.session import POOL_MAXSIZE, USER_AGENT, secure_session, send
from partnership_ads.graph.settings import ConnectionSettings

if TYPE_CHECKING:
    from collections.abc import Iterator

TOKEN = "EAABsessionTOKEN0123456789"


def settings(base_url: str, **extra: object) -> ConnectionSettings:
    return ConnectionSettings.from_connection(
        "meta_graph_session", host=base_url, password=TOKEN, extra={"timeout": 0.5, **extra}
    )


def build_session(config: ConnectionSettings) -> requests.Session:
    return secure_session(requests.Session(), config)


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback port that accepts connections and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield listener.getsockname()[1]


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_session_keeps_up_to_32_connections_alive_and_never_retries_on_its_own() -> None:
    session = build_session(settings("https://graph.example.test"))
    adapter = session.get_adapter("https://graph.example.test/v25.0/1")
    assert isinstance(adapter, TCPKeepAliveAdapter)
    assert adapter._pool_maxsize == POOL_MAXSIZE
    assert adapter.max_retries.total == 0
    assert session.auth is None


def test_environment_proxies_are_resolved_once_for_the_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    session = build_session(settings("https://graph.example.test"))
    assert session.trust_env is False
    assert session.proxies.get("https") == "http://proxy.invalid:3128"


def test_a_refused_connection_was_never_sent_so_even_a_post_may_be_sent_again(closed_port: int) -> None:
    config = settings(f"http://127.0.0.1:{closed_port}")
    error = send(build_session(config), config, "POST", "179/partnership_ad_code", params=None, unix_time=0)
    assert isinstance(error, GraphConnectionError)
    assert error.request_sent is False
    assert error.outcome_unknown is False
    assert error.retryable is True


def test_a_post_without_an_answer_may_have_been_handled_so_its_outcome_is_unknown(silent_port: int) -> None:
    config = settings(f"http://127.0.0.1:{silent_port}", token_transport="query")
    error = send(build_session(config), config, "POST", "179/partnership_ad_code", params=None, unix_time=0)
    assert isinstance(error, GraphConnectionError)
    assert error.request_sent is True
    assert error.outcome_unknown is True
    assert "ReadTimeout" in error.message
    assert TOKEN not in str(error)


def test_a_get_without_an_answer_is_retryable_and_not_outcome_unknown(silent_port: int) -> None:
    config = settings(f"http://127.0.0.1:{silent_port}")
    error = send(build_session(config), config, "GET", "1/edge", params={"limit": "5"}, unix_time=0)
    assert isinstance(error, GraphConnectionError)
    assert (error.request_sent, error.outcome_unknown, error.retryable) == (True, False, True)


def test_headers_named_after_extras_go_whatever_their_case_and_overwritten_defaults_return_in_place() -> None:
    config = ConnectionSettings.from_connection(
        "meta_graph_session",
        host="https://graph.example.test",
        password=TOKEN,
        extra={"APP_SECRET": "s3cret", "x-custom": "leak", "accept-encoding": "identity"},
    )
    # What HttpHook.get_conn leaves: every extra as a header, a default overwritten in place.
    from_http_hook = requests.Session()
    from_http_hook.headers.update({"APP_SECRET": "s3cret", "x-custom": "leak", "accept-encoding": "identity"})
    secured = secure_session(from_http_hook, config, {"X-Request-Source": "unit"})
    fresh = secure_session(requests.Session(), config, {"X-Request-Source": "unit"})
    assert list(secured.headers.items()) == list(fresh.headers.items())
    assert list(secured.headers)[:4] == ["User-Agent", "Accept-Encoding", "Accept", "Connection"]
    assert secured.headers["User-Agent"] == USER_AGENT
    assert "s3cret" not in str(secured.headers) and "leak" not in str(secured.headers)


def test_a_header_neither_default_nor_named_after_an_extra_stops_the_session_without_its_value() -> None:
    config = settings("https://graph.example.test")
    session = requests.Session()
    session.headers["X-Added-Later"] = "value-never-shown"
    with pytest.raises(ValueError, match="carries headers X-Added-Later") as raised:
        secure_session(session, config)
    assert "value-never-shown" not in str(raised.value)


def test_basic_auth_and_the_requests_options_http_hook_set_are_taken_back() -> None:
    config = settings("https://graph.example.test", trust_env=False)
    session = requests.Session()
    session.auth = ("someone", TOKEN)
    session.proxies = {"https": "http://proxy.invalid:3128"}
    session.stream = True
    session.verify = False
    session.cert = "/no/such/cert.pem"
    session.max_redirects = 1
    secured = secure_session(session, config)
    assert secured.auth is None
    assert (secured.proxies, secured.stream, secured.verify, secured.cert) == ({}, False, True, None)
    assert secured.max_redirects == requests.models.DEFAULT_REDIRECT_LIMIT
    assert secured.trust_env is False
