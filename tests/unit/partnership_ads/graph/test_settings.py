"""The meta_graph connection's settings: defaults, coercion, and refusals."""

from __future__ import annotations

from typing import Any

import pytest

from partnership_ads.graph.settings import ConnectionSettings

TOKEN = "EAABsandboxTOKEN0123456789"


def settings(host: str | None = "https://graph.facebook.com", **extra: Any) -> ConnectionSettings:
    return ConnectionSettings.from_connection("meta_graph_default", host=host, password=TOKEN, extra=extra)


def test_defaults_follow_the_contract() -> None:
    result = settings(host=None)
    assert result.base_url == "https://graph.facebook.com"
    assert result.api_version == "v25.0"
    assert result.app_secret is None
    assert result.app_secret_time_proof is True
    assert result.token_transport == "header"
    assert result.timeout == 60.0
    retry = result.retry
    assert (retry.max_retries, retry.backoff_base_seconds, retry.backoff_max_seconds) == (5, 1.0, 60.0)
    assert (retry.max_throttle_wait_seconds, retry.usage_slowdown_percent) == (300.0, 80.0)


def test_every_extra_is_read_including_string_values_from_the_ui() -> None:
    result = settings(
        api_version="v24.0",
        app_secret="s3cret-value",
        app_secret_time_proof="false",
        token_transport="QUERY",
        timeout="12.5",
        max_retries="2",
        backoff_base_seconds=0.5,
        backoff_max_seconds="8",
        max_throttle_wait_seconds=30,
        usage_slowdown_percent="90",
    )
    assert (result.api_version, result.app_secret, result.app_secret_time_proof) == (
        "v24.0",
        "s3cret-value",
        False,
    )
    assert (result.token_transport, result.timeout) == ("query", 12.5)
    assert result.retry.max_retries == 2
    assert result.retry.backoff_max_seconds == 8.0
    assert result.retry.usage_slowdown_percent == 90.0


def test_url_joins_base_version_and_path() -> None:
    assert (
        settings().url("123/partnership_ad_code")
        == "https://graph.facebook.com/v25.0/123/partnership_ad_code"
    )


@pytest.mark.parametrize("host", ["http://graph.facebook.com", "http://10.0.0.5:8765", "http://example.test"])
def test_plain_http_to_a_remote_host_is_refused(host: str) -> None:
    with pytest.raises(ValueError, match="plain http:// is refused"):
        settings(host=host)


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("http://127.0.0.1:8765", "http://127.0.0.1:8765"),
        ("http://127.1.2.3:80/", "http://127.1.2.3:80"),
        ("http://localhost:9000", "http://localhost:9000"),
        ("http://[::1]:8765", "http://[::1]:8765"),
    ],
)
def test_plain_http_to_loopback_is_allowed(host: str, expected: str) -> None:
    assert settings(host=host).base_url == expected


def test_a_bare_host_name_means_https() -> None:
    assert settings(host="graph.facebook.com").base_url == "https://graph.facebook.com"


def test_credentials_in_the_host_are_refused_without_quoting_them() -> None:
    with pytest.raises(ValueError, match="without credentials") as caught:
        settings(host="https://user:pa55word@graph.facebook.com")
    assert "pa55word" not in str(caught.value)


def test_missing_token_is_refused() -> None:
    with pytest.raises(ValueError, match="password \\(the access token\\) is empty"):
        ConnectionSettings.from_connection("c", host=None, password="", extra={})


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        ({"api_version": "25"}, "api_version must look like v25.0"),
        ({"token_transport": "cookie"}, "token_transport must be one of"),
        ({"timeout": "soon"}, "timeout must be a number"),
        ({"timeout": 0}, "timeout must be >= 0.001"),
        ({"max_retries": 1.5}, "max_retries must be a whole number"),
        ({"max_retries": -1}, "max_retries must be >= 0"),
        ({"usage_slowdown_percent": 120}, "usage_slowdown_percent must be from 0 to 100"),
        ({"app_secret_time_proof": "perhaps"}, "app_secret_time_proof must be true or false"),
        ({"backoff_base_seconds": True}, "backoff_base_seconds must be a number"),
    ],
)
def test_bad_extras_are_named(extra: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ValueError, match="connection 'meta_graph_default': extra ") as caught:
        settings(**extra)
    assert fragment in str(caught.value)


def test_unknown_extras_are_listed_for_a_warning_and_requests_options_kept() -> None:
    result = settings(verify=False, X_Custom="1", api_version="v25.0")
    assert result.ignored_extras == ("X_Custom",)
    assert dict(result.requests_options) == {"verify": False}


def test_repr_never_shows_the_token_or_the_app_secret() -> None:
    text = repr(settings(app_secret="s3cret-value"))
    assert TOKEN not in text
    assert "s3cret-value" not in text
    assert settings(app_secret="s3cret-value").secrets == (TOKEN, "s3cret-value")
