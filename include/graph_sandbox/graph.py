"""The emulated Graph API endpoints: authentication, the discovery edge and the ad code edge.

Pure functions of (state, request data) -> JSON-able body, raising GraphError; the HTTP layer is in app.py.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import re
from typing import TYPE_CHECKING, Any

from include.graph_sandbox import errors
from include.graph_sandbox.errors import invalid_param, permission_denied
from include.graph_sandbox.fields import parse_fields, render_item, validate_fields
from include.graph_sandbox.world import (
    AD_ELIGIBILITIES,
    AD_USAGES,
    CONTENT_TYPES,
    FACEBOOK,
    INSTAGRAM,
    MEDIA_TYPES,
    PLATFORMS,
    POST_TYPES,
    SORT_BY,
    pair_key,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from include.graph_sandbox.state import SandboxState
    from include.graph_sandbox.world import BrandPair, Item, TokenRecord

VERSION_RE = re.compile(r"^v\d{1,3}\.\d{1,2}$")
_TOKEN_RE = re.compile(r"^EAA[A-Za-z0-9]{20,}$")
_ID_RE = re.compile(r"^\d{1,20}$")
_COUNTRY_RE = re.compile(r"^[A-Z]{2}$")
APPSECRET_TIME_TOLERANCE_S = 300
MAX_LOOKUP = 50
FILTER_PARAMS = (
    "ad_partner_ig_user_ids",
    "ad_partner_page_ids",
    "platform_types",
    "media_types",
    "post_types",
    "content_types",
    "ad_eligibilities",
    "ad_usages",
    "country_codes",
    "start_date",
    "end_date",
    "search_key",
    "is_recommended",
)
LOOKUP_PARAMS = ("content_ids", "permalinks", "ad_codes")
_ENUMS = {
    "platform_types": PLATFORMS,
    "media_types": MEDIA_TYPES,
    "post_types": POST_TYPES,
    "content_types": CONTENT_TYPES,
    "ad_eligibilities": AD_ELIGIBILITIES,
    "ad_usages": AD_USAGES,
}
IG_BRAND = "instagram_branded_content_ads_brand"
FB_BRAND = "facebook_branded_content_ads_brand"
CREATOR_SCOPE = "instagram_branded_content_creator"


# authentication ---------------------------------------------------------------------------------
def extract_token(params: dict[str, str], authorization: str | None, accept_header: bool) -> str | None:
    """The access token from the query/form `access_token`, else an `Authorization: Bearer|OAuth` header."""
    token = params.get("access_token")
    if token:
        return token
    if accept_header and authorization:
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() in ("bearer", "oauth") and value.strip():
            return value.strip()
    return None


def authenticate(state: SandboxState, params: dict[str, str], authorization: str | None) -> TokenRecord:
    """Resolve the caller's token and check appsecret_proof; raise Meta's error otherwise."""
    token = extract_token(params, authorization, state.config["accept_authorization_header"])
    if not token:
        raise errors.token_missing()
    if not _TOKEN_RE.match(token):
        raise errors.token_malformed()
    record = state.tokens.get(token)
    if record is None:
        raise errors.token_invalid()
    now = state.now()
    problem = token_problem(record, now)
    if problem is not None:
        raise problem
    secret = state.config["app_secrets"].get(record.app_id)
    if secret:
        check_appsecret_proof(secret, token, params, now)
    return record


def meta_time(ts: float) -> str:
    """A time as Meta writes it in token errors: `Tuesday, 01-Dec-26 12:00:00 UTC`."""
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%A, %d-%b-%y %H:%M:%S UTC")


def token_problem(record: TokenRecord, now: float) -> errors.GraphError | None:
    """Why a known token fails every call (190 with 458 de-authorised, 460 invalidated, 463 expired), or
    None while it is valid. De-authorisation is checked first: it outlives any new session or expiry."""
    if record.deauthorised:
        return errors.token_deauthorised(record.app_id)
    if record.invalidated:
        return errors.token_session_invalidated()
    if record.expires_at is not None and record.expires_at <= now:
        return errors.token_expired(meta_time(record.expires_at), meta_time(now))
    return None


def check_appsecret_proof(secret: str, token: str, params: dict[str, str], now: float) -> None:
    """hex(HMAC-SHA256(secret, token)), or with `appsecret_time`: HMAC of `token|time`, valid 5 minutes."""
    proof = params.get("appsecret_proof")
    if not proof:
        raise errors.appsecret_proof_missing()
    stamp = params.get("appsecret_time")
    if stamp is not None:
        if not stamp.isdigit():
            raise errors.appsecret_proof_invalid("appsecret_time must be a unix time")
        if abs(now - int(stamp)) > APPSECRET_TIME_TOLERANCE_S:
            raise errors.appsecret_proof_invalid("appsecret_time is older than 5 minutes")
        message = f"{token}|{stamp}"
    else:
        message = token
    expected = hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, proof.lower()):
        raise errors.appsecret_proof_invalid()


def debug_token_viewer(state: SandboxState, params: dict[str, str], authorization: str | None) -> str:
    """The app on whose behalf debug_token is called: the app of an app access token
    (`<app_id>|<app_secret>`), else of a valid token (authenticated as for any call). Returns its app_id."""
    token = extract_token(params, authorization, state.config["accept_authorization_header"])
    if token and "|" in token:
        app_id, _, secret = token.partition("|")
        expected = state.app_secret(app_id)
        if expected is None or not hmac.compare_digest(expected.encode(), secret.encode()):
            raise errors.app_token_invalid()
        return app_id
    return authenticate(state, params, authorization).app_id


def debug_token(state: SandboxState, viewer_app_id: str, params: dict[str, str]) -> dict[str, Any]:
    """GET /debug_token?input_token=...: what Meta's debug_token says about a token.

    A token of another app than the viewer's is refused with (#100). An unknown or malformed token, or a
    known one that is expired, invalidated or de-authorised, answers 200 with `is_valid: false` and an
    `error` object (`code` 190, `subcode`, `message`), as Meta does.
    """
    token = params.get("input_token")
    if not token:
        raise invalid_param("The parameter input_token is required")
    record = state.tokens.get(token)
    if record is None:
        message = (
            "Invalid OAuth access token."
            if _TOKEN_RE.match(token)
            else "Invalid OAuth access token - Cannot parse access token"
        )
        return {"data": {"error": {"code": 190, "message": message}, "is_valid": False, "scopes": []}}
    if record.app_id != viewer_app_id:
        raise errors.debug_token_other_app()
    app = state.world.apps.get(record.app_id)
    data: dict[str, Any] = {
        "app_id": record.app_id,
        "type": record.type,
        "application": app.name if app is not None else record.app_id,
        "data_access_expires_at": int(record.data_access_expires_at or 0),
        "expires_at": int(record.expires_at or 0),
        "is_valid": True,
        "issued_at": int(record.issued_at),
        "scopes": list(record.scopes),
        "granular_scopes": [g.public() for g in record.granular_scopes],
        "user_id": record.user_id,
    }
    if record.type == "PAGE" and record.fb_page_id:
        data["profile_id"] = record.fb_page_id
    problem = token_problem(record, state.now())
    if problem is not None:
        data["is_valid"] = False
        data["error"] = {"code": problem.code, "message": problem.message, "subcode": problem.subcode}
    return {"data": data}


# parameter parsing ------------------------------------------------------------------------------
def parse_vector(name: str, raw: str) -> list[str]:
    """A vec<...> parameter: a JSON array (`["A","B"]`) or a comma-separated list (`A,B`)."""
    raw = raw.strip()
    if raw.startswith("["):
        try:
            value = json.loads(raw)
        except ValueError:
            raise invalid_param(f"Param {name} must be a JSON array or a comma-separated list") from None
        if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
            raise invalid_param(f"Param {name} must be an array of strings")
        values = [str(v).strip() for v in value]
    else:
        values = [v.strip() for v in raw.split(",")]
    values = [v for v in values if v]
    if not values:
        raise invalid_param(f"Param {name} must be a non-empty array")
    return values


def _enum_values(name: str, raw: str) -> set[str]:
    allowed = _ENUMS[name]
    values = parse_vector(name, raw)
    for i, value in enumerate(values):
        if value not in allowed:
            raise invalid_param(f'Param {name}[{i}] must be one of {{{", ".join(allowed)}}} - got "{value}"')
    return set(values)


def _ids(name: str, raw: str) -> set[str]:
    values = parse_vector(name, raw)
    for value in values:
        if not _ID_RE.match(value):
            raise invalid_param(f'Param {name} must be an array of valid ids, got "{value}"')
    return set(values)


def _date(name: str, raw: str) -> dt.date:
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
            raise ValueError
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise invalid_param(f'Param {name} must be a date in YYYY-MM-DD format, got "{raw}"') from None


def _bool(name: str, raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise invalid_param(f"Param {name} must be a boolean")


def parse_limit(params: dict[str, str]) -> int:
    raw = params.get("limit")
    if raw is None:
        return 25
    try:
        limit = int(raw)
    except ValueError:
        raise invalid_param("Param limit must be an integer") from None
    if not 1 <= limit <= 50:
        raise invalid_param(f"Param limit must be between 1 and 50, got {limit}")
    return limit


# cursors ----------------------------------------------------------------------------------------
def encode_cursor(key: bytes, fingerprint: str, position: int) -> str:
    payload = f"{fingerprint}:{position}"
    mac = hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()[:12]
    return base64.urlsafe_b64encode(f"{payload}:{mac}".encode()).decode().rstrip("=")


def decode_cursor(key: bytes, fingerprint: str, cursor: str, size: int) -> int:
    """The position a cursor points at; Meta's (#100) error for a tampered or foreign cursor."""
    bad = invalid_param("The after cursor is not valid for this query. Start again without after.")
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        got_fp, pos_text, mac = text.split(":")
        position = int(pos_text)
    except ValueError:
        raise bad from None
    expected = hmac.new(key, f"{got_fp}:{pos_text}".encode(), hashlib.sha256).hexdigest()[:12]
    if not hmac.compare_digest(expected, mac) or got_fp != fingerprint or not 0 < position <= size:
        raise bad
    return position


