"""Run parameters of the ``partnership_ad_codes`` and ``revoke_partnership_ad_codes`` DAGs: validation, brand
scope, output location and discovery filters.

Pure functions (no network, no database; the one outside lookup, a connection's type, comes in as a function
parameter), so the DAG's first task can reject a bad trigger before any call, and tests can check every rule
directly. Every error is a ``ValueError`` whose message starts with the parameter's name, except a lookup that
failed (:class:`ConnectionLookupError`): that is not the trigger's fault and must not read as "absent".

A trigger is scoped to the deployment (issue 11):

- every parameter has a size limit (:data:`MAX_LENGTHS`, :data:`MAX_ITEMS`), checked before any other rule,
  call, log line or XCom, and mirrored in the trigger forms' schemas;
- ``output_uri`` must resolve inside the deployment's output root, with an allowed scheme
  (:func:`resolve_output_uri`);
- when the deployment lists its brands, a manual run may only narrow the list, and always uses the listed
  brand's connection; without a list, the form's ``meta_conn_id`` must be a brand's ``meta_graph`` connection
  (:func:`resolve_brands`, :func:`check_brand_connection`).

The brand list of a run comes from, in order:

1. the Airflow Variable ``partnership_ads_brands``: a JSON list of
   ``{"business_id", "fb_page_id", "ig_user_id", "meta_conn_id"}``;
2. the environment variable ``PARTNERSHIP_ADS_BRANDS`` (same JSON);
3. without a list, the trigger's own ``business_id`` (+ ``fb_page_id`` / ``ig_user_id``, optional
   ``meta_conn_id``);

and fails with a clear message when none is set. With a list, the trigger's ``business_id`` picks one of its
brands.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from partnership_ads.brand import Brand
from partnership_ads.conn_ids import CREATOR_CONN_PREFIX, DEFAULT_META_CONN_ID
from partnership_ads.dag_settings import (
    AD_FORMAT_CHOICES,
    DEFAULT_AD_FORMAT,
    FILE_FORMAT_CHOICES,
    FILTER_PARAM_NAMES,
    MAX_CODES_LIMIT,
    MAX_ITEM_LENGTH,
    MAX_ITEMS,
    MAX_LENGTHS,
    MAX_TOKEN_EXPIRY_WARNING_DAYS,
    SINK_CHOICES,
)
from partnership_ads.deployment import deployment_setting
from partnership_ads.deployment import given as _given
from partnership_ads.graph.params import (
    build_discovery_query,
    validate_business_id,
)
from partnership_ads.issuance_plan import check_creators_per_shard
from partnership_ads.output_location import (
    check_output_uri,
)
from partnership_ads.sink_names import DEFAULT_FILE_FORMAT, META_ADS_SINK

BRANDS_VARIABLE = "partnership_ads_brands"
BRANDS_ENV = "PARTNERSHIP_ADS_BRANDS"
#: The connection type of a Graph API connection (the hook's ``conn_type``).
META_GRAPH_CONN_TYPE = "meta_graph"
_CONN_ID = re.compile(r"^[A-Za-z0-9_.-]{1,250}$")

ConnectionTypeLookup = Callable[[str], "str | None"]
"""``get_connection_type(conn_id)``: the connection's ``conn_type``; None when it is not defined anywhere.

