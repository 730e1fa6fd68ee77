"""PartnershipAdsHook against the graph sandbox over real HTTP.

Each test gets the seeded sandbox (`sandbox` fixture) and a hook configured through an
`AIRFLOW_CONN_*` JSON variable, as in production. Waits run on a fake clock: they are asserted, never slept.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
from typing import TYPE_CHECKING, Any

import pytest

from partnership_ads.hooks import (
    AdCodeOutcomeUnknownError,
    DiscoveryScope,
    GraphAPIError,
    GraphAuthError,
    GraphBadResponseError,
    GraphConnectionError,
    GraphInvalidParameterError,
    GraphPermissionError,
    GraphThrottleError,
    GraphTransientError,
    PartnershipAdsHook,
)
from tests.fakes import SleepingClock

if TYPE_CHECKING:
    from include.graph_sandbox.testing import SandboxServer

DISCOVERY = "partnership-ads-advertisable-content"
RICH_FIELDS = (
    "content_id,platform,media_type,post_type,caption,creation_time,is_recommended,ad_usage,"
    "author{ig_user_id,fb_page_id},partnership_info{ad_eligibility,ad_code,content_types,"
    "tagged_partner{ig_user_id,fb_page_id}}"
)
APP_SECRET = "sandbox-app-secret-0123456789abcdef"


@pytest.fixture
def clock() -> SleepingClock:
    return SleepingClock()


@pytest.fixture
def brand(sandbox: SandboxServer) -> dict[str, Any]:
    return sandbox.brand_token()


@pytest.fixture
def make_hook(sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch, clock: SleepingClock):
    """Build a hook on a fresh `AIRFLOW_CONN_<ID>` JSON connection pointing at the sandbox."""
    serial = {"n": 0}

    def make(token: str | None = None, *, host: str | None = None, **extra: Any) -> PartnershipAdsHook:
        serial["n"] += 1
        conn_id = f"meta_graph_test_{serial['n']}"
        extra = {"max_retries": 3, "timeout": 5, **extra}
        connection = {
            "conn_type": "meta_graph",
            "host": host or sandbox.url,
            "password": token or sandbox.brand_token()["access_token"],
            "extra": extra,
        }
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(connection))
        hook = PartnershipAdsHook(meta_conn_id=conn_id)
        hook._sleep = clock.sleep
        hook._monotonic = clock.monotonic
        return hook

    return make


def hook_log(capfd: pytest.CaptureFixture[str]) -> list[str]:
    """The hook's log lines so far (Airflow's structlog writes them to the process's stdout)."""
    captured = capfd.readouterr()
    return [line for line in (captured.out + captured.err).splitlines() if "PartnershipAdsHook" in line]


def account(brand: dict[str, Any]) -> dict[str, str]:
    return {"fb_page_id": brand["fb_page_id"], "ig_user_id": brand["ig_user_id"]}


def graph_calls(sandbox: SandboxServer, method: str = "GET", edge: str = DISCOVERY) -> list[dict[str, Any]]:
    return [e for e in sandbox.requests_log() if e["method"] == method and e["path"].endswith(edge)]