# discovery --------------------------------------------------------------------------------------
def _resolve_pair(state: SandboxState, business_id: str, params: dict[str, str]) -> BrandPair:
    page_id = params.get("fb_page_id")
    ig_user_id = params.get("ig_user_id")
    if not page_id and not ig_user_id:
        raise invalid_param("At least one of fb_page_id or ig_user_id is required")
    pairs = []
    for name, value, kind in (
        ("fb_page_id", page_id, "Facebook Page"),
        ("ig_user_id", ig_user_id, "Instagram account"),
    ):
        if not value:
            continue
        if not _ID_RE.match(value):
            raise invalid_param(f'Param {name} must be a valid ID, got "{value}"')
        found = state.world.pair_of_account.get(value)
        if found is None or found[0] != business_id:
            raise invalid_param(
                f"The {kind} {value} ({name}) does not belong to business {business_id}, "
                "or the caller has no admin permission on it",
            )
        pair = found[1]
        if (name == "fb_page_id" and pair.fb_page_id != value) or (
            name == "ig_user_id" and pair.ig_user_id != value
        ):
            raise invalid_param(f"Param {name} {value} is not a {kind}")
        pairs.append(pair)
    if len(pairs) == 2 and pair_key(pairs[0]) != pair_key(pairs[1]):
        raise invalid_param(
            f"The Facebook Page {page_id} and the Instagram account {ig_user_id} "
            "are not linked to each other",
        )
    return pairs[0]


