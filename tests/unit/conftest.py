"""Ledgers on real SQLite files and real PostgreSQL databases, with a fake clock.

Shared by every unit test that needs a ledger (the ledger's own tests in ``partnership_ads/ledger/`` and the
pipeline's): ``ledger`` runs a test on both databases, ``sqlite_ledger`` and ``postgres_ledger`` on one.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from partnership_ads.conn_ids import DEFAULT_LEDGER_CONN_ID
from partnership_ads.ledger import Ledger

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


class FakeClock:
    """A clock that moves only when told."""

    def __init__(self) -> None:
        self.now = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sqlite_ledger(tmp_path: Path, clock: FakeClock) -> Ledger:
    ledger = Ledger.from_sqlite_path(tmp_path / "ledger.db", clock=clock)
    ledger.migrate()
    return ledger


@pytest.fixture
def postgres_ledger(
    postgres_database: str, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Ledger]:
    monkeypatch.setenv("AIRFLOW_CONN_PARTNERSHIP_ADS_DB", postgres_database)
    ledger = Ledger.from_conn_id(DEFAULT_LEDGER_CONN_ID, clock=clock)
    ledger.migrate()
    yield ledger


@pytest.fixture(params=["sqlite", "postgres"])
def ledger(request: pytest.FixtureRequest) -> Ledger:
    """The same behaviour on both databases the ledger supports."""
    return request.getfixturevalue(f"{request.param}_ledger")


@pytest.fixture(params=["sqlite", "postgres"])
def unmigrated_ledger(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Ledger:
    """An empty database of either kind, not migrated yet, on the database's clock (no fake clock)."""
    if request.param == "sqlite":
        return Ledger.from_sqlite_path(tmp_path / "unmigrated.db")
    monkeypatch.setenv("AIRFLOW_CONN_PARTNERSHIP_ADS_DB", request.getfixturevalue("postgres_database"))
    return Ledger.from_conn_id("partnership_ads_db")
