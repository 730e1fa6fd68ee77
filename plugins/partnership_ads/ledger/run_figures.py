"""Run figures: per-run counts by outcome and delivered per sink (table ``pa_run_figures``)."""

from __future__ import annotations

from partnership_ads.ledger.core import LedgerCore


class RunFigures(LedgerCore):
    """One value per run, brand and figure; a rerun of the summary replaces it."""

    def record_run_figures(self, run_id: str, business_id: str, figures: dict[str, int]) -> None:
        """Store per-run figures (replacing earlier values for the same run, brand and figure)."""
        now = self._now()
        statement = self._sql(
            "INSERT INTO pa_run_figures (run_id, business_id, figure, value, recorded_at) "
            "VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (run_id, business_id, figure) DO UPDATE SET value = excluded.value, "
            "recorded_at = excluded.recorded_at"
        )
        with self._transaction() as cur:
            cur.executemany(
                statement, [(run_id, business_id, k, int(v), now) for k, v in sorted(figures.items())]
            )

    def latest_run_id(self) -> str | None:
        """The run whose figures were recorded last, or None."""
        rows = self._query("SELECT run_id FROM pa_run_figures ORDER BY recorded_at DESC, run_id DESC LIMIT 1")
        return rows[0][0] if rows else None

    def run_figures(self, run_id: str) -> dict[str, dict[str, int]]:
        """``{business_id: {figure: value}}`` for one run."""
        out: dict[str, dict[str, int]] = {}
        for business_id, figure, value in self._query(
            "SELECT business_id, figure, value FROM pa_run_figures WHERE run_id = ?", (run_id,)
        ):
            out.setdefault(business_id, {})[figure] = int(value)
        return out
