"""Content: every item discovery returned for a brand (table ``pa_content``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from partnership_ads.ledger.core import LedgerCore

if TYPE_CHECKING:
    from collections.abc import Iterable

CONTENT_COLUMNS = (
    "content_id",
    "platform",
    "media_type",
    "post_type",
    "permalink",
    "creation_time",
    "author_ig_user_id",
    "author_fb_page_id",
    "author_display_name",
    "ad_eligibility",
    "partner_ad_code",
)


class ContentTable(LedgerCore):
    """The items seen, one row per brand and media, with the brand's own partnership_info flattened."""

    def upsert_content(self, business_id: str, rows: Iterable[dict[str, Any]], *, run_id: str | None) -> int:
        """Record the items discovery returned for a brand (:data:`CONTENT_COLUMNS`); returns their count."""
        now = self._now()
        columns = ", ".join(CONTENT_COLUMNS)
        marks = ", ".join("?" for _ in CONTENT_COLUMNS)
        updates = ", ".join(f"{c} = excluded.{c}" for c in CONTENT_COLUMNS if c != "content_id")
        # Fixed column names only: nothing from the caller is formatted into the statement.
        statement = self._sql(
            f"INSERT INTO pa_content (business_id, {columns}, first_seen_at, last_seen_at, last_run_id) "  # noqa: S608
            f"VALUES (?, {marks}, ?, ?, ?) "
            f"ON CONFLICT (business_id, content_id) DO UPDATE SET {updates}, "
            "last_seen_at = excluded.last_seen_at, last_run_id = excluded.last_run_id"
        )
        values = [(business_id, *(row.get(c) for c in CONTENT_COLUMNS), now, now, run_id) for row in rows]
        if not values:
            return 0
        with self._transaction() as cur:
            cur.executemany(statement, values)
        return len(values)

    def content(self, business_id: str, content_id: str) -> dict[str, Any] | None:
        """The brand's recorded row for one item, or None."""
        rows = self._query(
            f"SELECT {', '.join(CONTENT_COLUMNS)} FROM pa_content WHERE business_id = ? AND content_id = ?",  # noqa: S608
            (business_id, content_id),
        )
        return dict(zip(CONTENT_COLUMNS, rows[0], strict=True)) if rows else None
