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


#: Deployment settings of scheduled runs (Airflow Variable first, then the environment).
LOOKBACK_DAYS_VARIABLE = "partnership_ads_lookback_days"
LOOKBACK_DAYS_ENV = "PARTNERSHIP_ADS_LOOKBACK_DAYS"
SCHEDULED_FILTERS_VARIABLE = "partnership_ads_scheduled_filters"
SCHEDULED_FILTERS_ENV = "PARTNERSHIP_ADS_SCHEDULED_FILTERS"
SCHEDULE_ENV = "PARTNERSHIP_ADS_SCHEDULE"
DEFAULT_SCHEDULE = "0 0 * * *"
#: The longest lookback a deployment may set (ten years: Graph's dates are publication dates).
MAX_LOOKBACK_DAYS = 3650
#: Windows walked in parallel when a scheduled run's window is known (``lookback_days``).
SCHEDULED_PARTITIONS = 4
#: What a scheduled run always asks discovery for: only content AD_READY for the brand now, filtered by the
#: API, so the brand's other content costs no call.
SCHEDULED_ELIGIBILITY = ["AD_READY"]


def schedule(environ: Mapping[str, str]) -> str:
    """The DAG's cron expression: env ``PARTNERSHIP_ADS_SCHEDULE``, else daily at 00:00 UTC.

    Read by the DAG file at parse time (an environment lookup, no I/O).
    """
    return environ.get(SCHEDULE_ENV, "").strip() or DEFAULT_SCHEDULE


def _setting(
    variable: str, env: str, *, get_variable: Callable[[str], str | None], environ: Mapping[str, str]
) -> tuple[str | None, str]:
    """A deployment setting's raw value and where it came from (Variable first, then the environment)."""
    value = get_variable(variable)
    if _given(value):
        return str(value).strip(), f"Variable {variable}"
    value = environ.get(env)
    if _given(value) and str(value).strip():
        return str(value).strip(), f"env {env}"
    return None, ""


def lookback_days(*, get_variable: Callable[[str], str | None], environ: Mapping[str, str]) -> int | None:
    """The deployment's ``lookback_days`` (Variable ``partnership_ads_lookback_days``, env
    ``PARTNERSHIP_ADS_LOOKBACK_DAYS``): how many days back a scheduled run searches; None when unset (no
    publication-date window at all, the default).

    :raises ValueError: naming the setting when it is not a whole number from 1 to 3650.
    """
    raw, source = _setting(
        LOOKBACK_DAYS_VARIABLE, LOOKBACK_DAYS_ENV, get_variable=get_variable, environ=environ
    )
    if raw is None:
        return None
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LOOKBACK_DAYS:
        raise ValueError(
            f"lookback_days: {source} must be a whole number of days from 1 to {MAX_LOOKBACK_DAYS} "
            f"(or unset for no publication-date window), got {raw[:40]!r}"
        )
    return int(raw)


def scheduled_default_filters(
    *, get_variable: Callable[[str], str | None], environ: Mapping[str, str]
) -> dict[str, Any]:
    """The deployment's default discovery filters for scheduled runs (Variable
    ``partnership_ads_scheduled_filters``, env ``PARTNERSHIP_ADS_SCHEDULED_FILTERS``: a JSON object of
    discovery filters, e.g. ``{"platform_types": ["INSTAGRAM"]}``); empty when unset.

    ``ad_eligibilities`` and the date window are not theirs to set: a scheduled run always asks for AD_READY
    content, and its window comes from ``lookback_days``.

    :raises ValueError: naming the setting when it is not a JSON object of valid filters.
    """
    raw, source = _setting(
        SCHEDULED_FILTERS_VARIABLE, SCHEDULED_FILTERS_ENV, get_variable=get_variable, environ=environ
    )
    if raw is None:
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"scheduled_filters: {source} is not valid JSON ({exc.msg})") from None
    if not isinstance(value, dict):
        raise ValueError(f"scheduled_filters: {source} must be a JSON object of discovery filters")
    unknown = sorted(set(value) - set(FILTER_PARAM_NAMES))
    if unknown:
        raise ValueError(f"scheduled_filters: {source} names unknown filter(s) {unknown}")
    reserved = sorted(set(value) & {"ad_eligibilities", "start_date", "end_date"})
    if reserved:
        raise ValueError(
            f"scheduled_filters: {source} may not set {reserved}: a scheduled run always asks for AD_READY "
            "content, and its window comes from lookback_days"
        )
    filters = {name: item for name, item in value.items() if _given(item)}
    try:
        build_discovery_query(fb_page_id="1", filters=filters)
    except ValueError as exc:
        raise ValueError(f"scheduled_filters: {source}: {exc}") from None
    return filters


def scheduled_filters(*, lookback: int | None, defaults: Mapping[str, Any], today: dt.date) -> dict[str, Any]:
    """The discovery filters of a scheduled run: AD_READY now, the deployment's defaults, and a window of
    ``lookback`` days ending today (UTC) only when one is set."""
    filters: dict[str, Any] = {**defaults, "ad_eligibilities": list(SCHEDULED_ELIGIBILITY)}
    if lookback is not None:
        filters["start_date"] = (today - dt.timedelta(days=lookback - 1)).isoformat()
        filters["end_date"] = today.isoformat()
    return filters


def plan_run(
    params: Mapping[str, Any],
    *,
    scheduled: bool,
    get_variable: Callable[[str], str | None],
    environ: Mapping[str, str],
    today: dt.date | None = None,
) -> tuple[list[dict[str, Any]], str]:
    """Validate a run's parameters and list the brands it serves, each with the run's discovery settings.

    The first task of ``partnership_ad_codes``: :func:`validate_run_params`, then :func:`resolve_brands`.

    - A **scheduled** run looks at every item AD_READY for the brand now, whatever its publication date
      (:func:`scheduled_filters`: ``ad_eligibilities=["AD_READY"]``, the deployment's default filters, and a
      window only when ``lookback_days`` is set, walked in :data:`SCHEDULED_PARTITIONS` parallel windows),
      and re-examines every item the ledger holds as pending for the brand (``recheck_pending``).
    - A **manual** run uses the form's filters and dates, or none; it re-examines pending items only when
      its ``recheck_pending`` parameter says so.

    :param today: the current UTC date (tests pass one; default: now).
    :returns: the brands (``business_id``, ``fb_page_id``, ``ig_user_id``, ``meta_conn_id``, ``filters``,
        ``recheck_pending``, ``partitions``) and where the list came from (``params``, ``variable`` or
        ``environment``).
    :raises ValueError: a bad parameter, deployment setting or brand entry, the message naming it first.
    """
    filters = validate_run_params(params)
    brands, source = resolve_brands(params, get_variable=get_variable, environ=environ)
    partitions = 1
    if scheduled:
        lookback = lookback_days(get_variable=get_variable, environ=environ)
        defaults = scheduled_default_filters(get_variable=get_variable, environ=environ)
        filters = scheduled_filters(
            lookback=lookback, defaults=defaults, today=today or dt.datetime.now(dt.UTC).date()
        )
        recheck = True
        if lookback is not None and lookback > 1:
            partitions = min(SCHEDULED_PARTITIONS, lookback)
    else:
        recheck = params.get("recheck_pending", False)
        if not isinstance(recheck, bool):
            raise ValueError(f"recheck_pending: must be true or false, got {recheck!r}")
    return [
        {**brand, "filters": filters, "recheck_pending": recheck, "partitions": partitions}
        for brand in brands
    ], source
