"""Time as the pipeline records it: UTC, stored as ISO 8601 text whose order is time order.

The ledger and the sinks write every time with :func:`iso`; :func:`parse_iso` reads it back.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

#: A source of the current time (tests pass a fake one).
Clock = Callable[[], datetime]

_ISO_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def utcnow() -> datetime:
    """The current time in UTC (the default clock of the ledger and the sinks)."""
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """A time as the ledger stores it: ISO 8601 UTC with microseconds, so text order is time order."""
    return moment.astimezone(UTC).strftime(_ISO_FORMAT)


def parse_iso(text: str) -> datetime:
    """The time :func:`iso` wrote (an aware UTC datetime)."""
    return datetime.strptime(text, _ISO_FORMAT).replace(tzinfo=UTC)
