"""The Marketing API objects a partnership ad is made of: ad accounts, ad sets, ad creatives and ads.

What a brand does with an ad code downstream: ``POST /act_{id}/adcreatives`` with the code in
``branded_content``, then ``POST /act_{id}/ads`` with the creative; and the reads a client needs around
them (``GET /{business-id}/owned_ad_accounts``, ``GET /act_{id}``, ``/act_{id}/adsets``, ``/adcreatives``,
``/ads``, ``GET /{creative-or-ad-id}``), with ``fields``, ``filtering`` and cursor paging as the Marketing
API documents them. Pure functions of (state, request data) -> JSON-able body, raising GraphError; routing
and rate limits are in app.py. Only partnership-ad creatives are emulated: a creative without
``branded_content`` is refused.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from include.graph_sandbox import errors
from include.graph_sandbox.errors import GraphError, invalid_param, permission_denied
from include.graph_sandbox.fields import parse_fields, validate_fields
from include.graph_sandbox.graph import decode_cursor, encode_cursor
from include.graph_sandbox.state import AD_CODE_KEY, AdCreativeRecord, AdRecord

if TYPE_CHECKING:
    from collections.abc import Callable

    from include.graph_sandbox.fields import FieldTree
    from include.graph_sandbox.state import SandboxState
    from include.graph_sandbox.world import AdAccount, AdSet, Business, TokenRecord

ADS_MANAGEMENT = "ads_management"
ADS_READ = "ads_read"
BUC_TYPE = "ads_management"
AD_FORMATS = (1, 2, 3)
AD_STATUSES = ("ACTIVE", "PAUSED")
MAX_NAME_CHARS = 400
DEFAULT_LIMIT = 25
MAX_LIMIT = 500
FILTER_OPERATORS = ("EQUAL", "NOT_EQUAL", "CONTAIN", "NOT_CONTAIN", "IN", "NOT_IN", "STARTS_WITH")
# Error subcodes of the ad code checks. Meta documents none for these cases: the sandbox's own choice.
SUBCODE_AD_CODE_UNKNOWN = 2446885
SUBCODE_AD_CODE_INVALIDATED = 2446886
SUBCODE_NOT_A_PARTNER = 2446887

_BUSINESS = ("Business", {"id": None, "name": None})
ACCOUNT_SCHEMA: dict[str, Any] = {
    "id": None,
    "account_id": None,
    "name": None,
    "account_status": None,
    "currency": None,
    "timezone_name": None,
    "business": _BUSINESS,
}
ADSET_SCHEMA: dict[str, Any] = {
    "id": None,
    "name": None,
    "account_id": None,
    "campaign_id": None,
    "status": None,
    "configured_status": None,
    "effective_status": None,
    "campaign": ("Campaign", {"id": None, "name": None, "objective": None, "status": None}),
}
CREATIVE_SCHEMA: dict[str, Any] = {
    "id": None,
    "name": None,
    "account_id": None,
    "object_id": None,
    "status": None,
    "source_instagram_media_id": None,
    "branded_content": (
        "AdCreativeBrandedContentAds",
        {"ad_format": None, AD_CODE_KEY: None},
    ),
    "instagram_branded_content": ("AdCreativeInstagramBrandedContent", {"sponsor_id": None}),
    "facebook_branded_content": ("AdCreativeFacebookBrandedContent", {"sponsor_page_id": None}),
}
AD_SCHEMA: dict[str, Any] = {
    "id": None,
    "name": None,
    "account_id": None,
    "adset_id": None,
    "campaign_id": None,
    "creative": ("AdCreative", {"id": None, "name": None}),
    "status": None,
    "configured_status": None,
    "effective_status": None,
    "created_time": None,
    "updated_time": None,
}


@dataclass(frozen=True)
class Row:
    """One object as an edge lists it: its full rendering and the values `filtering` may test."""

    full: dict[str, Any]
    filterable: dict[str, str]


# access -----------------------------------------------------------------------------------------
def find_account(state: SandboxState, method: str, account_ref: str) -> AdAccount:
    """The ad account `act_<digits>`; Meta's "does not exist" error otherwise."""
    account = state.world.ad_accounts.get(account_ref)
    if account is None:
        raise errors.unsupported_request(method, account_ref)
    return account


