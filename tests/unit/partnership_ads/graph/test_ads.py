"""The hook's ad objects (``hook.ads``): creatives and ads from ad codes, on the graph sandbox over HTTP.

The ad code comes from discovery and the account and ad set from the Marketing API edges, as the pipeline will
find them. Waits are not slept (``make_hook`` replaces ``_sleep``).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from partnership_ads.graph import ads as ads_module
from partnership_ads.graph.ads import (
    ad_account_ref,
    ad_code_fingerprint,
    expect_edge_page,
    expect_id,
    object_id,
    partnership_ad_name,
)
from partnership_ads.hooks import (
    AdObjectOutcomeUnknownError,
    GraphInvalidParameterError,
    GraphPermissionError,
    PartnershipAdsHook,
)

if TYPE_CHECKING:
    from include.graph_sandbox.testing import SandboxServer

APP_SECRET = "ads-app-secret-0123456789abcdef"


@dataclass
class Setup:
    hook: PartnershipAdsHook
    business_id: str
    page_id: str
    ig_user_id: str
    account: str
    adsets: list[dict[str, Any]]
    content_id: str
    ad_code: str

    @property
    def name(self) -> str:
        return partnership_ad_name(self.content_id, self.ad_code)

    def create_creative(self, **overrides: Any) -> str:
        arguments: dict[str, Any] = {
            "name": self.name,
            "page_id": self.page_id,
            "ad_code": self.ad_code,
            "ad_format": 1,
            "ig_sponsor_id": self.ig_user_id,
        }
        arguments.update(overrides)
        return self.hook.create_ad_creative(self.account, **arguments)


@pytest.fixture
def brand_hook(sandbox: SandboxServer, make_hook) -> Any:
    def make(token: str | None = None, **extra: Any) -> PartnershipAdsHook:
        return make_hook(
            sandbox.url, token or sandbox.brand_token()["access_token"], extra={"max_retries": 3, **extra}
        )

    return make


@pytest.fixture
def setup(sandbox: SandboxServer, brand_hook) -> Setup:
    brand = sandbox.brand_token()
    hook = brand_hook()
    item = next(
        i
        for i in hook.iter_advertisable_content(
            brand["business_id"],
            ig_user_id=brand["ig_user_id"],
            fields="content_id,partnership_info{ad_code}",
        )
        if any(entry.get("ad_code") for entry in i["partnership_info"])
    )
    code = next(entry["ad_code"] for entry in item["partnership_info"] if entry.get("ad_code"))
    account = hook.ads.list_ad_accounts(brand["business_id"])[0]["id"]
    adsets = hook.ads.list_adsets(account)
    sandbox.control("DELETE", "requests")
    return Setup(
        hook=hook,
        business_id=brand["business_id"],
        page_id=brand["fb_page_id"],
        ig_user_id=brand["ig_user_id"],
        account=account,
        adsets=adsets,
        content_id=item["content_id"],
        ad_code=code,
    )


def posts(sandbox: SandboxServer, edge: str) -> list[dict[str, Any]]:
    return [e for e in sandbox.requests_log() if e["method"] == "POST" and e["path"].endswith(f"/{edge}")]


def settle_timeouts(sandbox: SandboxServer) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if any(e["fault"] == "timeout" for e in sandbox.requests_log()):
            return
        time.sleep(0.05)
    raise AssertionError("the sandbox did not log the timed-out request")


# ------------------------------------------------------------------------------ names and arguments


def test_the_name_is_deterministic_and_never_contains_the_code() -> None:
    code = "AQ" + "x" * 60
    name = partnership_ad_name("17900000000000001", code)
    assert name == f"pa 17900000000000001 {ad_code_fingerprint(code)}"
    assert name == partnership_ad_name(17900000000000001, code)
    assert code not in name
    assert len(ad_code_fingerprint(code)) == 10
    assert ad_code_fingerprint(code) != ad_code_fingerprint(code + "y")


@pytest.mark.parametrize("code", ["", " ", "AQ x", None, 5])
def test_an_invalid_code_is_refused_without_quoting_it(code: Any) -> None:
    with pytest.raises(ValueError, match=r"^ad_code: ") as raised:
        partnership_ad_name("1", code)
    assert "AQ x" not in str(raised.value)


def test_ad_account_ids_and_object_ids_are_checked() -> None:
    assert ad_account_ref("act_123") == ad_account_ref("123") == ad_account_ref(123) == "act_123"
    for bad in ("act_", "acct_1", "", True, None):
        with pytest.raises(ValueError, match=r"^ad_account_id: "):
            ad_account_ref(bad)
    assert object_id(" 42 ", "adset_id") == "42"
    with pytest.raises(ValueError, match=r"^adset_id: "):
        object_id("12a", "adset_id")


def test_answers_are_checked() -> None:
    assert expect_id({"id": "1"}) is None
    assert expect_id({"id": 1}) == "a JSON object with a non-empty 'id' string"
    assert expect_edge_page({"data": [{"id": "1"}], "paging": {}}) is None
    assert expect_edge_page({"data": {}}) == "a JSON object with a 'data' list of objects"


# ------------------------------------------------------------------------------ reads


def test_account_and_ad_sets_are_read_for_validation(setup: Setup) -> None:
    account = setup.hook.ads.get_ad_account(setup.account)
    assert account["id"] == setup.account
    assert account["business"] == {"id": setup.business_id}
    assert len(setup.adsets) == 4
    assert {"id", "name", "campaign_id", "status", "effective_status"} <= set(setup.adsets[0])
    [only] = setup.hook.ads.list_adsets(setup.account, name=setup.adsets[2]["name"])
    assert only["id"] == setup.adsets[2]["id"]


def test_edges_are_paged_with_the_after_cursor(setup: Setup, sandbox, monkeypatch) -> None:
    monkeypatch.setattr(ads_module, "EDGE_PAGE_SIZE", 1)
    assert setup.hook.ads.list_adsets(setup.account) == setup.adsets
    calls = [e for e in sandbox.requests_log() if e["path"].endswith("/adsets")]
    assert len(calls) == 4
    assert "after" not in calls[0]["params"]
    assert all("after" in call["params"] for call in calls[1:])


def test_a_token_without_ads_scopes_is_a_permission_error(setup: Setup, sandbox, brand_hook) -> None:
    brand = sandbox.brand_token()
    scopes = [s for s in brand["scopes"] if s not in ("ads_management", "ads_read")]
    token = sandbox.mint_token(role="brand", scopes=scopes, business_id=setup.business_id)
    with pytest.raises(GraphPermissionError):
        brand_hook(token).ads.get_ad_account(setup.account)


def test_find_returns_none_when_absent(setup: Setup) -> None:
    assert setup.hook.find_ad_creative_by_name(setup.account, setup.name) is None
    assert setup.hook.find_ad_by_name(setup.account, setup.name) is None


# ------------------------------------------------------------------------------ creatives


def test_creative_is_created_with_the_code_and_found_by_name(setup: Setup, sandbox) -> None:
    creative_id = setup.create_creative(ad_format=3)
    [record] = sandbox.ad_creatives()
    assert (record["id"], record["name"], record["ad_code"], record["ad_format"]) == (
        creative_id,
        setup.name,
        setup.ad_code,
        3,
    )
    assert (record["object_id"], record["ig_sponsor_id"]) == (setup.page_id, setup.ig_user_id)
    found = setup.hook.find_ad_creative_by_name(setup.account, setup.name)
    assert found is not None
    assert (found["id"], found["source_instagram_media_id"]) == (creative_id, setup.content_id)
    assert setup.ad_code not in json.dumps(sandbox.requests_log())


def test_creating_again_adopts_the_existing_creative(setup: Setup, sandbox) -> None:
    first = setup.create_creative()
    assert setup.create_creative() == first
    assert len(sandbox.ad_creatives()) == 1
    assert len(posts(sandbox, "adcreatives")) == 1


@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "drop"},
        {"kind": "http_500"},
        {"kind": "transient"},
        {"kind": "truncated"},
        {"kind": "html", "status": 200},
        {"kind": "timeout", "delay_ms": 2000},
    ],
)
def test_post_with_unknown_outcome_adopts_the_creative_found_by_name(
    setup: Setup, sandbox, brand_hook, fault: dict[str, Any]
) -> None:
    hook = brand_hook(timeout=0.5)
    sandbox.schedule_fault(method="POST", path="adcreatives", after=True, **fault)
    creative_id = hook.create_ad_creative(
        setup.account, name=setup.name, page_id=setup.page_id, ad_code=setup.ad_code, ad_format=1
    )
    assert [r["id"] for r in sandbox.ad_creatives()] == [creative_id]
    if fault["kind"] == "timeout":
        settle_timeouts(sandbox)
    assert len(posts(sandbox, "adcreatives")) == 1


def test_post_lost_before_the_server_is_posted_again_once(setup: Setup, sandbox) -> None:
    sandbox.schedule_fault(method="POST", path="adcreatives", kind="drop")
    creative_id = setup.create_creative()
    assert [r["id"] for r in sandbox.ad_creatives()] == [creative_id]
    assert [p["status"] for p in posts(sandbox, "adcreatives")] == [0, 200]


def test_unknown_outcome_and_a_failed_lookup_raise_without_posting_again(
    setup: Setup, sandbox, capfd
) -> None:
    sandbox.schedule_fault(method="POST", path="adcreatives", kind="http_500", after=True)
    sandbox.schedule_fault(method="GET", path="adcreatives", kind="http_500", count=10)
    with pytest.raises(AdObjectOutcomeUnknownError) as raised:
        # lookup_first=False: the GET fault is for the lookup after the POST.
        setup.hook.ads.create_ad_creative(
            setup.account,
            name=setup.name,
            page_id=setup.page_id,
            ad_code=setup.ad_code,
            ad_format=1,
            lookup_first=False,
        )
    assert raised.value.retryable is True
    assert "Look the creative or ad up by its name" in str(raised.value)
    assert len(posts(sandbox, "adcreatives")) == 1
    assert len(sandbox.ad_creatives()) == 1
    captured = capfd.readouterr()
    assert setup.ad_code not in str(raised.value) + captured.out + captured.err


def test_an_invalid_code_is_a_parameter_error_whose_text_has_no_code(setup: Setup, sandbox) -> None:
    code = "AQ" + "n" * 60
    with pytest.raises(GraphInvalidParameterError) as raised:
        setup.create_creative(ad_code=code, name=partnership_ad_name(setup.content_id, code))
    assert raised.value.error_subcode == 2446885
    assert code not in str(raised.value)
    assert len(posts(sandbox, "adcreatives")) == 1


def test_a_name_containing_the_code_is_refused_before_any_request(setup: Setup, sandbox) -> None:
    with pytest.raises(ValueError, match=r"^name: must not contain the ad code") as raised:
        setup.create_creative(name=f"pa {setup.ad_code}")
    assert setup.ad_code not in str(raised.value)
    assert sandbox.requests_log() == []


@pytest.mark.parametrize("ad_format", [0, 4, "1", True])
def test_ad_format_is_checked_before_any_request(setup: Setup, sandbox, ad_format: Any) -> None:
    with pytest.raises(ValueError, match=r"^ad_format: "):
        setup.create_creative(ad_format=ad_format)
    assert [e for e in sandbox.requests_log() if e["method"] == "POST"] == []


def test_throttled_post_is_retried_as_nothing_was_created(setup: Setup, sandbox) -> None:
    sandbox.schedule_fault(method="POST", path="adcreatives", kind="throttle", regain_minutes=1)
    creative_id = setup.create_creative()
    assert [r["id"] for r in sandbox.ad_creatives()] == [creative_id]
    assert [p["error_code"] for p in posts(sandbox, "adcreatives")] == [80004, None]


def test_appsecret_proof_on_every_call(setup: Setup, sandbox, brand_hook) -> None:
    sandbox.configure(app_secrets={sandbox.brand_token()["app_id"]: APP_SECRET})
    hook = brand_hook(app_secret=APP_SECRET)
    creative_id = hook.create_ad_creative(
        setup.account, name=setup.name, page_id=setup.page_id, ad_code=setup.ad_code, ad_format=2
    )
    assert [r["id"] for r in sandbox.ad_creatives()] == [creative_id]
    calls = [e for e in sandbox.requests_log() if "/act_" in e["path"]]
    assert len(calls) == 2  # the lookup by name, then the POST
    assert all(call["status"] == 200 for call in calls)


# ------------------------------------------------------------------------------ ads


def test_ad_is_created_paused_and_found_by_name(setup: Setup, sandbox) -> None:
    creative_id = setup.create_creative()
    ad_id = setup.hook.create_ad(
        setup.account, name=setup.name, adset_id=setup.adsets[0]["id"], creative_id=creative_id
    )
    [record] = sandbox.ads()
    assert (record["id"], record["status"], record["creative_id"]) == (ad_id, "PAUSED", creative_id)
    found = setup.hook.find_ad_by_name(setup.account, setup.name)
    assert found is not None
    assert (found["id"], found["creative"], found["status"]) == (ad_id, {"id": creative_id}, "PAUSED")
    assert (
        setup.hook.create_ad(
            setup.account, name=setup.name, adset_id=setup.adsets[0]["id"], creative_id=creative_id
        )
        == ad_id
    )
    assert len(sandbox.ads()) == 1


def test_an_active_ad_is_refused_unless_explicitly_allowed(setup: Setup, sandbox) -> None:
    with pytest.raises(ValueError, match=r"^status: must be PAUSED"):
        setup.hook.create_ad(
            setup.account, name="pa x", adset_id=setup.adsets[0]["id"], creative_id="1", status="ACTIVE"
        )
    assert sandbox.requests_log() == []
    creative_id = setup.create_creative()
    ad_id = setup.hook.ads.create_ad(
        setup.account,
        name=setup.name,
        adset_id=setup.adsets[0]["id"],
        creative_id=creative_id,
        status="ACTIVE",
        allow_active=True,
    )
    assert [(r["id"], r["status"]) for r in sandbox.ads()] == [(ad_id, "ACTIVE")]


@pytest.mark.parametrize("kind", ["drop", "http_500", "truncated"])
def test_ad_post_with_unknown_outcome_makes_exactly_one_ad(setup: Setup, sandbox, kind: str) -> None:
    creative_id = setup.create_creative()
    sandbox.schedule_fault(method="POST", path="/ads$", kind=kind, after=True)
    ad_id = setup.hook.create_ad(
        setup.account, name=setup.name, adset_id=setup.adsets[0]["id"], creative_id=creative_id
    )
    assert [r["id"] for r in sandbox.ads()] == [ad_id]
    assert len(posts(sandbox, "ads")) == 1


def test_an_ad_set_of_another_account_is_a_parameter_error(setup: Setup, sandbox) -> None:
    creative_id = setup.create_creative()
    other = setup.hook.ads.list_ad_accounts(setup.business_id)[1]["id"]
    foreign = setup.hook.ads.list_adsets(other)[0]["id"]
    with pytest.raises(GraphInvalidParameterError):
        setup.hook.create_ad(setup.account, name=setup.name, adset_id=foreign, creative_id=creative_id)
    assert sandbox.ads() == []
