"""Throttles per meta_graph connection (pa_throttles). Real SQLite and PostgreSQL."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from partnership_ads.ledger import Ledger
    from tests.unit.conftest import FakeClock


def test_a_recorded_throttle_blocks_the_connection_until_its_end_and_the_later_end_wins(
    ledger: Ledger, clock: FakeClock
) -> None:
    ledger.record_throttle("meta_graph_creator_1", wait_seconds=30)
    ledger.record_throttle("meta_graph_creator_1", wait_seconds=10)
    clock.advance(20)
    assert ledger.throttled_for("meta_graph_creator_1") == 10
    assert ledger.throttled_for("meta_graph_creator_2") == 0
    clock.advance(15)
    assert ledger.throttled_for("meta_graph_creator_1") == 0
