"""Per-brand decisions: what each brand's run decided for each item (table ``pa_brand_items``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from partnership_ads.ledger.core import LedgerCore

if TYPE_CHECKING:
    from collections.abc import Sequence

#: Per-brand decisions that leave work to do: the item is re-examined by every scheduled run, found by
#: direct lookup when discovery does not return it (see :meth:`BrandDecisions.pending_content_ids`).
PENDING_STATUSES = (
    "awaiting_creator_authorisation",
    "awaiting_creator_reauthorisation",
    "failed",
    "over_max_codes",
    "claimed_elsewhere",
)

_UPSERT_BRAND_ITEM = (
    "INSERT INTO pa_brand_items (business_id, content_id, status, detail, run_id, updated_at) "
    "VALUES (?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (business_id, content_id) DO UPDATE SET status = excluded.status, "
    "detail = excluded.detail, run_id = excluded.run_id, updated_at = excluded.updated_at"
)


class BrandDecisions(LedgerCore):
    """One decision per brand and item (issued, awaiting_creator_authorisation, ...), the latest run's."""

    def record_brand_item(
        self, business_id: str, content_id: str, status: str, *, run_id: str | None, detail: str | None = None
    ) -> None:
        """Record what this brand's run decided for an item (issued, awaiting_creator_authorisation, ...)."""
        self._execute(_UPSERT_BRAND_ITEM, (business_id, content_id, status, detail, run_id, self._now()))

    def record_brand_items(
        self, business_id: str, decisions: Sequence[tuple[str, str, str | None]], *, run_id: str | None
    ) -> None:
        """:meth:`record_brand_item` for many ``(content_id, status, detail)`` in one transaction."""
        if not decisions:
            return
        now = self._now()
        with self._transaction() as cur:
            cur.executemany(
                self._sql(_UPSERT_BRAND_ITEM),
                [(business_id, cid, status, detail, run_id, now) for cid, status, detail in decisions],
            )

    def brand_items(
        self, business_id: str, *, status: str | None = None
    ) -> list[tuple[str, str, str | None]]:
        """``(content_id, status, detail)`` of a brand's items, optionally of one status."""
        statement = "SELECT content_id, status, detail FROM pa_brand_items WHERE business_id = ?"
        params: list[Any] = [business_id]
        if status:
            statement += " AND status = ?"
            params.append(status)
        return [(r[0], r[1], r[2]) for r in self._query(statement + " ORDER BY content_id", params)]

    def pending_content_ids(self, business_id: str) -> list[str]:
        """Items the ledger holds as pending for this brand, without a code: a decision in
        :data:`PENDING_STATUSES`, or a claim of the brand's left issuing or failed (a crash before the
        decision was written)."""
        statuses = ", ".join("?" for _ in PENDING_STATUSES)
        rows = self._query(
            "SELECT b.content_id FROM pa_brand_items b "  # noqa: S608 - fixed placeholders
            "LEFT JOIN pa_ad_codes a ON a.content_id = b.content_id "
            f"WHERE b.business_id = ? AND b.status IN ({statuses}) "
            "AND (a.content_id IS NULL OR a.state NOT IN ('issued', 'harvested', 'revoked')) "
            "UNION "
            "SELECT content_id FROM pa_ad_codes WHERE business_id = ? AND state IN ('issuing', 'failed') "
            "ORDER BY 1",
            (business_id, *PENDING_STATUSES, business_id),
        )
        return [row[0] for row in rows]

    def coded_content_ids(self, business_id: str, *, published_since: str | None = None) -> list[str]:
        """Items this brand selected that hold a valid code (issued or harvested); with ``published_since``
        (``YYYY-MM-DD``), only those published on or after that day, or of unknown date."""
        statement = (
            "SELECT b.content_id FROM pa_brand_items b "
            "JOIN pa_ad_codes a ON a.content_id = b.content_id "
            "LEFT JOIN pa_content c ON c.business_id = b.business_id AND c.content_id = b.content_id "
            "WHERE b.business_id = ? AND a.ad_code IS NOT NULL AND a.state IN ('issued', 'harvested')"
        )
        params: list[Any] = [business_id]
        if published_since:
            statement += " AND (c.creation_time IS NULL OR c.creation_time >= ?)"
            params.append(published_since)
        return [row[0] for row in self._query(statement + " ORDER BY b.content_id", params)]

    def brands_for(self, content_ids: Sequence[str]) -> list[str]:
        """The brands whose runs selected any of these media."""
        if not content_ids:
            return []
        marks = ", ".join("?" for _ in content_ids)
        rows = self._query(
            f"SELECT DISTINCT business_id FROM pa_brand_items WHERE content_id IN ({marks}) "  # noqa: S608
            "ORDER BY business_id",
            tuple(content_ids),
        )
        return [row[0] for row in rows]
