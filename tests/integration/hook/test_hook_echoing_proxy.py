"""PartnershipAdsHook through a proxy that echoes the request in its error pages (real HTTP, loopback).

The proxy forwards to the graph sandbox until armed; armed, it answers 502 with the request as received: the
``Authorization`` header, the query string, the form body. The echo puts the token at character 160 of the
text an error quotes, where the old 200-character cut fell inside it.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

import pytest

from include.drills.proxy import EchoingProxy, quoted_text
from include.drills.secrets import leaked_pieces
from partnership_ads.hooks import AdCodeOutcomeUnknownError, GraphTransientError, PartnershipAdsHook

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from include.graph_sandbox.testing import SandboxServer

APP_SECRET = "sandbox-app-secret-0123456789abcdef"
TOKEN_AT = 160


@pytest.fixture
def proxy(sandbox: SandboxServer) -> Iterator[EchoingProxy]:
    with EchoingProxy(sandbox.url) as running:
        yield running


@pytest.fixture
def brand(sandbox: SandboxServer) -> dict[str, Any]:
    record = sandbox.brand_token()
    sandbox.configure(app_secrets={record["app_id"]: APP_SECRET})
    return record


@pytest.fixture
def make_hook(proxy: EchoingProxy, monkeypatch: pytest.MonkeyPatch) -> Callable[..., PartnershipAdsHook]:
    """A hook on an ``AIRFLOW_CONN_*`` JSON connection whose host is the proxy; waits are not slept."""
    serial = {"n": 0}

    def make(token: str, **extra: Any) -> PartnershipAdsHook:
        serial["n"] += 1
        conn_id = f"meta_graph_echo_{serial['n']}"
        connection = {
            "conn_type": "meta_graph",
            "host": proxy.url,
            "password": token,
            "extra": {"max_retries": 1, "timeout": 5, "app_secret": APP_SECRET, **extra},
        }
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(connection))
        hook = PartnershipAdsHook(meta_conn_id=conn_id)
        hook._sleep = lambda seconds: None
        return hook

    return make


def walk(hook: PartnershipAdsHook, brand: dict[str, Any]) -> list[dict[str, Any]]:
    return list(
        hook.iter_advertisable_content(
            brand["business_id"], fb_page_id=brand["fb_page_id"], ig_user_id=brand["ig_user_id"], page_size=50
        )
    )


def test_the_proxy_forwards_to_the_sandbox_until_armed(make_hook, proxy, brand) -> None:
    items = walk(make_hook(brand["access_token"]), brand)
    assert items
    assert proxy.forwarded >= 1
    assert proxy.echoed == []


@pytest.mark.parametrize(
    ("transport", "style", "method"),
    [
        ("header", "json", "GET"),
        ("header", "text", "GET"),
        ("query", "json", "GET"),
        ("header", "json", "POST"),
        ("form", "json", "POST"),
    ],
)
def test_a_proxy_echoing_the_token_leaves_no_piece_of_it_in_the_error_or_the_log(
    make_hook, proxy, brand, sandbox, caplog, capfd, transport: str, style: str, method: str
) -> None:
    token = brand["access_token"]
    hook = make_hook(token, token_transport=transport)
    media_id = walk(hook, brand)[0]["content_id"]  # through the proxy, forwarded
    capfd.readouterr()
    proxy.arm(10, method=method, style=style, token_at=TOKEN_AT)
    expected = GraphTransientError if method == "GET" else AdCodeOutcomeUnknownError
    with caplog.at_level(logging.DEBUG), pytest.raises(expected) as caught:
        if method == "GET":
            walk(hook, brand)
        else:
            hook.create_partnership_ad_code(media_id)
    assert proxy.echoed, "the proxy echoed nothing: the test proves nothing"
    # The echo put the token across the old cut.
    assert quoted_text(proxy.echoed[0]).find(token) == TOKEN_AT
    error = caught.value
    assert "HTTP 502" in str(error)
    assert "Proxy error" in error.message  # the body is quoted, without the token
    output = capfd.readouterr()
    texts = {
        "str(exc)": str(error),
        "repr(exc)": repr(error),
        "exc.message": error.message,
        "log records": caplog.text,
        "task output": output.out + output.err,
    }
    for where, text in texts.items():
        for secret in (token, APP_SECRET):
            assert not leaked_pieces(text, secret), f"pieces of a secret in {where}: {text}"
