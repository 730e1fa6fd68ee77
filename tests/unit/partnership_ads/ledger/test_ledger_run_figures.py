"""Per-run figures (pa_run_figures). Real SQLite and PostgreSQL."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from partnership_ads.ledger import Ledger
    from tests.unit.conftest import FakeClock

BRAND = "111"


def test_run_figures_are_replaced_on_rerun_of_the_summary(ledger: Ledger) -> None:
    ledger.record_run_figures("r1", BRAND, {"issued": 3})
    ledger.record_run_figures("r1", BRAND, {"issued": 4, "already_in_ledger": 1})
    assert ledger.run_figures("r1") == {BRAND: {"issued": 4, "already_in_ledger": 1}}
    assert ledger.latest_run_id() == "r1"


def test_the_latest_run_is_the_one_recorded_last(ledger: Ledger, clock: FakeClock) -> None:
    assert ledger.latest_run_id() is None
    ledger.record_run_figures("scheduled__2", BRAND, {"issued": 1})
    clock.advance(60)
    ledger.record_run_figures("manual__1", BRAND, {"issued": 2})
    assert ledger.latest_run_id() == "manual__1"