def check_account_access(token: TokenRecord, account: AdAccount, *, write: bool) -> None:
    """ads_management to write, ads_read (or ads_management) to read, and a token of the owning business."""
    scopes = set(token.scopes)
    if write and ADS_MANAGEMENT not in scopes:
        raise permission_denied("Requires ads_management permission to manage the object", code=200)
    if not write and not scopes & {ADS_MANAGEMENT, ADS_READ}:
        raise permission_denied("Requires ads_read or ads_management permission to read the object", code=200)
    if token.business_id != account.business_id:
        raise permission_denied(
            "Ad account owner has NOT grant ads_management or ads_read permission", code=200
        )


def object_account(state: SandboxState, object_id: str) -> str | None:
    """The ad account of a created creative or ad (None: no such object)."""
    record = state.creatives.get(object_id) or state.ads.get(object_id)
    return record.account_id if record is not None else None


# fields -----------------------------------------------------------------------------------------
def _field_tree(params: dict[str, str], schema: dict[str, Any], node: str) -> FieldTree:
    text = params.get("fields", "").strip()
    if not text:
        return {"id": None}
    tree = parse_fields(text)
    validate_fields(tree, schema, node)
    return tree


def _select(full: dict[str, Any], tree: FieldTree) -> dict[str, Any]:
    """The requested subset of an object; `id` always comes first, absent values are left out."""
    out: dict[str, Any] = {}
    if "id" in full:
        out["id"] = full["id"]
    for name, sub in tree.items():
        if name == "id" or full.get(name) is None:
            continue
        value = full[name]
        out[name] = _select(value, sub) if sub is not None and isinstance(value, dict) else value
    return out


def graph_time(ts: float) -> str:
    """A time as the Marketing API writes it: ``2026-12-04T13:02:52+0000``."""
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def _account_full(state: SandboxState, account: AdAccount) -> dict[str, Any]:
    business = state.world.businesses[account.business_id]
    return {
        "id": account.id,
        "account_id": account.account_id,
        "name": account.name,
        "account_status": 1,
        "currency": account.currency,
        "timezone_name": account.timezone_name,
        "business": {"id": business.business_id, "name": business.name},
    }


def _adset_full(account: AdAccount, adset: AdSet) -> dict[str, Any]:
    campaign = next(c for c in account.campaigns if c.campaign_id == adset.campaign_id)
    effective = adset.status if campaign.status == "ACTIVE" else "CAMPAIGN_PAUSED"
    return {
        "id": adset.adset_id,
        "name": adset.name,
        "account_id": account.account_id,
        "campaign_id": campaign.campaign_id,
        "status": adset.status,
        "configured_status": adset.status,
        "effective_status": effective,
        "campaign": {
            "id": campaign.campaign_id,
            "name": campaign.name,
            "objective": campaign.objective,
            "status": campaign.status,
        },
    }


def _creative_full(record: AdCreativeRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "name": record.name,
        "account_id": record.account_id.removeprefix("act_"),
        "object_id": record.object_id,
        "status": "ACTIVE",
        "source_instagram_media_id": record.media_id,
        "branded_content": {"ad_format": record.ad_format, AD_CODE_KEY: record.ad_code},
        "instagram_branded_content": (
            {"sponsor_id": record.ig_sponsor_id} if record.ig_sponsor_id is not None else None
        ),
        "facebook_branded_content": (
            {"sponsor_page_id": record.fb_sponsor_page_id} if record.fb_sponsor_page_id is not None else None
        ),
    }