def _check_brand_scopes(token: TokenRecord, business_id: str) -> set[str]:
    scopes = set(token.scopes)
    if "business_management" not in scopes:
        raise permission_denied("Requires business_management permission to manage the object", code=200)
    if token.business_id != business_id:
        raise permission_denied(
            f"The caller does not have any permission on business {business_id}", code=200
        )
    platforms = set()
    if IG_BRAND in scopes:
        if "instagram_basic" not in scopes:
            raise permission_denied(
                f"{IG_BRAND} also requires the instagram_basic permission on the same Instagram account"
            )
        platforms.add(INSTAGRAM)
    if FB_BRAND in scopes:
        platforms.add(FACEBOOK)
    if not platforms:
        raise permission_denied(
            f"This endpoint requires at least one of the {IG_BRAND} or {FB_BRAND} permissions"
        )
    return platforms


def _entry_for(item: Item, key: str) -> Any:
    for entry in item.entries:
        if entry.pair_key == key:
            return entry
    return None


def _build_filters(
    params: dict[str, str], key: str, today: dt.date
) -> tuple[list[Callable[[Item], bool]], dict]:
    """Predicates for the search mode, and a normalised copy for the cursor fingerprint."""
    checks: list[Callable[[Item], bool]] = []
    normal: dict[str, Any] = {}
    for name in ("media_types", "post_types", "ad_usages"):
        if name in params:
            wanted = _enum_values(name, params[name])
            normal[name] = sorted(wanted)
            attr = {"media_types": "media_type", "post_types": "post_type", "ad_usages": "ad_usage"}[name]
            checks.append(lambda item, w=wanted, a=attr: getattr(item, a) in w)
    if "content_types" in params:
        wanted_ct = _enum_values("content_types", params["content_types"])
        normal["content_types"] = sorted(wanted_ct)
        checks.append(lambda item: not wanted_ct.isdisjoint(_entry_for(item, key).content_types))
    if "ad_eligibilities" in params:
        wanted_el = _enum_values("ad_eligibilities", params["ad_eligibilities"])
        normal["ad_eligibilities"] = sorted(wanted_el)
        checks.append(lambda item: _entry_for(item, key).ad_eligibility in wanted_el)
    partner_ig = (
        _ids("ad_partner_ig_user_ids", params["ad_partner_ig_user_ids"])
        if "ad_partner_ig_user_ids" in params
        else None
    )
    partner_page = (
        _ids("ad_partner_page_ids", params["ad_partner_page_ids"])
        if "ad_partner_page_ids" in params
        else None
    )
    if partner_ig is not None or partner_page is not None:
        ig_set = partner_ig or set()
        page_set = partner_page or set()
        normal["partners"] = [sorted(ig_set), sorted(page_set)]
        checks.append(lambda item: item.author.ig_user_id in ig_set or item.author.fb_page_id in page_set)
    if "country_codes" in params:
        countries = set(parse_vector("country_codes", params["country_codes"]))
        for code in countries:
            if not _COUNTRY_RE.match(code):
                raise invalid_param(f'Param country_codes must hold ISO 3166-1 alpha-2 codes, got "{code}"')
        normal["country_codes"] = sorted(countries)
        checks.append(lambda item: item.author.country in countries)
    has_start, has_end = "start_date" in params, "end_date" in params
    if has_start != has_end:
        raise invalid_param("start_date and end_date must be provided together")
    if has_start:
        start = _date("start_date", params["start_date"])
        end = _date("end_date", params["end_date"])
        if start > today or end > today:
            raise invalid_param("start_date and end_date cannot be in the future")
        if start > end:
            raise invalid_param("start_date must be less than or equal to end_date")
        lo, hi = start.isoformat(), end.isoformat()
        normal["dates"] = [lo, hi]
        checks.append(lambda item: lo <= item.creation_time <= hi)
    if "search_key" in params:
        needle = params["search_key"].strip().casefold()
        normal["search_key"] = needle
        if needle:
            checks.append(lambda item: needle in item.caption_fold)
    if "is_recommended" in params and _bool("is_recommended", params["is_recommended"]):
        normal["is_recommended"] = True
        checks.append(lambda item: item.is_recommended)
    return checks, normal


