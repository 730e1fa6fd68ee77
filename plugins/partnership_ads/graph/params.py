"""Validation and rendering of the parameters of ``GET /{business-id}/partnership-ads-advertisable-content``.

Everything is checked before a request is sent, and every failure is a ``ValueError`` whose message starts
with the parameter's name and states the rule, so it reads well in a task log and in a trigger form's error.

Rendering choices (all accepted by Graph):

- vector parameters (``ad_eligibilities``, ``content_ids``, ...) are sent as a JSON array, ``["AD_READY"]``;
- dates as ``YYYY-MM-DD``; booleans as ``true`` / ``false``;
- ``fields`` in Graph syntax (see :mod:`partnership_ads.graph.fields`).

Conventions for callers: ``None`` and an empty list both mean "not given" (no filter); enum values are
accepted in any case and sent upper-case; a vector may also be given as one comma-separated string.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from partnership_ads.graph.fields import render_fields

MAX_PAGE_SIZE = 50
"""Largest ``limit`` Graph accepts, and the most values one direct lookup may carry."""
MAX_LOOKUP_VALUES = 50

ENUM_FILTERS: dict[str, frozenset[str]] = {
    "platform_types": frozenset({"INSTAGRAM", "FACEBOOK"}),
    "media_types": frozenset({"IMAGE", "VIDEO", "CAROUSEL", "LINK"}),
    "post_types": frozenset({"FEED", "STORY", "REEL"}),
    "content_types": frozenset(
        {"BRANDED_CONTENT", "PRODUCT", "AFFILIATE", "COLLAB_POST", "TAGGED", "REPOSTED"}
    ),
    "ad_eligibilities": frozenset({"AD_READY", "INELIGIBLE", "NEEDS_ATTENTION", "EXCLUDED"}),
    "ad_usages": frozenset({"NEVER_USED", "ACTIVE", "PREVIOUSLY_USED"}),
}
ID_FILTERS = ("ad_partner_ig_user_ids", "ad_partner_page_ids")
SORT_BY_VALUES = frozenset({"RECOMMENDED", "DATE"})

FILTER_NAMES: frozenset[str] = frozenset(
    {
        *ENUM_FILTERS,
        *ID_FILTERS,
        "country_codes",
        "start_date",
        "end_date",
        "search_key",
        "sort_by",
        "is_recommended",
    }
)
"""Every filter keyword of the discovery endpoint, spelled as Meta spells it."""

LOOKUP_NAMES: tuple[str, ...] = ("content_ids", "permalinks", "ad_codes")

# Parameters the hook manages itself; a caller passing them as filters has made a mistake worth naming.
_MANAGED = {
    "limit": "use page_size (1..50)",
    "after": "the hook follows paging.cursors.after itself",
    "before": "the endpoint pages forward only; a before cursor is rejected by Graph",
    "fields": "pass fields as its own argument",
    "access_token": "the token comes from the connection",
    "appsecret_proof": "the proof is computed from the connection's app_secret",
}

_FBID = re.compile(r"[0-9]{1,32}")
_CONTENT_ID = re.compile(r"[0-9]{1,32}(_[0-9]{1,32})?")
_COUNTRY = re.compile(r"[A-Z]{2}")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@dataclass(frozen=True)
class DiscoveryQuery:
    """A validated search-mode query: ``params`` is what goes on the wire (less paging and credentials)."""

    params: dict[str, str]
    page_size: int
    start_date: dt.date | None
    end_date: dt.date | None


def _utc_today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def validate_account(fb_page_id: Any, ig_user_id: Any) -> dict[str, str]:
    """Check the brand account parameters: at least one of them, each a numeric id."""
    if fb_page_id in (None, "") and ig_user_id in (None, ""):
        raise ValueError(
            "fb_page_id / ig_user_id: at least one is required (the brand's Facebook Page id or Instagram "
            "user id in this business)"
        )
    params: dict[str, str] = {}
    for name, value in (("fb_page_id", fb_page_id), ("ig_user_id", ig_user_id)):
        if value in (None, ""):
            continue
        params[name] = _fbid(name, value)
    return params


def validate_business_id(business_id: Any) -> str:
    """Return ``business_id`` as a string after checking it is a numeric id."""
    return _fbid("business_id", business_id)


def validate_page_size(page_size: Any, name: str = "page_size") -> int:
    """Check the page size (``limit``): an integer from 1 to 50."""
    if isinstance(page_size, bool) or not isinstance(page_size, int):
        raise ValueError(f"{name}: must be an integer from 1 to {MAX_PAGE_SIZE}, got {page_size!r}")
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"{name}: must be from 1 to {MAX_PAGE_SIZE} (Graph's limit), got {page_size}")
    return page_size


def build_discovery_query(
    *,
    fb_page_id: Any = None,
    ig_user_id: Any = None,
    fields: Any = None,
    page_size: Any = MAX_PAGE_SIZE,
    filters: Mapping[str, Any] | None = None,
    today: Callable[[], dt.date] = _utc_today,
) -> DiscoveryQuery:
    """Validate a search-mode query and render its parameters.

    :param filters: keyword filters named as the API names them (see :data:`FILTER_NAMES`). ``limit`` is
        accepted as a synonym of ``page_size``.
    :raises ValueError: naming the parameter and the rule it breaks.
    """
    filters = dict(filters or {})
    if "limit" in filters:
        limit = filters.pop("limit")
        if page_size not in (MAX_PAGE_SIZE, limit):
            raise ValueError(f"limit: conflicts with page_size={page_size!r}; give only one of them")
        page_size = validate_page_size(limit, "limit")
    for name in sorted(filters):
        if name in LOOKUP_NAMES and filters[name] not in (None, [], ()):
            raise ValueError(
                f"{name}: is a direct lookup and cannot be combined with filters, sorting or paging; "
                "use lookup_advertisable_content()"
            )
        if name in _MANAGED:
            raise ValueError(f"{name}: not accepted as a filter ({_MANAGED[name]})")
        if name not in FILTER_NAMES and name not in LOOKUP_NAMES:
            raise ValueError(f"{name}: unknown filter; known filters are {', '.join(sorted(FILTER_NAMES))}")
    params = validate_account(fb_page_id, ig_user_id)
    params["limit"] = str(validate_page_size(page_size))
    if fields is not None:
        params["fields"] = render_fields(fields)

    for name, allowed in ENUM_FILTERS.items():
        values = _vector(name, filters.get(name))
        if values:
            params[name] = _json_list([_enum(name, value, allowed) for value in values])
    for name in ID_FILTERS:
        values = _vector(name, filters.get(name))
        if values:
            params[name] = _json_list([_fbid(name, value) for value in values])
    countries = _vector("country_codes", filters.get("country_codes"))
    if countries:
        params["country_codes"] = _json_list([_country(value) for value in countries])

    start_date, end_date = _date_window(filters.get("start_date"), filters.get("end_date"), today())
    if start_date is not None and end_date is not None:
        params["start_date"] = start_date.isoformat()
        params["end_date"] = end_date.isoformat()

    search_key = filters.get("search_key")
    if search_key is not None:
        if not isinstance(search_key, str) or not search_key.strip():
            raise ValueError(f"search_key: must be a non-empty string, got {search_key!r}")
        params["search_key"] = search_key
    sort_by = filters.get("sort_by")
    if sort_by is not None:
        params["sort_by"] = _enum("sort_by", sort_by, SORT_BY_VALUES)
    is_recommended = filters.get("is_recommended")
    if is_recommended is not None:
        params["is_recommended"] = "true" if _bool("is_recommended", is_recommended) else "false"
    return DiscoveryQuery(
        params=params, page_size=int(params["limit"]), start_date=start_date, end_date=end_date
    )


def build_lookup_requests(
    *,
    fb_page_id: Any = None,
    ig_user_id: Any = None,
    content_ids: Any = None,
    permalinks: Any = None,
    ad_codes: Any = None,
    fields: Any = None,
) -> Iterator[dict[str, str]]:
    """Validate a direct lookup and yield the parameters of each request (at most 50 values each).

    Exactly one of ``content_ids``, ``permalinks``, ``ad_codes`` must be given; repeated values are sent once.
    Validation happens entirely before the first request's parameters are yielded.

    :raises ValueError: naming the parameter and the rule it breaks.
    """
    given = {
        name: values
        for name, values in (("content_ids", content_ids), ("permalinks", permalinks), ("ad_codes", ad_codes))
        if values not in (None, [], (), "")
    }
    if not given:
        raise ValueError(
            "content_ids / permalinks / ad_codes: exactly one direct lookup is required, none given"
        )
    if len(given) > 1:
        raise ValueError(
            f"{' / '.join(given)}: only one kind of direct lookup is allowed per request, got {len(given)}"
        )
    base = validate_account(fb_page_id, ig_user_id)
    if fields is not None:
        base["fields"] = render_fields(fields)
    ((name, raw),) = given.items()
    values = _vector(name, raw)
    checked = [_lookup_value(name, value) for value in values]
    unique = list(dict.fromkeys(checked))
    return _chunked_requests(base, name, unique)


def _chunked_requests(base: dict[str, str], name: str, values: list[str]) -> Iterator[dict[str, str]]:
    for start in range(0, len(values), MAX_LOOKUP_VALUES):
        yield {**base, name: _json_list(values[start : start + MAX_LOOKUP_VALUES])}


def _lookup_value(name: str, value: Any) -> str:
    if name == "content_ids":
        text = str(value).strip() if isinstance(value, (str, int)) and not isinstance(value, bool) else None
        if text is None or not _CONTENT_ID.fullmatch(text):
            raise ValueError(
                f"content_ids: {value!r} is not an Instagram media id or a Facebook post id (digits, or "
                "digits_digits)"
            )
        return text
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name}: each value must be a non-empty string, got {value!r}")
    text = value.strip()
    if name == "permalinks" and not text.startswith(("https://", "http://")):
        raise ValueError(f"permalinks: {text!r} is not a permalink URL (https://...)")
    return text


def _vector(name: str, value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, (int, dt.date)) and not isinstance(value, bool):
        return [value]
    if isinstance(value, Iterable) and not isinstance(value, (bytes, Mapping)):
        return list(value)
    raise ValueError(f"{name}: must be a list of values, got {type(value).__name__}")


def _enum(name: str, value: Any, allowed: frozenset[str]) -> str:
    text = value.strip().upper() if isinstance(value, str) else None
    if text not in allowed:
        raise ValueError(f"{name}: {value!r} is not one of {', '.join(sorted(allowed))}")
    return text


def _fbid(name: str, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValueError(f"{name}: must be a numeric id, got {type(value).__name__}")
    text = str(value).strip()
    if not _FBID.fullmatch(text):
        raise ValueError(f"{name}: {value!r} is not a numeric id")
    return text


def _country(value: Any) -> str:
    text = value.strip().upper() if isinstance(value, str) else None
    if text is None or not _COUNTRY.fullmatch(text):
        raise ValueError(f"country_codes: {value!r} is not an ISO 3166-1 alpha-2 code (two letters, e.g. US)")
    return text


def _bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "false"}:
        return value.strip().lower() == "true"
    raise ValueError(f"{name}: must be true or false, got {value!r}")


def parse_date(name: str, value: Any) -> dt.date:
    """Accept a ``date`` (not a ``datetime``) or a ``YYYY-MM-DD`` string."""
    if isinstance(value, dt.datetime):
        raise ValueError(f"{name}: must be a date or 'YYYY-MM-DD', got a datetime ({value.isoformat()})")
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and _DATE.fullmatch(value.strip()):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
        raise ValueError(f"{name}: {value!r} is not a calendar date")
    raise ValueError(f"{name}: must be a date or a 'YYYY-MM-DD' string, got {value!r}")


def _date_window(start: Any, end: Any, today: dt.date) -> tuple[dt.date | None, dt.date | None]:
    if start is None and end is None:
        return None, None
    if start is None or end is None:
        missing, given = ("start_date", "end_date") if start is None else ("end_date", "start_date")
        raise ValueError(f"{missing}: required together with {given} (Graph accepts the two only as a pair)")
    start_date = parse_date("start_date", start)
    end_date = parse_date("end_date", end)
    for name, value in (("start_date", start_date), ("end_date", end_date)):
        if value > today:
            raise ValueError(
                f"{name}: {value.isoformat()} is in the future (today is {today.isoformat()}, UTC)"
            )
    if start_date > end_date:
        raise ValueError(
            f"start_date: {start_date.isoformat()} is after end_date {end_date.isoformat()} "
            "(start_date must be less than or equal to end_date)"
        )
    return start_date, end_date


def _json_list(values: Sequence[str]) -> str:
    return json.dumps(list(values), separators=(",", ":"))
