"""Read-only views of the ledger for people: overview, daily chart, codes table, an item's history.

The plugin page (:mod:`partnership_ads.ui`) reads the ledger only through these methods, so every SQL
statement the page runs lives with the ledger's own queries (one schema, one place to change). Nothing here
writes: every method is a single SELECT in a read transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from partnership_ads.clock import iso
from partnership_ads.ledger.core import LedgerCore
from partnership_ads.ledger.token_health import TokenHealthRecords
from partnership_ads.url_safety import without_credentials

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

#: Columns of a row of the codes table (and of its CSV download), in order.
CODE_LISTING_COLUMNS = (
    "business_id",
    "content_id",
    "creator_ig_user_id",
    "ad_code",
    "state",
    "issued_at",
    "revoked_at",
    "permalink",
)

_CODE_LISTING_SELECT = (
    "SELECT a.business_id, a.content_id, COALESCE(a.owner_ig_user_id, c.author_ig_user_id), a.ad_code, "
    "a.state, a.issued_at, a.revoked_at, c.permalink "
    "FROM pa_ad_codes a "
    "LEFT JOIN pa_content c ON c.business_id = a.business_id AND c.content_id = a.content_id"
)


@dataclass(frozen=True)
class CodeSearch:
    """Filters of the codes table: each is a substring match (empty: no filter)."""

    content_id: str = ""
    creator_id: str = ""
    ad_code: str = ""
    business_id: str = ""

    def where(self) -> tuple[str, list[Any]]:
        """The WHERE clause (with ``?`` placeholders) and its parameters."""
        clauses, params = ["1 = 1"], []
        for column, value in (
            ("a.content_id", self.content_id),
            ("COALESCE(a.owner_ig_user_id, c.author_ig_user_id)", self.creator_id),
            ("a.ad_code", self.ad_code),
            ("a.business_id", self.business_id),
        ):
            if value:
                clauses.append(f"{column} LIKE ? ESCAPE '!'")
                params.append("%" + _escape_like(value) + "%")
        return " AND ".join(clauses), params


def _iso_timestamp(timestamp: float | None) -> str | None:
    return None if timestamp is None else iso(datetime.fromtimestamp(timestamp, UTC))


def _escape_like(value: str) -> str:
    return value.replace("!", "!!").replace("%", "!%").replace("_", "!_")


@dataclass(frozen=True)
class DailyCodes:
    """Codes recorded on one UTC day, by how they were obtained."""

    day: str
    issued: int
    harvested: int


class LedgerReports(LedgerCore):
    """Read-only summaries of every table family, for the plugin page."""

    def brands(self) -> list[str]:
        """Every business id the ledger knows (decisions, codes or content), sorted."""
        rows = self._query(
            "SELECT business_id FROM pa_brand_items UNION SELECT business_id FROM pa_ad_codes "
            "WHERE business_id IS NOT NULL UNION SELECT business_id FROM pa_content"
        )
        return sorted(str(r[0]) for r in rows)

    def outcomes_by_brand(self) -> dict[str, dict[str, int]]:
        """``{business_id: {status: items}}``: each brand's latest decision per item, counted."""
        out: dict[str, dict[str, int]] = {}
        for business_id, status, count in self._query(
            "SELECT business_id, status, COUNT(*) FROM pa_brand_items GROUP BY business_id, status"
        ):
            out.setdefault(business_id, {})[status] = int(count)
        return out

    def delivered_by_brand(self) -> dict[str, dict[str, int]]:
        """``{business_id: {sink: codes}}``: active codes each sink holds (any destination), per brand."""
        out: dict[str, dict[str, int]] = {}
        for business_id, sink, count in self._query(
            "SELECT business_id, sink, COUNT(DISTINCT content_id) FROM pa_outbox WHERE state = 'active' "
            "GROUP BY business_id, sink"
        ):
            out.setdefault(business_id, {})[sink] = int(count)
        return out

    def outbox_backlog(self) -> dict[str, dict[str, int]]:
        """``{business_id: {"<sink> → <destination>": pending}}`` for every destination a brand delivered to.

        Pending as :meth:`~partnership_ads.ledger.outbox.Outbox.pending_deliveries` counts it: a code never
        delivered there (unless revoked), or delivered in another form (code or state) than today's. A sink
        that never delivered anything for the brand has no destination yet and is not listed.
        """
        out: dict[str, dict[str, int]] = {}
        for business_id, sink, destination, count in self._query(
            "SELECT t.business_id, t.sink, t.destination, "
            "SUM(CASE WHEN (d.content_id IS NULL AND a.state <> 'revoked') OR (d.content_id IS NOT NULL "
            "AND (d.ad_code <> a.ad_code OR d.state <> CASE WHEN a.state = 'revoked' THEN 'revoked' "
            "ELSE 'active' END)) THEN 1 ELSE 0 END) "
            "FROM (SELECT DISTINCT business_id, sink, destination FROM pa_outbox) t "
            "JOIN pa_brand_items b ON b.business_id = t.business_id "
            "JOIN pa_ad_codes a ON a.content_id = b.content_id "
            "AND a.ad_code IS NOT NULL AND a.state IN ('issued', 'harvested', 'revoked') "
            "LEFT JOIN pa_outbox d ON d.business_id = b.business_id AND d.content_id = b.content_id "
            "AND d.sink = t.sink AND d.destination = t.destination "
            "GROUP BY t.business_id, t.sink, t.destination"
        ):
            label = f"{sink} → {without_credentials(destination)}" if destination else sink
            out.setdefault(business_id, {})[label] = int(count or 0)
        return out

    def awaiting_authorisation(self, *, limit: int = 50) -> dict[str, list[dict[str, Any]]]:
        """``{business_id: [{"content_id", "creator_ig_user_id", "since"}]}``: items awaiting the creator's
        authorisation (no ``meta_graph_creator_<id>`` connection yet), at most ``limit`` per brand."""
        out: dict[str, list[dict[str, Any]]] = {}
        for business_id, content_id, creator, since in self._query(
            "SELECT b.business_id, b.content_id, c.author_ig_user_id, b.updated_at FROM pa_brand_items b "
            "LEFT JOIN pa_content c ON c.business_id = b.business_id AND c.content_id = b.content_id "
            "WHERE b.status = 'awaiting_creator_authorisation' ORDER BY b.business_id, b.content_id"
        ):
            items = out.setdefault(business_id, [])
            if len(items) < limit:
                items.append({"content_id": content_id, "creator_ig_user_id": creator, "since": since})
        return out

    def token_health_overview(self, business_ids: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """Every recorded token check, for people: ``[{"subject_id", "kind", "conn_id", "state", "days_left",
        "expires_at", "action", "detail", "checked_at", "brands"}]``, those needing action first.

        ``kind`` is the record's own (``brand`` for a business's own token, checked before discovery;
        ``creator`` for a creator's); a record from before the ledger kept it is told by its subject (a
        business id the ledger knows is a brand). ``brands`` lists the businesses the token serves (the brand
        itself, or the brands whose discovered content the creator authored). Rows hold ids, a state and
        sentences, never a token (the table keeps none). ``business_ids``: the ledger's brands when the caller
        has read them (:meth:`brands`).
        """
        from partnership_ads.token_health import BRAND, CREATOR, NEEDS_ACTION, NEEDS_REAUTHORISATION, STATES

        business_ids = set(self.brands() if business_ids is None else business_ids)
        served: dict[str, set[str]] = {}
        for creator, business_id in self._query(
            "SELECT DISTINCT c.author_ig_user_id, c.business_id FROM pa_content c "
            "JOIN pa_token_health t ON t.subject_id = c.author_ig_user_id"
        ):
            served.setdefault(str(creator), set()).add(str(business_id))
        out = []
        # The token table's own reader (a sibling mixin of the Ledger), so its one SELECT stays in one place.
        for health in TokenHealthRecords.token_health_records(self):  # type: ignore[arg-type]
            kind = health.subject_kind or (BRAND if health.subject_id in business_ids else CREATOR)
            if kind == BRAND:
                action = (
                    f"replace the brand's token on connection {health.conn_id}"
                    if health.state in NEEDS_ACTION
                    else None
                )
                brands = [health.subject_id]
            else:
                action = health.action
                brands = sorted(served.get(health.subject_id, ()))
            out.append(
                {
                    "subject_id": health.subject_id,
                    "kind": kind,
                    "conn_id": health.conn_id,
                    "state": health.state,
                    "days_left": health.days_left,
                    "expires_at": _iso_timestamp(health.expires_at),
                    "action": action,
                    "detail": health.detail,
                    "checked_at": iso(health.checked_at),
                    "brands": brands,
                }
            )
        # Dead tokens first, then expiring ones, then the rest (first occurrence wins).
        order = dict.fromkeys((*NEEDS_REAUTHORISATION, *NEEDS_ACTION, *STATES))
        urgency = {state: rank for rank, state in enumerate(order)}
        out.sort(key=lambda row: (urgency.get(row["state"], len(urgency)), row["subject_id"], row["conn_id"]))
        return out

    def recent_runs(self, *, limit: int = 10) -> list[dict[str, Any]]:
        """The last ``limit`` runs with figures: ``[{"run_id", "recorded_at", "brands": {id: {figure: n}}}]``,
        newest first."""
        runs = self._query(
            "SELECT run_id, MAX(recorded_at) AS last FROM pa_run_figures GROUP BY run_id "
            "ORDER BY last DESC, run_id DESC LIMIT ?",
            (int(limit),),
        )
        if not runs:
            return []
        marks = ", ".join("?" for _ in runs)
        figures: dict[str, dict[str, dict[str, int]]] = {}
        for run_id, business_id, figure, value in self._query(
            f"SELECT run_id, business_id, figure, value FROM pa_run_figures WHERE run_id IN ({marks})",  # noqa: S608
            [r[0] for r in runs],
        ):
            figures.setdefault(run_id, {}).setdefault(business_id, {})[figure] = int(value)
        return [{"run_id": r[0], "recorded_at": r[1], "brands": figures.get(r[0], {})} for r in runs]

    def daily_codes(self, *, days: int = 90, now: datetime | None = None) -> list[DailyCodes]:
        """Codes issued and harvested per UTC day over the last ``days`` days (oldest first, every day listed,
        zero included). A code counts on the day it was first recorded, under its state today (a revoked code
        is no longer counted)."""
        end = (now or self.clock()).date()
        start = end - timedelta(days=days - 1)
        counts: dict[tuple[str, str], int] = {}
        for day, state, count in self._query(
            "SELECT SUBSTR(issued_at, 1, 10) AS day, state, COUNT(*) FROM pa_ad_codes "
            "WHERE issued_at >= ? AND state IN ('issued', 'harvested') "
            "GROUP BY SUBSTR(issued_at, 1, 10), state",
            (start.isoformat(),),
        ):
            counts[(day, state)] = int(count)
        out = []
        for offset in range(days):
            day = (start + timedelta(days=offset)).isoformat()
            out.append(DailyCodes(day, counts.get((day, "issued"), 0), counts.get((day, "harvested"), 0)))
        return out

    def search_codes(
        self, search: CodeSearch, *, limit: int = 50, offset: int = 0
    ) -> tuple[int, list[tuple]]:
        """``(total matching, rows)`` of the codes table (columns :data:`CODE_LISTING_COLUMNS`), one page,
        ordered by business id and content id."""
        where, params = search.where()
        total = self._query(
            "SELECT COUNT(*) FROM pa_ad_codes a LEFT JOIN pa_content c "  # noqa: S608 - fixed SQL
            f"ON c.business_id = a.business_id AND c.content_id = a.content_id WHERE {where}",
            params,
        )[0][0]
        rows = self._query(
            f"{_CODE_LISTING_SELECT} WHERE {where} ORDER BY a.business_id, a.content_id LIMIT ? OFFSET ?",
            [*params, int(limit), int(offset)],
        )
        return int(total), rows

    def iter_codes(self, search: CodeSearch, *, chunk: int = 1000) -> Iterator[tuple]:
        """Every row matching ``search`` (the CSV download), read ``chunk`` rows per query."""
        offset = 0
        while True:
            _, rows = self.search_codes(search, limit=chunk, offset=offset)
            yield from rows
            if len(rows) < chunk:
                return
            offset += chunk

    def item_history(self, content_id: str) -> dict[str, Any] | None:
        """What the ledger knows of one media, as a time-ordered list of events (``[{"at", "event",
        "detail"}]`` under ``events``) with its code row (``code``) and content rows (``content``); None when
        the ledger has never seen it.

        The ledger keeps current state, not an event log: the events are rebuilt from the timestamps it
        holds (first claim, issuance or harvest, each brand's latest decision, each delivery, revocation), and
        ``fence`` / ``attempts`` say how many claims and POSTs there were in all.
        """
        code = self._query(
            "SELECT content_id, ad_code, state, business_id, owner_ig_user_id, claimed_by, claim_expires_at, "
            "attempts, last_error, issued_at, revoked_at, created_at, updated_at, fence "
            "FROM pa_ad_codes WHERE content_id = ?",
            (content_id,),
        )
        content = self._query(
            "SELECT business_id, platform, media_type, permalink, author_ig_user_id, author_display_name, "
            "ad_eligibility, first_seen_at, last_seen_at, last_run_id FROM pa_content WHERE content_id = ?",
            (content_id,),
        )
        decisions = self._query(
            "SELECT business_id, status, detail, run_id, updated_at FROM pa_brand_items WHERE content_id = ?",
            (content_id,),
        )
        deliveries = self._query(
            "SELECT business_id, sink, destination, ad_code, state, delivered_at, run_id FROM pa_outbox "
            "WHERE content_id = ?",
            (content_id,),
        )
        if not (code or content or decisions or deliveries):
            return None
        events: list[dict[str, Any]] = []
        for row in content:
            events.append({"at": row[7], "event": "seen in discovery", "detail": f"business {row[0]}"})
        code_row: dict[str, Any] | None = None
        if code:
            keys = (
                "content_id ad_code state business_id owner_ig_user_id claimed_by claim_expires_at attempts "
                "last_error issued_at revoked_at created_at updated_at fence"
            ).split()
            code_row = dict(zip(keys, code[0], strict=True))
            events.append(
                {
                    "at": code_row["created_at"],
                    "event": "first claim",
                    "detail": f"fencing token now {code_row['fence']} (it grows with every claim, harvest "
                    f"and revocation), POST attempts: {code_row['attempts']}",
                }
            )
            if code_row["issued_at"]:
                how = "harvested from discovery" if code_row["state"] == "harvested" else "code issued"
                events.append(
                    {"at": code_row["issued_at"], "event": how, "detail": code_row["ad_code"] or ""}
                )
            if code_row["state"] == "issuing":
                events.append(
                    {
                        "at": code_row["updated_at"],
                        "event": "claim held",
                        "detail": f"by {code_row['claimed_by']} until {code_row['claim_expires_at']}",
                    }
                )
            if code_row["state"] == "failed":
                events.append(
                    {
                        "at": code_row["updated_at"],
                        "event": "issuance failed",
                        "detail": code_row["last_error"],
                    }
                )
            if code_row["revoked_at"]:
                events.append({"at": code_row["revoked_at"], "event": "code revoked", "detail": ""})
        for business_id, status, detail, run_id, at in decisions:
            events.append(
                {
                    "at": at,
                    "event": f"decision: {status}",
                    "detail": f"business {business_id}, run {run_id}" + (f": {detail}" if detail else ""),
                }
            )
        for business_id, sink, destination, ad_code, state, at, run_id in deliveries:
            events.append(
                {
                    "at": at,
                    "event": f"delivered to {sink}" + (" (revocation)" if state == "revoked" else ""),
                    "detail": f"{without_credentials(destination) or '(configured destination)'}: "
                    f"{ad_code}, business {business_id}, run {run_id}",
                }
            )
        events.sort(key=lambda e: (e["at"] or "", e["event"]))
        content_rows = [
            dict(
                zip(
                    (
                        "business_id platform media_type permalink author_ig_user_id author_display_name "
                        "ad_eligibility first_seen_at last_seen_at last_run_id"
                    ).split(),
                    row,
                    strict=True,
                )
            )
            for row in content
        ]
        return {"content_id": content_id, "code": code_row, "content": content_rows, "events": events}

    def report_time(self) -> str:
        """Now on the ledger's clock, as ISO text (shown on the page)."""
        return iso(self.clock())
