"""Codes and claims: one ad code per media and the fenced issuance claim on it (table ``pa_ad_codes``).

Exactly one code per media: before a POST the issuing task claims the media with
``INSERT ... ON CONFLICT (content_id) DO NOTHING`` (only the claimant posts). A claim has an owner, a lease
(``claim_expires_at``) that the claimant's heartbeat renews while it runs, and a **fencing token** (``fence``)
that grows with every new claim of the media. A claim whose lease ran out (its task crashed, was killed, or
stalled) may be taken over by a conditional UPDATE, and the new owner looks the media up in discovery before
it ever posts again. Recording a code, renewing, failing or releasing succeed only with the current token: a
stale writer is refused (:class:`StaleClaimError`) and resolves its outcome by lookup, never by a second POST.
Lease times come from the database's clock (one clock for every worker), except where a test passes a clock.
A live claim is never stolen; a revoked code never becomes active again.

The issuing hot path claims and records in batches (:meth:`AdCodes.claim_many`, :meth:`AdCodes.record_codes`):
one transaction per batch, with the single-item methods' semantics for every media in it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowException

from partnership_ads.clock import parse_iso
from partnership_ads.ledger.core import LedgerCore

if TYPE_CHECKING:
    from collections.abc import Sequence

log = logging.getLogger(__name__)

#: Media per multi-row statement on the batched path (claims, recorded codes): one round trip each, and
#: at most 900 placeholders (SQLite builds before 3.32 allow 999).
ROWS_PER_STATEMENT = 100


class CodeState(StrEnum):
    """State of a media's row in ``pa_ad_codes``."""

    ISSUING = "issuing"
    ISSUED = "issued"
    HARVESTED = "harvested"
    FAILED = "failed"
    REVOKED = "revoked"


HAS_CODE_STATES = (CodeState.ISSUED, CodeState.HARVESTED)


class StaleClaimError(AirflowException):
    """A write with a claim that is no longer current (its lease ended and another attempt took it over)."""


class ClaimKind(StrEnum):
    """What :meth:`AdCodes.claim` obtained."""

    FRESH = "fresh"  # nobody ever claimed this media: the owner may POST at once
    RECOVERED = "recovered"  # a dead or failed claim was taken over: look the media up before any POST
    HELD = "held"  # another attempt holds a live claim: do nothing now
    HAS_CODE = "has_code"  # the ledger already holds a code for this media
    REVOKED = "revoked"  # the code was revoked on purpose: not re-issued automatically


@dataclass(frozen=True)
class Claim:
    """Outcome of a claim attempt; ``ad_code`` is set for ``HAS_CODE``, ``holder`` and ``expires_at`` for
    ``HELD``, ``fence`` (the fencing token every later write must present) for ``FRESH`` and ``RECOVERED``."""

    kind: ClaimKind
    content_id: str
    ad_code: str | None = None
    holder: str | None = None
    fence: int = 0
    expires_at: str | None = None
    #: RECOVERED from a claim left ``issuing``: seconds since its lease ended. Its holder may have sent a POST
    #: just before it stalled or died; the new owner lets that POST's time-out pass before looking the media
    #: up and posting (see IssueAdCodesOperator).
    ended_ago: float | None = None


@dataclass(frozen=True)
class CodeRecord:
    """A code to record under a claim (:meth:`AdCodes.record_codes`): the claim's fencing token and the state
    to write (``issued`` after a POST, ``harvested`` when a lookup found it)."""

    content_id: str
    ad_code: str
    fence: int
    state: CodeState = CodeState.ISSUED


#: PostgreSQL's deadlock_detected and serialization_failure: the whole batch is rolled back and tried again.
_RETRY_PGCODES = ("40P01", "40001")
_BATCH_TRIES = 3


@dataclass(frozen=True)
class CodeRow:
    """A media's row in ``pa_ad_codes``."""

    content_id: str
    ad_code: str | None
    state: str
    business_id: str | None
    owner_ig_user_id: str | None
    claimed_by: str | None
    claim_expires_at: str | None
    attempts: int
    issued_at: str | None
    revoked_at: str | None
    fence: int = 0