def _ad_full(state: SandboxState, record: AdRecord) -> dict[str, Any]:
    account = state.world.ad_accounts[record.account_id]
    adset = _adset_full(account, state.world.adsets[record.adset_id][1])
    if record.status != "ACTIVE":
        effective = record.status
    elif adset["effective_status"] == "CAMPAIGN_PAUSED":
        effective = "CAMPAIGN_PAUSED"
    elif adset["status"] != "ACTIVE":
        effective = "ADSET_PAUSED"
    else:
        effective = "ACTIVE"
    creative = state.creatives[record.creative_id]
    return {
        "id": record.id,
        "name": record.name,
        "account_id": record.account_id.removeprefix("act_"),
        "adset_id": record.adset_id,
        "campaign_id": record.campaign_id,
        "creative": {"id": creative.id, "name": creative.name},
        "status": record.status,
        "configured_status": record.status,
        "effective_status": effective,
        "created_time": graph_time(record.created_at),
        "updated_time": graph_time(record.created_at),
    }


# filtering and paging ---------------------------------------------------------------------------
def _filter_value(index: int, operator: str, value: Any) -> Any:
    where = f"filtering[{index}]"
    if operator in ("IN", "NOT_IN"):
        if not isinstance(value, list) or not value:
            raise invalid_param(f"Param {where}[value] must be a non-empty array for operator {operator}")
        return {str(v) for v in value}
    if isinstance(value, (dict, list)) or value is None:
        raise invalid_param(f"Param {where}[value] must be a string or a number for operator {operator}")
    return str(value)


def parse_filtering(raw: str | None, allowed: tuple[str, ...]) -> tuple[list[Callable[[Row], bool]], list]:
    """``filtering=[{"field": "name", "operator": "EQUAL", "value": "x"}]``: predicates, all must hold."""
    if raw is None:
        return [], []
    try:
        rules = json.loads(raw)
    except ValueError:
        raise invalid_param(
            "Param filtering must be a JSON array of {field, operator, value} objects"
        ) from None
    if not isinstance(rules, list):
        raise invalid_param("Param filtering must be a JSON array of {field, operator, value} objects")
    checks: list[Callable[[Row], bool]] = []
    normal: list = []
    for index, rule in enumerate(rules):
        if not isinstance(rule, dict) or not {"field", "operator", "value"} <= set(rule):
            raise invalid_param(f"Param filtering[{index}] must be an object with field, operator and value")
        name, operator = rule["field"], rule["operator"]
        if name not in allowed:
            raise invalid_param(f"Filtering field {name} is invalid. Valid fields are: {', '.join(allowed)}")
        if operator not in FILTER_OPERATORS:
            raise invalid_param(
                f"Param filtering[{index}][operator] must be one of {{{', '.join(FILTER_OPERATORS)}}} "
                f'- got "{operator}"'
            )
        value = _filter_value(index, operator, rule["value"])
        normal.append([name, operator, sorted(value) if isinstance(value, set) else value])
        checks.append(_predicate(name, operator, value))
    return checks, normal


def _predicate(name: str, operator: str, value: Any) -> Callable[[Row], bool]:
    def test(row: Row) -> bool:
        actual = row.filterable.get(name, "")
        if operator == "EQUAL":
            return actual == value
        if operator == "NOT_EQUAL":
            return actual != value
        if operator == "CONTAIN":
            return value.casefold() in actual.casefold()
        if operator == "NOT_CONTAIN":
            return value.casefold() not in actual.casefold()
        if operator == "IN":
            return actual in value
        if operator == "NOT_IN":
            return actual not in value
        return actual.startswith(value)

    return test


def _limit(params: dict[str, str]) -> int:
    raw = params.get("limit")
    if raw is None:
        return DEFAULT_LIMIT
    try:
        limit = int(raw)
    except ValueError:
        raise invalid_param("Param limit must be an integer") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise invalid_param(f"Param limit must be between 1 and {MAX_LIMIT}, got {limit}")
    return limit


