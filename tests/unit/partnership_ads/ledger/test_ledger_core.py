"""The ledger's core: leases on the database's clock, connections per thread. Real SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import threading
from typing import TYPE_CHECKING

from partnership_ads.ledger import ClaimKind, Ledger
from partnership_ads.ledger import core as ledger_core

if TYPE_CHECKING:
    from pathlib import Path

    import pytest


def test_lease_times_come_from_the_database_clock_not_the_workers(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    on_database_clock = Ledger(ledger.hook)  # no test clock: leases on the database's clock
    on_database_clock.claim("1", owner="a", lease_seconds=60)
    # Another worker whose own clock runs an hour ahead must still see a's lease as live.
    ahead = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    monkeypatch.setattr(ledger_core, "utcnow", lambda: ahead)
    skewed_worker = Ledger(ledger.hook)
    claim = skewed_worker.claim("1", owner="b", lease_seconds=60)
    assert (claim.kind, claim.holder) == (ClaimKind.HELD, "a")
    expires = dt.datetime.strptime(claim.expires_at, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)
    assert abs((expires - dt.datetime.now(dt.UTC)).total_seconds() - 60) < 30


def test_each_thread_keeps_its_own_connection_and_close_closes_them_all(tmp_path: Path) -> None:
    ledger = Ledger.from_sqlite_path(tmp_path / "l.db")
    ledger.migrate()
    seen: list[object] = []

    def read() -> None:
        ledger.latest_run_id()
        ledger.latest_run_id()
        seen.append(ledger._local.conn)

    threads = [threading.Thread(target=read) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(conn) for conn in seen}) == 3
    assert len(ledger._open) == 4  # the three threads' and the migrating (main) thread's
    ledger.close()
    assert ledger._open == []
    assert ledger.latest_run_id() is None  # a closed ledger opens a new connection on its next call