def discover(
    state: SandboxState, token: TokenRecord, business_id: str, params: dict[str, str]
) -> dict[str, Any]:
    """GET /{business-id}/partnership-ads-advertisable-content."""
    world = state.world
    if business_id not in world.businesses:
        raise errors.unsupported_request("GET", business_id)
    visible = _check_brand_scopes(token, business_id)
    if "before" in params:
        raise invalid_param("Pagination is forward-only: the before cursor is not supported; use after")
    pair = _resolve_pair(state, business_id, params)
    key = pair_key(pair)
    limit = parse_limit(params)
    tree = parse_fields(params.get("fields", ""))
    validate_fields(tree)
    if "platform_types" in params:
        requested = _enum_values("platform_types", params["platform_types"])
        missing = requested - visible
        if missing:
            scope = IG_BRAND if INSTAGRAM in missing else FB_BRAND
            raise permission_denied(
                f"platform_types asks for {sorted(missing)[0]} but the token lacks {scope}"
            )
        visible = requested
    omit_null = state.config["null_fields"] == "omit"
    codes = state.current_code

    lookups = [name for name in LOOKUP_PARAMS if name in params]
    if lookups:
        if len(lookups) > 1:
            raise invalid_param(
                f"Only one of content_ids, permalinks or ad_codes may be provided, got {lookups}"
            )
        clash = [n for n in (*FILTER_PARAMS, "sort_by", "after") if n in params]
        if clash:
            raise invalid_param(
                f"{lookups[0]} cannot be combined with filters, sort_by or after (got {clash})"
            )
        values = parse_vector(lookups[0], params[lookups[0]])
        if len(values) > MAX_LOOKUP:
            raise invalid_param(f"Param {lookups[0]} accepts at most {MAX_LOOKUP} values, got {len(values)}")
        found: list[Item] = []
        seen: set[str] = set()
        for value in values:
            if lookups[0] == "content_ids":
                item = world.by_id.get(value)
            elif lookups[0] == "permalinks":
                item = world.by_permalink.get(value)
            else:
                record = state.code_records.get(value)
                item = world.by_id.get(record.media_id) if record is not None and record.valid else None
            if item is None or item.content_id in seen or item.platform not in visible:
                continue
            if _entry_for(item, key) is None:
                continue
            seen.add(item.content_id)
            found.append(item)
        return {"data": [render_item(i, tree, codes.get(i.content_id), omit_null) for i in found]}

    sort_by = params.get("sort_by", "RECOMMENDED")
    if sort_by not in SORT_BY:
        raise invalid_param(f'Param sort_by must be one of {{{", ".join(SORT_BY)}}} - got "{sort_by}"')
    checks, normal = _build_filters(params, key, dt.datetime.fromtimestamp(state.now(), dt.UTC).date())
    if visible != {INSTAGRAM, FACEBOOK}:
        only = next(iter(visible))
        checks.insert(0, lambda item: item.platform == only)
    fingerprint = hashlib.sha256(
        json.dumps([business_id, key, sorted(visible), sort_by, normal], sort_keys=True).encode()
    ).hexdigest()[:16]
    index = (world.recommended_index if sort_by == "RECOMMENDED" else world.date_index).get(key, [])
    position = (
        decode_cursor(state.cursor_key, fingerprint, params["after"], len(index)) if "after" in params else 0
    )
    items = world.items
    page: list[Item] = []
    more = False
    last = position
    size = len(index)
    i = position
    while i < size:
        item = items[index[i]]
        if all(check(item) for check in checks):
            if len(page) == limit:
                more = True
                break
            page.append(item)
            last = i + 1
        i += 1
    body: dict[str, Any] = {
        "data": [render_item(it, tree, codes.get(it.content_id), omit_null) for it in page]
    }
    if more:
        body["paging"] = {"cursors": {"after": encode_cursor(state.cursor_key, fingerprint, last)}}
    return body


