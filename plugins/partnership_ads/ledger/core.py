"""The ledger's core: one connection per thread, short transactions, placeholders and the lease clock.

Every table family (``content``, ``codes``, ``decisions``, ``outbox``, ``run_figures``, ``throttles``) and
the schema (``schema``) is a subclass of :class:`LedgerCore`; :class:`partnership_ads.ledger.Ledger`
composes them.
"""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager, suppress
from datetime import timedelta
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from partnership_ads.clock import iso, utcnow
from partnership_ads.conn_ids import DEFAULT_LEDGER_CONN_ID
from partnership_ads.ledger.database import sql_hook_for

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from importlib.resources.abc import Traversable

    from airflow.providers.common.sql.hooks.sql import DbApiHook

    from partnership_ads.clock import Clock

#: Environment variable naming another folder of versioned migrations (tests, or a deployment's own copy).
SQL_DIR_ENV = "PARTNERSHIP_ADS_LEDGER_SQL_DIR"


def default_sql_dir() -> Path | Traversable:
    """The folder of versioned migrations: ``$PARTNERSHIP_ADS_LEDGER_SQL_DIR``, else the package's ``sql/``.

    Found through the package (``importlib.resources``), so an installed distribution carries its schema.
    """
    override = os.environ.get(SQL_DIR_ENV)
    if override:
        return Path(override)
    # By name, not __package__: Airflow's plugin loader also imports this file as a top-level module.
    return files("partnership_ads.ledger") / "sql"


class LedgerCore:
    """Plumbing shared by every table family, on any common-sql ``DbApiHook`` (SQLite and PostgreSQL are
    tested).

    Every method runs its own short transaction, so a Ledger may be shared between threads; writes from one
    process are serialised by a lock (SQLite allows one writer at a time anyway). Each thread keeps one
    database connection and reuses it (an issuing task makes thousands of short transactions: opening a
    connection for each dominated their cost); a connection that failed is dropped and the next call opens a
    new one, and a forked child never reuses its parent's. ``close()`` closes them all.

    :param hook: the SQL hook to use.
    :param clock: returns the current time (tests pass a fake clock).
    :param sql_dir: folder of the versioned migrations (default :func:`default_sql_dir`).
    """

    def __init__(
        self, hook: DbApiHook, *, clock: Clock | None = None, sql_dir: Path | Traversable | None = None
    ) -> None:
        self.hook = hook
        # Leases use the database's clock unless a test passes its own (then every time is the test's).
        self._test_clock = clock
        self.clock: Clock = clock or utcnow
        self.sql_dir = sql_dir or default_sql_dir()
        self._write_lock = threading.Lock()
        self._local = threading.local()
        self._open: list[Any] = []
        self._open_lock = threading.Lock()
        self._paramstyle_qmark = getattr(hook, "placeholder", "%s") == "?"
        # SqliteFileHook and the sqlite provider's hook both say conn_type "sqlite".
        self._is_sqlite = getattr(hook, "conn_type", "") == "sqlite"

    # --- construction -------------------------------------------------------------------------------------

    @classmethod
    def from_conn_id(cls, conn_id: str = DEFAULT_LEDGER_CONN_ID, *, clock: Clock | None = None) -> Self:
        """The ledger on connection ``conn_id`` (:func:`sql_hook_for` says when it is the embedded file)."""
        return cls(sql_hook_for(conn_id), clock=clock)

    @classmethod
    def from_sqlite_path(cls, path: str | os.PathLike[str], *, clock: Clock | None = None) -> Self:
        """The ledger in a SQLite file."""
        from partnership_ads.sqlite_file import SqliteFileHook

        return cls(SqliteFileHook(path), clock=clock)

    # --- connections and transactions ---------------------------------------------------------------------

    def _sql(self, statement: str) -> str:
        # Queries are written with qmark placeholders; psycopg2 and most drivers take %s.
        return statement if self._paramstyle_qmark else statement.replace("?", "%s")

    def _connection(self) -> Any:
        """This thread's connection, opened on first use (and again after a failure or a fork)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == os.getpid():
            return conn
        conn = self.hook.get_conn()
        if self._is_sqlite:
            conn.execute("PRAGMA busy_timeout = 30000")
        self._local.conn, self._local.pid = conn, os.getpid()
        with self._open_lock:
            self._open.append(conn)
        return conn

    def _drop_connection(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is None:
            return
        with self._open_lock:
            if conn in self._open:
                self._open.remove(conn)
        with suppress(Exception):
            conn.close()

    def close(self) -> None:
        """Close every connection this ledger opened in this process (any thread)."""
        with self._open_lock:
            conns, self._open = self._open, []
        for conn in conns:
            with suppress(Exception):
                conn.close()
        self._local = threading.local()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self, *, write: bool = True) -> Iterator[Any]:
        lock = self._write_lock if write else None
        if lock:
            lock.acquire()
        try:
            conn = self._connection()
            try:
                cur = conn.cursor()
                try:
                    yield cur
                finally:
                    cur.close()
                conn.commit()
            except BaseException:
                # A failed statement or a broken connection: roll back if possible, then start afresh.
                with suppress(Exception):
                    conn.rollback()
                self._drop_connection()
                raise
        finally:
            if lock:
                lock.release()

    def _execute(self, statement: str, params: Sequence[Any] = ()) -> int:
        with self._transaction() as cur:
            cur.execute(self._sql(statement), tuple(params))
            return cur.rowcount

    def _query(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._transaction(write=False) as cur:
            cur.execute(self._sql(statement), tuple(params))
            return [tuple(row) for row in cur.fetchall()]

    # --- clocks -------------------------------------------------------------------------------------------

    def _now(self) -> str:
        return iso(self.clock())

    def _lease_end(self, seconds: float) -> tuple[str, list[Any]]:
        """SQL for "now + ``seconds``" on the lease clock (the database's) as ISO text, and its parameters."""
        if self._test_clock is not None:
            return "?", [iso(self._test_clock() + timedelta(seconds=seconds))]
        if self._is_sqlite:
            # %f is seconds with milliseconds; three zeros make it the microsecond form iso() writes.
            return "strftime('%Y-%m-%dT%H:%M:%f000Z', 'now', ?)", [f"{seconds:+.6f} seconds"]
        return (
            "to_char((clock_timestamp() AT TIME ZONE 'UTC') + make_interval(secs => ?), "
            '\'YYYY-MM-DD"T"HH24:MI:SS.US"Z"\')',
            [float(seconds)],
        )
