"""The outbox: what each sink has delivered to each destination (table ``pa_outbox``, migration 0004).

A sink named "files" pointed at another folder is another destination, with its own record of what it
received.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from partnership_ads.ledger.core import LedgerCore

if TYPE_CHECKING:
    from collections.abc import Sequence

log = logging.getLogger(__name__)

#: The outbox destination of deliveries recorded before destinations were tracked (migration 0004): the
#: sink's configured destination of the time. See :meth:`Outbox.adopt_legacy_deliveries`.
LEGACY_DESTINATION = ""


@dataclass(frozen=True)
class DeliveryRecord:
    """One ad code as a sink receives it. ``state`` is ``active`` or ``revoked``."""

    business_id: str
    content_id: str
    ig_user_id: str | None
    permalink: str | None
    ad_code: str
    issued_at: str | None
    state: str
    revoked_at: str | None

    def as_dict(self) -> dict[str, Any]:
        """The record as a plain dict (column order as in the SQL sink)."""
        return {
            "business_id": self.business_id,
            "content_id": self.content_id,
            "ig_user_id": self.ig_user_id,
            "permalink": self.permalink,
            "ad_code": self.ad_code,
            "issued_at": self.issued_at,
            "state": self.state,
            "revoked_at": self.revoked_at,
        }


def _check_destination(destination: str) -> None:
    if not isinstance(destination, str) or not destination:
        raise ValueError(
            f"destination: the outbox needs where a sink delivers (a folder, connection id, table), "
            f"got {destination!r}"
        )


class Outbox(LedgerCore):
    """Per brand, media, sink and destination: the code and state last delivered."""

    def pending_deliveries(self, business_id: str, sink: str, *, destination: str) -> list[DeliveryRecord]:
        """Codes of this brand that ``sink`` has not delivered to ``destination`` in their current form (code
        and state).

        Revocations are pending only where the code was delivered before.

        :param destination: where the sink delivers (``AdCodeSink.destination``).
        """
        _check_destination(destination)
        rows = self._query(
            "SELECT b.business_id, b.content_id, c.author_ig_user_id, c.permalink, a.ad_code, a.issued_at, "
            "CASE WHEN a.state = 'revoked' THEN 'revoked' ELSE 'active' END, a.revoked_at "
            "FROM pa_brand_items b "
            "JOIN pa_ad_codes a ON a.content_id = b.content_id "
            "LEFT JOIN pa_content c ON c.business_id = b.business_id AND c.content_id = b.content_id "
            "LEFT JOIN pa_outbox d ON d.business_id = b.business_id AND d.content_id = b.content_id "
            "AND d.sink = ? AND d.destination = ? "
            "WHERE b.business_id = ? AND a.ad_code IS NOT NULL "
            "AND a.state IN ('issued', 'harvested', 'revoked') "
            # Never delivered and not revoked, or delivered in another form (code or state) than today's.
            "AND ((d.content_id IS NULL AND a.state <> 'revoked') "
            "OR (d.content_id IS NOT NULL AND (d.ad_code <> a.ad_code "
            "OR d.state <> CASE WHEN a.state = 'revoked' THEN 'revoked' ELSE 'active' END))) "
            "ORDER BY b.content_id",
            (sink, destination, business_id),
        )
        return [DeliveryRecord(*row) for row in rows]

    def mark_delivered(
        self,
        sink: str,
        records: Sequence[DeliveryRecord],
        *,
        destination: str,
        run_id: str | None = None,
    ) -> None:
        """Record that ``sink`` delivered ``records`` to ``destination`` (one transaction)."""
        _check_destination(destination)
        if not records:
            return
        now = self._now()
        statement = self._sql(
            "INSERT INTO pa_outbox "
            "(business_id, content_id, sink, destination, ad_code, state, delivered_at, run_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (business_id, content_id, sink, destination) DO UPDATE SET "
            "ad_code = excluded.ad_code, state = excluded.state, delivered_at = excluded.delivered_at, "
            "run_id = excluded.run_id"
        )
        with self._transaction() as cur:
            cur.executemany(
                statement,
                [
                    (r.business_id, r.content_id, sink, destination, r.ad_code, r.state, now, run_id)
                    for r in records
                ],
            )

    def adopt_legacy_deliveries(self, business_id: str, sink: str, destination: str) -> int:
        """Give this brand's deliveries recorded before destinations were tracked (migration 0004) to
        ``destination``, the sink's configured destination; returns how many were adopted.

        Call it only for a sink's configured destination, never for one a trigger chose: those rows went to
        the configured place. Where the destination already has its own row for a media, that row is newer
        and the legacy one is dropped. Idempotent; a no-op once a brand's rows are adopted.
        """
        _check_destination(destination)
        with self._transaction() as cur:
            cur.execute(
                self._sql(
                    "DELETE FROM pa_outbox "
                    "WHERE business_id = ? AND sink = ? AND destination = ? "
                    "AND EXISTS (SELECT 1 FROM pa_outbox n WHERE n.business_id = pa_outbox.business_id "
                    "AND n.content_id = pa_outbox.content_id AND n.sink = pa_outbox.sink "
                    "AND n.destination = ?)"
                ),
                (business_id, sink, LEGACY_DESTINATION, destination),
            )
            cur.execute(
                self._sql(
                    "UPDATE pa_outbox SET destination = ? "
                    "WHERE business_id = ? AND sink = ? AND destination = ?"
                ),
                (destination, business_id, sink, LEGACY_DESTINATION),
            )
            adopted = cur.rowcount
        if adopted:
            log.info(
                "Outbox: %s delivery record(s) of business %s for sink %s from before destinations were "
                "tracked are now recorded under %s",
                adopted,
                business_id,
                sink,
                destination,
            )
        return adopted

    def deliveries(
        self, *, business_id: str | None = None, sink: str | None = None, destination: str | None = None
    ) -> list[tuple[Any, ...]]:
        """``(business_id, content_id, sink, destination, ad_code, state, delivered_at)`` rows, filtered."""
        statement = (
            "SELECT business_id, content_id, sink, destination, ad_code, state, delivered_at "
            "FROM pa_outbox WHERE 1 = 1"
        )
        params: list[Any] = []
        for column, value in (("business_id", business_id), ("sink", sink), ("destination", destination)):
            if value is not None:
                statement += f" AND {column} = ?"
                params.append(value)
        return self._query(statement + " ORDER BY business_id, content_id, sink, destination", params)
