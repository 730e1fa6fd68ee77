"""Run parameters of the ``partnership_ad_codes`` DAG: validation, brand list and discovery filters.

Pure functions (no network, no database), so the DAG's first task can reject a bad trigger before any call,
and tests can check every rule directly. Every error is a ``ValueError`` whose message starts with the
parameter's name.

The brand list of a run comes from, in order:

1. the trigger's own ``business_id`` (+ ``fb_page_id`` / ``ig_user_id``, optional ``meta_conn_id``);
2. the Airflow Variable ``partnership_ads_brands``: a JSON list of
   ``{"business_id", "fb_page_id", "ig_user_id", "meta_conn_id"}``;
3. the environment variable ``PARTNERSHIP_ADS_BRANDS`` (same JSON);

and fails with a clear message when none is set.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from partnership_ads.graph.params import FILTER_NAMES, build_discovery_query, validate_business_id

BRANDS_VARIABLE = "partnership_ads_brands"
BRANDS_ENV = "PARTNERSHIP_ADS_BRANDS"
OUTPUT_URI_VARIABLE = "partnership_ads_output_uri"
OUTPUT_URI_ENV = "PARTNERSHIP_ADS_OUTPUT_URI"
DEFAULT_META_CONN_ID = "meta_graph_default"
#: Airflow pool of the tasks that call the Graph API (fetch, issue, revoke). Meta counts calls per token and
#: business, not per worker, so the cap has to be one pool shared by the whole deployment; ``default_pool``
#: keeps a bare install and ``airflow dags test`` working without creating one.
API_POOL_ENV = "PARTNERSHIP_ADS_API_POOL"
DEFAULT_API_POOL = "default_pool"
SINK_CHOICES = ("sql", "webhook", "files")
FILE_FORMAT_CHOICES = ("csv", "parquet", "jsonl")
_CONN_ID = re.compile(r"^[A-Za-z0-9_.-]{1,250}$")

#: Run parameters that are discovery filters: every filter of the endpoint, under the name Meta gives it.
FILTER_PARAM_NAMES: tuple[str, ...] = tuple(sorted(FILTER_NAMES))


def api_pool(environ: Mapping[str, str]) -> str:
    """The pool for Graph-calling tasks: env ``PARTNERSHIP_ADS_API_POOL``, else ``default_pool``.

    Read by the DAG files at parse time (an environment lookup, no I/O). The pool must exist in the metadata
    database: a task in a missing pool is never scheduled.
    """
    return environ.get(API_POOL_ENV, "").strip() or DEFAULT_API_POOL


def _given(value: Any) -> bool:
    return value not in (None, "", [], ())


def discovery_filters(params: Mapping[str, Any]) -> dict[str, Any]:
    """The discovery filters given in ``params`` (unset ones left out)."""
    return {name: params[name] for name in FILTER_PARAM_NAMES if _given(params.get(name))}


def validate_brand(brand: Mapping[str, Any], *, where: str) -> dict[str, str | None]:
    """Check one brand entry and return it normalised (ids as strings, ``meta_conn_id`` defaulted)."""
    if not isinstance(brand, Mapping):
        raise ValueError(f"{where}: each brand must be an object with business_id, fb_page_id, ig_user_id")
    unknown = sorted(set(brand) - {"business_id", "fb_page_id", "ig_user_id", "meta_conn_id", "name"})
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown} in a brand entry")
    try:
        business_id = validate_business_id(brand.get("business_id"))
        # The same rules the hook applies to a discovery call, without the call.
        account = build_discovery_query(
            fb_page_id=brand.get("fb_page_id"), ig_user_id=brand.get("ig_user_id")
        ).params
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None
    meta_conn_id = brand.get("meta_conn_id") or DEFAULT_META_CONN_ID
    if not isinstance(meta_conn_id, str) or not _CONN_ID.match(meta_conn_id):
        raise ValueError(f"{where}: meta_conn_id {meta_conn_id!r} is not a valid connection id")
    return {
        "business_id": business_id,
        "fb_page_id": account.get("fb_page_id"),
        "ig_user_id": account.get("ig_user_id"),
        "meta_conn_id": meta_conn_id,
    }


def _parse_brand_list(raw: Any, *, source: str) -> list[dict[str, str | None]]:
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{source}: not valid JSON ({exc.msg} at position {exc.pos})") from None
    if isinstance(raw, Mapping):
        raw = [raw]
    if not isinstance(raw, list) or not raw:
        raise ValueError(f"{source}: must be a non-empty JSON list of brands")
    brands = [validate_brand(item, where=f"{source}[{i}]") for i, item in enumerate(raw)]
    seen: set[str] = set()
    for brand in brands:
        if brand["business_id"] in seen:
            raise ValueError(f"{source}: business_id {brand['business_id']} is listed twice")
        seen.add(str(brand["business_id"]))
    return brands


def resolve_brands(
    params: Mapping[str, Any],
    *,
    get_variable: Callable[[str], str | None],
    environ: Mapping[str, str],
) -> tuple[list[dict[str, str | None]], str]:
    """The brands this run serves and where the list came from (``params``, ``variable`` or ``environment``).

    :param get_variable: returns an Airflow Variable's value or None when it does not exist.
    :raises ValueError: no brand configured anywhere, or an invalid entry (naming the parameter).
    """
    if _given(params.get("business_id")):
        brand = {
            "business_id": params.get("business_id"),
            "fb_page_id": params.get("fb_page_id"),
            "ig_user_id": params.get("ig_user_id"),
            "meta_conn_id": params.get("meta_conn_id"),
        }
        return [validate_brand(brand, where="params")], "params"
    if _given(params.get("fb_page_id")) or _given(params.get("ig_user_id")):
        raise ValueError("business_id: required when fb_page_id or ig_user_id is given in the trigger form")
    variable = get_variable(BRANDS_VARIABLE)
    if _given(variable):
        return _parse_brand_list(variable, source=f"Variable {BRANDS_VARIABLE}"), "variable"
    env = environ.get(BRANDS_ENV)
    if _given(env):
        return _parse_brand_list(env, source=f"env {BRANDS_ENV}"), "environment"
    raise ValueError(
        "business_id: no brand to serve. Give business_id with fb_page_id and/or ig_user_id in the trigger "
        f"form, or set the Airflow Variable {BRANDS_VARIABLE} (or env {BRANDS_ENV}) to a JSON list of "
        '{"business_id", "fb_page_id", "ig_user_id", "meta_conn_id"}'
    )


def validate_run_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Check the run options and the discovery filters; returns the filters to use.

    Uses the hook's own validation (``build_discovery_query``) so the form and the API agree.
    """
    sinks = params.get("sinks")
    if _given(sinks):
        if not isinstance(sinks, list | tuple) or not all(isinstance(s, str) for s in sinks):
            raise ValueError(f"sinks: must be a list of sink names, got {sinks!r}")
        unknown = sorted(set(sinks) - set(SINK_CHOICES))
        if unknown:
            raise ValueError(f"sinks: unknown sink(s) {unknown}; choose from {list(SINK_CHOICES)}")
    max_codes = params.get("max_codes")
    if max_codes is not None and (
        isinstance(max_codes, bool) or not isinstance(max_codes, int) or max_codes < 0
    ):
        raise ValueError(f"max_codes: must be a whole number >= 0 (or empty for no cap), got {max_codes!r}")
    file_format = params.get("file_format") or "csv"
    if file_format not in FILE_FORMAT_CHOICES:
        raise ValueError(f"file_format: must be one of {list(FILE_FORMAT_CHOICES)}, got {file_format!r}")
    dry_run = params.get("dry_run", False)
    if not isinstance(dry_run, bool):
        raise ValueError(f"dry_run: must be true or false, got {dry_run!r}")
    output_uri = params.get("output_uri")
    if output_uri is not None and not isinstance(output_uri, str):
        raise ValueError(f"output_uri: must be a path or URL string, got {output_uri!r}")
    filters = discovery_filters(params)
    # Account ids are checked per brand; a placeholder page id lets the filter rules run on their own.
    build_discovery_query(fb_page_id="1", filters=filters)
    return filters