def settle_timeouts(sandbox: SandboxServer, expected: int) -> None:
    """Wait (bounded) until the sandbox has logged every timed-out request, so none lands in the next test."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if sum(1 for e in sandbox.requests_log() if e["fault"] == "timeout") >= expected:
            return
        time.sleep(0.05)
    raise AssertionError("the sandbox did not log the timed-out requests")


def walk(hook: PartnershipAdsHook, brand: dict[str, Any], **kwargs: Any) -> list[dict[str, Any]]:
    return list(hook.iter_advertisable_content(brand["business_id"], **account(brand), **kwargs))


def creator_media(
    hook: PartnershipAdsHook, sandbox: SandboxServer, brand: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """An Instagram media of the brand's content without a code, and its creator's token record."""
    creators = {record["ig_user_id"]: record for record in sandbox.creator_tokens()}
    for item in walk(hook, brand, fields=RICH_FIELDS, platform_types=["INSTAGRAM"]):
        author = (item.get("author") or {}).get("ig_user_id")
        has_code = any(entry.get("ad_code") for entry in item.get("partnership_info") or [])
        if author in creators and not has_code:
            return item["content_id"], creators[author]
    raise AssertionError("the seeded world has no creator media without a code")


# ---------------------------------------------------------------------------------------- paging


def test_after_cursor_is_followed_until_paging_is_absent(make_hook, sandbox, brand) -> None:
    hook = make_hook()
    everything = walk(hook, brand, page_size=50)
    small_pages = walk(hook, brand, page_size=7)
    ids = [item["content_id"] for item in small_pages]
    assert len(ids) == len(set(ids)) == len(everything) > 14
    assert ids == [item["content_id"] for item in everything]
    calls = graph_calls(sandbox)
    small = [c for c in calls if c["params"].get("limit") == "7"]
    assert len(small) == -(-len(ids) // 7)
    assert "after" not in small[0]["params"]
    assert all("after" in c["params"] for c in small[1:])


def test_pages_are_fetched_lazily(make_hook, sandbox, brand) -> None:
    hook = make_hook()
    items = hook.iter_advertisable_content(brand["business_id"], **account(brand), page_size=5)
    assert graph_calls(sandbox) == []
    next(items)
    next(items)
    assert len(graph_calls(sandbox)) == 1


def test_pages_iterator_yields_each_page_as_a_list(make_hook, brand) -> None:
    hook = make_hook()
    pages = list(hook.iter_advertisable_pages(brand["business_id"], **account(brand), page_size=20))
    assert all(1 <= len(page) <= 20 for page in pages)
    assert all(len(page) == 20 for page in pages[:-1])


def test_each_page_is_one_log_line_with_page_number_items_and_usage(make_hook, brand, capfd) -> None:
    hook = make_hook()
    pages = list(hook.iter_advertisable_pages(brand["business_id"], **account(brand), page_size=25))
    lines = [line for line in hook_log(capfd) if "Fetched page" in line]
    assert len(lines) == len(pages)
    assert f"Fetched page 1 of business {brand['business_id']}: 25 items (25 so far), usage 0%" in lines[0]
    assert f"Fetched page 2 of business {brand['business_id']}: 25 items (50 so far), usage 0%" in lines[1]


# ---------------------------------------------------------------------------------------- filters

TODAY = dt.datetime.now(dt.UTC).date()


def _brand_entry(item: dict[str, Any], brand: dict[str, Any]) -> dict[str, Any]:
    """The partnership_info entry of this brand (never blindly the first one)."""
    for entry in item.get("partnership_info") or []:
        partner = entry.get("tagged_partner") or {}
        if (
            partner.get("ig_user_id") == brand["ig_user_id"]
            or partner.get("fb_page_id") == brand["fb_page_id"]
        ):
            return entry
    raise AssertionError(f"no partnership_info entry for the brand in {item['content_id']}")


FILTER_CASES: dict[str, tuple[dict[str, Any], Any]] = {
    "platform_types": ({"platform_types": ["FACEBOOK"]}, lambda i, b: i["platform"] == "FACEBOOK"),
    "media_types": (
        {"media_types": ["VIDEO", "CAROUSEL"]},
        lambda i, b: i["media_type"] in {"VIDEO", "CAROUSEL"},
    ),
    "post_types": ({"post_types": ["REEL"]}, lambda i, b: i["post_type"] == "REEL"),
    "content_types": (
        {"content_types": ["COLLAB_POST"]},
        lambda i, b: "COLLAB_POST" in (_brand_entry(i, b).get("content_types") or []),
    ),
    "ad_eligibilities": (
        {"ad_eligibilities": ["AD_READY"]},
        lambda i, b: _brand_entry(i, b).get("ad_eligibility") == "AD_READY",
    ),
    "ad_usages": ({"ad_usages": ["NEVER_USED"]}, lambda i, b: i["ad_usage"] == "NEVER_USED"),
    "dates": (
        {
            "start_date": TODAY - dt.timedelta(days=200),
            "end_date": (TODAY - dt.timedelta(days=30)).isoformat(),
        },
        lambda i, b: (
            (TODAY - dt.timedelta(days=200)).isoformat()
            <= i["creation_time"]
            <= (TODAY - dt.timedelta(days=30)).isoformat()
        ),
    ),
    "is_recommended": ({"is_recommended": True}, lambda i, b: i["is_recommended"] is True),
}


@pytest.mark.parametrize("case", sorted(FILTER_CASES))
def test_filter_narrows_the_walk_to_matching_items(make_hook, brand, case: str) -> None:
    hook = make_hook()
    filters, matches = FILTER_CASES[case]
    everything = walk(hook, brand, fields=RICH_FIELDS)
    filtered = walk(hook, brand, fields=RICH_FIELDS, **filters)
    assert 0 < len(filtered) < len(everything)
    assert all(matches(item, brand) for item in filtered)
    assert len(filtered) == sum(1 for item in everything if matches(item, brand))


def test_partner_filters_select_the_authors(make_hook, brand) -> None:
    hook = make_hook()
    everything = walk(hook, brand, fields=RICH_FIELDS)
    ig_author = next(i["author"]["ig_user_id"] for i in everything if i["author"].get("ig_user_id"))
    page_author = next(i["author"]["fb_page_id"] for i in everything if i["author"].get("fb_page_id"))
    by_ig = walk(hook, brand, fields=RICH_FIELDS, ad_partner_ig_user_ids=[ig_author])
    by_page = walk(hook, brand, fields=RICH_FIELDS, ad_partner_page_ids=[page_author])
    assert by_ig and all(i["author"]["ig_user_id"] == ig_author for i in by_ig)
    assert by_page and all(i["author"]["fb_page_id"] == page_author for i in by_page)


def test_search_key_country_codes_and_sort_by_are_accepted(make_hook, brand) -> None:
    hook = make_hook()
    everything = walk(hook, brand, fields=RICH_FIELDS)
    word = next(w for i in everything for w in (i.get("caption") or "").split() if w.isalpha() and len(w) > 4)
    found = walk(hook, brand, fields=RICH_FIELDS, search_key=word)
    assert found and all(word.casefold() in i["caption"].casefold() for i in found)
    by_country = walk(hook, brand, country_codes=["us", "BR", "DE", "GB", "JP", "FR"])
    assert 0 < len(by_country) <= len(everything)
    newest_first = walk(hook, brand, fields="content_id,creation_time", sort_by="DATE")
    dates = [item["creation_time"] for item in newest_first]
    assert dates == sorted(dates, reverse=True)


def test_invalid_filters_raise_before_any_request(make_hook, sandbox, brand) -> None:
    hook = make_hook()
    for kwargs, name in (
        ({"ad_eligibilities": ["READY"]}, "ad_eligibilities"),
        ({"start_date": "2025-01-01"}, "end_date"),
        ({"page_size": 51}, "page_size"),
        ({"content_ids": ["1"], "post_types": ["REEL"]}, "content_ids"),
        ({"colour": "red"}, "colour"),
    ):
        with pytest.raises(ValueError, match=rf"^{name}: "):
            hook.iter_advertisable_content(brand["business_id"], **account(brand), **kwargs)
    with pytest.raises(ValueError, match=r"^fb_page_id / ig_user_id"):
        hook.iter_advertisable_content(brand["business_id"])
    assert sandbox.requests_log() == []


# ---------------------------------------------------------------------------------------- lookups


def test_lookup_of_more_than_50_ids_is_split_into_requests_of_50(make_hook, sandbox, brand) -> None:
    hook = make_hook()
    ids = [item["content_id"] for item in walk(hook, brand)][:120]
    assert len(ids) == 120
    found = hook.lookup_advertisable_content(
        brand["business_id"], **account(brand), content_ids=ids, fields="content_id,platform"
    )
    assert sorted(item["content_id"] for item in found) == sorted(ids)
    lookups = [c for c in graph_calls(sandbox) if "content_ids" in c["params"]]
    assert [len(json.loads(c["params"]["content_ids"])) for c in lookups] == [50, 50, 20]


def test_lookup_by_permalinks_and_ad_codes(make_hook, brand) -> None:
    hook = make_hook()
    items = walk(hook, brand, fields="content_id,permalink,partnership_info{ad_code}")
    permalinks = [item["permalink"] for item in items[:3]]
    by_link = hook.lookup_advertisable_content(brand["business_id"], **account(brand), permalinks=permalinks)
    assert len(by_link) == 3
    codes = [e["ad_code"] for item in items for e in item.get("partnership_info") or [] if e.get("ad_code")]
    assert codes, "the seeded world carries some existing codes"
    by_code = hook.lookup_advertisable_content(brand["business_id"], **account(brand), ad_codes=codes[:2])
    assert by_code


# ---------------------------------------------------------------------------------------- fields


def test_fields_string_and_structure_send_the_same_request(make_hook, sandbox, brand) -> None:
    hook = make_hook()
    text = "content_id,author{display_name},organic_insights{likes,views}"
    structure = ["content_id", {"author": ["display_name"]}, {"organic_insights": ["likes", "views"]}]
    as_text = walk(hook, brand, fields=text, page_size=10)
    as_structure = walk(hook, brand, fields=structure, page_size=10)
    assert as_text == as_structure
    assert set(as_text[0]) == {"content_id", "author", "organic_insights"}
    sent = {c["params"]["fields"] for c in graph_calls(sandbox)}
    assert sent == {text}


def test_only_content_id_without_fields(make_hook, brand) -> None:
    hook = make_hook()
    assert all(set(item) == {"content_id"} for item in walk(hook, brand, page_size=50))


# ---------------------------------------------------------------------------------------- errors


def test_invalid_token_is_an_auth_error_never_retried(make_hook, sandbox, brand, clock) -> None:
    hook = make_hook("EAABinvalidsandboxTOKEN000000000000000000000000ZDZD")
    with pytest.raises(GraphAuthError) as caught:
        walk(hook, brand)
    assert caught.value.code == 190
    assert caught.value.retryable is False
    assert caught.value.fbtrace_id
    assert len(graph_calls(sandbox)) == 1
    assert clock.sleeps == []


def test_creator_token_on_discovery_is_a_permission_error(make_hook, sandbox, brand, clock) -> None:
    hook = make_hook(sandbox.creator_tokens()[0]["access_token"])
    with pytest.raises(GraphPermissionError) as caught:
        walk(hook, brand)
    assert caught.value.retryable is False
    assert caught.value.http_status == 403
    assert clock.sleeps == []


def test_unknown_field_is_an_invalid_parameter_error(make_hook, brand, clock) -> None:
    hook = make_hook()
    with pytest.raises(GraphInvalidParameterError) as caught:
        walk(hook, brand, fields="content_id,nonexisting_field")
    assert caught.value.code == 100
    assert "nonexisting_field" in str(caught.value)
    assert clock.sleeps == []


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ({"kind": "transient"}, GraphTransientError),
        ({"kind": "http_500"}, GraphTransientError),
        ({"kind": "html"}, GraphTransientError),
        ({"kind": "html", "status": 200}, GraphBadResponseError),
        ({"kind": "truncated"}, GraphBadResponseError),
        ({"kind": "drop"}, GraphConnectionError),
        ({"kind": "timeout", "delay_ms": 3000}, GraphConnectionError),
    ],
)
def test_transient_failures_on_reads_are_retried_with_backoff(
    make_hook, sandbox, brand, clock, capfd, fault: dict[str, Any], expected: type[GraphAPIError]
) -> None:
    hook = make_hook(timeout=0.5, backoff_base_seconds=2.0)
    sandbox.schedule_fault(method="GET", path=DISCOVERY, count=2, **fault)
    items = walk(hook, brand, page_size=50)
    assert items
    assert len(clock.sleeps) == 2
    assert 1.0 <= clock.sleeps[0] <= 2.0
    assert 2.0 <= clock.sleeps[1] <= 4.0
    retries = [line for line in hook_log(capfd) if "Retry " in line]
    assert len(retries) == 2
    assert "Retry 1/3 of GET" in retries[0]
    assert f"waiting {clock.sleeps[0]:.1f}s" in retries[0]
    sandbox.schedule_fault(method="GET", path=DISCOVERY, count=1, **fault)
    with pytest.raises(expected) as caught:
        walk(make_hook(timeout=0.5, max_retries=0), brand)
    assert caught.value.retryable is True
    if fault["kind"] == "timeout":
        settle_timeouts(sandbox, 3)


def test_retries_are_bounded_and_the_last_error_is_raised(make_hook, sandbox, brand, clock) -> None:
    hook = make_hook(max_retries=2)
    sandbox.schedule_fault(method="GET", path=DISCOVERY, kind="transient", count=10)
    with pytest.raises(GraphTransientError) as caught:
        walk(hook, brand)
    assert caught.value.retryable is True
    assert caught.value.code == 2
    assert len(clock.sleeps) == 2
    assert len(graph_calls(sandbox)) == 3


def test_throttle_waits_the_regain_time_the_server_tells(make_hook, sandbox, brand, clock, capfd) -> None:
    hook = make_hook()
    sandbox.schedule_fault(method="GET", path=DISCOVERY, kind="throttle", regain_minutes=2, count=1)
    assert walk(hook, brand)
    assert clock.sleeps == [120.0]
    (line,) = [line for line in hook_log(capfd) if "Retry " in line]
    assert "code 80002" in line
    assert "waiting 120.0s" in line


@pytest.mark.parametrize("code", [4, 17, 613, 80004])
def test_throttle_codes_are_retried(make_hook, sandbox, brand, clock, code: int) -> None:
    hook = make_hook()
    sandbox.schedule_fault(
        method="GET", path=DISCOVERY, kind="throttle", code=code, regain_minutes=0, count=1
    )
    assert walk(hook, brand)
    assert len(clock.sleeps) == 1
    assert clock.sleeps[0] >= 5.0  # the minimum pause when no regain time is told


def test_throttle_longer_than_the_maximum_raises_at_once_for_a_task_retry(
    make_hook, sandbox, brand, clock
) -> None:
    hook = make_hook(max_throttle_wait_seconds=300)
    sandbox.schedule_fault(method="GET", path=DISCOVERY, kind="throttle", regain_minutes=60, count=1)
    with pytest.raises(GraphThrottleError) as caught:
        walk(hook, brand)
    assert caught.value.retryable is True
    assert caught.value.wait_seconds == 3600.0
    assert clock.sleeps == []
    # Once limited, the hook stops calling: the next call is refused without reaching the server.
    calls = len(graph_calls(sandbox))
    with pytest.raises(GraphThrottleError):
        walk(hook, brand)
    assert len(graph_calls(sandbox)) == calls


def test_real_budget_exhaustion_is_throttled_with_the_servers_regain_time(
    make_hook, sandbox, brand, clock
) -> None:
    sandbox.configure(rate_limit_calls=3, rate_limit_window_s=3600)
    hook = make_hook(max_throttle_wait_seconds=60, usage_slowdown_percent=100)
    with pytest.raises(GraphThrottleError) as caught:
        walk(hook, brand, page_size=5)
    assert caught.value.code == 80002
    assert caught.value.wait_seconds is not None and caught.value.wait_seconds > 60


def test_usage_above_the_threshold_slows_calls_down_before_throttling(
    make_hook, sandbox, brand, clock, capfd
) -> None:
    sandbox.configure(rate_limit_calls=10)
    hook = make_hook(usage_slowdown_percent=50, backoff_base_seconds=1.0)
    pages = list(hook.iter_advertisable_pages(brand["business_id"], **account(brand), page_size=25))
    # Calls 1..4 report 10..40%: no pause. Calls 5..(n-1) report 50%+ and pause before the next call.
    assert len(pages) >= 6
    assert len(clock.sleeps) == len(pages) - 5
    assert clock.sleeps == sorted(clock.sleeps)
    assert clock.sleeps[0] == pytest.approx(1.0)
    assert any("above usage_slowdown_percent=50" in line for line in hook_log(capfd))


# ---------------------------------------------------------------------------------------- ad codes


def test_create_and_delete_a_partnership_ad_code(make_hook, sandbox, brand) -> None:
    media_id, creator = creator_media(make_hook(), sandbox, brand)
    owner = make_hook(creator["access_token"])
    code = owner.create_partnership_ad_code(media_id)
    assert [(r["ad_code"], r["valid"]) for r in sandbox.ad_codes() if r["media_id"] == media_id] == [
        (code, True)
    ]
    assert owner.delete_partnership_ad_code(media_id) is True
    assert [r["valid"] for r in sandbox.ad_codes() if r["media_id"] == media_id] == [False]


def test_brand_token_cannot_create_a_code_for_a_creators_media(make_hook, sandbox, brand, clock) -> None:
    media_id, _ = creator_media(make_hook(), sandbox, brand)
    with pytest.raises(GraphPermissionError):
        make_hook().create_partnership_ad_code(media_id)
    assert clock.sleeps == []


def test_facebook_post_ids_are_refused_before_any_request(make_hook, sandbox) -> None:
    with pytest.raises(ValueError, match=r"^ig_media_id: "):
        make_hook().create_partnership_ad_code("123_456")
    assert sandbox.requests_log() == []


@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "drop"},
        {"kind": "http_500"},
        {"kind": "transient"},
        {"kind": "truncated"},
        {"kind": "html", "status": 200},
        {"kind": "timeout", "delay_ms": 3000},
    ],
)
def test_post_with_unknown_outcome_adopts_the_code_found_by_lookup(
    make_hook, sandbox, brand, fault: dict[str, Any]
) -> None:
    sandbox.configure(ad_code_repeat="rotate")  # a blind second POST would invalidate the first code
    brand_hook = make_hook()
    media_id, creator = creator_media(brand_hook, sandbox, brand)
    owner = make_hook(creator["access_token"], timeout=0.5)
    scope = DiscoveryScope(brand_hook, brand["business_id"], brand["fb_page_id"], brand["ig_user_id"])
    sandbox.schedule_fault(method="POST", path="partnership_ad_code", after=True, count=1, **fault)
    code = owner.create_partnership_ad_code(media_id, discovery=scope)
    # With ad_code_repeat=rotate a second POST would have issued a second code and invalidated the first.
    records = [r for r in sandbox.ad_codes() if r["media_id"] == media_id]
    assert [(r["ad_code"], r["valid"]) for r in records] == [(code, True)]
    if fault["kind"] == "timeout":
        settle_timeouts(sandbox, 1)
    assert len(graph_calls(sandbox, "POST", "partnership_ad_code")) == 1


def test_post_with_unknown_outcome_and_no_code_found_is_posted_again(
    make_hook, sandbox, brand, clock
) -> None:
    brand_hook = make_hook()
    media_id, creator = creator_media(brand_hook, sandbox, brand)
    owner = make_hook(creator["access_token"])
    scope = DiscoveryScope(brand_hook, brand["business_id"], brand["fb_page_id"], brand["ig_user_id"])
    # Dropped before the handler ran: nothing was created, the lookup shows it, one more POST is safe.
    sandbox.schedule_fault(method="POST", path="partnership_ad_code", kind="drop", after=False, count=1)
    code = owner.create_partnership_ad_code(media_id, discovery=scope)
    assert [r["ad_code"] for r in sandbox.ad_codes() if r["media_id"] == media_id] == [code]
    posts = graph_calls(sandbox, "POST", "partnership_ad_code")
    assert [post["status"] for post in posts] == [0, 200]  # the dropped one, then the one that created it
    assert len(clock.sleeps) == 1


def test_post_with_unknown_outcome_without_discovery_raises_and_never_reposts(
    make_hook, sandbox, brand
) -> None:
    media_id, creator = creator_media(make_hook(), sandbox, brand)
    owner = make_hook(creator["access_token"])
    sandbox.schedule_fault(method="POST", path="partnership_ad_code", kind="http_500", after=True, count=1)
    with pytest.raises(AdCodeOutcomeUnknownError) as caught:
        owner.create_partnership_ad_code(media_id)
    assert caught.value.retryable is True
    posts = [e for e in sandbox.requests_log() if e["method"] == "POST"]
    assert len(posts) == 1


def test_throttled_post_is_retried_since_nothing_was_created(make_hook, sandbox, brand, clock) -> None:
    media_id, creator = creator_media(make_hook(), sandbox, brand)
    owner = make_hook(creator["access_token"])
    sandbox.schedule_fault(
        method="POST", path="partnership_ad_code", kind="throttle", regain_minutes=1, count=1
    )
    code = owner.create_partnership_ad_code(media_id)
    assert [r["ad_code"] for r in sandbox.ad_codes() if r["media_id"] == media_id] == [code]
    assert clock.sleeps == [60.0]


def test_delete_that_may_have_succeeded_is_retried_as_it_is_idempotent(
    make_hook, sandbox, brand, clock
) -> None:
    media_id, creator = creator_media(make_hook(), sandbox, brand)
    owner = make_hook(creator["access_token"])
    owner.create_partnership_ad_code(media_id)
    sandbox.schedule_fault(method="DELETE", path="partnership_ad_code", kind="http_500", after=True, count=1)
    assert owner.delete_partnership_ad_code(media_id) is True
    assert [r["valid"] for r in sandbox.ad_codes() if r["media_id"] == media_id] == [False]
    assert len(clock.sleeps) == 1


def test_find_ad_code_returns_the_existing_code_or_none(make_hook, sandbox, brand) -> None:
    brand_hook = make_hook()
    scope = DiscoveryScope(brand_hook, brand["business_id"], brand["fb_page_id"], brand["ig_user_id"])
    media_id, creator = creator_media(brand_hook, sandbox, brand)
    assert scope.find_ad_code(media_id) is None
    code = make_hook(creator["access_token"]).create_partnership_ad_code(media_id)
    assert scope.find_ad_code(media_id) == code


# ---------------------------------------------------------------------------------------- secure requests


def test_appsecret_proof_is_sent_on_every_page(make_hook, sandbox, brand) -> None:
    sandbox.configure(app_secrets={brand["app_id"]: APP_SECRET})
    hook = make_hook(app_secret=APP_SECRET)
    items = walk(hook, brand, page_size=10)
    calls = graph_calls(sandbox)
    assert len(calls) == -(-len(items) // 10) > 2
    assert all(c["status"] == 200 for c in calls)
    assert all("appsecret_proof" in c["params"] and c["params"]["appsecret_time"].isdigit() for c in calls)


def test_plain_appsecret_proof_when_time_stamped_form_is_off(make_hook, sandbox, brand) -> None:
    sandbox.configure(app_secrets={brand["app_id"]: APP_SECRET})
    hook = make_hook(app_secret=APP_SECRET, app_secret_time_proof=False)
    assert walk(hook, brand, page_size=50)
    assert all("appsecret_time" not in c["params"] for c in graph_calls(sandbox))


def test_app_requiring_a_proof_rejects_a_connection_without_app_secret(make_hook, sandbox, brand) -> None:
    sandbox.configure(app_secrets={brand["app_id"]: APP_SECRET})
    with pytest.raises(GraphAPIError) as caught:
        walk(make_hook(), brand)
    assert caught.value.retryable is False


@pytest.mark.parametrize("transport", ["header", "query", "form"])
def test_every_token_transport_works(make_hook, sandbox, brand, transport: str) -> None:
    brand_hook = make_hook(token_transport=transport)
    media_id, creator = creator_media(brand_hook, sandbox, brand)
    owner = make_hook(creator["access_token"], token_transport=transport)
    assert owner.create_partnership_ad_code(media_id)
    assert owner.delete_partnership_ad_code(media_id) is True


def test_plain_http_to_a_remote_host_is_refused_before_any_request(make_hook, brand) -> None:
    hook = make_hook(host="http://graph.example.test")
    with pytest.raises(ValueError, match="plain http:// is refused"):
        walk(hook, brand)


def test_connection_extras_never_become_http_headers(make_hook, monkeypatch, sandbox) -> None:
    hook = make_hook(app_secret=APP_SECRET, X_Secret_Header="leak", verify=True)
    session = hook.get_conn()
    header_names = {name.lower() for name in session.headers}
    assert not header_names & {"app_secret", "api_version", "max_retries", "timeout", "x_secret_header"}
    assert APP_SECRET not in json.dumps(dict(session.headers))
    assert session.auth is None


def test_login_never_turns_the_token_into_basic_auth(monkeypatch, sandbox, brand) -> None:
    connection = {
        "conn_type": "meta_graph",
        "host": sandbox.url,
        "login": "me",
        "password": brand["access_token"],
    }
    monkeypatch.setenv("AIRFLOW_CONN_META_GRAPH_LOGIN", json.dumps(connection))
    hook = PartnershipAdsHook(meta_conn_id="meta_graph_login")
    assert hook.get_conn().auth is None
    assert walk(hook, brand, page_size=50)


def test_token_and_app_secret_never_reach_logs_or_exception_texts(
    make_hook, sandbox, brand, caplog, capfd
) -> None:
    sandbox.configure(app_secrets={brand["app_id"]: APP_SECRET})
    brand_hook = make_hook(app_secret=APP_SECRET, token_transport="query", max_retries=1)
    media_id, creator = creator_media(brand_hook, sandbox, brand)
    owner = make_hook(creator["access_token"], app_secret=APP_SECRET, token_transport="query", timeout=0.5)
    secrets = [brand["access_token"], creator["access_token"], APP_SECRET]
    texts: list[str] = []
    results: list[Any] = []
    with caplog.at_level(logging.DEBUG):
        sandbox.schedule_fault(method="GET", path=DISCOVERY, kind="html", count=1)
        results.append(walk(brand_hook, brand, page_size=50, fields=RICH_FIELDS))
        for fault in ({"kind": "drop"}, {"kind": "timeout", "delay_ms": 2000}, {"kind": "http_500"}):
            sandbox.schedule_fault(method="POST", path="partnership_ad_code", after=True, count=1, **fault)
            with pytest.raises(AdCodeOutcomeUnknownError) as caught:
                owner.create_partnership_ad_code(media_id)
            texts += [str(caught.value), repr(caught.value), caught.value.message]
        sandbox.schedule_fault(method="GET", path=DISCOVERY, kind="transient", count=2)
        with pytest.raises(GraphTransientError) as transient:
            walk(brand_hook, brand)
        texts.append(str(transient.value))
        with pytest.raises(GraphInvalidParameterError) as invalid:
            walk(brand_hook, brand, fields="content_id,nonexisting_field")
        texts.append(str(invalid.value))
        results.append(owner.delete_partnership_ad_code(media_id))
        results.append(brand_hook.settings)
        settle_timeouts(sandbox, 1)
    output = capfd.readouterr()
    captured = output.out + output.err + caplog.text
    captured += "\n".join(texts) + json.dumps(results[:2]) + repr(results[2])
    assert "urllib3" in caplog.text  # the debug lines with URLs were captured, and redacted
    assert "Retry 1/1 of GET" in output.out  # the hook's own lines were captured too
    for secret in secrets:
        assert secret not in captured


def test_token_and_app_secret_are_registered_with_the_secret_masker(make_hook, brand) -> None:
    from airflow.sdk._shared.secrets_masker.secrets_masker import redact

    token = brand["access_token"]
    line = f"token {token} secret {APP_SECRET}"
    hook = make_hook(app_secret=APP_SECRET)
    assert hook.settings.access_token == token
    redacted = redact(line)
    assert token not in redacted
    assert APP_SECRET not in redacted


# ---------------------------------------------------------------------------------------- concurrency


def test_one_session_is_shared_safely_by_concurrent_threads(make_hook, sandbox, brand) -> None:
    hook = make_hook()
    ids = [item["content_id"] for item in walk(hook, brand)][:40]
    sessions: set[int] = set()
    results: dict[str, list[dict[str, Any]]] = {}
    errors: list[BaseException] = []

    def look_up(content_id: str) -> None:
        try:
            sessions.add(id(hook.get_conn()))
            results[content_id] = hook.lookup_advertisable_content(
                brand["business_id"], **account(brand), content_ids=[content_id]
            )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=look_up, args=(content_id,)) for content_id in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert len(sessions) == 1
    assert all(results[content_id][0]["content_id"] == content_id for content_id in ids)


def test_partitioned_walk_yields_the_sequential_date_order_without_duplicates(
    make_hook, sandbox, brand
) -> None:
    hook = make_hook()
    window = {"start_date": TODAY - dt.timedelta(days=400), "end_date": TODAY}
    sequential = walk(hook, brand, fields="content_id,creation_time", sort_by="DATE", page_size=20, **window)
    partitioned = list(
        hook.iter_advertisable_content(
            brand["business_id"],
            **account(brand),
            fields="content_id,creation_time",
            page_size=20,
            partitions=4,
            **window,
        )
    )
    assert [i["content_id"] for i in partitioned] == [i["content_id"] for i in sequential]
    windows = {(c["params"]["start_date"], c["params"]["end_date"]) for c in graph_calls(sandbox)}
    assert len(windows) == 5  # the sequential window and four partitions


def test_partitioned_walk_needs_a_date_window_and_date_order(make_hook, brand) -> None:
    hook = make_hook()
    with pytest.raises(ValueError, match=r"^partitions: .*start_date and end_date"):
        hook.iter_advertisable_content(brand["business_id"], **account(brand), partitions=4)
    with pytest.raises(ValueError, match=r"^sort_by: partitioned discovery needs sort_by=DATE"):
        hook.iter_advertisable_content(
            brand["business_id"],
            **account(brand),
            partitions=4,
            sort_by="RECOMMENDED",
            start_date="2025-01-01",
            end_date="2025-02-01",
        )
