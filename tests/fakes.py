"""Fakes shared by the tests: clocks that move only when told (tests fake the clock, never the network)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pytest


class SleepingClock:
    """A monotonic clock that only moves when the code under test sleeps; records every sleep."""

    def __init__(self, start: float = 10_000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class UtcClock:
    """The pipeline's UTC clock (``partnership_ads.clock.utcnow`` and the ledger's), frozen until advanced.

    Starts at the real time, so that times the database writes itself (claim leases) stay comparable.
    """

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import partnership_ads.clock
        import partnership_ads.ledger.core

        self.now = datetime.now(UTC)
        for module in (partnership_ads.clock, partnership_ads.ledger.core):
            monkeypatch.setattr(module, "utcnow", self)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