Any other failure (secrets backend down, API server unreachable, a malformed ``AIRFLOW_CONN_*``) must raise:
the caller fails closed with :class:`ConnectionLookupError`, it never takes "could not read" for "absent"."""


class ConnectionLookupError(RuntimeError):
    """A connection could not be read (not: it does not exist). The run stops; nothing was called."""


def discovery_filters(params: Mapping[str, Any]) -> dict[str, Any]:
    """The discovery filters given in ``params`` (unset ones left out)."""
    return {name: params[name] for name in FILTER_PARAM_NAMES if _given(params.get(name))}


# --- sizes ----------------------------------------------------------------------------------------------


def _too_long(value: Any, limit: int) -> int | None:
    """The size of ``value`` when it is over ``limit`` characters (an int counts its digits), else None."""
    if isinstance(value, str):
        return len(value) if len(value) > limit else None
    if isinstance(value, int) and not isinstance(value, bool):
        # Python refuses to print an int of more than 4300 digits; bit_length bounds the digits first.
        if value.bit_length() > 4 * limit:
            return value.bit_length() * 3 // 10
        digits = len(str(abs(value)))
        return digits if digits > limit else None
    return None


def check_sizes(params: Mapping[str, Any]) -> None:
    """Check every parameter against its size limit (:data:`MAX_LENGTHS`, :data:`MAX_ITEMS`).

    Runs before any other rule, so no later message, log line or XCom ever carries an oversized value;
    messages give the parameter, the limit and the size, never the value.

    :raises ValueError: ``"<name>: at most <limit> ..., got <size>"``.
    """
    for name, limit in MAX_LENGTHS.items():
        value = params.get(name)
        if value is None:
            continue
        if isinstance(value, list | tuple | dict | set | bytes):
            raise ValueError(
                f"{name}: must be text of at most {limit} characters, got a {type(value).__name__}"
            )
        size = _too_long(value, limit)
        if size is not None:
            raise ValueError(f"{name}: at most {limit} characters, got {size}")
    for name, limit in MAX_ITEMS.items():
        value = params.get(name)
        if value is None:
            continue
        if isinstance(value, str):
            items: Sequence[Any] = value.split(",")  # a vector may be one comma-separated string
        elif isinstance(value, list | tuple):
            items = value
        elif isinstance(value, dict | set | bytes):
            raise ValueError(
                f"{name}: must be a list of at most {limit} values, got a {type(value).__name__}"
            )
        else:
            continue  # a single value: its own rule names it
        if len(items) > limit:
            raise ValueError(f"{name}: at most {limit} values, got {len(items)}")
        for index, item in enumerate(items):
            if isinstance(item, list | tuple | dict | set | bytes):
                raise ValueError(f"{name}[{index}]: must be a single value, got a {type(item).__name__}")
            size = _too_long(item, MAX_ITEM_LENGTH)
            if size is not None:
                raise ValueError(f"{name}[{index}]: at most {MAX_ITEM_LENGTH} characters, got {size}")


# --- brands and their connections -----------------------------------------------------------------------


def check_conn_id(conn_id: Any, *, name: str = "meta_conn_id") -> str:
    """Check the form of a brand's connection id: Airflow's id syntax, not a creator's connection.

    :raises ValueError: naming ``name``.
    """
    if not isinstance(conn_id, str) or not _CONN_ID.match(conn_id):
        shown = repr(conn_id) if isinstance(conn_id, str) else f"a {type(conn_id).__name__}"
        raise ValueError(
            f"{name}: {shown} is not a valid connection id (letters, digits, _ . -; at most 250)"
        )
    if conn_id.startswith(CREATOR_CONN_PREFIX):
        raise ValueError(
            f"{name}: {conn_id!r} is a creator's connection ({CREATOR_CONN_PREFIX}*), used only to issue "
            "that creator's own codes; a run must name a brand's meta_graph connection"
        )
    return conn_id


def check_brand_connection(conn_id: str, *, get_connection_type: ConnectionTypeLookup) -> str:
    """Check that ``conn_id`` is a brand's Graph connection: it exists and is of type ``meta_graph``.

    Its password is sent to Meta as a token, so naming any other connection (the webhook's, the ledger's)
    would send that secret to Graph.

    :raises ValueError: not a valid id, a creator's connection, not defined, or of another type.
    :raises ConnectionLookupError: the lookup itself failed (the run stops; retry when it can be read).
    """
    check_conn_id(conn_id)
    try:
        conn_type = get_connection_type(conn_id)
    except Exception as exc:  # any failure to read is "unknown", never "absent"
        raise ConnectionLookupError(
            f"meta_conn_id: could not read connection {conn_id!r} ({type(exc).__name__}), so the run cannot "
            "tell whether it is a brand's meta_graph connection and stops before any call. Check the secrets "
            "backend or metadata database, then trigger again"
        ) from None
    if conn_type is None:
        raise ValueError(
            f"meta_conn_id: connection {conn_id!r} does not exist; create it (type meta_graph, the brand's "
            "token as password) or name the brand's existing connection"
        )
    if conn_type != META_GRAPH_CONN_TYPE:
        raise ValueError(
            f"meta_conn_id: connection {conn_id!r} is of type {conn_type!r}, not {META_GRAPH_CONN_TYPE}; "
            "only a brand's Graph connection may be named (its password is sent to Meta as the token)"
        )
    return conn_id


#: A brand's ad account settings, for the ``meta_ads`` sink (all optional; a brand without them is served by
#: every other sink).
AD_SETTINGS = ("ad_account_id", "adset_id", "ad_format")
_AD_ACCOUNT_ID = re.compile(r"^act_[0-9]+$")


def check_ad_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """A brand's ``ad_account_id``, ``adset_id`` and ``ad_format``, checked for shape (no call); returns them
    normalised, or ``{}`` when the brand has none.

    Whether the ad set is in the account and the brand's token may create ads there is checked by the
    ``meta_ads`` sink at Meta, before any creative.

    :raises ValueError: naming the field: an ``ad_account_id`` that is not ``act_<digits>``, an ``adset_id``
        that is not digits, one given without the other, an ``ad_format`` other than 1, 2 or 3.
    """
    account, adset, ad_format = (settings.get(k) for k in AD_SETTINGS)
    if not _given(account) and not _given(adset):
        if _given(ad_format):
            raise ValueError("ad_format: given without ad_account_id and adset_id (the meta_ads sink's)")
        return {}
    if not _given(account):
        raise ValueError("ad_account_id: required with adset_id (the brand's ad account, act_<digits>)")
    if not _given(adset):
        raise ValueError(
            f"adset_id: required with ad_account_id {str(account)!r} (an ad set of that account)"
        )
    if not isinstance(account, str) or not _AD_ACCOUNT_ID.match(account.strip()):
        raise ValueError(f"ad_account_id: {account!r} is not an ad account id; write it as act_<digits>")
    adset_text = str(adset).strip() if isinstance(adset, str | int) and not isinstance(adset, bool) else ""
    if not adset_text.isdigit():
        raise ValueError(f"adset_id: {adset!r} is not an ad set id (digits)")
    if not _given(ad_format):
        ad_format = DEFAULT_AD_FORMAT
    if isinstance(ad_format, str) and ad_format.strip().isdigit():
        ad_format = int(ad_format)
    if isinstance(ad_format, bool) or ad_format not in AD_FORMAT_CHOICES:
        raise ValueError(
            f"ad_format: {ad_format!r} is not an ad format; use 1 (both identities), 2 (the first identity "
            "only) or 3 (automatic)"
        )
    return {"ad_account_id": account.strip(), "adset_id": adset_text, "ad_format": int(ad_format)}


def validate_brand(brand: Mapping[str, Any], *, where: str) -> dict[str, Any]:
    """Check one brand entry and return it normalised (ids as strings, ``meta_conn_id`` defaulted; the ad
    settings of :func:`check_ad_settings` only when the entry has them)."""
    if not isinstance(brand, Mapping):
        raise ValueError(f"{where}: each brand must be an object with business_id, fb_page_id, ig_user_id")
    unknown = sorted(
        set(brand) - {"business_id", "fb_page_id", "ig_user_id", "meta_conn_id", "name", *AD_SETTINGS}
    )
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown} in a brand entry")
    try:
        check_sizes({k: v for k, v in brand.items() if k != "name"})
        business_id = validate_business_id(brand.get("business_id"))
        # The same rules the hook applies to a discovery call, without the call.
        account = build_discovery_query(
            fb_page_id=brand.get("fb_page_id"), ig_user_id=brand.get("ig_user_id")
        ).params
        meta_conn_id = check_conn_id(brand.get("meta_conn_id") or DEFAULT_META_CONN_ID)
        ad_settings = check_ad_settings(brand)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None
    return {
        "business_id": business_id,
        "fb_page_id": account.get("fb_page_id"),
        "ig_user_id": account.get("ig_user_id"),
        "meta_conn_id": meta_conn_id,
        **ad_settings,
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


def brand_list(
    *, get_variable: Callable[[str], str | None], environ: Mapping[str, str]
) -> tuple[list[dict[str, str | None]], str] | None:
    """The deployment's brand list and its source (``variable`` or ``environment``), or None when unset.

    :raises ValueError: the list is set but invalid (naming the setting and the entry).
    """
    variable = get_variable(BRANDS_VARIABLE)
    if _given(variable):
        return _parse_brand_list(variable, source=f"Variable {BRANDS_VARIABLE}"), "variable"
    env = environ.get(BRANDS_ENV)
    if _given(env):
        return _parse_brand_list(env, source=f"env {BRANDS_ENV}"), "environment"
    return None


_LIST_SOURCES = {"variable": f"Variable {BRANDS_VARIABLE}", "environment": f"env {BRANDS_ENV}"}


def _listed_brand(business_id: Any, brands: Sequence[Mapping[str, Any]], source: str) -> Mapping[str, Any]:
    wanted = validate_business_id(business_id)
    for brand in brands:
        if brand["business_id"] == wanted:
            return brand
    listed = ", ".join(str(b["business_id"]) for b in brands[:20]) + (" ..." if len(brands) > 20 else "")
    raise ValueError(
        f"business_id: {wanted} is not in the deployment's brand list ({source}: {listed}); a manual run may "
        "only narrow the list to a brand it names. Add the brand to the list first"
    )


def resolve_brands(
    params: Mapping[str, Any],
    *,
    get_variable: Callable[[str], str | None],
    environ: Mapping[str, str],
    get_connection_type: ConnectionTypeLookup,
) -> tuple[list[dict[str, str | None]], str]:
    """The brands this run serves and where the list came from (``variable``, ``environment`` or ``params``).

    With a brand list (Variable, else env), the trigger's ``business_id`` narrows it to that listed brand,
    whose entry is used as listed: a ``fb_page_id`` / ``ig_user_id`` / ``meta_conn_id`` in the form that
    differs from it is refused. Without a list, the trigger names the brand, and its ``meta_conn_id`` must be
    a ``meta_graph`` connection that is not a creator's (checked with ``get_connection_type``).

    :param get_variable: returns an Airflow Variable's value or None when it does not exist.
    :param get_connection_type: see :data:`ConnectionTypeLookup`.
    :raises ValueError: no brand configured anywhere, a brand outside the list, a foreign connection, or an
        invalid entry (naming the parameter).
    :raises ConnectionLookupError: the form's connection could not be read.
    """
    check_sizes(
        {k: params.get(k) for k in ("business_id", "fb_page_id", "ig_user_id", "meta_conn_id", *AD_SETTINGS)}
    )
    form_conn = params.get("meta_conn_id")
    listed = brand_list(get_variable=get_variable, environ=environ)
    if listed is not None:
        brands, source = listed
        where = _LIST_SOURCES[source]
        if _given(params.get("business_id")):
            brand = _listed_brand(params["business_id"], brands, where)
            for key in ("fb_page_id", "ig_user_id", "meta_conn_id", *AD_SETTINGS):
                given = params.get(key)
                if _given(given) and str(given).strip() != str(brand.get(key) or ""):
                    raise ValueError(
                        f"{key}: {str(given)!r} is not what the brand list ({where}) gives business "
                        f"{brand['business_id']} ({brand[key]!r}); a run always uses the listed brand's "
                        f"{key}. Leave it empty"
                    )
            return [dict(brand)], source
        if _given(params.get("fb_page_id")) or _given(params.get("ig_user_id")):
            raise ValueError(
                "business_id: required when fb_page_id or ig_user_id is given in the trigger form"
            )
        for key in AD_SETTINGS:
            if _given(params.get(key)):
                raise ValueError(
                    f"{key}: a run over the brand list ({where}) uses each brand's listed ad settings; leave "
                    f"{key} empty (or give a listed business_id), and set it in the list entry"
                )
        if _given(form_conn) and any(b["meta_conn_id"] != form_conn for b in brands):
            raise ValueError(
                f"meta_conn_id: a run over the brand list ({where}) uses each brand's listed connection; "
                "leave meta_conn_id empty (or give a listed business_id)"
            )
        return [dict(b) for b in brands], source
    if _given(params.get("business_id")):
        brand = validate_brand(
            {
                "business_id": params.get("business_id"),
                "fb_page_id": params.get("fb_page_id"),
                "ig_user_id": params.get("ig_user_id"),
                "meta_conn_id": form_conn,
                **{key: params.get(key) for key in AD_SETTINGS},
            },
            where="params",
        )
        check_brand_connection(str(brand["meta_conn_id"]), get_connection_type=get_connection_type)
        return [brand], "params"
    if _given(params.get("fb_page_id")) or _given(params.get("ig_user_id")):
        raise ValueError("business_id: required when fb_page_id or ig_user_id is given in the trigger form")
    raise ValueError(
        "business_id: no brand to serve. Give business_id with fb_page_id and/or ig_user_id in the trigger "
        f"form, or set the Airflow Variable {BRANDS_VARIABLE} (or env {BRANDS_ENV}) to a JSON list of "
        '{"business_id", "fb_page_id", "ig_user_id", "meta_conn_id"}'
    )


def validate_run_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Check the run options and the discovery filters; returns the filters to use.

    Sizes first (:func:`check_sizes`), then the hook's own validation (``build_discovery_query``) so the
    form and the API agree. Where files may go is checked by :func:`resolve_output_uri` (it needs the
    deployment's settings).
    """
    check_sizes(params)
    sinks = params.get("sinks")
    if _given(sinks):
        if not isinstance(sinks, list | tuple) or not all(isinstance(s, str) for s in sinks):
            raise ValueError(f"sinks: must be a list of sink names, got {sinks!r}")
        unknown = sorted(set(sinks) - set(SINK_CHOICES))
        if unknown:
            raise ValueError(f"sinks: unknown sink(s) {unknown}; choose from {list(SINK_CHOICES)}")
    max_codes = params.get("max_codes")
    if max_codes is not None and (
        isinstance(max_codes, bool) or not isinstance(max_codes, int) or not 0 <= max_codes <= MAX_CODES_LIMIT
    ):
        shown = repr(max_codes) if _too_long(max_codes, 20) is None else "a longer value"
        raise ValueError(
            f"max_codes: must be a whole number from 0 to {MAX_CODES_LIMIT} (or empty for no cap), "
            f"got {shown}"
        )
    if params.get("creators_per_shard") is not None:
        check_creators_per_shard(params["creators_per_shard"])
    warning_days = params.get("token_expiry_warning_days")
    if warning_days is not None and (
        isinstance(warning_days, bool)
        or not isinstance(warning_days, int)
        or not 0 <= warning_days <= MAX_TOKEN_EXPIRY_WARNING_DAYS
    ):
        shown = repr(warning_days) if _too_long(warning_days, 20) is None else "a longer value"
        raise ValueError(
            f"token_expiry_warning_days: must be a whole number from 0 to {MAX_TOKEN_EXPIRY_WARNING_DAYS}, "
            f"got {shown}"
        )
    file_format = params.get("file_format") or DEFAULT_FILE_FORMAT
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