def scheduled_window(
    data_interval_start: dt.datetime | None, data_interval_end: dt.datetime | None
) -> dict[str, str]:
    """``start_date`` / ``end_date`` of a scheduled run: the days its data interval covers (end exclusive)."""
    if data_interval_start is None or data_interval_end is None:
        return {}
    start = data_interval_start.astimezone(dt.UTC).date()
    end_moment = data_interval_end.astimezone(dt.UTC)
    end = (end_moment - dt.timedelta(microseconds=1)).date() if end_moment > data_interval_start else start
    return {"start_date": start.isoformat(), "end_date": max(start, end).isoformat()}


def plan_run(
    params: Mapping[str, Any],
    *,
    scheduled: bool,
    data_interval_start: dt.datetime | None,
    data_interval_end: dt.datetime | None,
    get_variable: Callable[[str], str | None],
    environ: Mapping[str, str],
) -> tuple[list[dict[str, Any]], str]:
    """Validate a run's parameters and list the brands it serves, each carrying the run's discovery filters.

    The first task of ``partnership_ad_codes``: :func:`validate_run_params`, then :func:`resolve_brands`; a
    scheduled run without ``start_date`` searches the days of its data interval (:func:`scheduled_window`).

    :returns: the brands (``business_id``, ``fb_page_id``, ``ig_user_id``, ``meta_conn_id``, ``filters``) and
        where the list came from (``params``, ``variable`` or ``environment``).
    :raises ValueError: a bad parameter or brand entry, the message starting with its name.
    """
    filters = validate_run_params(params)
    brands, source = resolve_brands(params, get_variable=get_variable, environ=environ)
    if scheduled and "start_date" not in filters:
        filters.update(scheduled_window(data_interval_start, data_interval_end))
    return [{**brand, "filters": filters} for brand in brands], source
