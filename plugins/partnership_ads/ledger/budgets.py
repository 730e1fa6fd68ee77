"""POST budgets: a run's ``max_codes`` cap per brand, shared by every task instance of the run (table
``pa_post_budgets``).

A brand's items may be issued by several shard tasks of one DAG run at once; ``max_codes`` caps the brand's
new codes across all of them, so the count lives in the ledger, not in a task. A task reserves POSTs a batch
at a time and gives back what it did not use. A task killed while holding a reservation takes it with it: the
run may then issue fewer than ``max_codes`` (the next run issues the rest), never more.
"""

from __future__ import annotations

from partnership_ads.ledger.core import LedgerCore


class PostBudgets(LedgerCore):
    """How many POSTs each brand's run may still make."""

    def reserve_posts(self, run_id: str, business_id: str, *, limit: int, n: int) -> int:
        """Reserve up to ``n`` POSTs of the brand's run, whose cap is ``limit``; returns how many were granted
        (``min(n, limit - used)``, never below 0), in one transaction."""
        if n <= 0:
            return 0
        with self._transaction() as cur:
            cur.execute(
                self._sql(
                    "INSERT INTO pa_post_budgets (run_id, business_id, max_posts, used) VALUES (?, ?, ?, 0) "
                    "ON CONFLICT (run_id, business_id) DO NOTHING"
                ),
                (run_id, business_id, int(limit)),
            )
            # A no-op write first: on PostgreSQL it locks the row until commit, so the read below and the
            # grant are not interleaved with another task's (SQLite's writer is alone anyway).
            cur.execute(
                self._sql("UPDATE pa_post_budgets SET max_posts = ? WHERE run_id = ? AND business_id = ?"),
                (int(limit), run_id, business_id),
            )
            cur.execute(
                self._sql("SELECT used FROM pa_post_budgets WHERE run_id = ? AND business_id = ?"),
                (run_id, business_id),
            )
            used = int(cur.fetchone()[0])
            granted = max(0, min(int(n), int(limit) - used))
            if granted:
                cur.execute(
                    self._sql(
                        "UPDATE pa_post_budgets SET used = used + ? WHERE run_id = ? AND business_id = ?"
                    ),
                    (granted, run_id, business_id),
                )
        return granted

    def release_posts(self, run_id: str, business_id: str, n: int) -> None:
        """Give back ``n`` reserved POSTs that were not made."""
        if n <= 0:
            return
        self._execute(
            "UPDATE pa_post_budgets SET used = CASE WHEN used > ? THEN used - ? ELSE 0 END "
            "WHERE run_id = ? AND business_id = ?",
            (int(n), int(n), run_id, business_id),
        )

    def posts_used(self, run_id: str, business_id: str) -> int:
        """POSTs granted so far to the brand's run (0 when none was reserved)."""
        rows = self._query(
            "SELECT used FROM pa_post_budgets WHERE run_id = ? AND business_id = ?", (run_id, business_id)
        )
        return int(rows[0][0]) if rows else 0
