"""The ledger: the durable record that makes every task of the pipeline safe to retry.

One SQL database reached through common-sql's ``DbApiHook`` (connection ``partnership_ads_db``; only when that
connection is truly absent and every task runs on this machine, a SQLite file
``$AIRFLOW_HOME/partnership_ads.db``; a connection that cannot be read stops the task). It holds the content
seen, one ad code per media and the issuance claim on it, what each brand's run decided per item, what each
sink has received (the outbox) and per-run figures. The schema lives in versioned SQL files under
``include/sql/ledger/`` and is applied automatically and idempotently (table ``schema_migrations``).

Exactly one code per media: before a POST the issuing task claims the media with
``INSERT ... ON CONFLICT (content_id) DO NOTHING`` (only the claimant posts). A claim has an owner, a lease
(``claim_expires_at``) that the claimant's heartbeat renews while it runs, and a **fencing token** (``fence``)
that grows with every new claim of the media. A claim whose lease ran out (its task crashed, was killed, or
stalled) may be taken over by a conditional UPDATE, and the new owner looks the media up in discovery before
it ever posts again. Recording a code, renewing, failing or releasing succeed only with the current token: a
stale writer is refused (:class:`StaleClaimError`) and resolves its outcome by lookup, never by a second POST.
Lease times come from the database's clock (one clock for every worker), except where a test passes a clock.
A live claim is never stolen; a revoked code never becomes active again.

Every ledger carries an identity (``pa_ledger_identity``, created with the schema): the run's first task reads
it and every later task checks it works on the same ledger before any side effect.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowException

from partnership_ads.conn_ids import DEFAULT_LEDGER_CONN_ID

if TYPE_CHECKING:
    from airflow.providers.common.sql.hooks.sql import DbApiHook

log = logging.getLogger(__name__)

SQL_DIR_ENV = "PARTNERSHIP_ADS_LEDGER_SQL_DIR"
_DEFAULT_SQL_DIR = Path(__file__).resolve().parents[2] / "include" / "sql" / "ledger"

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    """The current time in UTC (the ledger's default clock)."""
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """A time as the ledger stores it: ISO 8601 UTC with microseconds, so text order is time order."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class CodeState(StrEnum):
    """State of a media's row in ``pa_ad_codes``."""

    ISSUING = "issuing"
    ISSUED = "issued"
    HARVESTED = "harvested"
    FAILED = "failed"
    REVOKED = "revoked"


HAS_CODE_STATES = (CodeState.ISSUED, CodeState.HARVESTED)

#: Per-brand decisions that leave work to do: the item is re-examined by every scheduled run, found by
#: direct lookup when discovery does not return it (see :meth:`Ledger.pending_content_ids`).
PENDING_STATUSES = ("awaiting_creator_authorisation", "failed", "deferred", "claimed_elsewhere")


class LedgerUnavailableError(AirflowException):
    """The ledger cannot be used (connection unreadable or absent where no embedded ledger is allowed)."""


class LedgerMismatchError(AirflowException):
    """This task's ledger is not the one the run's first task used: stop before any side effect."""


class StaleClaimError(AirflowException):
    """A write with a claim that is no longer current (its lease ended and another attempt took it over)."""


#: The outbox destination of deliveries recorded before destinations were tracked (migration 0004): the
#: sink's configured destination of the time. See :meth:`Ledger.adopt_legacy_deliveries`.
LEGACY_DESTINATION = ""


class ClaimKind(StrEnum):
    """What :meth:`Ledger.claim` obtained."""

    FRESH = "fresh"  # nobody ever claimed this media: the owner may POST at once
    RECOVERED = "recovered"  # a dead or failed claim was taken over: look the media up before any POST
    HELD = "held"  # another attempt holds a live claim: do nothing now
    HAS_CODE = "has_code"  # the ledger already holds a code for this media
    REVOKED = "revoked"  # the code was revoked on purpose: not re-issued automatically


@dataclass(frozen=True)
class Claim:
    """Outcome of a claim attempt; ``ad_code`` is set for ``HAS_CODE``, ``holder`` and ``expires_at`` for
    ``HELD``, ``fence`` (the fencing token every later write must present) for ``FRESH`` and ``RECOVERED``."""

    kind: ClaimKind
    content_id: str
    ad_code: str | None = None
    holder: str | None = None
    fence: int = 0
    expires_at: str | None = None
    #: RECOVERED from a claim left ``issuing``: seconds since its lease ended. Its holder may have sent a POST
    #: just before it stalled or died; the new owner lets that POST's time-out pass before looking the media
    #: up and posting (see IssueAdCodesOperator).
    ended_ago: float | None = None


@dataclass(frozen=True)
class CodeRow:
    """A media's row in ``pa_ad_codes``."""

    content_id: str
    ad_code: str | None
    state: str
    business_id: str | None
    owner_ig_user_id: str | None
    claimed_by: str | None
    claim_expires_at: str | None
    attempts: int
    issued_at: str | None
    revoked_at: str | None
    fence: int = 0


@dataclass(frozen=True)
class DeliveryRecord:
    """One ad code as a sink receives it. ``state`` is ``active`` or ``revoked``."""

    business_id: str
    content_id: str
    ig_user_id: str | None
    permalink: str | None
    ad_code: str
    issued_at: str | None
    state: str
    revoked_at: str | None

    def as_dict(self) -> dict[str, Any]:
        """The record as a plain dict (column order as in the SQL sink)."""
        return {
            "business_id": self.business_id,
            "content_id": self.content_id,
            "ig_user_id": self.ig_user_id,
            "permalink": self.permalink,
            "ad_code": self.ad_code,
            "issued_at": self.issued_at,
            "state": self.state,
            "revoked_at": self.revoked_at,
        }


CONTENT_COLUMNS = (
    "content_id",
    "platform",
    "media_type",
    "post_type",
    "permalink",
    "creation_time",
    "author_ig_user_id",
    "author_fb_page_id",
    "author_display_name",
    "ad_eligibility",
    "partner_ad_code",
)


def __getattr__(name: str) -> Any:
    # ``from partnership_ads.ledger import SqliteFileHook`` keeps working without importing common-sql
    # whenever the ledger module is imported (the operators import it at DAG parse time).
    if name == "SqliteFileHook":
        from partnership_ads.sqlite_file import SqliteFileHook

        return SqliteFileHook
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def default_ledger_path() -> Path:
    """``$AIRFLOW_HOME/partnership_ads.db`` (``~/airflow`` when AIRFLOW_HOME is unset)."""
    home = os.environ.get("AIRFLOW_HOME") or str(Path.home() / "airflow")
    return Path(home) / "partnership_ads.db"


def sql_hook_for(conn_id: str = DEFAULT_LEDGER_CONN_ID) -> DbApiHook:
    """The SQL hook of connection ``conn_id``; the embedded SQLite file only when the connection is truly
    absent and every task runs on this machine.

    :raises LedgerUnavailableError: the connection could not be read (retryable: never a fallback), is absent
        on a distributed executor, or is not a SQL connection.
    """
    from partnership_ads.connections import (
        ConnectionUnreadableError,
        executor,
        resolve_connection,
        single_machine,
    )

    try:
        connection = resolve_connection(conn_id)
    except ConnectionUnreadableError as exc:
        raise LedgerUnavailableError(f"The ledger is unavailable: {exc}") from None
    if connection is not None:
        from airflow.providers.common.sql.hooks.sql import DbApiHook

        hook = connection.get_hook()
        if not isinstance(hook, DbApiHook):
            raise LedgerUnavailableError(
                f"Connection {conn_id!r} is not a SQL connection (its hook is {type(hook).__name__}); "
                "use a sqlite or postgres connection"
            )
        return hook
    if not single_machine():
        raise LedgerUnavailableError(
            f"The ledger's connection {conn_id!r} is not defined, and this deployment runs {executor()}: "
            "each worker would keep a private ledger of its own. Define the connection (PostgreSQL) on every "
            "worker. Stopping before any call."
        )
    path = default_ledger_path()
    log.info(
        "Connection %s is not defined: using the embedded SQLite ledger %s (single machine)", conn_id, path
    )
    from partnership_ads.sqlite_file import SqliteFileHook

    return SqliteFileHook(path)


class Ledger:
    """The pipeline's durable record, on any common-sql ``DbApiHook`` (SQLite and PostgreSQL are tested).

    Every method runs its own short transaction, so a Ledger may be shared between threads; writes from one
    process are serialised by a lock (SQLite allows one writer at a time anyway). Each thread keeps one
    database connection and reuses it (an issuing task makes thousands of short transactions: opening a
    connection for each dominated their cost); a connection that failed is dropped and the next call opens a
    new one, and a forked child never reuses its parent's. ``close()`` closes them all.

    :param hook: the SQL hook to use.
    :param clock: returns the current time (tests pass a fake clock).
    :param sql_dir: folder of the versioned migrations (default ``include/sql/ledger``).
    """

    def __init__(self, hook: DbApiHook, *, clock: Clock | None = None, sql_dir: Path | None = None) -> None:
        self.hook = hook
        # Leases use the database's clock unless a test passes its own (then every time is the test's).
        self._test_clock = clock
        self.clock: Clock = clock or utcnow
        self.sql_dir = sql_dir or Path(os.environ.get(SQL_DIR_ENV) or _DEFAULT_SQL_DIR)
        self._write_lock = threading.Lock()
        self._local = threading.local()
        self._open: list[Any] = []
        self._open_lock = threading.Lock()
        self._paramstyle_qmark = getattr(hook, "placeholder", "%s") == "?"
        # SqliteFileHook and the sqlite provider's hook both say conn_type "sqlite".
        self._is_sqlite = getattr(hook, "conn_type", "") == "sqlite"

    # --- construction -------------------------------------------------------------------------------------

    @classmethod
    def from_conn_id(cls, conn_id: str = DEFAULT_LEDGER_CONN_ID, *, clock: Clock | None = None) -> Ledger:
        """The ledger on connection ``conn_id`` (:func:`sql_hook_for` says when it is the embedded file)."""
        return cls(sql_hook_for(conn_id), clock=clock)

    @classmethod
    def from_sqlite_path(cls, path: str | os.PathLike[str], *, clock: Clock | None = None) -> Ledger:
        """The ledger in a SQLite file."""
        from partnership_ads.sqlite_file import SqliteFileHook

        return cls(SqliteFileHook(path), clock=clock)

    # --- plumbing -------------------------------------------------------------------------------------------

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

    def __enter__(self) -> Ledger:
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

    # --- schema ------------------------------------------------------------------------------------------

    def migrations(self) -> list[tuple[str, Path]]:
        """The versioned migration files, in order: ``(version, path)`` with version ``0001``, ``0002``..."""
        files = sorted(self.sql_dir.glob("[0-9][0-9][0-9][0-9]_*.sql"))
        if not files:
            raise FileNotFoundError(f"No ledger migrations found in {self.sql_dir}")
        return [(path.name.split("_", 1)[0], path) for path in files]

    def migrate(self) -> list[str]:
        """Apply every migration not yet recorded in ``schema_migrations``; returns the versions applied.

        Idempotent and safe to run from several processes at once: each statement is itself idempotent
        (``IF NOT EXISTS``) and the version row is inserted with ``ON CONFLICT DO NOTHING``.
        """
        self._execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version TEXT PRIMARY KEY, name TEXT NOT NULL, "
            "applied_at TEXT NOT NULL)"
        )
        done = {row[0] for row in self._query("SELECT version FROM schema_migrations")}
        applied: list[str] = []
        for version, path in self.migrations():
            if version in done:
                continue
            statements = [s.strip() for s in _split_statements(path.read_text())]
            with self._transaction() as cur:
                for statement in statements:
                    self._apply(cur, statement)
                cur.execute(
                    self._sql(
                        "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?) "
                        "ON CONFLICT (version) DO NOTHING"
                    ),
                    (version, path.name, self._now()),
                )
            log.info("Ledger migration %s applied", path.name)
            applied.append(version)
        return applied

    def _apply(self, cur: Any, statement: str) -> None:
        """One migration statement; on SQLite, ``ADD COLUMN IF NOT EXISTS`` (PostgreSQL's) is emulated."""
        added = _ADD_COLUMN.match(statement) if self._is_sqlite else None
        if added is None:
            cur.execute(statement)
            return
        cur.execute(f"PRAGMA table_info({added['table']})")
        if any(row[1] == added["column"] for row in cur.fetchall()):
            return
        try:
            cur.execute(_ADD_COLUMN.sub(r"ALTER TABLE \g<table> ADD COLUMN \g<column>", statement, count=1))
        except Exception as exc:  # a concurrent migration added it first
            if "duplicate column" not in str(exc).lower():
                raise

    def identity(self) -> str:
        """This ledger's identity, created once per database (the first caller's wins)."""
        import uuid

        self._execute(
            "INSERT INTO pa_ledger_identity (singleton, ledger_id, created_at) VALUES (1, ?, ?) "
            "ON CONFLICT (singleton) DO NOTHING",
            (uuid.uuid4().hex, self._now()),
        )
        return str(self._query("SELECT ledger_id FROM pa_ledger_identity WHERE singleton = 1")[0][0])

    def check_identity(self, expected: str | None, *, conn_id: str = DEFAULT_LEDGER_CONN_ID) -> str:
        """This ledger's identity, once it is ``expected`` (the run's first task's); None checks nothing.

        :raises LedgerMismatchError: another ledger (a worker configured differently, an embedded file).
        """
        found = self.identity()
        if expected and found != expected:
            raise LedgerMismatchError(
                f"Connection {conn_id!r} leads this worker to ledger {found}, but the run started on ledger "
                f"{expected}: a worker with another ledger configuration (or a fallback file) would break "
                "exactly-once. Stopping before any side effect; align the connection on every worker."
            )
        return found

    def applied_versions(self) -> list[str]:
        """Versions recorded in ``schema_migrations``."""
        return [row[0] for row in self._query("SELECT version FROM schema_migrations ORDER BY version")]

    # --- content
    # ---------------------------------------------------------------------------------------------

    def upsert_content(self, business_id: str, rows: Iterable[dict[str, Any]], *, run_id: str | None) -> int:
        """Record the items discovery returned for a brand (:data:`CONTENT_COLUMNS`); returns their count."""
        now = self._now()
        columns = ", ".join(CONTENT_COLUMNS)
        marks = ", ".join("?" for _ in CONTENT_COLUMNS)
        updates = ", ".join(f"{c} = excluded.{c}" for c in CONTENT_COLUMNS if c != "content_id")
        statement = self._sql(
            f"INSERT INTO pa_content (business_id, {columns}, first_seen_at, last_seen_at, last_run_id) "  # noqa: S608 - fixed column names
            f"VALUES (?, {marks}, ?, ?, ?) ON CONFLICT (business_id, content_id) DO UPDATE SET {updates}, "
            "last_seen_at = excluded.last_seen_at, last_run_id = excluded.last_run_id"
        )
        values = [(business_id, *(row.get(c) for c in CONTENT_COLUMNS), now, now, run_id) for row in rows]
        if not values:
            return 0
        with self._transaction() as cur:
            cur.executemany(statement, values)
        return len(values)

    def content(self, business_id: str, content_id: str) -> dict[str, Any] | None:
        """The brand's recorded row for one item, or None."""
        rows = self._query(
            f"SELECT {', '.join(CONTENT_COLUMNS)} FROM pa_content WHERE business_id = ? AND content_id = ?",  # noqa: S608
            (business_id, content_id),
        )
        return dict(zip(CONTENT_COLUMNS, rows[0], strict=True)) if rows else None

    # --- codes and claims ---------------------------------------------------------------------------------

    def code(self, content_id: str) -> CodeRow | None:
        """The media's row in ``pa_ad_codes``, or None."""
        rows = self._query(
            "SELECT content_id, ad_code, state, business_id, owner_ig_user_id, claimed_by, claim_expires_at, "
            "attempts, issued_at, revoked_at, fence FROM pa_ad_codes WHERE content_id = ?",
            (content_id,),
        )
        return CodeRow(*rows[0]) if rows else None

    def codes_for(self, content_ids: Sequence[str], *, chunk: int = 500) -> dict[str, CodeRow]:
        """The ``pa_ad_codes`` rows of these media (absent ones left out), read ``chunk`` ids per query."""
        found: dict[str, CodeRow] = {}
        ids = list(dict.fromkeys(content_ids))
        for start in range(0, len(ids), chunk):
            part = ids[start : start + chunk]
            marks = ", ".join("?" for _ in part)
            rows = self._query(
                "SELECT content_id, ad_code, state, business_id, owner_ig_user_id, claimed_by, "  # noqa: S608
                "claim_expires_at, attempts, issued_at, revoked_at, fence FROM pa_ad_codes "
                f"WHERE content_id IN ({marks})",
                part,
            )
            found.update((row[0], CodeRow(*row)) for row in rows)
        return found

    def codes(self, *, states: Sequence[str] | None = None) -> list[CodeRow]:
        """Every row of ``pa_ad_codes`` (optionally only some states), ordered by content_id."""
        statement = (
            "SELECT content_id, ad_code, state, business_id, owner_ig_user_id, claimed_by, claim_expires_at, "
            "attempts, issued_at, revoked_at, fence FROM pa_ad_codes"
        )
        params: tuple[Any, ...] = ()
        if states:
            statement += f" WHERE state IN ({', '.join('?' for _ in states)})"
            params = tuple(states)
        return [CodeRow(*row) for row in self._query(statement + " ORDER BY content_id", params)]

    def claim(
        self,
        content_id: str,
        *,
        owner: str,
        lease_seconds: float,
        business_id: str | None = None,
        owner_ig_user_id: str | None = None,
    ) -> Claim:
        """Claim a media for issuance (atomically; see the module docstring).

        :returns: FRESH when this owner inserted the claim (POST allowed), RECOVERED when it took over an
            expired or failed claim (look the media up before posting), HELD when another owner's lease is
            live (with its holder and lease end), HAS_CODE when a code is already recorded, REVOKED when the
            code was revoked on purpose. FRESH and RECOVERED carry the claim's fencing token.
        """
        lease, lease_params = self._lease_end(lease_seconds)
        now = self._now()
        inserted = self._execute(
            "INSERT INTO pa_ad_codes (content_id, state, business_id, owner_ig_user_id, claimed_by, "  # noqa: S608
            "claim_expires_at, attempts, fence, created_at, updated_at) "
            f"VALUES (?, ?, ?, ?, ?, {lease}, 1, 1, ?, ?) ON CONFLICT (content_id) DO NOTHING",
            (content_id, CodeState.ISSUING, business_id, owner_ig_user_id, owner, *lease_params, now, now),
        )
        if inserted == 1:
            return Claim(ClaimKind.FRESH, content_id, fence=1)
        clock, clock_params = self._lease_end(0)
        rows = self._query(
            "SELECT ad_code, state, claimed_by, claim_expires_at, fence, "  # noqa: S608 - fixed SQL
            f"CASE WHEN claim_expires_at > {clock} THEN 1 ELSE 0 END, {clock} FROM pa_ad_codes "
            "WHERE content_id = ?",
            (*clock_params, *clock_params, content_id),
        )
        if not rows:  # deleted between the two statements (a released claim): treat as held, try next time
            return Claim(ClaimKind.HELD, content_id, holder="a concurrent attempt")
        ad_code, state, holder, expires_at, fence, live, db_now = rows[0]
        if state in HAS_CODE_STATES and ad_code:
            return Claim(ClaimKind.HAS_CODE, content_id, ad_code=ad_code)
        if state == CodeState.REVOKED:
            return Claim(ClaimKind.REVOKED, content_id)
        if state == CodeState.ISSUING and int(live or 0):
            return Claim(ClaimKind.HELD, content_id, holder=holder, expires_at=expires_at)
        # Take over only the exact claim we read (its fence): a concurrent taker bumps the fence first. The
        # lease is compared again on the database's clock in the same statement.
        lease, lease_params = self._lease_end(lease_seconds)
        clock, clock_params = self._lease_end(0)
        taken = self._execute(
            f"UPDATE pa_ad_codes SET state = ?, claimed_by = ?, claim_expires_at = {lease}, "  # noqa: S608
            "attempts = attempts + 1, fence = fence + 1, owner_ig_user_id = COALESCE(?, owner_ig_user_id), "
            "updated_at = ? WHERE content_id = ? AND state = ? AND fence = ? "
            f"AND (state <> 'issuing' OR claim_expires_at IS NULL OR claim_expires_at <= {clock})",
            (
                CodeState.ISSUING,
                owner,
                *lease_params,
                owner_ig_user_id,
                now,
                content_id,
                state,
                int(fence or 0),
                *clock_params,
            ),
        )
        if taken == 1:
            log.info(
                "Ledger: claim on %s taken over by %s (fence %s)", content_id, owner, int(fence or 0) + 1
            )
            ended_ago = None
            if state == CodeState.ISSUING and expires_at:
                ended_ago = max(0.0, (_parse_iso(db_now) - _parse_iso(expires_at)).total_seconds())
            return Claim(ClaimKind.RECOVERED, content_id, fence=int(fence or 0) + 1, ended_ago=ended_ago)
        return Claim(ClaimKind.HELD, content_id, holder="a concurrent attempt")

    def heartbeat(self, owner: str, *, lease_seconds: float) -> int:
        """Extend the lease of every claim ``owner`` still holds; returns how many were extended.

        A claim another attempt took over names that attempt in ``claimed_by``, so it is not renewed.
        """
        lease, lease_params = self._lease_end(lease_seconds)
        return self._execute(
            f"UPDATE pa_ad_codes SET claim_expires_at = {lease} WHERE claimed_by = ? AND state = ?",  # noqa: S608
            (*lease_params, owner, CodeState.ISSUING),
        )

    def record_code(
        self,
        content_id: str,
        ad_code: str,
        *,
        owner: str,
        fence: int,
        state: CodeState = CodeState.ISSUED,
    ) -> None:
        """Write a code the moment it is obtained (issued, or adopted from discovery), ending the claim.

        :raises StaleClaimError: ``owner`` no longer holds the claim with token ``fence`` (its lease ended and
            another attempt took it over, or the media was revoked): nothing is written.
        """
        now = self._now()
        written = self._execute(
            "UPDATE pa_ad_codes SET ad_code = ?, state = ?, claimed_by = NULL, claim_expires_at = NULL, "
            "last_error = NULL, revoked_at = NULL, issued_at = ?, updated_at = ? "
            "WHERE content_id = ? AND claimed_by = ? AND fence = ? AND state = ?",
            (ad_code, state, now, now, content_id, owner, fence, CodeState.ISSUING),
        )
        if written != 1:
            log.error(
                "Ledger: %s refused to record %s for %s: the claim (fence %s) is no longer its own",
                "stale writer",
                state,
                content_id,
                fence,
            )
            raise StaleClaimError(
                f"the claim on media {content_id} (fence {fence}) is no longer held by this attempt: its "
                "lease ended and another attempt took it over, or the code was revoked; nothing was recorded"
            )
        log.debug("Ledger: %s %s by %s (fence %s)", state, content_id, owner, fence)

    def harvest(
        self, content_id: str, ad_code: str, *, business_id: str, owner_ig_user_id: str | None
    ) -> str:
        """Record a code discovery (or a lookup) shows, without a claim.

        A different code replaces the recorded one (Meta shows one valid code per media: the newer wins), but
        never a revoked one (revocation is final for the pipeline) and never under another attempt's live
        claim (its own write settles the media).

        :returns: ``harvested`` (written), ``already_in_ledger`` (the same code was recorded), ``revoked`` or
            ``claimed_elsewhere`` (nothing written).
        """
        now = self._now()
        clock, clock_params = self._lease_end(0)
        written = self._execute(
            "INSERT INTO pa_ad_codes (content_id, ad_code, state, business_id, owner_ig_user_id, attempts, "  # noqa: S608
            "fence, issued_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 0, 0, ?, ?, ?) "
            "ON CONFLICT (content_id) DO UPDATE SET ad_code = excluded.ad_code, state = excluded.state, "
            "claimed_by = NULL, claim_expires_at = NULL, last_error = NULL, fence = pa_ad_codes.fence + 1, "
            "updated_at = excluded.updated_at, "
            "issued_at = COALESCE(pa_ad_codes.issued_at, excluded.issued_at) "
            "WHERE pa_ad_codes.state <> 'revoked' "
            "AND NOT (pa_ad_codes.state IN ('issued', 'harvested') "
            "AND pa_ad_codes.ad_code = excluded.ad_code) "
            "AND NOT (pa_ad_codes.state = 'issuing' AND pa_ad_codes.claim_expires_at IS NOT NULL "
            f"AND pa_ad_codes.claim_expires_at > {clock})",
            (
                content_id,
                ad_code,
                CodeState.HARVESTED,
                business_id,
                owner_ig_user_id,
                now,
                now,
                now,
                *clock_params,
            ),
        )
        if written == 1:
            return "harvested"
        row = self.code(content_id)
        if row is not None and row.state == CodeState.REVOKED:
            return "revoked"
        if row is not None and row.state in HAS_CODE_STATES and row.ad_code == ad_code:
            return "already_in_ledger"
        return "claimed_elsewhere"

    def record_throttle(self, conn_id: str, *, wait_seconds: float) -> None:
        """Record that Meta throttled connection ``conn_id`` for ``wait_seconds`` from now (later end wins).

        Every task and try reads it with :meth:`throttled_for` before calling with that connection.
        """
        now = self.clock()
        until = iso(now + timedelta(seconds=wait_seconds))
        self._execute(
            "INSERT INTO pa_throttles (conn_id, blocked_until, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT (conn_id) DO UPDATE SET blocked_until = CASE WHEN excluded.blocked_until > "
            "pa_throttles.blocked_until THEN excluded.blocked_until ELSE pa_throttles.blocked_until END, "
            "updated_at = excluded.updated_at",
            (conn_id, until, iso(now)),
        )

    def throttled_for(self, conn_id: str) -> float:
        """Seconds left of a recorded throttle on ``conn_id`` (0 when there is none)."""
        rows = self._query("SELECT blocked_until FROM pa_throttles WHERE conn_id = ?", (conn_id,))
        if not rows:
            return 0.0
        until = datetime.strptime(rows[0][0], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        return max(0.0, (until - self.clock()).total_seconds())

    def record_failure(self, content_id: str, *, owner: str, fence: int, error: str) -> bool:
        """End ``owner``'s claim as failed (a later attempt recovers it: lookup first, then POST).

        :returns: False (and nothing written) when the claim is no longer this owner's.
        """
        from partnership_ads.graph.errors import excerpt

        written = self._execute(
            "UPDATE pa_ad_codes SET state = ?, claimed_by = NULL, claim_expires_at = NULL, last_error = ?, "
            "updated_at = ? WHERE content_id = ? AND claimed_by = ? AND fence = ? AND state = ?",
            (
                CodeState.FAILED,
                excerpt(error, limit=500),
                self._now(),
                content_id,
                owner,
                fence,
                CodeState.ISSUING,
            ),
        )
        return written == 1

    def release_claim(self, content_id: str, *, owner: str, fence: int) -> None:
        """Give a claim back untouched (nothing was posted): the row is removed if it never held a code."""
        self._execute(
            "DELETE FROM pa_ad_codes WHERE content_id = ? AND claimed_by = ? AND fence = ? AND state = ? "
            "AND ad_code IS NULL AND attempts <= 1",
            (content_id, owner, fence, CodeState.ISSUING),
        )
        self._execute(
            "UPDATE pa_ad_codes SET state = ?, claimed_by = NULL, claim_expires_at = NULL, updated_at = ? "
            "WHERE content_id = ? AND claimed_by = ? AND fence = ? AND state = ?",
            (CodeState.FAILED, self._now(), content_id, owner, fence, CodeState.ISSUING),
        )

    def claim_holders(self, content_ids: Sequence[str]) -> dict[str, tuple[str | None, float]]:
        """For media still claimed (``issuing``): holder and seconds until the lease ends (<= 0: ended),
        on the lease clock."""
        found: dict[str, tuple[str | None, float]] = {}
        ids = list(dict.fromkeys(content_ids))
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            marks = ", ".join("?" for _ in part)
            clock, clock_params = self._lease_end(0)
            rows = self._query(
                f"SELECT content_id, claimed_by, claim_expires_at, {clock} FROM pa_ad_codes "  # noqa: S608
                f"WHERE state = 'issuing' AND content_id IN ({marks})",
                (*clock_params, *part),
            )
            for content_id, holder, expires, now in rows:
                left = (_parse_iso(expires) - _parse_iso(now)).total_seconds() if expires else 0.0
                found[content_id] = (holder, left)
        return found

    def mark_revoked(self, content_id: str) -> bool:
        """Mark a media's code revoked; returns False when the ledger holds no code for it.

        The fence moves on, so an attempt still holding an old claim can never record over the revocation.
        """
        now = self._now()
        return (
            self._execute(
                "UPDATE pa_ad_codes SET state = ?, revoked_at = ?, claimed_by = NULL, "
                "claim_expires_at = NULL, fence = fence + 1, updated_at = ? "
                "WHERE content_id = ? AND ad_code IS NOT NULL",
                (CodeState.REVOKED, now, now, content_id),
            )
            == 1
        )

    # --- per-brand decisions
    # ---------------------------------------------------------------------------------

    def record_brand_item(
        self, business_id: str, content_id: str, status: str, *, run_id: str | None, detail: str | None = None
    ) -> None:
        """Record what this brand's run decided for an item (issued, awaiting_creator_authorisation, ...)."""
        self._execute(
            "INSERT INTO pa_brand_items (business_id, content_id, status, detail, run_id, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (business_id, content_id) DO UPDATE SET "
            "status = excluded.status, detail = excluded.detail, run_id = excluded.run_id, "
            "updated_at = excluded.updated_at",
            (business_id, content_id, status, detail, run_id, self._now()),
        )

    def record_brand_items(
        self, business_id: str, decisions: Sequence[tuple[str, str, str | None]], *, run_id: str | None
    ) -> None:
        """:meth:`record_brand_item` for many ``(content_id, status, detail)`` in one transaction."""
        if not decisions:
            return
        now = self._now()
        with self._transaction() as cur:
            cur.executemany(
                self._sql(
                    "INSERT INTO pa_brand_items (business_id, content_id, status, detail, run_id, "
                    "updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (business_id, content_id) "
                    "DO UPDATE SET status = excluded.status, detail = excluded.detail, "
                    "run_id = excluded.run_id, updated_at = excluded.updated_at"
                ),
                [(business_id, cid, status, detail, run_id, now) for cid, status, detail in decisions],
            )

    def brand_items(
        self, business_id: str, *, status: str | None = None
    ) -> list[tuple[str, str, str | None]]:
        """``(content_id, status, detail)`` of a brand's items, optionally of one status."""
        statement = "SELECT content_id, status, detail FROM pa_brand_items WHERE business_id = ?"
        params: list[Any] = [business_id]
        if status:
            statement += " AND status = ?"
            params.append(status)
        return [(r[0], r[1], r[2]) for r in self._query(statement + " ORDER BY content_id", params)]

    def pending_content_ids(self, business_id: str) -> list[str]:
        """Items the ledger holds as pending for this brand, without a code: a decision in
        :data:`PENDING_STATUSES`, or a claim of the brand's left issuing or failed (a crash before the
        decision was written)."""
        statuses = ", ".join("?" for _ in PENDING_STATUSES)
        rows = self._query(
            "SELECT b.content_id FROM pa_brand_items b "  # noqa: S608 - fixed placeholders
            "LEFT JOIN pa_ad_codes a ON a.content_id = b.content_id "
            f"WHERE b.business_id = ? AND b.status IN ({statuses}) "
            "AND (a.content_id IS NULL OR a.state NOT IN ('issued', 'harvested', 'revoked')) "
            "UNION SELECT content_id FROM pa_ad_codes "
            "WHERE business_id = ? AND state IN ('issuing', 'failed') ORDER BY 1",
            (business_id, *PENDING_STATUSES, business_id),
        )
        return [row[0] for row in rows]

    def coded_content_ids(self, business_id: str, *, published_since: str | None = None) -> list[str]:
        """Items this brand selected that hold a valid code (issued or harvested); with ``published_since``
        (``YYYY-MM-DD``), only those published on or after that day, or of unknown date."""
        statement = (
            "SELECT b.content_id FROM pa_brand_items b JOIN pa_ad_codes a ON a.content_id = b.content_id "
            "LEFT JOIN pa_content c ON c.business_id = b.business_id AND c.content_id = b.content_id "
            "WHERE b.business_id = ? AND a.ad_code IS NOT NULL AND a.state IN ('issued', 'harvested')"
        )
        params: list[Any] = [business_id]
        if published_since:
            statement += " AND (c.creation_time IS NULL OR c.creation_time >= ?)"
            params.append(published_since)
        return [row[0] for row in self._query(statement + " ORDER BY b.content_id", params)]

    def brands_for(self, content_ids: Sequence[str]) -> list[str]:
        """The brands whose runs selected any of these media."""
        if not content_ids:
            return []
        marks = ", ".join("?" for _ in content_ids)
        rows = self._query(
            f"SELECT DISTINCT business_id FROM pa_brand_items WHERE content_id IN ({marks}) "  # noqa: S608
            "ORDER BY business_id",
            tuple(content_ids),
        )
        return [row[0] for row in rows]

    # --- outbox -------------------------------------------------------------------------------------------
    # Kept per destination (table pa_outbox, migration 0004): a sink named "files" pointed at another folder
    # is another destination, with its own record of what it received.

    def pending_deliveries(self, business_id: str, sink: str, *, destination: str) -> list[DeliveryRecord]:
        """Codes of this brand that ``sink`` has not delivered to ``destination`` in their current form (code
        and state).

        Revocations are pending only where the code was delivered before.

        :param destination: where the sink delivers (``AdCodeSink.destination``).
        """
        _check_destination(destination)
        rows = self._query(
            "SELECT b.business_id, b.content_id, c.author_ig_user_id, c.permalink, a.ad_code, a.issued_at, "
            "CASE WHEN a.state = 'revoked' THEN 'revoked' ELSE 'active' END, a.revoked_at "
            "FROM pa_brand_items b "
            "JOIN pa_ad_codes a ON a.content_id = b.content_id "
            "LEFT JOIN pa_content c ON c.business_id = b.business_id AND c.content_id = b.content_id "
            "LEFT JOIN pa_outbox d ON d.business_id = b.business_id AND d.content_id = b.content_id "
            "AND d.sink = ? AND d.destination = ? "
            "WHERE b.business_id = ? AND a.ad_code IS NOT NULL AND a.state IN ('issued', 'harvested', "
            "'revoked') "
            "AND ((d.content_id IS NULL AND a.state <> 'revoked') OR (d.content_id IS NOT NULL AND "
            "(d.ad_code <> a.ad_code OR d.state <> CASE WHEN a.state = 'revoked' THEN 'revoked' ELSE "
            "'active' END)))"
            " ORDER BY b.content_id",
            (sink, destination, business_id),
        )
        return [DeliveryRecord(*row) for row in rows]

    def mark_delivered(
        self,
        sink: str,
        records: Sequence[DeliveryRecord],
        *,
        destination: str,
        run_id: str | None = None,
    ) -> None:
        """Record that ``sink`` delivered ``records`` to ``destination`` (one transaction)."""
        _check_destination(destination)
        if not records:
            return
        now = self._now()
        statement = self._sql(
            "INSERT INTO pa_outbox (business_id, content_id, sink, destination, ad_code, state, "
            "delivered_at, run_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (business_id, content_id, sink, destination) DO UPDATE SET "
            "ad_code = excluded.ad_code, state = excluded.state, "
            "delivered_at = excluded.delivered_at, run_id = excluded.run_id"
        )
        with self._transaction() as cur:
            cur.executemany(
                statement,
                [
                    (r.business_id, r.content_id, sink, destination, r.ad_code, r.state, now, run_id)
                    for r in records
                ],
            )

    def adopt_legacy_deliveries(self, business_id: str, sink: str, destination: str) -> int:
        """Give this brand's deliveries recorded before destinations were tracked (migration 0004) to
        ``destination``, the sink's configured destination; returns how many were adopted.

        Call it only for a sink's configured destination, never for one a trigger chose: those rows went to
        the configured place. Where the destination already has its own row for a media, that row is newer
        and the legacy one is dropped. Idempotent; a no-op once a brand's rows are adopted.
        """
        _check_destination(destination)
        with self._transaction() as cur:
            cur.execute(
                self._sql(
                    "DELETE FROM pa_outbox WHERE business_id = ? AND sink = ? AND destination = ? AND EXISTS "
                    "(SELECT 1 FROM pa_outbox n WHERE n.business_id = pa_outbox.business_id AND "
                    "n.content_id = pa_outbox.content_id AND n.sink = pa_outbox.sink AND n.destination = ?)"
                ),
                (business_id, sink, LEGACY_DESTINATION, destination),
            )
            cur.execute(
                self._sql(
                    "UPDATE pa_outbox SET destination = ? "
                    "WHERE business_id = ? AND sink = ? AND destination = ?"
                ),
                (destination, business_id, sink, LEGACY_DESTINATION),
            )
            adopted = cur.rowcount
        if adopted:
            log.info(
                "Outbox: %s delivery record(s) of business %s for sink %s from before destinations were "
                "tracked are now recorded under %s",
                adopted,
                business_id,
                sink,
                destination,
            )
        return adopted

    def deliveries(
        self, *, business_id: str | None = None, sink: str | None = None, destination: str | None = None
    ) -> list[tuple[Any, ...]]:
        """``(business_id, content_id, sink, destination, ad_code, state, delivered_at)`` rows, filtered."""
        statement = (
            "SELECT business_id, content_id, sink, destination, ad_code, state, delivered_at FROM pa_outbox "
            "WHERE 1 = 1"
        )
        params: list[Any] = []
        for column, value in (("business_id", business_id), ("sink", sink), ("destination", destination)):
            if value is not None:
                statement += f" AND {column} = ?"
                params.append(value)
        return self._query(statement + " ORDER BY business_id, content_id, sink, destination", params)

    # --- run figures --------------------------------------------------------------------------------------

    def record_run_figures(self, run_id: str, business_id: str, figures: dict[str, int]) -> None:
        """Store per-run figures (replacing earlier values for the same run, brand and figure)."""
        now = self._now()
        statement = self._sql(
            "INSERT INTO pa_run_figures (run_id, business_id, figure, value, recorded_at) VALUES (?, ?, ?, "
            "?, ?) "
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


_ADD_COLUMN = re.compile(
    r"^ALTER TABLE (?P<table>\w+) ADD COLUMN IF NOT EXISTS (?P<column>\w+)", re.IGNORECASE
)


def _parse_iso(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def _check_destination(destination: str) -> None:
    if not isinstance(destination, str) or not destination:
        raise ValueError(
            f"destination: the outbox needs where a sink delivers (a folder, connection id, table), "
            f"got {destination!r}"
        )


def _split_statements(text: str) -> Iterator[str]:
    """Split a migration file on semicolons that end a line, dropping comment-only chunks."""
    chunk: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("--") and not chunk:
            continue
        chunk.append(line)
        if stripped.endswith(";"):
            statement = "\n".join(chunk).strip().rstrip(";").strip()
            if statement:
                yield statement
            chunk = []
    rest = "\n".join(chunk).strip()
    if rest:
        yield rest