# --- revocation -----------------------------------------------------------------------------------------


def validate_revoke_params(media_ids: Any, meta_conn_id: Any) -> tuple[list[str], str | None]:
    """Check the revoke DAG's parameters: at most :data:`MAX_ITEMS` ``["media_ids"]`` numeric ids, and an
    optional connection id that is not a creator's. Returns ``(media ids, meta_conn_id or None)``.

    :raises ValueError: naming the parameter.
    """
    check_sizes({"media_ids": media_ids, "meta_conn_id": meta_conn_id})
    if isinstance(media_ids, str):
        media_ids = media_ids.split(",")
    if not isinstance(media_ids, list | tuple):
        raise ValueError(
            f"media_ids: must be a list of Instagram media ids, got a {type(media_ids).__name__}"
        )
    ids: list[str] = []
    for index, media_id in enumerate(media_ids):
        text = (
            str(media_id).strip()
            if isinstance(media_id, str | int) and not isinstance(media_id, bool)
            else ""
        )
        if not text.isdigit() or not text.isascii():
            raise ValueError(f"media_ids[{index}]: {media_id!r} is not an Instagram media id (digits)")
        ids.append(text)
    if not ids:
        raise ValueError("media_ids: give at least one Instagram media id to revoke")
    conn_id = check_conn_id(meta_conn_id) if _given(meta_conn_id) else None
    return list(dict.fromkeys(ids)), conn_id


