"""Fakes shared by the tests: clocks that move only when told (tests fake the clock, never the network)."""

from __future__ import annotations


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