def list_edge(
    state: SandboxState,
    edge: str,
    rows: list[Row],
    params: dict[str, str],
    *,
    schema: dict[str, Any],
    node: str,
    filter_fields: tuple[str, ...],
    next_base: str,
) -> dict[str, Any]:
    """One page of an edge: `fields`, `filtering`, `limit` and the `after` cursor, as the Marketing API pages.

    Every non-empty page carries ``paging.cursors`` (``before``, ``after``); ``paging.next`` (a URL without
    credentials) only when more rows follow. Rows are listed in creation order, so that a cursor stays valid
    while new objects are created.
    """
    if "before" in params:
        raise invalid_param("Pagination is forward-only in the sandbox: use after")
    tree = _field_tree(params, schema, node)
    checks, normal = parse_filtering(params.get("filtering"), filter_fields)
    limit = _limit(params)
    matching = [row for row in rows if all(check(row) for check in checks)]
    fingerprint = hashlib.sha256(json.dumps([edge, normal], sort_keys=True).encode()).hexdigest()[:16]
    start = (
        decode_cursor(state.cursor_key, fingerprint, params["after"], len(matching))
        if "after" in params
        else 0
    )
    page = matching[start : start + limit]
    body: dict[str, Any] = {"data": [_select(row.full, tree) for row in page]}
    if page:
        after = encode_cursor(state.cursor_key, fingerprint, start + len(page))
        paging: dict[str, Any] = {
            "cursors": {"before": encode_cursor(state.cursor_key, fingerprint, start + 1), "after": after}
        }
        if start + len(page) < len(matching):
            query = {
                k: v
                for k, v in params.items()
                if k not in ("access_token", "appsecret_proof", "appsecret_time", "after")
            }
            paging["next"] = f"{next_base}?{urlencode({**query, 'after': after})}"
        body["paging"] = paging
    return body


# reads --------------------------------------------------------------------------------------------
def owned_ad_accounts(
    state: SandboxState, token: TokenRecord, business: Business, params: dict[str, str], next_base: str
) -> dict[str, Any]:
    """GET /{business-id}/owned_ad_accounts."""
    if not set(token.scopes) & {ADS_MANAGEMENT, ADS_READ, "business_management"}:
        raise permission_denied("Requires business_management or ads_read permission", code=200)
    if token.business_id != business.business_id:
        raise permission_denied(
            f"The caller does not have any permission on business {business.business_id}", code=200
        )
    rows = []
    for account_ref in business.ad_account_ids:
        full = _account_full(state, state.world.ad_accounts[account_ref])
        rows.append(Row(full, {"id": full["id"], "name": full["name"]}))
    return list_edge(
        state,
        f"{business.business_id}/owned_ad_accounts",
        rows,
        params,
        schema=ACCOUNT_SCHEMA,
        node="AdAccount",
        filter_fields=("id", "name"),
        next_base=next_base,
    )


def account_node(state: SandboxState, account: AdAccount, params: dict[str, str]) -> dict[str, Any]:
    """GET /act_{id}."""
    return _select(_account_full(state, account), _field_tree(params, ACCOUNT_SCHEMA, "AdAccount"))


def account_edge(
    state: SandboxState, account: AdAccount, edge: str, params: dict[str, str], next_base: str
) -> dict[str, Any]:
    """GET /act_{id}/adsets | adcreatives | ads."""
    if edge == "adsets":
        rows = []
        for adset in account.adsets:
            full = _adset_full(account, adset)
            view = {k: full[k] for k in ("id", "name", "effective_status")}
            rows.append(Row(full, {**view, "campaign.id": full["campaign_id"]}))
        schema, node, filters = ADSET_SCHEMA, "AdCampaign", ("id", "name", "campaign.id", "effective_status")
    elif edge == "adcreatives":
        rows = [
            Row(_creative_full(r), {"id": r.id, "name": r.name})
            for r in state.creatives.values()
            if r.account_id == account.id
        ]
        schema, node, filters = CREATIVE_SCHEMA, "AdCreative", ("id", "name")
    else:
        rows = []
        for record in state.ads.values():
            if record.account_id != account.id:
                continue
            full = _ad_full(state, record)
            view = {
                "id": record.id,
                "name": record.name,
                "adset.id": record.adset_id,
                "campaign.id": record.campaign_id,
                "effective_status": full["effective_status"],
            }
            rows.append(Row(full, view))
        schema, node = AD_SCHEMA, "Adgroup"
        filters = ("id", "name", "adset.id", "campaign.id", "effective_status")
    return list_edge(
        state,
        f"{account.id}/{edge}",
        rows,
        params,
        schema=schema,
        node=node,
        filter_fields=filters,
        next_base=next_base,
    )


