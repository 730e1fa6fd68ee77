"""Throttles: Meta's "wait this long" per meta_graph connection, shared by every task and try
(table ``pa_throttles``)."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from partnership_ads.clock import iso, parse_iso
from partnership_ads.ledger.core import LedgerCore

if TYPE_CHECKING:
    from collections.abc import Sequence


class Throttles(LedgerCore):
    """Until when each connection is blocked (on the ledger's clock: the worker's, or a test's)."""

    def record_throttle(self, conn_id: str, *, wait_seconds: float) -> None:
        """Record that Meta throttled connection ``conn_id`` for ``wait_seconds`` from now (later end wins).

        Every task and try reads it with :meth:`throttled_for` before calling with that connection.
        """
        now = self.clock()
        until = iso(now + timedelta(seconds=wait_seconds))
        self._execute(
            "INSERT INTO pa_throttles (conn_id, blocked_until, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT (conn_id) DO UPDATE SET "
            "blocked_until = CASE WHEN excluded.blocked_until > pa_throttles.blocked_until "
            "THEN excluded.blocked_until ELSE pa_throttles.blocked_until END, "
            "updated_at = excluded.updated_at",
            (conn_id, until, iso(now)),
        )

    def throttled_for(self, conn_id: str) -> float:
        """Seconds left of a recorded throttle on ``conn_id`` (0 when there is none)."""
        rows = self._query("SELECT blocked_until FROM pa_throttles WHERE conn_id = ?", (conn_id,))
        if not rows:
            return 0.0
        return max(0.0, (parse_iso(rows[0][0]) - self.clock()).total_seconds())

    def throttled_for_many(self, conn_ids: Sequence[str]) -> dict[str, float]:
        """Seconds left of a recorded throttle per connection (absent: none), in one read."""
        ids = list(dict.fromkeys(conn_ids))
        if not ids:
            return {}
        marks = ", ".join("?" for _ in ids)
        rows = self._query(
            f"SELECT conn_id, blocked_until FROM pa_throttles WHERE conn_id IN ({marks})",  # noqa: S608
            ids,
        )
        now = self.clock()
        return {conn_id: max(0.0, (parse_iso(until) - now).total_seconds()) for conn_id, until in rows}
