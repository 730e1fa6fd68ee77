"""debug_token in batches (Meta's batch API) on the real sandbox: the verdicts one by one gives, 50 tokens per
round trip, nothing sent for what cannot be batched, and no token in any error, log or request log."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

import pytest

from include.demo import _meta_conn
from partnership_ads.graph.errors import GraphAPIError
from partnership_ads.graph.tokens import DebugTokenRequest, inspect_batched, token_info_of
from partnership_ads.hooks import PartnershipAdsHook

if TYPE_CHECKING:
    from include.graph_sandbox.testing import SandboxServer

DAY = 86400
BATCH_PATH = r"^/v[0-9.]+/?$"


@pytest.fixture
def hook_for(sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> Any:
    serial = {"n": 0}

    def make(token: str, *, app_credentials: bool = False) -> PartnershipAdsHook:
        serial["n"] += 1
        conn_id = f"i13_batch_{serial['n']}"
        app = sandbox.app()
        extra = {"app_id": app["app_id"], "app_secret": app["app_secret"]} if app_credentials else None
        monkeypatch.setenv(
            f"AIRFLOW_CONN_{conn_id.upper()}", _meta_conn(sandbox.url, sandbox.api_version, token, extra)
        )
        return PartnershipAdsHook(meta_conn_id=conn_id)

    return make


@pytest.fixture
def brand_hook(sandbox: SandboxServer, hook_for: Any) -> PartnershipAdsHook:
    return hook_for(sandbox.brand_token()["access_token"])


def batches_and_checks(sandbox: SandboxServer, before: int) -> tuple[int, int]:
    logged = sandbox.requests_log()[before:]
    batches = sum(1 for r in logged if r["method"] == "POST" and r["path"].rstrip("/").count("/") == 1)
    return batches, sum(1 for r in logged if r["path"].endswith("/debug_token"))


def verdict(info: Any) -> tuple[Any, ...]:
    return (info.is_valid, info.error_code, info.error_subcode, info.scopes, info.by_app_token)


def test_a_batch_gives_each_token_the_verdict_it_gets_alone_in_one_round_trip(
    sandbox: SandboxServer, hook_for: Any, brand_hook: PartnershipAdsHook
) -> None:
    tokens = [t["access_token"] for t in sandbox.creator_tokens()[:4]]
    sandbox.expire_token(tokens[1])
    sandbox.invalidate_token(tokens[2])
    # Two inspect themselves, two are inspected by the app token (an expired one included).
    hooks = [hook_for(t, app_credentials=n % 2 == 1) for n, t in enumerate(tokens)]
    before = len(sandbox.requests_log())

    batched = inspect_batched(brand_hook, hooks)

    assert batches_and_checks(sandbox, before) == (1, 4)
    alone = [hook.inspect_token() for hook in hooks]
    assert [verdict(i) for i in batched] == [verdict(i) for i in alone]
    assert [(i.is_valid, i.error_subcode) for i in batched] == [
        (True, None),
        (False, 463),
        (False, 460),
        (True, None),
    ]


def test_more_than_fifty_tokens_go_in_batches_of_fifty(
    sandbox: SandboxServer, hook_for: Any, brand_hook: PartnershipAdsHook
) -> None:
    tokens = [t["access_token"] for t in sandbox.creator_tokens()]
    hooks = [hook_for(tokens[n % len(tokens)]) for n in range(51)]
    before = len(sandbox.requests_log())
    found = inspect_batched(brand_hook, hooks)
    assert batches_and_checks(sandbox, before) == (2, 51)
    assert all(info is not None and info.is_valid for info in found)


def test_a_failed_batch_gives_no_verdict_and_no_token_reaches_the_error_or_the_log(
    sandbox: SandboxServer,
    hook_for: Any,
    brand_hook: PartnershipAdsHook,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    tokens = [t["access_token"] for t in sandbox.creator_tokens()[:3]]
    hooks = [hook_for(t) for t in tokens]
    sandbox.schedule_fault(kind="http_500", method="POST", path=BATCH_PATH, count=2)

    with caplog.at_level(logging.DEBUG):
        assert inspect_batched(brand_hook, hooks) == [None, None, None]
    with pytest.raises(GraphAPIError) as raised:
        brand_hook.request_batch([h.tokens.as_batch_request().request for h in hooks], secrets=tokens)

    logs = capsys.readouterr().out + caplog.text  # the task logger writes through structlog
    assert "A batch of 3 debug_token calls failed" in logs
    text = f"{raised.value}\n{raised.value!r}\n{json.dumps(raised.value.__dict__, default=str)}\n{logs}"
    assert not any(token in text for token in tokens)
    assert sandbox.brand_token()["access_token"] not in text
    assert not any(token in json.dumps(sandbox.requests_log()) for token in tokens)


@pytest.mark.parametrize(
    "requests",
    [
        [{"method": "POST", "relative_url": "1/partnership_ad_code"}],
        [{"method": "GET", "relative_url": "debug_token"}] * 51,
        [],
    ],
    ids=["a-write", "51", "none"],
)
def test_what_cannot_be_batched_is_refused_before_any_call(
    sandbox: SandboxServer, brand_hook: PartnershipAdsHook, requests: list[dict[str, str]]
) -> None:
    before = len(sandbox.requests_log())
    with pytest.raises(ValueError, match="batch"):
        brand_hook.request_batch(requests)
    assert sandbox.requests_log()[before:] == []


SELF = DebugTokenRequest(request={}, secrets=("EAAsecret",), by_app_token=False)
BY_APP = DebugTokenRequest(request={}, secrets=("EAAsecret",), by_app_token=True)


@pytest.mark.parametrize(
    ("answer", "request_", "expected"),
    [
        (None, SELF, None),
        ({"code": 200, "body": {"data": {"is_valid": True}}}, SELF, (True, None)),
        ({"code": 200, "body": {"nodata": 1}}, SELF, None),
        (
            {"code": 400, "body": {"error": {"code": 190, "error_subcode": 463, "message": "m"}}},
            SELF,
            (False, 463),
        ),
        # The app token refused (a wrong secret): no verdict about the token; inspected alone, it raises.
        ({"code": 400, "body": {"error": {"code": 190, "message": "m"}}}, BY_APP, None),
        ({"code": 400, "body": {"error": {"code": 4, "message": "throttled"}}}, SELF, None),
        ({"code": 500, "body": None}, SELF, None),
    ],
    ids=["unfinished", "valid", "no-data", "self-190", "app-190", "throttled", "5xx"],
)
def test_a_sub_answer_is_read_as_inspect_reads_an_answer(
    answer: dict[str, Any] | None, request_: DebugTokenRequest, expected: tuple[bool, int | None] | None
) -> None:
    info = token_info_of(answer, request_)
    assert (None if info is None else (info.is_valid, info.error_subcode)) == expected


def test_a_sub_answers_message_is_scrubbed_of_the_tokens_it_carries() -> None:
    answer = {"code": 400, "body": {"error": {"code": 190, "message": "token EAAsecret is bad"}}}
    info = token_info_of(answer, SELF)
    assert info is not None
    assert "EAAsecret" not in (info.error_message or "")