def object_node(state: SandboxState, object_id: str, params: dict[str, str]) -> dict[str, Any]:
    """GET /{creative-id} or /{ad-id} (the caller has checked access to its account)."""
    creative = state.creatives.get(object_id)
    if creative is not None:
        return _select(_creative_full(creative), _field_tree(params, CREATIVE_SCHEMA, "AdCreative"))
    return _select(_ad_full(state, state.ads[object_id]), _field_tree(params, AD_SCHEMA, "Adgroup"))


# writes -------------------------------------------------------------------------------------------
def _json_object(params: dict[str, str], name: str, *, required: bool) -> dict[str, Any] | None:
    raw = params.get(name)
    if raw is None or raw == "":
        if required:
            raise invalid_param(f"The parameter {name} is required")
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise invalid_param(f"Param {name} must be a JSON object")
    return value


def _name(params: dict[str, str], *, required: bool) -> str:
    name = params.get("name", "")
    if not name.strip():
        if required:
            raise invalid_param("The parameter name is required")
        return ""
    if len(name) > MAX_NAME_CHARS:
        raise invalid_param(f"Param name must be at most {MAX_NAME_CHARS} characters")
    return name


def _ad_code_error(message: str, subcode: int, user_msg: str) -> GraphError:
    # Never quotes the code: error texts end up in logs.
    return GraphError(
        f"(#100) {message}",
        code=100,
        subcode=subcode,
        user_title="Partnership ad code can't be used",
        user_msg=user_msg,
    )


def _check_ad_code(state: SandboxState, code: Any, business_id: str) -> str:
    """The media of a usable ad code of a media on which `business_id` is a tagged partner."""
    if not isinstance(code, str) or not code:
        raise invalid_param(f"Param branded_content[{AD_CODE_KEY}] is required: the partnership ad code")
    record = state.code_records.get(code)
    if record is None:
        raise _ad_code_error(
            "The partnership ad code is not valid",
            SUBCODE_AD_CODE_UNKNOWN,
            "Check that the code was copied completely, or ask the creator for a new one.",
        )
    if not record.valid:
        raise _ad_code_error(
            "The partnership ad code is no longer valid: the creator deleted or replaced it",
            SUBCODE_AD_CODE_INVALIDATED,
            "Ask the creator for the post's current partnership ad code.",
        )
    item = state.world.by_id[record.media_id]
    if all(entry.business_id != business_id for entry in item.entries):
        raise _ad_code_error(
            "The ad account's business is not a tagged partner of the post of this partnership ad code",
            SUBCODE_NOT_A_PARTNER,
            "Only a brand tagged as a partner on the post can run partnership ads with it.",
        )
    return record.media_id


def _optional_id(value: Any, where: str) -> str | None:
    if value is None:
        return None
    text = str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
    if not text.isdigit():
        raise invalid_param(f"Param {where} must be a valid ID")
    return text