# ad codes ---------------------------------------------------------------------------------------
def ad_code(state: SandboxState, token: TokenRecord, method: str, media_id: str) -> dict[str, Any]:
    """POST / DELETE /{ig-media-id}/partnership_ad_code: only the media's owner, with the creator scopes."""
    item = state.world.by_id.get(media_id)
    if item is None:
        raise errors.unsupported_request(method, media_id)
    if item.platform != INSTAGRAM:
        error = errors.unsupported_request(method, media_id)
        error.user_title = "Not an Instagram media"
        error.user_msg = "Partnership ad codes exist only for Instagram media; this id is a Facebook post."
        raise error
    scopes = set(token.scopes)
    if "business_management" not in scopes:
        raise permission_denied("Requires business_management permission to manage the object", code=200)
    for needed in ("instagram_basic", CREATOR_SCOPE):
        if needed not in scopes:
            raise permission_denied(f"Managing a partnership ad code requires the {needed} permission")
        # A granular grant narrows the scope to its target accounts: the media's owner must be one of them.
        if not token.grants(needed, item.author.ig_user_id):
            raise permission_denied(
                f"Managing a partnership ad code requires the {needed} permission on the Instagram account "
                "that owns the media; this token holds it for other accounts only"
            )
    if not token.ig_user_id or token.ig_user_id != item.author.ig_user_id:
        raise permission_denied(
            "Only the Instagram account that owns this media can create or delete its partnership ad code"
        )
    if method == "DELETE":
        state.invalidate_code(media_id)
        return {"success": True}
    existing = state.current_code.get(media_id)
    if existing is not None and state.config["ad_code_repeat"] == "same":
        return {"ad_code": existing}
    if existing is not None:
        state.invalidate_code(media_id)
    return {"ad_code": state.issue_code(media_id)}


def ad_code_business_key(token: TokenRecord) -> str:
    """The business object an ad code call is counted against: the token's business, else its IG account."""
    return token.business_id or token.ig_user_id or token.fb_page_id or "unknown"
