"""Token health: is a brand's or a creator's token good for the calls the run is about to make?

Meta answers a call made with a dead token with error 190; a creator's expired token used to cost one failed
POST per item and a retry of the task. The pipeline asks Meta's ``debug_token`` first
(:meth:`partnership_ads.hooks.PartnershipAdsHook.inspect_token`) and decides here:

- the brand's token, before discovery (:meth:`TokenChecker.check_brand`): expired, invalid or missing a
  required scope fails the fetch task at once (:class:`BrandTokenError`), naming the connection, the problem
  and the fix;
- each creator's token, before the creator's first POST of the run (:meth:`TokenChecker.check_creator`):
  ``ok``, ``expiring`` (within ``token_expiry_warning_days``), ``expired``, ``invalid`` or ``missing_scope``.
  Items of a creator in the last three states are ``awaiting_creator_reauthorisation``: never POSTed, kept
  pending in the ledger, re-examined by the next run.

Results are kept in the ledger (:mod:`partnership_ads.ledger.token_health`) with their check time and reused
for ``token_check_cache_hours`` while the connection holds the same token (compared by a fingerprint, never
stored itself), so a daily run costs at most one ``debug_token`` call per creator. A 190 from any call
updates the record at once (:meth:`TokenChecker.record_auth_failure`).

The assessment (:func:`assess_creator`, :func:`assess_brand`) is pure: a ``TokenInfo`` and a time in, a
state and a sentence out. Nothing here ever holds a token in a message, a record or a report.
"""

from __future__ import annotations

import hashlib
import math
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowFailException

from partnership_ads.dag_settings import DEFAULT_TOKEN_EXPIRY_WARNING_DAYS

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    from partnership_ads.graph.tokens import TokenInfo
    from partnership_ads.hooks import PartnershipAdsHook
    from partnership_ads.ledger import Ledger

#: The states of a token, in the order the reports list them.
STATES = ("ok", "expiring", "expired", "invalid", "missing_scope")
#: States whose items wait for the creator (never POSTed in this run).
NEEDS_REAUTHORISATION = ("expired", "invalid", "missing_scope")
#: States a person acts on (the alert is sent when any creator is in one of them).
NEEDS_ACTION = ("expiring", *NEEDS_REAUTHORISATION)
#: The outcome of an item whose creator's token needs re-authorisation.
AWAITING_REAUTHORISATION = "awaiting_creator_reauthorisation"

DEFAULT_TOKEN_CHECK_CACHE_HOURS = 12.0
#: Deployment setting: how long a creator token's check is reused (hours; the operator argument wins).
TOKEN_CHECK_CACHE_HOURS_ENV = "PARTNERSHIP_ADS_TOKEN_CHECK_CACHE_HOURS"  # noqa: S105 - a name

CREATOR_SCOPE = "instagram_branded_content_creator"
#: What a creator's token needs to create codes: every scope, the IG ones granted on the creator's account.
CREATOR_SCOPES = ("instagram_basic", "business_management", CREATOR_SCOPE)
#: Creator scopes that Meta may limit to some accounts (``granular_scopes``): they must cover the creator.
CREATOR_TARGETED_SCOPES = ("instagram_basic", CREATOR_SCOPE)
BRAND_SCOPES_BY_PLATFORM = {
    "INSTAGRAM": ("instagram_basic", "instagram_branded_content_ads_brand"),
    "FACEBOOK": ("facebook_branded_content_ads_brand",),
}

# debug_token's subcodes of a 190 (Meta's "access token" errors).
_EXPIRED_SUBCODE = 463
_INVALID_SUBCODES = {
    460: "its session was invalidated (password change or security reset)",
    458: "the user removed the app (de-authorised it)",
    467: "it is no longer valid",
}


def brand_required_scopes(platforms: Iterable[str] | None) -> tuple[str, ...]:
    """The scopes a brand's token needs to discover ``platforms`` (default: Instagram, what codes are for)."""
    wanted = [str(p).upper() for p in (platforms or ())] or ["INSTAGRAM"]
    scopes = ["business_management"]
    for platform in wanted:
        for scope in BRAND_SCOPES_BY_PLATFORM.get(platform, ()):
            if scope not in scopes:
                scopes.append(scope)
    return tuple(scopes)