def create_ad_creative(state: SandboxState, account: AdAccount, params: dict[str, str]) -> dict[str, Any]:
    """POST /act_{id}/adcreatives: a partnership ad creative from an ad code (access already checked)."""
    business = state.world.businesses[account.business_id]
    name = _name(params, required=False)
    object_id = params.get("object_id", "")
    if not object_id:
        raise invalid_param("The parameter object_id is required")
    if object_id not in business.page_ids():
        raise invalid_param(
            f"Param object_id {object_id} must be a Facebook Page of the ad account's business"
        )
    branded = _json_object(params, "branded_content", required=True)
    assert branded is not None
    unknown = sorted(set(branded) - {AD_CODE_KEY, "ad_format"})
    if unknown:
        raise invalid_param(f"Param branded_content[{unknown[0]}] is not a field of branded_content")
    ad_format = branded.get("ad_format")
    if isinstance(ad_format, str) and ad_format.isdigit():
        ad_format = int(ad_format)
    if ad_format not in AD_FORMATS or isinstance(ad_format, bool):
        raise invalid_param("Param branded_content[ad_format] must be one of {1, 2, 3}")
    media_id = _check_ad_code(state, branded.get(AD_CODE_KEY), business.business_id)
    ig = _json_object(params, "instagram_branded_content", required=False)
    fb = _json_object(params, "facebook_branded_content", required=False)
    ig_sponsor = _optional_id((ig or {}).get("sponsor_id"), "instagram_branded_content[sponsor_id]")
    fb_sponsor = _optional_id((fb or {}).get("sponsor_page_id"), "facebook_branded_content[sponsor_page_id]")
    if ig is not None and ig_sponsor is None:
        raise invalid_param("Param instagram_branded_content[sponsor_id] is required")
    if fb is not None and fb_sponsor is None:
        raise invalid_param("Param facebook_branded_content[sponsor_page_id] is required")
    if ig_sponsor is not None and ig_sponsor not in business.ig_user_ids():
        raise invalid_param(
            f"Param instagram_branded_content[sponsor_id] {ig_sponsor} is not an Instagram account of "
            "the ad account's business"
        )
    if fb_sponsor is not None and fb_sponsor not in business.page_ids():
        raise invalid_param(
            f"Param facebook_branded_content[sponsor_page_id] {fb_sponsor} is not a Facebook Page of "
            "the ad account's business"
        )
    record = AdCreativeRecord(
        id=state.new_object_id("1209"),
        account_id=account.id,
        name=name or f"Partnership ad creative {state.object_serial}",
        object_id=object_id,
        ad_code=branded[AD_CODE_KEY],
        media_id=media_id,
        ad_format=ad_format,
        ig_sponsor_id=ig_sponsor,
        fb_sponsor_page_id=fb_sponsor,
        created_at=state.now(),
    )
    state.creatives[record.id] = record
    return {"id": record.id}


def create_ad(state: SandboxState, account: AdAccount, params: dict[str, str]) -> dict[str, Any]:
    """POST /act_{id}/ads (access already checked)."""
    name = _name(params, required=True)
    adset_id = params.get("adset_id", "")
    if not adset_id:
        raise invalid_param("The parameter adset_id is required")
    found = state.world.adsets.get(adset_id)
    if found is None or found[0] != account.id:
        raise invalid_param(f"Param adset_id {adset_id} is not an ad set of ad account {account.id}")
    creative = _json_object(params, "creative", required=True)
    assert creative is not None
    creative_id = _optional_id(creative.get("creative_id"), "creative[creative_id]")
    if creative_id is None:
        raise invalid_param("Param creative must be a JSON object with creative_id")
    record = state.creatives.get(creative_id)
    if record is None or record.account_id != account.id:
        raise invalid_param(
            f"Param creative[creative_id] {creative_id} is not a creative of ad account {account.id}"
        )
    status = params.get("status", "ACTIVE")
    if status not in AD_STATUSES:
        raise invalid_param(f'Param status must be one of {{{", ".join(AD_STATUSES)}}} - got "{status}"')
    ad = AdRecord(
        id=state.new_object_id("1208"),
        account_id=account.id,
        name=name,
        adset_id=adset_id,
        campaign_id=found[1].campaign_id,
        creative_id=creative_id,
        status=status,
        created_at=state.now(),
    )
    state.ads[ad.id] = ad
    return {"id": ad.id}
