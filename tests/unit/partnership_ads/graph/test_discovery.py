"""The discovery edge's walk and its answer checks, against the graph sandbox (real HTTP).

Each bad answer is served by the sandbox's ``body`` fault; the walk must stop with an error naming the
problem, never loop. The sequential and partitioned walks and the lookups themselves are exercised in
``tests/integration/hook/test_hook_sandbox.py``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from partnership_ads.graph.discovery import DISCOVERY_EDGE, DiscoveryScope, expect_page
from partnership_ads.graph.errors import GraphBadResponseError

if TYPE_CHECKING:
    from collections.abc import Callable

    from include.graph_sandbox.testing import SandboxServer
    from partnership_ads.hooks import PartnershipAdsHook

ITEM = {"content_id": "17900000000000001", "platform": "INSTAGRAM"}


@pytest.fixture
def brand(sandbox: SandboxServer) -> dict[str, Any]:
    return sandbox.brand_token()


@pytest.fixture
def brand_hook(
    make_hook: Callable[..., PartnershipAdsHook], sandbox: SandboxServer, brand
) -> PartnershipAdsHook:
    return make_hook(sandbox.url, brand["access_token"])


def walk(hook: PartnershipAdsHook, brand: dict[str, Any]) -> list[dict[str, Any]]:
    return list(hook.discovery.iter_pages(brand["business_id"], ig_user_id=brand["ig_user_id"]))


def serve(sandbox: SandboxServer, *bodies: dict[str, Any]) -> None:
    for body in bodies:
        sandbox.schedule_fault(method="GET", path=DISCOVERY_EDGE, kind="body", body=body, count=1)


@pytest.mark.parametrize(
    ("bodies", "problem"),
    [
        (
            [{"data": [ITEM], "paging": {"cursors": {"after": "R1"}}}] * 2,
            "page 2 returned the cursor it was asked for; stopping to avoid an endless loop",
        ),
        (
            [{"data": [ITEM], "paging": {"cursors": {"after": cursor}}} for cursor in ("A", "B", "A")],
            "page 3 returned a cursor already followed on an earlier page (a cursor cycle); "
            "stopping to avoid an endless loop",
        ),
        (
            [{"data": [], "paging": {"cursors": {"after": "E1"}}}],
            "page 1 is empty but still carries paging.cursors.after; "
            "stopping instead of following empty pages",
        ),
    ],
    ids=["cursor that repeats", "cursor cycle", "empty page with a cursor"],
)
def test_a_walk_that_would_loop_stops_with_an_error_naming_why(
    brand_hook, sandbox: SandboxServer, brand, bodies: list[dict[str, Any]], problem: str
) -> None:
    serve(sandbox, *bodies)
    with pytest.raises(GraphBadResponseError) as caught:
        walk(brand_hook, brand)
    assert caught.value.message == problem
    assert caught.value.retryable is False
    assert caught.value.path == f"{brand['business_id']}/{DISCOVERY_EDGE}"


def test_paging_without_an_after_cursor_ends_the_walk_with_a_warning(
    brand_hook, sandbox: SandboxServer, brand, capfd: pytest.CaptureFixture[str]
) -> None:
    serve(sandbox, {"data": [ITEM], "paging": {"cursors": {}}})
    assert walk(brand_hook, brand) == [[ITEM]]
    assert "has paging but no cursors.after; treating it as the last page" in capfd.readouterr().out


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"data": {}}, "a JSON object with a 'data' list of objects"),
        ({"data": [ITEM], "paging": []}, "'paging' as an object"),
        ({"data": [{"platform": "X"}]}, "item 0 with a non-empty string 'content_id' (got NoneType)"),
        ({"data": [{**ITEM, "platform": 7}]}, "item 17900000000000001 with 'platform' as str (got int)"),
        (
            {"data": [{**ITEM, "partnership_info": ["AD_READY"]}]},
            "item 17900000000000001 with 'partnership_info' entries as objects (got str)",
        ),
        (
            {"data": [{**ITEM, "partnership_info": [{"ad_code": 5}]}]},
            "item 17900000000000001 with partnership_info 'ad_code' as str (got int)",
        ),
    ],
)
def test_a_mistyped_page_names_what_was_expected(body: dict[str, Any], expected: str) -> None:
    assert expect_page(body) == expected


def test_a_well_typed_page_with_nulls_passes() -> None:
    assert expect_page({"data": [{**ITEM, "caption": None, "partnership_info": [{"ad_code": None}]}]}) is None


def test_find_ad_code_reads_the_code_of_that_media_only(brand_hook, sandbox: SandboxServer, brand) -> None:
    scope = DiscoveryScope(brand_hook, brand["business_id"], ig_user_id=brand["ig_user_id"])
    other = {"content_id": "17900000000000002", "partnership_info": [{"ad_code": "AQother"}]}
    mine = {"content_id": ITEM["content_id"], "partnership_info": [{"ad_code": ""}, {"ad_code": "AQmine"}]}
    serve(sandbox, {"data": [other, mine]})
    assert scope.find_ad_code(ITEM["content_id"]) == "AQmine"
    serve(sandbox, {"data": [other]})
    assert scope.find_ad_code(ITEM["content_id"]) is None