def token_fingerprint(token: str) -> str:
    """A short one-way fingerprint: tells a replaced token from the one checked, reveals nothing of it."""
    return hashlib.sha256(f"partnership-ads-token:{token}".encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Assessment:
    """A state and why, for one token at one time."""

    state: str
    detail: str
    days_left: int | None = None
    expires_at: float | None = None
    scope: str | None = None  # the scope missing (missing_scope)


def _days_left(expires_at: float | None, now: float) -> int | None:
    if expires_at is None:
        return None
    return max(0, math.floor((expires_at - now) / 86400))


def _day(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _validity(info: TokenInfo, now: float, warning_days: float) -> Assessment | None:
    """Expired or invalid (None when the token is valid and unexpired)."""
    if not info.is_valid or (info.expires_at is not None and info.expires_at <= now):
        if info.error_subcode == _EXPIRED_SUBCODE or (info.expires_at is not None and info.expires_at <= now):
            when = f" on {_day(info.expires_at)}" if info.expires_at else ""
            return Assessment("expired", f"the token expired{when}", 0, info.expires_at)
        why = _INVALID_SUBCODES.get(info.error_subcode or 0, "Meta reports it invalid (unknown or malformed)")
        return Assessment("invalid", f"the token is invalid: {why}", None, info.expires_at)
    return None


def _expiry(info: TokenInfo, now: float, warning_days: float) -> Assessment:
    days = _days_left(info.expires_at, now)
    if info.expires_at is not None and info.expires_at - now <= warning_days * 86400:
        return Assessment(
            "expiring",
            f"the token expires on {_day(info.expires_at)} ({days} day(s) left)",
            days,
            info.expires_at,
        )
    detail = "valid, never expires" if info.expires_at is None else f"valid until {_day(info.expires_at)}"
    return Assessment("ok", detail, days, info.expires_at)


def assess_creator(info: TokenInfo, *, ig_user_id: str, now: float, warning_days: float) -> Assessment:
    """The state of a creator's token for creating codes of ``ig_user_id``'s media at unix time ``now``.

    Expired or invalid first, then a missing scope (or one whose granular grant leaves out the creator's IG
    account), then expiring within ``warning_days``; else ok.
    """
    dead = _validity(info, now, warning_days)
    if dead is not None:
        return dead
    for scope in CREATOR_SCOPES:
        if scope not in info.scopes:
            return Assessment("missing_scope", f"the token lacks {scope}", None, info.expires_at, scope)
    for scope in CREATOR_TARGETED_SCOPES:
        targets = info.granular_scopes.get(scope)
        if targets is not None and str(ig_user_id) not in targets:
            return Assessment(
                "missing_scope",
                f"{scope} is not granted on the creator's Instagram account {ig_user_id}",
                None,
                info.expires_at,
                scope,
            )
    return _expiry(info, now, warning_days)


def assess_brand(
    info: TokenInfo, *, platforms: Iterable[str] | None, now: float, warning_days: float
) -> Assessment:
    """The state of a brand's token for discovering ``platforms`` at unix time ``now``."""
    dead = _validity(info, now, warning_days)
    if dead is not None:
        return dead
    for scope in brand_required_scopes(platforms):
        if scope not in info.scopes:
            return Assessment("missing_scope", f"the token lacks {scope}", None, info.expires_at, scope)
    return _expiry(info, now, warning_days)


def creator_action(state: str, *, ig_user_id: str, scope: str | None = None) -> str | None:
    """What the creator (or whoever manages the connection) must do; None when nothing."""
    if state in ("expiring", "expired", "invalid"):
        return "re-authorise"
    if state == "missing_scope":
        return f"grant {scope or CREATOR_SCOPE} on {ig_user_id}"
    return None


def brand_fix(state: str, conn_id: str, scopes: Iterable[str], scope: str | None) -> str:
    """How to repair a brand's token, for the task log."""
    where = f"then set it as the password of connection {conn_id!r}"
    if state == "missing_scope":
        return (
            f"assign {scope} to the business's system user (Business settings > System users), generate a "
            f"new token with {', '.join(scopes)}, {where}"
        )
    return f"generate a new system-user token of the business with {', '.join(scopes)}, {where}"


#: ``TokenHealth.subject_kind``: a brand's own token, or a creator's.
BRAND, CREATOR = "brand", "creator"


class BrandTokenError(AirflowFailException):
    """The brand's token cannot serve the run: the fetch task fails at once, before any other call."""


@dataclass(frozen=True)
class TokenHealth:
    """The recorded health of one subject's token (a creator's IG account or a brand's business)."""

    subject_id: str
    conn_id: str
    state: str
    detail: str
    checked_at: datetime
    expires_at: float | None = None
    days_left: int | None = None
    scope: str | None = None
    fingerprint: str | None = None
    from_cache: bool = False
    #: Whose token: ``creator`` (checked before the creator's first POST) or ``brand`` (before discovery);
    #: None for a ledger record written before the ledger kept it (migration 0010).
    subject_kind: str | None = CREATOR

    @property
    def needs_reauthorisation(self) -> bool:
        return self.state in NEEDS_REAUTHORISATION

    @property
    def action(self) -> str | None:
        return creator_action(self.state, ig_user_id=self.subject_id, scope=self.scope)

    def report(self) -> dict[str, Any]:
        """The creator's line of the Tokens section (XCom-safe: ids, state, days, action; no token)."""
        return {
            "ig_user_id": self.subject_id,
            "conn_id": self.conn_id,
            "state": self.state,
            "days_left": self.days_left,
            "action": self.action,
            "detail": self.detail,
            "checked_at": self.checked_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }


class TokenChecker:
    """Checks tokens with debug_token, records and reuses the results in the ledger.

    :param ledger: where results are kept (None: nothing kept, nothing reused, for a dry run).
    :param hook_factory: the hook of a connection id.
    :param clock: the current time (the ledger's, so that tests move one fake clock).
    :param warning_days: ``token_expiry_warning_days``: a token expiring within it is ``expiring``.
    :param cache_hours: ``token_check_cache_hours``: how long a recorded result is reused.
    :param log: the task's logger.
    """

    def __init__(
        self,
        ledger: Ledger | None,
        *,
        hook_factory: Callable[[str], PartnershipAdsHook],
        clock: Callable[[], datetime],
        warning_days: float = DEFAULT_TOKEN_EXPIRY_WARNING_DAYS,
        cache_hours: float = DEFAULT_TOKEN_CHECK_CACHE_HOURS,
        log: Any = None,
    ) -> None:
        self.ledger = ledger
        self.hook_factory = hook_factory
        self.clock = clock
        self.warning_days = float(warning_days)
        self.cache_hours = float(cache_hours)
        self.log = log
        self._lock = threading.Lock()
        #: This run's result per creator (the last one: a 190 mid-run replaces the check's).
        self.creators: dict[str, TokenHealth] = {}

    # --- brand -----------------------------------------------------------------------------------------

    def check_brand(self, business_id: str, conn_id: str, *, platforms: Iterable[str] | None) -> TokenHealth:
        """Check the brand's token before discovery (never from the cache: one call per fetch).

        :raises BrandTokenError: expired, invalid or missing a scope: naming the connection, the problem and
            the fix.
        :raises GraphAPIError: debug_token could not answer (the task is retried as for any Graph error).
        """
        hook = self.hook_factory(conn_id)
        info = hook.inspect_token()
        now = self.clock()
        found = assess_brand(info, platforms=platforms, now=now.timestamp(), warning_days=self.warning_days)
        health = TokenHealth(
            business_id,
            conn_id,
            found.state,
            found.detail,
            now,
            found.expires_at,
            found.days_left,
            found.scope,
            token_fingerprint(hook.settings.access_token),
            subject_kind=BRAND,
        )
        if self.ledger is not None:
            self.ledger.record_token_health(health)
        if found.state in NEEDS_REAUTHORISATION:
            scopes = brand_required_scopes(platforms)
            raise BrandTokenError(
                f"The brand's token in connection {conn_id!r} (business {business_id}) cannot be used: "
                f"{found.detail}. Nothing was called. "
                f"Fix: {brand_fix(found.state, conn_id, scopes, found.scope)}"
            )
        if self.log is not None:
            self.log.info("Brand token of connection %s: %s (%s)", conn_id, found.state, found.detail)
            if found.state == "expiring":
                self.log.warning(
                    "The brand's token in connection %s expires in %s day(s): replace it before then",
                    conn_id,
                    found.days_left,
                )
        return health

    # --- creators --------------------------------------------------------------------------------------

    def check_creator(self, ig_user_id: str, conn_id: str) -> TokenHealth | None:
        """The creator's token health: the ledger's record when recent enough, else asked of Meta.

        :returns: None when debug_token could not answer (logged; the creator's items are tried as usual).
        """
        return self.check_creators([(ig_user_id, conn_id)])[0]

    def check_creators(
        self, creators: Sequence[tuple[str, str]], *, workers: int = 1, batch_via: str | None = None
    ) -> list[TokenHealth | None]:
        """:meth:`check_creator` for many ``(ig_user_id, conn_id)``, in order: the ledger's records read in
        one query, the rest asked of debug_token, and the new findings recorded in one transaction (a shard's
        creators cost two ledger round trips, not two each).

        :param workers: threads for the debug_token calls sent one by one.
        :param batch_via: a connection id: send the calls in batches of 50 with its connection (Meta's batch
            API, one round trip per 50 tokens; each call keeps its own caller). A token the batch gave no
            verdict on is asked alone, as without it.
        """
        now = self.clock()
        fingerprints = [
            token_fingerprint(self.hook_factory(conn_id).settings.access_token) for _ig, conn_id in creators
        ]
        records: dict[tuple[str, str], TokenHealth] = {}
        if self.ledger is not None and self.cache_hours > 0 and creators:
            records = self.ledger.token_healths((str(ig), conn_id) for ig, conn_id in creators)
        found: list[TokenHealth | None] = [None] * len(creators)
        to_ask: list[int] = []
        for index, (ig_user_id, conn_id) in enumerate(creators):
            cached = self._reuse(records.get((str(ig_user_id), conn_id)), conn_id, fingerprints[index], now)
            if cached is None:
                to_ask.append(index)
            else:
                found[index] = cached

        def ask(index: int) -> TokenHealth | None:
            ig_user_id, conn_id = creators[index]
            return self._ask(str(ig_user_id), conn_id, fingerprints[index], now)

        asked: list[TokenHealth | None] = []
        if batch_via is not None and len(to_ask) > 1:
            from partnership_ads.graph.tokens import inspect_batched

            infos = inspect_batched(
                self.hook_factory(batch_via), [self.hook_factory(creators[i][1]) for i in to_ask]
            )
            for index, info in zip(to_ask, infos, strict=True):
                if info is None:
                    continue
                ig_user_id, conn_id = creators[index]
                health = self._assessed(str(ig_user_id), conn_id, info, fingerprints[index], now)
                found[index] = health
                asked.append(health)
            to_ask = [index for index, info in zip(to_ask, infos, strict=True) if info is None]
        if len(to_ask) > 1 and workers > 1:
            from concurrent.futures import ThreadPoolExecutor

            threads = min(workers, len(to_ask))
            with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="token-check") as pool:
                alone = list(pool.map(ask, to_ask))
        else:
            alone = [ask(index) for index in to_ask]
        for index, health in zip(to_ask, alone, strict=True):
            found[index] = health
        asked.extend(alone)
        if self.ledger is not None:
            self.ledger.record_token_healths([health for health in asked if health is not None])
        return [None if health is None else self._keep(health) for health in found]

    def _ask(self, ig_user_id: str, conn_id: str, fingerprint: str, now: datetime) -> TokenHealth | None:
        """debug_token's verdict on the creator's token (not recorded), or None when it could not answer."""
        from partnership_ads.graph.errors import GraphAPIError, describe_error

        try:
            info = self.hook_factory(conn_id).inspect_token()
        except GraphAPIError as exc:
            if self.log is not None:
                self.log.warning(
                    "Could not check the token of creator %s (connection %s): %s; its items are tried as "
                    "usual",
                    ig_user_id,
                    conn_id,
                    describe_error(exc),
                )
            return None
        return self._assessed(ig_user_id, conn_id, info, fingerprint, now)

    def _assessed(
        self, ig_user_id: str, conn_id: str, info: TokenInfo, fingerprint: str, now: datetime
    ) -> TokenHealth:
        """The creator's health from debug_token's ``info`` (not recorded)."""
        found = assess_creator(
            info, ig_user_id=ig_user_id, now=now.timestamp(), warning_days=self.warning_days
        )
        return TokenHealth(
            ig_user_id,
            conn_id,
            found.state,
            found.detail,
            now,
            found.expires_at,
            found.days_left,
            found.scope,
            fingerprint,
        )

    def record_auth_failure(self, ig_user_id: str, conn_id: str, error: Any) -> TokenHealth:
        """A call with the creator's token failed with 190: record it at once (expired or invalid)."""
        hook = self.hook_factory(conn_id)
        now = self.clock()
        subcode = getattr(error, "error_subcode", None)
        if subcode == _EXPIRED_SUBCODE:
            state, detail = "expired", "the token expired (Meta answered a call with 190/463)"
        else:
            why = _INVALID_SUBCODES.get(subcode or 0, "Meta refused it with code 190")
            state, detail = "invalid", f"the token is invalid: {why}"
        health = TokenHealth(
            str(ig_user_id),
            conn_id,
            state,
            detail,
            now,
            None,
            0 if state == "expired" else None,
            None,
            token_fingerprint(hook.settings.access_token),
        )
        if self.ledger is not None:
            self.ledger.record_token_health(health)
        return self._keep(health)

    def blocked(self, ig_user_id: str) -> TokenHealth | None:
        """The creator's health when its items must wait for re-authorisation in this run, else None."""
        with self._lock:
            health = self.creators.get(str(ig_user_id))
        return health if health is not None and health.needs_reauthorisation else None

    def _keep(self, health: TokenHealth) -> TokenHealth:
        with self._lock:
            self.creators[health.subject_id] = health
        return health

    def _reuse(
        self, record: TokenHealth | None, conn_id: str, fingerprint: str, now: datetime
    ) -> TokenHealth | None:
        """A recorded check still good (same token, recent enough), brought up to ``now``; else None."""
        if record is None or self.cache_hours <= 0 or record.fingerprint != fingerprint:
            return None
        if now - record.checked_at >= timedelta(hours=self.cache_hours) or now < record.checked_at:
            return None
        state, detail, days = record.state, record.detail, record.days_left
        # Time moved on since the check: a recorded expiry may have come closer or passed.
        if state in ("ok", "expiring") and record.expires_at is not None:
            left = record.expires_at - now.timestamp()
            days = _days_left(record.expires_at, now.timestamp())
            if left <= 0:
                state, detail = "expired", f"the token expired on {_day(record.expires_at)}"
            elif left <= self.warning_days * 86400:
                state = "expiring"
                detail = f"the token expires on {_day(record.expires_at)} ({days} day(s) left)"
        return TokenHealth(
            record.subject_id,
            conn_id,
            state,
            detail,
            record.checked_at,
            record.expires_at,
            days,
            record.scope,
            fingerprint,
            from_cache=True,
            subject_kind=record.subject_kind,
        )


def tokens_report(healths: Iterable[TokenHealth]) -> dict[str, Any]:
    """The Tokens section's data (XCom-safe): counts per state and one line per creator, by id."""
    creators = sorted(
        (h.report() for h in healths), key=lambda r: (STATES.index(r["state"]), r["ig_user_id"])
    )
    counts = {state: sum(1 for c in creators if c["state"] == state) for state in STATES}
    return {"counts": counts, "creators": creators}


def merge_reports(reports: Iterable[dict[str, Any] | None]) -> dict[str, Any]:
    """Several shards' (and brands') Tokens sections as one: a creator once, its latest check kept."""
    latest: dict[str, dict[str, Any]] = {}
    for report in reports:
        for line in (report or {}).get("creators") or []:
            known = latest.get(line["ig_user_id"])
            if known is None or str(line.get("checked_at")) >= str(known.get("checked_at")):
                latest[line["ig_user_id"]] = dict(line)
    creators = sorted(latest.values(), key=lambda r: (STATES.index(r["state"]), r["ig_user_id"]))
    counts = {state: sum(1 for c in creators if c["state"] == state) for state in STATES}
    return {"counts": counts, "creators": creators}


def needing_action(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The creators of a report someone must act on (expiring, expired, invalid, missing a scope)."""
    return [c for c in report.get("creators") or [] if c["state"] in NEEDS_ACTION]


def tokens_section(report: dict[str, Any]) -> str:
    """The "Tokens" section of the task log and run summary: counts per state, then a line per creator."""
    from partnership_ads.summary import format_table

    counts = report.get("counts") or {}
    lines = ["Tokens", format_table(["state", "creators"], [[s, int(counts.get(s, 0))] for s in STATES])]
    creators = report.get("creators") or []
    if creators:
        rows = [
            [
                c["ig_user_id"],
                c["state"],
                "" if c.get("days_left") is None else c["days_left"],
                c.get("action") or "",
            ]
            for c in creators
        ]
        lines.append(format_table(["creator ig_user_id", "state", "days left", "action"], rows))
    else:
        lines.append("(no creator token checked in this run)")
    return "\n".join(lines)
