"""The ledger's schema and identity: versioned migrations (``sql/NNNN_*.sql``) and ``pa_ledger_identity``.

Migrations are applied automatically and idempotently and recorded by version number in
``schema_migrations``: a ledger created when the files lived elsewhere upgrades in place.
"""

from __future__ import annotations

import logging
import re
import uuid
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowException

from partnership_ads.conn_ids import DEFAULT_LEDGER_CONN_ID
from partnership_ads.ledger.core import LedgerCore

if TYPE_CHECKING:
    from collections.abc import Iterator
    from importlib.resources.abc import Traversable
    from pathlib import Path

log = logging.getLogger(__name__)

_MIGRATION_NAME = re.compile(r"^(?P<version>[0-9]{4})_.*\.sql$")
_ADD_COLUMN = re.compile(
    r"^ALTER TABLE (?P<table>\w+) ADD COLUMN IF NOT EXISTS (?P<column>\w+)", re.IGNORECASE
)


class LedgerMismatchError(AirflowException):
    """This task's ledger is not the one the run's first task used: stop before any side effect."""


class LedgerSchema(LedgerCore):
    """Migrations and the ledger's identity."""

    def migrations(self) -> list[tuple[str, Path | Traversable]]:
        """The versioned migration files, in order: ``(version, path)`` with version ``0001``, ``0002``..."""
        found = sorted(
            (match["version"], entry.name, entry)
            for entry in self.sql_dir.iterdir()
            if (match := _MIGRATION_NAME.match(entry.name)) and entry.is_file()
        )
        if not found:
            raise FileNotFoundError(f"No ledger migrations found in {self.sql_dir}")
        return [(version, entry) for version, _, entry in found]

    def migrate(self) -> list[str]:
        """Apply every migration not yet recorded in ``schema_migrations``; returns the versions applied.

        Idempotent and safe to run from several processes at once: each statement is itself idempotent
        (``IF NOT EXISTS``), the version row is inserted with ``ON CONFLICT DO NOTHING``, and on PostgreSQL
        the schema changes of concurrent migrators are serialised by an advisory lock (each version is then
        applied by one of them only).
        """
        with self._transaction() as cur:
            self._serialise_schema_changes(cur)
            cur.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(version TEXT PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
            )
        done = {row[0] for row in self._query("SELECT version FROM schema_migrations")}
        applied: list[str] = []
        for version, path in self.migrations():
            if version in done:
                continue
            statements = [s.strip() for s in _split_statements(path.read_text())]
            with self._transaction() as cur:
                self._serialise_schema_changes(cur)
                # Another migrator may have applied it while this one waited for the lock.
                cur.execute(self._sql("SELECT 1 FROM schema_migrations WHERE version = ?"), (version,))
                if cur.fetchall():
                    continue
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

    def _serialise_schema_changes(self, cur: Any) -> None:
        """On PostgreSQL, hold the ledger's schema lock until the transaction ends: ``CREATE ... IF NOT
        EXISTS`` is not safe against a concurrent creator there (the loser fails on ``pg_type``'s unique
        index), as several tasks migrating a fresh ledger at once would be. SQLite serialises writers
        itself."""
        if not self._is_sqlite:
            cur.execute("SELECT pg_advisory_xact_lock(hashtext('partnership_ads.ledger.schema'))")

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

    def applied_versions(self) -> list[str]:
        """Versions recorded in ``schema_migrations``."""
        return [row[0] for row in self._query("SELECT version FROM schema_migrations ORDER BY version")]

    def identity(self) -> str:
        """This ledger's identity, created once per database (the first caller's wins)."""
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
