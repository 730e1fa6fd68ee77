"""Everything in the sandbox that changes at run time: ad codes, minted tokens, rate-limit windows,
scheduled faults, the request log and webhook deliveries. `reset()` returns to the seeded state.

All mutation happens on the server's event loop (handlers are async and never await while mutating), so
there are no locks.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
import re
import time
from collections import deque
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

from include.graph_sandbox.config import make_config
from include.graph_sandbox.world import (
    AD_ELIGIBILITIES,
    TOKEN_TYPES,
    GranularScope,
    PartnerEntry,
    TokenRecord,
    make_ad_code,
    make_token,
    make_user_id,
    token_health_tokens,
)

if TYPE_CHECKING:
    from include.graph_sandbox.world import World

FAULT_KINDS = ("http_500", "transient", "throttle", "delay", "drop", "html", "truncated", "timeout", "body")
REQUEST_LOG_SIZE = 20000
# `batch` carries its sub-requests' tokens (each sub-request is logged on its own, redacted).
_REDACTED_PARAMS = frozenset({"access_token", "appsecret_proof", "input_token", "client_secret", "batch"})
# The partnership ad code inside a creative's `branded_content` is a credential of sorts (whoever holds it can
# run ads with the creator's post): the request log redacts it like a token.
AD_CODE_KEY = "instagram_boost_post_access_token"
REDACTED = "[REDACTED]"


def redact_param(name: str, value: str) -> str:
    """A request parameter as the request log shows it: tokens, proofs and ad codes `[REDACTED]`."""
    if name in _REDACTED_PARAMS or value.startswith("EAA") or AD_CODE_KEY in name:
        return REDACTED
    if name == "branded_content":
        try:
            parsed = json.loads(value)
        except ValueError:
            return REDACTED
        if not isinstance(parsed, dict):
            return REDACTED
        if AD_CODE_KEY in parsed:
            parsed[AD_CODE_KEY] = REDACTED
        return json.dumps(parsed, separators=(",", ":"))
    return value


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _unix_time(name: str, value: Any) -> float | None:
    """A unix time from a control call; 0 and null mean never (debug_token's 0)."""
    if value is None:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{name} must be a unix time (0 or null: never)")
    return float(value) or None


def _scopes(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        raise ValueError("scopes must be a list of strings")
    return tuple(value)


def _granular(value: Any) -> tuple[GranularScope, ...]:
    """`granular_scopes` as debug_token writes them: [{"scope": ..., "target_ids": [...]}]."""
    if not isinstance(value, list):
        raise ValueError('granular_scopes must be a list of {"scope", "target_ids"}')
    entries = []
    for entry in value:
        if (
            not isinstance(entry, dict)
            or not isinstance(entry.get("scope"), str)
            or set(entry)
            - {
                "scope",
                "target_ids",
            }
        ):
            raise ValueError('each granular scope must be {"scope": str, "target_ids": [str, ...]}')
        targets = entry.get("target_ids") or []
        if not isinstance(targets, list) or not all(isinstance(t, str) for t in targets):
            raise ValueError("target_ids must be a list of id strings")
        entries.append(GranularScope(entry["scope"], tuple(targets)))
    return tuple(entries)


@dataclass(slots=True)
class Fault:
    """One scheduled misbehaviour; see the README for the JSON format."""

    id: int
    kind: str
    method: str | None
    path: re.Pattern[str] | None
    path_text: str | None
    remaining: int | None
    fraction: float | None
    after: bool
    code: int | None
    status: int | None
    delay_ms: float | None
    regain_minutes: float | None
    rng: random.Random
    hits: int = 0
    body: Any = None  # kind "body": the JSON answered instead of the real one (malformed-answer drills)

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "method": self.method,
            "path": self.path_text,
            "remaining": self.remaining,
            "fraction": self.fraction,
            "after": self.after,
            "code": self.code,
            "status": self.status,
            "delay_ms": self.delay_ms,
            "regain_minutes": self.regain_minutes,
            "body": self.body,
            "hits": self.hits,
        }


def parse_fault(spec: dict[str, Any], fault_id: int) -> Fault:
    """Validate a fault spec (raises ValueError naming the problem)."""
    known = {
        "kind",
        "method",
        "path",
        "count",
        "fraction",
        "after",
        "code",
        "status",
        "delay_ms",
        "seed",
        "regain_minutes",
        "body",
    }
    unknown = set(spec) - known
    if unknown:
        raise ValueError(f"unknown fault keys {sorted(unknown)}; known: {sorted(known)}")
    kind = spec.get("kind")
    if kind not in FAULT_KINDS:
        raise ValueError(f"kind must be one of {FAULT_KINDS}, got {kind!r}")
    if kind == "body" and "body" not in spec:
        raise ValueError("a body fault needs 'body': the JSON to answer with")
    method = spec.get("method")
    if method is not None and (not isinstance(method, str) or not method):
        raise ValueError("method must be an HTTP method name")
    path_text = spec.get("path")
    try:
        path = re.compile(path_text) if path_text else None
    except re.error as exc:
        raise ValueError(f"path is not a valid regular expression: {exc}") from exc
    count = spec.get("count")
    fraction = spec.get("fraction")
    if count is not None and (not isinstance(count, int) or isinstance(count, bool) or count < 1):
        raise ValueError("count must be a positive integer")
    if fraction is not None and (not isinstance(fraction, int | float) or not 0 < fraction <= 1):
        raise ValueError("fraction must be a number in (0, 1]")
    if count is None and fraction is None:
        count = 1
    code = spec.get("code")
    if kind == "transient" and code is not None and code not in (1, 2):
        raise ValueError("a transient fault has code 1 or 2")
    for key in ("code", "status"):
        value = spec.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise ValueError(f"{key} must be an integer")
    for key in ("delay_ms", "regain_minutes"):
        value = spec.get(key)
        if value is not None and (not isinstance(value, int | float) or value < 0):
            raise ValueError(f"{key} must be a non-negative number")
    return Fault(
        id=fault_id,
        kind=kind,
        method=method.upper() if method else None,
        path=path,
        path_text=path_text,
        remaining=count,
        fraction=float(fraction) if fraction is not None else None,
        after=bool(spec.get("after", False)),
        code=code,
        status=spec.get("status"),
        delay_ms=spec.get("delay_ms"),
        regain_minutes=spec.get("regain_minutes"),
        rng=random.Random(spec.get("seed", fault_id)),
        body=spec.get("body"),
    )


@dataclass(slots=True)
class AdCodeRecord:
    ad_code: str
    media_id: str
    issued_at: float
    origin: str
    invalidated_at: float | None = None

    @property
    def valid(self) -> bool:
        return self.invalidated_at is None

    def public(self) -> dict[str, Any]:
        return {
            "ad_code": self.ad_code,
            "media_id": self.media_id,
            "valid": self.valid,
            "issued_at": iso(self.issued_at),
            "invalidated_at": iso(self.invalidated_at),
            "origin": self.origin,
        }


def _as_graph_object(record: Any) -> dict[str, Any]:
    """A record's fields as Graph answers them: ``created_at`` (epoch seconds) as ``created_time`` (ISO)."""
    fields = asdict(record)
    created = fields.pop("created_at")
    return {**fields, "created_time": iso(created)}


@dataclass(slots=True)
class AdCreativeRecord:
    """A creative created with `POST /act_{id}/adcreatives` (partnership ads only)."""

    id: str
    account_id: str  # "act_<digits>"
    name: str
    object_id: str
    ad_code: str
    media_id: str
    ad_format: int
    ig_sponsor_id: str | None
    fb_sponsor_page_id: str | None
    created_at: float

    def public(self) -> dict[str, Any]:
        return _as_graph_object(self)


@dataclass(slots=True)
class AdRecord:
    """An ad created with `POST /act_{id}/ads`."""

    id: str
    account_id: str
    name: str
    adset_id: str
    campaign_id: str
    creative_id: str
    status: str
    created_at: float

    def public(self) -> dict[str, Any]:
        return _as_graph_object(self)


@dataclass
class SandboxState:
    """The mutable half of the sandbox; `world` is the immutable half."""

    world: World
    startup_config: dict[str, Any]
    config: dict[str, Any] = field(default_factory=dict)
    clock_offset: float = 0.0
    tokens: dict[str, TokenRecord] = field(default_factory=dict)
    minted: int = 0
    current_code: dict[str, str] = field(default_factory=dict)
    code_records: dict[str, AdCodeRecord] = field(default_factory=dict)
    code_serial: dict[str, int] = field(default_factory=dict)
    windows: dict[tuple[str, str], deque[float]] = field(default_factory=dict)
    app_windows: dict[str, deque[float]] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    fault_serial: int = 0
    log: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=REQUEST_LOG_SIZE))
    webhook: list[dict[str, Any]] = field(default_factory=list)
    cursor_key: bytes = b""
    # Bumped by reset(): a request that started before a reset (a delayed or timed-out one) is not logged
    # after it, so it never leaks into the next test's request log.
    generation: int = 0
    # content_id -> the item's partnership_info entries as generated, for items whose eligibility the control
    # API changed (reset() puts them back).
    original_entries: dict[str, tuple[PartnerEntry, ...]] = field(default_factory=dict)
    # Creatives and ads by id, in creation order (the order the account's edges list them).
    creatives: dict[str, AdCreativeRecord] = field(default_factory=dict)
    ads: dict[str, AdRecord] = field(default_factory=dict)
    object_serial: int = 0

    def __post_init__(self) -> None:
        self.config = make_config(**self.startup_config)
        self.cursor_key = hashlib.sha256(f"cursor:{self.world.seed}".encode()).digest()
        self.reset()

    def now(self) -> float:
        """The sandbox clock: real time plus the offset set by `POST /__sandbox__/clock`."""
        return time.time() + self.clock_offset

    def reset(self, *, config: bool = False) -> None:
        """Back to the seeded state: codes, tokens, windows, faults, log, webhook, clock."""
        self.generation += 1
        self.clock_offset = 0.0
        for content_id, entries in self.original_entries.items():
            self.world.by_id[content_id].entries = entries
        self.original_entries = {}
        self.minted = 0
        self.current_code = {}
        self.code_records = {}
        self.code_serial = {}
        seeded_at = dt.datetime.combine(self.world.today, dt.time(), dt.UTC).timestamp() - 86400
        for item in self.world.items:
            if item.seeded_ad_code:
                self.current_code[item.content_id] = item.seeded_ad_code
                self.code_records[item.seeded_ad_code] = AdCodeRecord(
                    item.seeded_ad_code, item.content_id, seeded_at, "seeded"
                )
        self.windows = {}
        self.app_windows = {}
        self.faults = []
        self.log.clear()
        self.webhook = []
        self.creatives = {}
        self.ads = {}
        self.object_serial = 0
        if config:
            self.config = make_config(**self.startup_config)
        self.tokens = {}
        self.seed_tokens()

    # tokens -------------------------------------------------------------------------------------
    def seed_tokens(self) -> None:
        """Put the world's tokens back as generated (with the token-health examples when the setting is on),
        keeping minted ones. Called by reset() and when `token_health_examples` changes."""
        minted = {k: t for k, t in self.tokens.items() if t.minted}
        self.tokens = {t.access_token: t for t in self.world.tokens}
        if self.config["token_health_examples"]:
            self.tokens.update({t.access_token: t for t in token_health_tokens(self.world)})
        self.tokens.update(minted)

    def app_secret(self, app_id: str) -> str | None:
        """The app's secret: the `app_secrets` setting's (which also requires appsecret_proof), else the
        world's generated one."""
        configured = self.config["app_secrets"].get(app_id)
        if configured:
            return configured
        app = self.world.apps.get(app_id)
        return app.app_secret if app is not None else None

    def apps(self) -> list[dict[str, Any]]:
        return [
            {
                "app_id": app.app_id,
                "name": app.name,
                "app_secret": self.app_secret(app.app_id),
                "requires_appsecret_proof": bool(self.config["app_secrets"].get(app.app_id)),
            }
            for app in self.world.apps.values()
        ]

    def mint_token(self, fields: dict[str, Any]) -> TokenRecord:
        """Create a token with any scope set (`role`, `scopes`, ids, optional `app_id`, `expires_at`, `type`,
        `granular_scopes`, `issued_at`, `data_access_expires_at`, `label`)."""
        known = {
            "role",
            "scopes",
            "business_id",
            "fb_page_id",
            "ig_user_id",
            "app_id",
            "expires_at",
            "label",
            "type",
            "granular_scopes",
            "issued_at",
            "data_access_expires_at",
        }
        unknown = set(fields) - known
        if unknown:
            raise ValueError(f"unknown token fields {sorted(unknown)}; known: {sorted(known)}")
        role = fields.get("role", "creator")
        if role not in ("brand", "creator"):
            raise ValueError("role must be 'brand' or 'creator'")
        scopes = _scopes(fields.get("scopes", []))
        for key in ("business_id", "fb_page_id", "ig_user_id", "app_id", "label"):
            if fields.get(key) is not None and not isinstance(fields[key], str):
                raise ValueError(f"{key} must be a string or null")
        token_type = fields.get("type") or ("SYSTEM_USER" if role == "brand" else "USER")
        if token_type not in TOKEN_TYPES:
            raise ValueError(f"type must be one of {list(TOKEN_TYPES)}")
        issued_at = _unix_time("issued_at", fields.get("issued_at"))
        self.minted += 1
        rng = random.Random(f"minted:{self.world.seed}:{self.minted}")
        value = make_token(rng, "Minted")
        record = TokenRecord(
            value,
            role,
            scopes,
            fields.get("business_id"),
            fields.get("fb_page_id"),
            fields.get("ig_user_id"),
            app_id=fields.get("app_id") or self.world.tokens[0].app_id,
            expires_at=_unix_time("expires_at", fields.get("expires_at")),
            label=fields.get("label") or "minted",
            minted=True,
            type=token_type,
            user_id=make_user_id(value),
            issued_at=issued_at if issued_at is not None else self.now(),
            data_access_expires_at=_unix_time("data_access_expires_at", fields.get("data_access_expires_at")),
            granular_scopes=_granular(fields.get("granular_scopes", [])),
        )
        self.tokens[record.access_token] = record
        return record

    def find_token(self, key: str) -> TokenRecord:
        """The token a control call names by its `user_id` or its owner's id (`ig_user_id`, `business_id`,
        `fb_page_id`), so token values never appear in URLs. A generated token wins over minted ones for the
        same owner; two candidates of the same kind are an error (name the token by `user_id` then).
        Raises LookupError or ValueError."""
        for record in self.tokens.values():
            if record.user_id == key:
                return record
        owned = [t for t in self.tokens.values() if key in (t.ig_user_id, t.business_id, t.fb_page_id)]
        generated = [t for t in owned if not t.minted]
        candidates = generated or owned
        if not candidates:
            raise LookupError(f"no token with user_id or owner id {key}")
        if len(candidates) > 1:
            raise ValueError(
                f"{len(candidates)} tokens belong to {key}; name one by its user_id: "
                + ", ".join(t.user_id for t in candidates)
            )
        return candidates[0]

    def change_token(self, record: TokenRecord, fields: dict[str, Any]) -> TokenRecord:
        """Expire, invalidate, de-authorise or re-scope a token; undone by reset().

        `expires_at` (unix time; 0 or null: never), `expires_in` (seconds from the sandbox clock's now; 0
        expires it at once), `data_access_expires_at`, `invalidated`, `deauthorised` (booleans), `scopes`,
        `granular_scopes` ([{"scope", "target_ids"}]). Raises ValueError naming a bad field.
        """
        known = {
            "expires_at",
            "expires_in",
            "data_access_expires_at",
            "invalidated",
            "deauthorised",
            "scopes",
            "granular_scopes",
        }
        unknown = set(fields) - known
        if unknown:
            raise ValueError(f"unknown token changes {sorted(unknown)}; known: {sorted(known)}")
        if not fields:
            raise ValueError(f"nothing to change; known: {sorted(known)}")
        changes: dict[str, Any] = {}
        if "expires_at" in fields and "expires_in" in fields:
            raise ValueError("give expires_at or expires_in, not both")
        if "expires_at" in fields:
            changes["expires_at"] = _unix_time("expires_at", fields["expires_at"])
        if "expires_in" in fields:
            seconds = fields["expires_in"]
            if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
                raise ValueError("expires_in must be a non-negative number of seconds")
            changes["expires_at"] = self.now() + seconds
        if "data_access_expires_at" in fields:
            changes["data_access_expires_at"] = _unix_time(
                "data_access_expires_at", fields["data_access_expires_at"]
            )
        for flag in ("invalidated", "deauthorised"):
            if flag in fields:
                if not isinstance(fields[flag], bool):
                    raise ValueError(f"{flag} must be true or false")
                changes[flag] = fields[flag]
        if "scopes" in fields:
            changes["scopes"] = _scopes(fields["scopes"])
            if "granular_scopes" not in fields:
                # Granular entries of scopes the token no longer holds go with them.
                kept = set(changes["scopes"])
                changes["granular_scopes"] = tuple(g for g in record.granular_scopes if g.scope in kept)
        if "granular_scopes" in fields:
            changes["granular_scopes"] = _granular(fields["granular_scopes"])
        updated = replace(record, **changes)
        self.tokens[updated.access_token] = updated
        return updated

    # items --------------------------------------------------------------------------------------
    def set_eligibility(self, content_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Change an item's ``ad_eligibility`` for one business (``business_id``) or every partner, as when a
        creator revokes a permission or Meta flags the post; undone by :meth:`reset`."""
        unknown = set(fields) - {"ad_eligibility", "business_id"}
        if unknown:
            raise ValueError(
                f"unknown item fields {sorted(unknown)}; known: ['ad_eligibility', 'business_id']"
            )
        eligibility = fields.get("ad_eligibility")
        if eligibility not in AD_ELIGIBILITIES:
            raise ValueError(f"ad_eligibility must be one of {list(AD_ELIGIBILITIES)}")
        business_id = fields.get("business_id")
        item = self.world.by_id.get(content_id)
        if item is None:
            raise LookupError(f"no item {content_id}")
        if business_id is not None and all(e.business_id != business_id for e in item.entries):
            raise ValueError(f"business {business_id} is not a tagged partner of item {content_id}")
        self.original_entries.setdefault(content_id, item.entries)
        item.entries = tuple(
            replace(e, ad_eligibility=eligibility) if business_id in (None, e.business_id) else e
            for e in item.entries
        )
        return {
            "content_id": content_id,
            "partnership_info": [
                {"business_id": e.business_id, "ad_eligibility": e.ad_eligibility} for e in item.entries
            ],
        }

    # ad codes -----------------------------------------------------------------------------------
    def issue_code(self, media_id: str) -> str:
        serial = self.code_serial.get(media_id, 0) + 1
        self.code_serial[media_id] = serial
        code = make_ad_code(self.world.seed, media_id, serial)
        self.current_code[media_id] = code
        self.code_records[code] = AdCodeRecord(code, media_id, self.now(), "created")
        return code

    def invalidate_code(self, media_id: str) -> None:
        code = self.current_code.pop(media_id, None)
        if code is not None:
            self.code_records[code].invalidated_at = self.now()

    def new_object_id(self, prefix: str) -> str:
        """A fresh 18-digit id for a created creative (`prefix` "1209") or ad ("1208"), unique per run."""
        self.object_serial += 1
        return f"{prefix}{self.object_serial:014d}"

    # rate limits --------------------------------------------------------------------------------
    def _window(self, key: tuple[str, str]) -> deque[float]:
        window = self.windows.get(key)
        if window is None:
            window = self.windows[key] = deque()
        horizon = self.now() - self.config["rate_limit_window_s"]
        while window and window[0] <= horizon:
            window.popleft()
        return window

    def regain_minutes(self, key: tuple[str, str]) -> float:
        if self.config["throttle_regain_minutes"] is not None:
            return self.config["throttle_regain_minutes"]
        window = self._window(key)
        if not window:
            return 0
        wait = window[0] + self.config["rate_limit_window_s"] - self.now()
        return max(1, -(-int(wait) // 60))

    @staticmethod
    def _buc_key(token: TokenRecord, business_key: str, buc_type: str | None) -> tuple[str, str]:
        # The discovery and ad-code edges keep their historical key; another bucket (ads_management) gets a
        # window of its own for the same business object.
        return (token.access_token, business_key if buc_type is None else f"{business_key}#{buc_type}")

    def count_call(
        self,
        token: TokenRecord,
        business_key: str,
        *,
        buc_type: str | None = None,
        ad_account_id: str | None = None,
    ) -> tuple[bool, dict[str, str]]:
        """Record a call in the sliding window(s). Returns (allowed, usage headers).

        `buc_type` names the BUC bucket (default: the `buc_type` setting); with `ad_account_id` the call also
        counts in that account's window (reported as `x-ad-account-usage`), and either window being full
        throttles the call.
        """
        keys = [self._buc_key(token, business_key, buc_type)]
        if ad_account_id is not None:
            keys.append((token.access_token, ad_account_id))
        windows = [self._window(key) for key in keys]
        budget = self.config["rate_limit_calls"]
        allowed = all(len(window) < budget for window in windows)
        if allowed:
            for window in windows:
                window.append(self.now())
            app_window = self.app_windows.setdefault(token.app_id, deque())
            app_window.append(self.now())
            horizon = self.now() - self.config["rate_limit_window_s"]
            while app_window and app_window[0] <= horizon:
                app_window.popleft()
        headers = self.usage_headers(
            token, business_key, throttled=not allowed, buc_type=buc_type, ad_account_id=ad_account_id
        )
        return allowed, headers

    def usage_headers(
        self,
        token: TokenRecord,
        business_key: str,
        *,
        throttled: bool,
        regain: float | None = None,
        buc_type: str | None = None,
        ad_account_id: str | None = None,
    ) -> dict[str, str]:
        key = self._buc_key(token, business_key, buc_type)
        budget = self.config["rate_limit_calls"]
        pct = 100 if throttled else min(100, (len(self._window(key)) * 100) // budget)
        account_key = (token.access_token, ad_account_id) if ad_account_id is not None else None
        if regain is None:
            regain = 0
            if throttled:
                regain = max(self.regain_minutes(k) for k in (key, account_key) if k is not None)
        app_calls = len(self.app_windows.get(token.app_id, ()))
        app_pct = min(100, (app_calls * 100) // (budget * 10))
        buc = {
            business_key: [
                {
                    "type": buc_type or self.config["buc_type"],
                    "call_count": pct,
                    "total_cputime": pct // 3,
                    "total_time": pct // 2,
                    "estimated_time_to_regain_access": regain,
                }
            ]
        }

        headers = {
            "x-business-use-case-usage": json.dumps(buc, separators=(",", ":")),
            "x-app-usage": json.dumps(
                {"call_count": app_pct, "total_time": app_pct // 2, "total_cputime": app_pct // 3},
                separators=(",", ":"),
            ),
        }
        if account_key is not None:
            window = self._window(account_key)
            util = 100.0 if throttled else min(100.0, round(len(window) * 100 / budget, 2))
            reset = 0
            if throttled:
                reset = int(regain * 60) if regain else 0
            headers["x-ad-account-usage"] = json.dumps(
                {"acc_id_util_pct": util, "reset_time_duration": reset}, separators=(",", ":")
            )
        return headers

    # faults -------------------------------------------------------------------------------------
    def add_fault(self, spec: dict[str, Any]) -> Fault:
        self.fault_serial += 1
        fault = parse_fault(spec, self.fault_serial)
        self.faults.append(fault)
        return fault

    def take_fault(self, method: str, path: str, *, explicit_path: bool = False) -> Fault | None:
        """The first scheduled fault that matches this request and fires now (consuming one use).

        With `explicit_path` (the webhook receiver) only faults whose path pattern matches apply, so a
        catch-all fault meant for the Graph endpoints never hits the stand-in downstream system.
        """
        for fault in self.faults:
            if fault.method and fault.method != method:
                continue
            if explicit_path and fault.path is None:
                continue
            if fault.path and not fault.path.search(path):
                continue
            if fault.fraction is not None and fault.rng.random() >= fault.fraction:
                continue
            fault.hits += 1
            if fault.remaining is not None:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self.faults.remove(fault)
            return fault
        return None

    # request log --------------------------------------------------------------------------------
    def record(
        self,
        method: str,
        path: str,
        params: dict[str, str],
        status: int,
        error: dict[str, Any] | None,
        fault: str | None,
        generation: int | None = None,
    ) -> None:
        if generation is not None and generation != self.generation:
            return
        self.log.append(
            {
                "time": iso(self.now()),
                "method": method,
                "path": path,
                "params": {k: redact_param(k, v) for k, v in params.items()},
                "status": status,
                "error_code": error.get("code") if error else None,
                "error_subcode": error.get("error_subcode") if error else None,
                "fault": fault,
            }
        )