#: The columns of :class:`CodeRow`, in its field order.
_CODE_ROW_COLUMNS = (
    "content_id, ad_code, state, business_id, owner_ig_user_id, claimed_by, claim_expires_at, attempts, "
    "issued_at, revoked_at, fence"
)


#: A harvest: insert the code, or replace a recorded one, but never over a revocation, never the same code
#: again, never under another attempt's live claim (``{clock}``: the lease clock's "now").
_HARVEST_SQL = (
    "INSERT INTO pa_ad_codes (content_id, ad_code, state, business_id, owner_ig_user_id, attempts, "
    "fence, issued_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 0, 0, ?, ?, ?) "
    "ON CONFLICT (content_id) DO UPDATE SET ad_code = excluded.ad_code, state = excluded.state, "
    "claimed_by = NULL, claim_expires_at = NULL, last_error = NULL, fence = pa_ad_codes.fence + 1, "
    "updated_at = excluded.updated_at, "
    "issued_at = COALESCE(pa_ad_codes.issued_at, excluded.issued_at) "
    "WHERE pa_ad_codes.state <> 'revoked' "
    "AND NOT (pa_ad_codes.state IN ('issued', 'harvested') "
    "AND pa_ad_codes.ad_code = excluded.ad_code) "
    "AND NOT (pa_ad_codes.state = 'issuing' "
    "AND pa_ad_codes.claim_expires_at IS NOT NULL AND pa_ad_codes.claim_expires_at > {clock})"
)


