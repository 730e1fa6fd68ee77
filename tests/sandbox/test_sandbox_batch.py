"""Meta's batch API on the sandbox: ``POST /vX/`` with ``batch``, each sub-request answered and logged as if
sent alone, with its own ``access_token`` or the batch's, at most 50, and no token in the request log."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import requests

    from include.graph_sandbox.testing import SandboxServer


def post_batch(
    graph: Any, batch: Any, *, access_token: str | None, raw: str | None = None
) -> requests.Response:
    form = {"batch": raw if raw is not None else json.dumps(batch), "include_headers": "false"}
    if access_token:
        form["access_token"] = access_token
    return graph.session.post(f"{graph.sandbox.graph_url}/", data=form, timeout=10)


def debug_request(input_token: str, access_token: str | None = None) -> dict[str, str]:
    query = f"input_token={input_token}" + (f"&access_token={access_token}" if access_token else "")
    return {"method": "GET", "relative_url": f"debug_token?{query}"}


def test_each_sub_request_is_answered_in_order_with_its_own_token(sandbox: SandboxServer, graph: Any) -> None:
    brand = sandbox.brand_token()["access_token"]
    alive, expired = (t["access_token"] for t in sandbox.creator_tokens()[:2])
    sandbox.expire_token(expired)

    answer = post_batch(
        graph, [debug_request(alive, alive), debug_request(expired, expired)], access_token=brand
    )

    assert answer.status_code == 200, answer.text
    first, second = answer.json()
    assert first["code"] == 200
    assert json.loads(first["body"])["data"]["is_valid"] is True
    # The expired token inspecting itself is refused with its own 190/463, as it is alone.
    assert second["code"] == 400
    error = json.loads(second["body"])["error"]
    assert (error["code"], error["error_subcode"]) == (190, 463)


def test_a_sub_request_without_a_token_uses_the_batchs_own(sandbox: SandboxServer, graph: Any) -> None:
    app_token = sandbox.app()["app_token"]
    creator = sandbox.creator_tokens()[0]["access_token"]
    (only,) = post_batch(graph, [debug_request(creator)], access_token=app_token).json()
    data = json.loads(only["body"])["data"]
    assert (only["code"], data["is_valid"]) == (200, True)


def test_sub_requests_are_logged_one_by_one_and_no_token_is_in_the_log(
    sandbox: SandboxServer, graph: Any
) -> None:
    brand = sandbox.brand_token()["access_token"]
    tokens = [t["access_token"] for t in sandbox.creator_tokens()[:3]]
    before = len(sandbox.requests_log())

    post_batch(graph, [debug_request(t, t) for t in tokens], access_token=brand)

    logged = sandbox.requests_log()[before:]
    assert [(r["method"], r["path"].rsplit("/", 1)[-1]) for r in logged] == [
        ("GET", "debug_token"),
        ("GET", "debug_token"),
        ("GET", "debug_token"),
        ("POST", ""),
    ]
    assert logged[-1]["params"]["batch"] == "[REDACTED]"
    text = json.dumps(logged)
    assert not any(token in text for token in [brand, *tokens])


@pytest.mark.parametrize(
    ("batch", "raw", "problem"),
    [
        (None, "not json", "JSON array"),
        ([], None, "non-empty"),
        ([{"method": "GET", "relative_url": "debug_token"}] * 51, None, "Maximum batch size is 50"),
        ([{"method": "GET"}], None, "relative_url"),
    ],
    ids=["not-json", "empty", "51", "no-relative-url"],
)
def test_a_malformed_batch_is_refused_as_a_whole(
    sandbox: SandboxServer, graph: Any, batch: Any, raw: str | None, problem: str
) -> None:
    brand = sandbox.brand_token()["access_token"]
    answer = post_batch(graph, batch, access_token=brand, raw=raw)
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == 100
    assert problem in error["message"]


def test_a_batch_without_a_valid_token_of_its_own_is_refused(sandbox: SandboxServer, graph: Any) -> None:
    creator = sandbox.creator_tokens()[0]["access_token"]
    before = len(sandbox.requests_log())
    answer = post_batch(graph, [debug_request(creator, creator)], access_token=None)
    assert answer.json()["error"]["code"] in (104, 190)
    # Nothing inside it was answered.
    assert [r["path"] for r in sandbox.requests_log()[before:] if r["path"].endswith("debug_token")] == []
