"""Helpers for the sandbox's own tests: real HTTP against the session's sandbox server."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
import requests

from include.graph_sandbox.world import build_world

if TYPE_CHECKING:
    from include.graph_sandbox.testing import SandboxServer
    from include.graph_sandbox.world import Item, World

DISCOVERY = "partnership-ads-advertisable-content"


class Graph:
    """Plain `requests` calls to the sandbox's Graph endpoints (no project code in between)."""

    def __init__(self, sandbox: SandboxServer) -> None:
        self.sandbox = sandbox
        self.brand = sandbox.brand_token()
        self.session = requests.Session()

    def discover(
        self, token: str | None = None, business_id: str | None = None, **params: Any
    ) -> requests.Response:
        """GET the discovery edge; defaults to the default brand, its token and its IG account."""
        query: dict[str, Any] = {"access_token": token or self.brand["access_token"]}
        if "fb_page_id" not in params and "ig_user_id" not in params and not params.pop("no_account", False):
            query["ig_user_id"] = self.brand["ig_user_id"]
        query.update({k: v for k, v in params.items() if v is not None})
        if query["access_token"] is None:
            del query["access_token"]
        business = business_id or self.brand["business_id"]
        return self.session.get(f"{self.sandbox.graph_url}/{business}/{DISCOVERY}", params=query, timeout=30)

    def walk(self, token: str | None = None, **params: Any) -> list[dict[str, Any]]:
        """Every item of a discovery query, following paging.cursors.after until paging is absent."""
        items: list[dict[str, Any]] = []
        after = None
        for _ in range(1000):
            response = self.discover(token, after=after, **params)
            assert response.status_code == 200, response.text
            body = response.json()
            items.extend(body["data"])
            if "paging" not in body:
                return items
            after = body["paging"]["cursors"]["after"]
        raise AssertionError("paging never ended")

    def ad_code(self, method: str, media_id: str, token: str, **kwargs: Any) -> requests.Response:
        return self.session.request(
            method,
            f"{self.sandbox.graph_url}/{media_id}/partnership_ad_code",
            params={"access_token": token},
            timeout=30,
            **kwargs,
        )

    @staticmethod
    def error(response: requests.Response, status: int | None = None) -> dict[str, Any]:
        """The `error` object of a Graph error response, asserting Meta's envelope (and the status)."""
        if status is not None:
            assert response.status_code == status, (response.status_code, response.text)
        body = response.json()
        assert set(body) == {"error"}, body
        assert {"message", "type", "code", "fbtrace_id", "is_transient"} <= set(body["error"]), body
        return body["error"]


@pytest.fixture
def graph(sandbox: SandboxServer) -> Graph:
    return Graph(sandbox)


@pytest.fixture(scope="session")
def world() -> World:
    """The world the session's sandbox serves (seed 7, 500 items), to pick ids and compute expectations."""
    return build_world(seed=7, items=500)


def media_of(world: World, ig_user_id: str, *, with_code: bool | None = False) -> Item:
    """An Instagram media authored by `ig_user_id` (with or without a seeded ad code; None: either)."""
    for item in world.items:
        if item.platform != "INSTAGRAM" or item.author.ig_user_id != ig_user_id:
            continue
        if with_code is None or bool(item.seeded_ad_code) == with_code:
            return item
    raise LookupError(f"no Instagram media by {ig_user_id} (with_code={with_code})")


@pytest.fixture
def own_media(world: World) -> Any:
    return lambda ig_user_id, with_code=False: media_of(world, ig_user_id, with_code=with_code)