class AdCodes(LedgerCore):
    """Each media's one ad code and the fenced claim under which it is issued."""

    def code(self, content_id: str) -> CodeRow | None:
        """The media's row in ``pa_ad_codes``, or None."""
        rows = self._query(
            f"SELECT {_CODE_ROW_COLUMNS} FROM pa_ad_codes WHERE content_id = ?",  # noqa: S608 - fixed SQL
            (content_id,),
        )
        return CodeRow(*rows[0]) if rows else None

    def codes_for(self, content_ids: Sequence[str], *, chunk: int = 500) -> dict[str, CodeRow]:
        """The ``pa_ad_codes`` rows of these media (absent ones left out), read ``chunk`` ids per query."""
        found: dict[str, CodeRow] = {}
        ids = list(dict.fromkeys(content_ids))
        for start in range(0, len(ids), chunk):
            part = ids[start : start + chunk]
            marks = ", ".join("?" for _ in part)
            rows = self._query(
                f"SELECT {_CODE_ROW_COLUMNS} FROM pa_ad_codes WHERE content_id IN ({marks})",  # noqa: S608
                part,
            )
            found.update((row[0], CodeRow(*row)) for row in rows)
        return found

    def codes(self, *, states: Sequence[str] | None = None) -> list[CodeRow]:
        """Every row of ``pa_ad_codes`` (optionally only some states), ordered by content_id."""
        statement = f"SELECT {_CODE_ROW_COLUMNS} FROM pa_ad_codes"  # noqa: S608 - fixed SQL
        params: tuple[Any, ...] = ()
        if states:
            statement += f" WHERE state IN ({', '.join('?' for _ in states)})"
            params = tuple(states)
        return [CodeRow(*row) for row in self._query(statement + " ORDER BY content_id", params)]

    def claim(
        self,
        content_id: str,
        *,
        owner: str,
        lease_seconds: float,
        business_id: str | None = None,
        owner_ig_user_id: str | None = None,
    ) -> Claim:
        """Claim a media for issuance (atomically; see the module docstring).

        :returns: FRESH when this owner inserted the claim (POST allowed), RECOVERED when it took over an
            expired or failed claim (look the media up before posting), HELD when another owner's lease is
            live (with its holder and lease end), HAS_CODE when a code is already recorded, REVOKED when the
            code was revoked on purpose. FRESH and RECOVERED carry the claim's fencing token.
        """
        lease, lease_params = self._lease_end(lease_seconds)
        now = self._now()
        inserted = self._execute(
            # The lease clock's fixed SQL only: nothing from the caller is formatted into the statements.
            "INSERT INTO pa_ad_codes (content_id, state, business_id, owner_ig_user_id, claimed_by, "  # noqa: S608
            "claim_expires_at, attempts, fence, created_at, updated_at) "
            f"VALUES (?, ?, ?, ?, ?, {lease}, 1, 1, ?, ?) "
            "ON CONFLICT (content_id) DO NOTHING",
            (content_id, CodeState.ISSUING, business_id, owner_ig_user_id, owner, *lease_params, now, now),
        )
        if inserted == 1:
            return Claim(ClaimKind.FRESH, content_id, fence=1)
        clock, clock_params = self._lease_end(0)
        rows = self._query(
            "SELECT ad_code, state, claimed_by, claim_expires_at, fence, "  # noqa: S608
            f"CASE WHEN claim_expires_at > {clock} THEN 1 ELSE 0 END, {clock} "
            "FROM pa_ad_codes WHERE content_id = ?",
            (*clock_params, *clock_params, content_id),
        )
        if not rows:  # deleted between the two statements (a released claim): treat as held, try next time
            return Claim(ClaimKind.HELD, content_id, holder="a concurrent attempt")
        ad_code, state, holder, expires_at, fence, live, db_now = rows[0]
        if state in HAS_CODE_STATES and ad_code:
            return Claim(ClaimKind.HAS_CODE, content_id, ad_code=ad_code)
        if state == CodeState.REVOKED:
            return Claim(ClaimKind.REVOKED, content_id)
        if state == CodeState.ISSUING and int(live or 0):
            return Claim(ClaimKind.HELD, content_id, holder=holder, expires_at=expires_at)
        # Take over only the exact claim we read (its fence): a concurrent taker bumps the fence first. The
        # lease is compared again on the database's clock in the same statement.
        lease, lease_params = self._lease_end(lease_seconds)
        clock, clock_params = self._lease_end(0)
        taken = self._execute(
            f"UPDATE pa_ad_codes SET state = ?, claimed_by = ?, claim_expires_at = {lease}, "  # noqa: S608
            "attempts = attempts + 1, fence = fence + 1, owner_ig_user_id = COALESCE(?, owner_ig_user_id), "
            "updated_at = ? "
            "WHERE content_id = ? AND state = ? AND fence = ? "
            f"AND (state <> 'issuing' OR claim_expires_at IS NULL OR claim_expires_at <= {clock})",
            (
                CodeState.ISSUING,
                owner,
                *lease_params,
                owner_ig_user_id,
                now,
                content_id,
                state,
                int(fence or 0),
                *clock_params,
            ),
        )
        if taken == 1:
            log.info(
                "Ledger: claim on %s taken over by %s (fence %s)", content_id, owner, int(fence or 0) + 1
            )
            ended_ago = None
            if state == CodeState.ISSUING and expires_at:
                ended_ago = max(0.0, (parse_iso(db_now) - parse_iso(expires_at)).total_seconds())
            return Claim(ClaimKind.RECOVERED, content_id, fence=int(fence or 0) + 1, ended_ago=ended_ago)
        return Claim(ClaimKind.HELD, content_id, holder="a concurrent attempt")

    def claim_many(
        self,
        items: Sequence[tuple[str, str | None]],
        *,
        owner: str,
        lease_seconds: float,
        business_id: str | None = None,
    ) -> dict[str, Claim]:
        """Claim many media in one transaction, each exactly as :meth:`claim` would.

        :param items: ``(content_id, owner_ig_user_id)`` pairs (a repeated content_id is claimed once).
        :returns: each content_id's :class:`Claim`.
        """
        wanted: dict[str, str | None] = {}
        for content_id, owner_ig_user_id in items:
            wanted.setdefault(str(content_id), owner_ig_user_id)
        if not wanted:
            return {}
        # One order for every claimant: two transactions claiming overlapping batches lock rows in the same
        # order on PostgreSQL instead of deadlocking.
        ordered = sorted(wanted.items())
        for attempt in range(1, _BATCH_TRIES + 1):
            try:
                with self._transaction() as cur:
                    return self._claim_batch(cur, ordered, owner, lease_seconds, business_id)
            except Exception as exc:
                if getattr(exc, "pgcode", None) not in _RETRY_PGCODES or attempt == _BATCH_TRIES:
                    raise
                log.warning("Ledger: claiming %s media met %s; trying again", len(ordered), exc.pgcode)  # type: ignore[attr-defined]
        raise AssertionError("unreachable")

    def _claim_batch(
        self,
        cur: Any,
        ordered: list[tuple[str, str | None]],
        owner: str,
        lease_seconds: float,
        business_id: str | None,
    ) -> dict[str, Claim]:
        now = self._now()
        claims: dict[str, Claim] = {}
        lease, lease_params = self._lease_end(lease_seconds)
        # Fresh claims: one INSERT per :data:`ROWS_PER_STATEMENT` media (one round trip, not one per
        # media), the media and their owners as VALUES, what they share as parameters once; RETURNING names
        # the rows it inserted, the others exist already. Rows go in in ``ordered`` order, so concurrent
        # batches lock in one order on PostgreSQL. (SQLite needs the WHERE to read ON CONFLICT as the
        # upsert, not as a join's ON.)
        inserted: set[str] = set()
        for start in range(0, len(ordered), ROWS_PER_STATEMENT):
            part = ordered[start : start + ROWS_PER_STATEMENT]
            cur.execute(
                self._sql(
                    # The lease clock's fixed SQL and placeholders only: no value is formatted in.
                    "INSERT INTO pa_ad_codes (content_id, state, business_id, owner_ig_user_id, claimed_by, "  # noqa: S608
                    "claim_expires_at, attempts, fence, created_at, updated_at) "
                    f"SELECT v.column1, ?, ?, v.column2, ?, {lease}, 1, 1, ?, ? "
                    f"FROM (VALUES {', '.join('(?, ?)' for _ in part)}) AS v WHERE 1 = 1 "
                    "ON CONFLICT (content_id) DO NOTHING RETURNING content_id"
                ),
                (
                    CodeState.ISSUING,
                    business_id,
                    owner,
                    *lease_params,
                    now,
                    now,
                    *(value for pair in part for value in pair),
                ),
            )
            inserted.update(str(row[0]) for row in cur.fetchall())
        others: list[str] = []
        for content_id, _owner in ordered:
            if content_id in inserted:
                claims[content_id] = Claim(ClaimKind.FRESH, content_id, fence=1)
            else:
                others.append(content_id)
        if not others:
            return claims
        clock, clock_params = self._lease_end(0)
        found: dict[str, tuple[Any, ...]] = {}
        for start in range(0, len(others), 500):
            part = others[start : start + 500]
            marks = ", ".join("?" for _ in part)
            cur.execute(
                self._sql(
                    "SELECT content_id, ad_code, state, claimed_by, claim_expires_at, fence, "  # noqa: S608
                    f"CASE WHEN claim_expires_at > {clock} THEN 1 ELSE 0 END, {clock} "
                    f"FROM pa_ad_codes WHERE content_id IN ({marks})"
                ),
                (*clock_params, *clock_params, *part),
            )
            found.update((str(row[0]), tuple(row[1:])) for row in cur.fetchall())
        by_id = dict(ordered)
        lease, lease_params = self._lease_end(lease_seconds)
        take_over = self._sql(
            f"UPDATE pa_ad_codes SET state = ?, claimed_by = ?, claim_expires_at = {lease}, "  # noqa: S608
            "attempts = attempts + 1, fence = fence + 1, owner_ig_user_id = COALESCE(?, owner_ig_user_id), "
            "updated_at = ? "
            "WHERE content_id = ? AND state = ? AND fence = ? "
            f"AND (state <> 'issuing' OR claim_expires_at IS NULL OR claim_expires_at <= {clock})"
        )
        for content_id in others:
            if content_id not in found:  # released between the two statements: held, try next time
                claims[content_id] = Claim(ClaimKind.HELD, content_id, holder="a concurrent attempt")
                continue
            ad_code, state, holder, expires_at, fence, live, db_now = found[content_id]
            if state in HAS_CODE_STATES and ad_code:
                claims[content_id] = Claim(ClaimKind.HAS_CODE, content_id, ad_code=ad_code)
                continue
            if state == CodeState.REVOKED:
                claims[content_id] = Claim(ClaimKind.REVOKED, content_id)
                continue
            if state == CodeState.ISSUING and int(live or 0):
                claims[content_id] = Claim(ClaimKind.HELD, content_id, holder=holder, expires_at=expires_at)
                continue
            cur.execute(
                take_over,
                (
                    CodeState.ISSUING,
                    owner,
                    *lease_params,
                    by_id[content_id],
                    now,
                    content_id,
                    state,
                    int(fence or 0),
                    *clock_params,
                ),
            )
            if cur.rowcount != 1:
                claims[content_id] = Claim(ClaimKind.HELD, content_id, holder="a concurrent attempt")
                continue
            log.info(
                "Ledger: claim on %s taken over by %s (fence %s)", content_id, owner, int(fence or 0) + 1
            )
            ended_ago = None
            if state == CodeState.ISSUING and expires_at:
                ended_ago = max(0.0, (parse_iso(db_now) - parse_iso(expires_at)).total_seconds())
            claims[content_id] = Claim(
                ClaimKind.RECOVERED, content_id, fence=int(fence or 0) + 1, ended_ago=ended_ago
            )
        return claims

    def heartbeat(self, owner: str, *, lease_seconds: float) -> int:
        """Extend the lease of every claim ``owner`` still holds; returns how many were extended.

        A claim another attempt took over names that attempt in ``claimed_by``, so it is not renewed.
        """
        lease, lease_params = self._lease_end(lease_seconds)
        return self._execute(
            f"UPDATE pa_ad_codes SET claim_expires_at = {lease} WHERE claimed_by = ? AND state = ?",  # noqa: S608
            (*lease_params, owner, CodeState.ISSUING),
        )

    def renew_claim(self, content_id: str, *, owner: str, fence: int, lease_seconds: float) -> bool:
        """Extend one claim's lease if ``owner`` still holds it with token ``fence``; False when it does not.

        A claim taken long before its POST (a batch waiting for a thread, a stalled process) is confirmed this
        way first: a lease that ended may have been taken over, and then the POST must not be sent.
        """
        lease, lease_params = self._lease_end(lease_seconds)
        renewed = self._execute(
            f"UPDATE pa_ad_codes SET claim_expires_at = {lease} "  # noqa: S608 - the lease clock's fixed SQL
            "WHERE content_id = ? AND claimed_by = ? AND fence = ? AND state = ?",
            (*lease_params, content_id, owner, int(fence), CodeState.ISSUING),
        )
        return renewed == 1

    def record_code(
        self,
        content_id: str,
        ad_code: str,
        *,
        owner: str,
        fence: int,
        state: CodeState = CodeState.ISSUED,
    ) -> None:
        """Write a code the moment it is obtained (issued, or adopted from discovery), ending the claim.

        :raises StaleClaimError: ``owner`` no longer holds the claim with token ``fence`` (its lease ended and
            another attempt took it over, or the media was revoked): nothing is written.
        """
        now = self._now()
        written = self._execute(
            "UPDATE pa_ad_codes SET ad_code = ?, state = ?, claimed_by = NULL, claim_expires_at = NULL, "
            "last_error = NULL, revoked_at = NULL, issued_at = ?, updated_at = ? "
            "WHERE content_id = ? AND claimed_by = ? AND fence = ? AND state = ?",
            (ad_code, state, now, now, content_id, owner, fence, CodeState.ISSUING),
        )
        if written != 1:
            log.error(
                "Ledger: %s refused to record %s for %s: the claim (fence %s) is no longer its own",
                "stale writer",
                state,
                content_id,
                fence,
            )
            raise StaleClaimError(
                f"the claim on media {content_id} (fence {fence}) is no longer held by this attempt: its "
                "lease ended and another attempt took it over, or the code was revoked; nothing was recorded"
            )
        log.debug("Ledger: %s %s by %s (fence %s)", state, content_id, owner, fence)

    def record_codes(self, records: Sequence[CodeRecord], *, owner: str) -> list[str]:
        """Write many codes in one transaction, each as :meth:`record_code` would (fenced).

        :returns: the content ids refused as stale (``owner`` no longer holds that claim with that token):
            nothing was written for them; the caller settles them by lookup, never by a second POST.
        """
        if not records:
            return []
        ordered = sorted(records, key=lambda r: r.content_id)  # one lock order on PostgreSQL
        if len({record.content_id for record in ordered}) != len(ordered):
            raise ValueError("record_codes: a media appears twice among the records; each is recorded once")
        for attempt in range(1, _BATCH_TRIES + 1):
            now = self._now()
            written: set[str] = set()
            try:
                with self._transaction() as cur:
                    for start in range(0, len(ordered), ROWS_PER_STATEMENT):
                        part = ordered[start : start + ROWS_PER_STATEMENT]
                        params: list[Any] = []
                        for record in part:
                            params += [record.content_id, record.ad_code, record.state, int(record.fence)]
                        # One fenced UPDATE for the part (one round trip): a row is written only where this
                        # owner still holds the claim with that record's token; RETURNING names those rows.
                        # VALUES columns are column1..4 in both PostgreSQL and SQLite (3.33+: UPDATE FROM).
                        cur.execute(
                            self._sql(
                                "UPDATE pa_ad_codes AS c SET ad_code = v.column2, state = v.column3, "  # noqa: S608
                                "claimed_by = NULL, claim_expires_at = NULL, last_error = NULL, "
                                "revoked_at = NULL, issued_at = ?, updated_at = ? "
                                f"FROM (VALUES {', '.join('(?, ?, ?, ?)' for _ in part)}) AS v "
                                "WHERE c.content_id = v.column1 AND c.fence = v.column4 "
                                "AND c.claimed_by = ? AND c.state = ? RETURNING content_id"
                            ),
                            (now, now, *params, owner, CodeState.ISSUING),
                        )
                        written.update(str(row[0]) for row in cur.fetchall())
                stale = [record.content_id for record in ordered if record.content_id not in written]
                break
            except Exception as exc:
                if getattr(exc, "pgcode", None) not in _RETRY_PGCODES or attempt == _BATCH_TRIES:
                    raise
                log.warning("Ledger: recording %s codes met %s; trying again", len(ordered), exc.pgcode)  # type: ignore[attr-defined]
        for content_id in stale:
            log.error(
                "Ledger: stale writer refused to record a code for %s: the claim is no longer its own",
                content_id,
            )
        log.debug("Ledger: %s codes recorded by %s", len(ordered) - len(stale), owner)
        return stale

    def harvest(
        self, content_id: str, ad_code: str, *, business_id: str, owner_ig_user_id: str | None
    ) -> str:
        """Record a code discovery (or a lookup) shows, without a claim.

        A different code replaces the recorded one (Meta shows one valid code per media: the newer wins), but
        never a revoked one (revocation is final for the pipeline) and never under another attempt's live
        claim (its own write settles the media).

        :returns: ``harvested`` (written), ``already_in_ledger`` (the same code was recorded), ``revoked`` or
            ``claimed_elsewhere`` (nothing written).
        """
        return self.harvest_many([(content_id, ad_code, owner_ig_user_id)], business_id=business_id)[
            content_id
        ]

    def harvest_many(
        self,
        records: Sequence[tuple[str, str, str | None]],
        *,
        business_id: str,
        chunk: int = 200,
    ) -> dict[str, str]:
        """:meth:`harvest` for many ``(content_id, ad_code, owner_ig_user_id)``, ``chunk`` per transaction.

        A first run finds hundreds of codes discovery already shows: one transaction each cost the planning
        step most of its time. Same rules and answers per media as :meth:`harvest`.
        """
        outcomes: dict[str, str] = {}
        statement = self._sql(_HARVEST_SQL.format(clock=self._lease_end(0)[0]))
        for start in range(0, len(records), chunk):
            part = records[start : start + chunk]
            unwritten: list[tuple[str, str]] = []
            with self._transaction() as cur:
                for content_id, ad_code, owner_ig_user_id in part:
                    now = self._now()
                    _clock, clock_params = self._lease_end(0)
                    cur.execute(
                        statement,
                        (
                            content_id,
                            ad_code,
                            CodeState.HARVESTED,
                            business_id,
                            owner_ig_user_id,
                            now,
                            now,
                            now,
                            *clock_params,
                        ),
                    )
                    if cur.rowcount == 1:
                        outcomes[content_id] = "harvested"
                    else:
                        unwritten.append((content_id, ad_code))
            if unwritten:
                rows = self.codes_for([content_id for content_id, _ in unwritten])
                for content_id, ad_code in unwritten:
                    row = rows.get(content_id)
                    if row is not None and row.state == CodeState.REVOKED:
                        outcomes[content_id] = "revoked"
                    elif row is not None and row.state in HAS_CODE_STATES and row.ad_code == ad_code:
                        outcomes[content_id] = "already_in_ledger"
                    else:
                        outcomes[content_id] = "claimed_elsewhere"
        return outcomes

    def record_failure(self, content_id: str, *, owner: str, fence: int, error: str) -> bool:
        """End ``owner``'s claim as failed (a later attempt recovers it: lookup first, then POST).

        :returns: False (and nothing written) when the claim is no longer this owner's.
        """
        from partnership_ads.graph.errors import excerpt

        written = self._execute(
            "UPDATE pa_ad_codes SET state = ?, claimed_by = NULL, claim_expires_at = NULL, last_error = ?, "
            "updated_at = ? "
            "WHERE content_id = ? AND claimed_by = ? AND fence = ? AND state = ?",
            (
                CodeState.FAILED,
                excerpt(error, limit=500),
                self._now(),
                content_id,
                owner,
                fence,
                CodeState.ISSUING,
            ),
        )
        return written == 1

    def release_claim(self, content_id: str, *, owner: str, fence: int) -> None:
        """Give a claim back untouched (nothing was posted): the row is removed if it never held a code."""
        self._execute(
            "DELETE FROM pa_ad_codes "
            "WHERE content_id = ? AND claimed_by = ? AND fence = ? AND state = ? "
            "AND ad_code IS NULL AND attempts <= 1",
            (content_id, owner, fence, CodeState.ISSUING),
        )
        self._execute(
            "UPDATE pa_ad_codes SET state = ?, claimed_by = NULL, claim_expires_at = NULL, updated_at = ? "
            "WHERE content_id = ? AND claimed_by = ? AND fence = ? AND state = ?",
            (CodeState.FAILED, self._now(), content_id, owner, fence, CodeState.ISSUING),
        )

    def claim_holders(self, content_ids: Sequence[str]) -> dict[str, tuple[str | None, float]]:
        """For media still claimed (``issuing``): holder and seconds until the lease ends (<= 0: ended),
        on the lease clock."""
        found: dict[str, tuple[str | None, float]] = {}
        ids = list(dict.fromkeys(content_ids))
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            marks = ", ".join("?" for _ in part)
            clock, clock_params = self._lease_end(0)
            rows = self._query(
                f"SELECT content_id, claimed_by, claim_expires_at, {clock} FROM pa_ad_codes "  # noqa: S608
                f"WHERE state = 'issuing' AND content_id IN ({marks})",
                (*clock_params, *part),
            )
            for content_id, holder, expires, now in rows:
                left = (parse_iso(expires) - parse_iso(now)).total_seconds() if expires else 0.0
                found[content_id] = (holder, left)
        return found

    def mark_revoked(self, content_id: str) -> bool:
        """Mark a media's code revoked; returns False when the ledger holds no code for it.

        The fence moves on, so an attempt still holding an old claim can never record over the revocation.
        """
        now = self._now()
        revoked = self._execute(
            "UPDATE pa_ad_codes SET state = ?, revoked_at = ?, claimed_by = NULL, claim_expires_at = NULL, "
            "fence = fence + 1, updated_at = ? "
            "WHERE content_id = ? AND ad_code IS NOT NULL",
            (CodeState.REVOKED, now, now, content_id),
        )
        return revoked == 1
