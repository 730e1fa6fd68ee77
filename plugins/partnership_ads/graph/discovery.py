"""The discovery edge, ``GET /{business_id}/partnership-ads-advertisable-content``: walks and lookups.

:class:`Discovery` is exposed by the hook as ``hook.discovery``; the hook's ``iter_advertisable_pages``,
``iter_advertisable_content`` and ``lookup_advertisable_content`` delegate to it. Every request goes through
the hook's one request path (credentials, retries, throttling) and every line is logged through the hook's
logger, so a task log reads as before. :class:`DiscoveryScope` is a brand's discovery access, used to settle
a POST of an ad code whose outcome is unknown.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from partnership_ads.graph.errors import GraphBadResponseError
from partnership_ads.graph.params import (
    MAX_PAGE_SIZE,
    DiscoveryQuery,
    build_discovery_query,
    build_lookup_requests,
    validate_business_id,
)
from partnership_ads.graph.partition import ArrivalMerge, OrderedMerge, split_window

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from partnership_ads.hooks import PartnershipAdsHook

DISCOVERY_EDGE = "partnership-ads-advertisable-content"
#: Pages each window of a partitioned walk may buffer ahead of the consumer.
PARTITION_QUEUE_PAGES = 4

# Types of the item fields the pipeline reads (None is always allowed: Graph writes null for unknown values).
_ITEM_FIELD_TYPES: dict[str, type | tuple[type, ...]] = {
    "platform": str,
    "media_type": str,
    "post_type": str,
    "caption": str,
    "permalink": str,
    "creation_time": str,
    "ad_usage": str,
    "is_recommended": bool,
    "author": dict,
    "organic_insights": dict,
    "partnership_info": list,
}
_ENTRY_FIELD_TYPES: dict[str, type | tuple[type, ...]] = {
    "ad_eligibility": str,
    "ad_code": str,
    "permission_status": str,
    "permission_type": str,
    "tagged_partner": dict,
    "content_types": list,
}


@dataclass(frozen=True)
class DiscoveryScope:
    """A brand's discovery access: where to look a media up when a POST's outcome is unknown.

    Ad codes are created with the media owner's token, but only the brand's token may call discovery, so the
    issuing task passes the brand's hook here.
    """

    hook: PartnershipAdsHook
    business_id: str
    fb_page_id: str | None = None
    ig_user_id: str | None = None

    def find_ad_code(self, ig_media_id: str) -> str | None:
        """Return the media's existing ad code, or ``None`` when it has none (or discovery does not show it).

        One ``content_ids`` lookup with ``fields=content_id,partnership_info{ad_code}``; the code of a media
        appears in its ``partnership_info`` entries.
        """
        items = self.hook.lookup_advertisable_content(
            self.business_id,
            fb_page_id=self.fb_page_id,
            ig_user_id=self.ig_user_id,
            content_ids=[ig_media_id],
            fields="content_id,partnership_info{ad_code}",
        )
        for item in items:
            if str(item.get("content_id")) != str(ig_media_id):
                continue
            for entry in item.get("partnership_info") or []:
                if isinstance(entry, dict) and isinstance(entry.get("ad_code"), str) and entry["ad_code"]:
                    return entry["ad_code"]
        return None


def expect_page(body: dict[str, Any]) -> str | None:
    """What a discovery answer lacks (``None`` when it is a page of well-typed items)."""
    data = body.get("data")
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        return "a JSON object with a 'data' list of objects"
    paging = body.get("paging")
    if paging is not None and not isinstance(paging, dict):
        return "'paging' as an object"
    for index, item in enumerate(data):
        problem = _item_problem(index, item)
        if problem is not None:
            return problem
    return None


def _describe_type(value: Any) -> str:
    return type(value).__name__


def _item_problem(index: int, item: dict[str, Any]) -> str | None:
    """What is wrong with one discovery item, or None (found by the drill bad_input: mistyped fields)."""
    content_id = item.get("content_id")
    if not isinstance(content_id, str) or not content_id:
        return f"item {index} with a non-empty string 'content_id' (got {_describe_type(content_id)})"
    for name, expected in _ITEM_FIELD_TYPES.items():
        value = item.get(name)
        if value is not None and not isinstance(value, expected):
            wanted = getattr(expected, "__name__", expected)
            return f"item {content_id} with '{name}' as {wanted} (got {_describe_type(value)})"
    for entry in item.get("partnership_info") or []:
        if not isinstance(entry, dict):
            got = _describe_type(entry)
            return f"item {content_id} with 'partnership_info' entries as objects (got {got})"
        for name, expected in _ENTRY_FIELD_TYPES.items():
            value = entry.get(name)
            if value is not None and not isinstance(value, expected):
                return (
                    f"item {content_id} with partnership_info '{name}' as "
                    f"{getattr(expected, '__name__', expected)} (got {_describe_type(value)})"
                )
    return None


class Discovery:
    """The discovery edge of one hook: the sequential walk, the partitioned walk and direct lookups."""

    def __init__(self, hook: PartnershipAdsHook) -> None:
        self._hook = hook

    def iter_pages(
        self,
        business_id: str,
        *,
        fb_page_id: str | None = None,
        ig_user_id: str | None = None,
        fields: Any = None,
        page_size: int = MAX_PAGE_SIZE,
        partitions: int = 1,
        ordered: bool = True,
        **filters: Any,
    ) -> Iterator[list[dict[str, Any]]]:
        """Walk the edge page by page, lazily.

        Follows ``paging.cursors.after`` until a page comes without ``paging``. Empty pages are not yielded.
        Every argument is validated when this method is called, before any request.

        :param fields: Graph string (``"content_id,author{display_name}"``) or nested structure
            (``["content_id", {"author": ["display_name"]}]``); ``None`` lets Graph return ``content_id``
            alone.
        :param page_size: ``limit``, 1..50 (Graph counts calls, not rows: keep it at 50).
        :param partitions: opt-in parallel walk: with ``start_date`` and ``end_date``, split the window into
            this many day-aligned sub-windows fetched in parallel threads (``sort_by`` must be ``DATE``, and
            is set to it when absent). Pages come newest window first, so items arrive in the order of the
            sequential ``sort_by=DATE`` walk, each once; at most ``partitions * 4`` pages are buffered.
        :param ordered: with ``partitions > 1``: ``True`` (default) keeps the sequential walk's order, which
            leaves little parallelism (the later windows wait behind the newest one once their small buffer
            is full); ``False`` yields pages as the windows deliver them: the same items, each once, every
            window walked at full speed, still at most ``partitions * 4`` pages buffered.
        :param filters: the API's filter names: ``ad_eligibilities``, ``platform_types``, ``media_types``,
            ``post_types``, ``content_types``, ``ad_usages``, ``country_codes``, ``ad_partner_ig_user_ids``,
            ``ad_partner_page_ids``, ``start_date``/``end_date`` (``date`` or ``"YYYY-MM-DD"``),
            ``search_key``, ``sort_by``, ``is_recommended``.
        :raises ValueError: on invalid arguments (before any request).
        :raises GraphAPIError: when a page cannot be fetched (after retries where they apply).
        """
        business = validate_business_id(business_id)
        if isinstance(partitions, bool) or not isinstance(partitions, int) or partitions < 1:
            raise ValueError(f"partitions: must be an integer >= 1, got {partitions!r}")
        if partitions > 1:
            sort_by = filters.get("sort_by")
            if sort_by is not None and str(sort_by).upper() != "DATE":
                raise ValueError(
                    "sort_by: partitioned discovery needs sort_by=DATE to keep the sequential order, "
                    f"got {sort_by!r}"
                )
            filters = {**filters, "sort_by": "DATE"}
        query = build_discovery_query(
            fb_page_id=fb_page_id, ig_user_id=ig_user_id, fields=fields, page_size=page_size, filters=filters
        )
        if partitions == 1:
            return self._walk(business, query.params, label="")
        return self._walk_partitioned(business, query, partitions, ordered=ordered)

    def lookup(
        self,
        business_id: str,
        *,
        fb_page_id: str | None = None,
        ig_user_id: str | None = None,
        content_ids: list[str] | None = None,
        permalinks: list[str] | None = None,
        ad_codes: list[str] | None = None,
        fields: Any = None,
    ) -> list[dict[str, Any]]:
        """Look items up directly by ``content_ids``, ``permalinks`` or ``ad_codes`` (exactly one of them).

        More than 50 values are split into requests of at most 50; repeated values are sent once. Items that
        Graph does not return (unknown, or not visible to this brand) are simply absent from the result.

        :raises ValueError: on invalid arguments (before any request).
        :raises GraphAPIError: when a request fails (after retries where they apply).
        """
        business = validate_business_id(business_id)
        requests_params = list(
            build_lookup_requests(
                fb_page_id=fb_page_id,
                ig_user_id=ig_user_id,
                content_ids=content_ids,
                permalinks=permalinks,
                ad_codes=ad_codes,
                fields=fields,
            )
        )
        path = f"{business}/{DISCOVERY_EDGE}"
        items: list[dict[str, Any]] = []
        for params in requests_params:
            answer = self._hook.request("GET", path, params=params, expect=expect_page)
            items.extend(answer.body["data"])
        kind = next(name for name in ("content_ids", "permalinks", "ad_codes") if name in requests_params[0])
        self._hook.log.info(
            "Looked up %s of business %s in %d request(s): %d items found",
            kind,
            business,
            len(requests_params),
            len(items),
        )
        return items

    def _walk(self, business: str, params: dict[str, str], label: str) -> Iterator[list[dict[str, Any]]]:
        log = self._hook.log
        path = f"{business}/{DISCOVERY_EDGE}"
        page_number = 0
        total = 0
        after: str | None = None
        seen_cursors: set[str] = set()
        while True:
            request_params = dict(params)
            if after is not None:
                request_params["after"] = after
            answer = self._hook.request("GET", path, params=request_params, expect=expect_page)
            data: list[dict[str, Any]] = answer.body["data"]
            page_number += 1
            total += len(data)
            log.info(
                "Fetched page %d%s of business %s: %d items (%d so far), usage %s",
                page_number,
                label,
                business,
                len(data),
                total,
                answer.usage.describe(),
            )
            if data:
                yield data
            paging = answer.body.get("paging")
            if not paging:
                return
            cursors = paging.get("cursors")
            next_after = cursors.get("after") if isinstance(cursors, dict) else None
            if not isinstance(next_after, str) or not next_after:
                log.warning(
                    "Page %d%s of business %s has paging but no cursors.after; treating it as the last page",
                    page_number,
                    label,
                    business,
                )
                return
            if next_after == after:
                problem = "returned the cursor it was asked for; stopping to avoid an endless loop"
            # Found by the drill bad_input: a cursor cycle (A, B, A) or empty pages that keep carrying a
            # cursor would loop until Graph rejects a cursor, with an error that hides the cause.
            elif next_after in seen_cursors:
                problem = (
                    "returned a cursor already followed on an earlier page (a cursor cycle); "
                    "stopping to avoid an endless loop"
                )
            elif not data:
                problem = (
                    "is empty but still carries paging.cursors.after; "
                    "stopping instead of following empty pages"
                )
            else:
                seen_cursors.add(next_after)
                after = next_after
                continue
            raise GraphBadResponseError(
                f"page {page_number} {problem}",
                http_status=answer.http_status,
                retryable=False,
                method="GET",
                path=path,
            )

    def _walk_partitioned(
        self, business: str, query: DiscoveryQuery, partitions: int, *, ordered: bool = True
    ) -> Iterator[list[dict[str, Any]]]:
        if query.start_date is None or query.end_date is None:
            raise ValueError("partitions: partitioned discovery needs start_date and end_date")
        windows = split_window(query.start_date, query.end_date, partitions)
        self._hook.log.info(
            "Partitioned discovery of business %s: %s..%s in %d windows",
            business,
            query.start_date.isoformat(),
            query.end_date.isoformat(),
            len(windows),
        )
        producers: list[Callable[[], Iterator[list[dict[str, Any]]]]] = []
        for index, (start, end) in enumerate(windows, start=1):
            params = {**query.params, "start_date": start.isoformat(), "end_date": end.isoformat()}
            label = f" (partition {index}/{len(windows)} {start.isoformat()}..{end.isoformat()})"
            producers.append(lambda params=params, label=label: self._walk(business, params, label))
        merge = OrderedMerge if ordered else ArrivalMerge
        return iter(merge(producers, queue_pages=PARTITION_QUEUE_PAGES))