@dataclass(frozen=True)
class RevokeScope:
    """Which brands a revocation may act for, and with which connection.

    ``brands`` maps each listed business_id to its connection (None: the deployment lists no brands, and
    ``meta_conn_id`` is the one checked connection every revocation uses).
    """

    brands: dict[str, str] | None
    meta_conn_id: str | None
    source: str

    def connection_for(
        self, media_id: str, business_ids: Sequence[str], requested: str | None
    ) -> tuple[str, str]:
        """``(business_id, meta_conn_id)`` to revoke ``media_id`` with, from the brands the ledger records for
        it (the code's brand first).

        :raises ValueError: the media belongs to no brand of this deployment's list, is unknown to the ledger,
            or the form named a connection other than the brand's.
        """
        if not business_ids:
            raise ValueError(
                f"media_ids: {media_id} is unknown to the ledger (no run of this deployment selected it); "
                "this DAG revokes only codes the pipeline obtained for a brand it serves"
            )
        if self.brands is None:
            return business_ids[0], str(self.meta_conn_id)
        for business_id in business_ids:
            conn_id = self.brands.get(business_id)
            if conn_id is None:
                continue
            if requested is not None and requested != conn_id:
                raise ValueError(
                    f"meta_conn_id: {requested!r} is not the connection the brand list ({self.source}) gives "
                    f"business {business_id} ({conn_id!r}), the brand of media {media_id}; leave it empty"
                )
            return business_id, conn_id
        raise ValueError(
            f"media_ids: {media_id} belongs to business {', '.join(business_ids)}, not to a brand of the "
            f"deployment's list ({self.source}); it cannot be revoked from here"
        )


def revoke_scope(
    meta_conn_id: str | None,
    *,
    get_variable: Callable[[str], str | None],
    environ: Mapping[str, str],
    get_connection_type: ConnectionTypeLookup,
) -> RevokeScope:
    """The scope of a revocation: the brand list when there is one, else the form's connection (default
    ``meta_graph_default``), checked to be a brand's ``meta_graph`` connection.

    :raises ValueError: a bad brand list or a foreign connection. :raises ConnectionLookupError: as
        :func:`check_brand_connection`.
    """
    listed = brand_list(get_variable=get_variable, environ=environ)
    if listed is not None:
        brands, source = listed
        return RevokeScope(
            {str(b["business_id"]): str(b["meta_conn_id"]) for b in brands}, None, _LIST_SOURCES[source]
        )
    conn_id = check_brand_connection(
        meta_conn_id or DEFAULT_META_CONN_ID, get_connection_type=get_connection_type
    )
    return RevokeScope(None, conn_id, "params")


#: Deployment settings of scheduled runs (Airflow Variable first, then the environment).
LOOKBACK_DAYS_VARIABLE = "partnership_ads_lookback_days"
LOOKBACK_DAYS_ENV = "PARTNERSHIP_ADS_LOOKBACK_DAYS"
SCHEDULED_FILTERS_VARIABLE = "partnership_ads_scheduled_filters"
SCHEDULED_FILTERS_ENV = "PARTNERSHIP_ADS_SCHEDULED_FILTERS"
#: The longest lookback a deployment may set (ten years: Graph's dates are publication dates).
MAX_LOOKBACK_DAYS = 3650
#: Windows walked in parallel when a scheduled run's window is known (``lookback_days``).
SCHEDULED_PARTITIONS = 4
#: What a scheduled run always asks discovery for: only content AD_READY for the brand now, filtered by the
#: API, so the brand's other content costs no call.
SCHEDULED_ELIGIBILITY = ["AD_READY"]


def lookback_days(*, get_variable: Callable[[str], str | None], environ: Mapping[str, str]) -> int | None:
    """The deployment's ``lookback_days`` (Variable ``partnership_ads_lookback_days``, env
    ``PARTNERSHIP_ADS_LOOKBACK_DAYS``): how many days back a scheduled run searches; None when unset (no
    publication-date window at all, the default).

    :raises ValueError: naming the setting when it is not a whole number from 1 to 3650.
    """
    raw, source = deployment_setting(
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
    raw, source = deployment_setting(
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


def check_meta_ads_brands(sinks: Any, brands: Sequence[Mapping[str, Any]]) -> None:
    """A run whose ``sinks`` name ``meta_ads`` serves only brands with an ad account and ad set: refused here,
    before any call, rather than by each brand's push task after the codes were issued.

    :raises ValueError: ``sinks: ...`` naming the brands without them.
    """
    if not isinstance(sinks, list | tuple) or META_ADS_SINK not in sinks:
        return
    missing = [str(b["business_id"]) for b in brands if not b.get("ad_account_id")]
    if missing:
        raise ValueError(
            f"sinks: 'meta_ads' needs each brand's ad_account_id and adset_id; business(es) {missing[:20]} "
            "have none. Add them to the brand list entry (or the form's Brand section), or leave meta_ads out"
        )


def plan_run(
    params: Mapping[str, Any],
    *,
    scheduled: bool,
    get_variable: Callable[[str], str | None],
    environ: Mapping[str, str],
    get_connection_type: ConnectionTypeLookup,
    today: dt.date | None = None,
) -> tuple[list[Brand], str]:
    """Validate a run's parameters and list the brands it serves, each with the run's discovery settings.

    The first task of ``partnership_ad_codes``: :func:`validate_run_params`, :func:`check_output_uri`, then
    :func:`resolve_brands`.

    - A **scheduled** run looks at every item AD_READY for the brand now, whatever its publication date
      (:func:`scheduled_filters`: ``ad_eligibilities=["AD_READY"]``, the deployment's default filters, and a
      window only when ``lookback_days`` is set, walked in :data:`SCHEDULED_PARTITIONS` parallel windows),
      and re-examines every item the ledger holds as pending for the brand (``recheck_pending``).
    - A **manual** run uses the form's filters and dates, or none; it re-examines pending items only when
      its ``recheck_pending`` parameter says so.

    :param today: the current UTC date (tests pass one; default: now).
    :returns: the brands (:class:`~partnership_ads.brand.Brand`, with ``filters``, ``recheck_pending`` and
        ``partitions`` set; ``ledger_id`` is the first task's to add) and where the list came from
        (``params``, ``variable`` or ``environment``).
    :raises ValueError: a bad parameter, deployment setting or brand entry, the message naming it first.
    :raises ConnectionLookupError: the form's connection could not be read.
    """
    filters = validate_run_params(params)
    check_output_uri(params, get_variable=get_variable, environ=environ)
    brands, source = resolve_brands(
        params, get_variable=get_variable, environ=environ, get_connection_type=get_connection_type
    )
    check_meta_ads_brands(params.get("sinks"), brands)
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
        Brand.from_dict({**brand, "filters": filters, "recheck_pending": recheck, "partitions": partitions})
        for brand in brands
    ], source
