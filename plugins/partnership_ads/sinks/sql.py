"""SQL table sink: upserts codes into ``partnership_ad_codes`` through any common-sql connection."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, ClassVar

from partnership_ads.clock import iso, utcnow
from partnership_ads.conn_ids import DEFAULT_LEDGER_CONN_ID
from partnership_ads.ledger import sql_hook_for
from partnership_ads.sink_names import DEFAULT_SQL_TABLE, SQL_SINK
from partnership_ads.sinks.base import DELIVERED_COLUMNS, AdCodeSink, DeliveryContext, delivered_rows

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from datetime import datetime

    from airflow.providers.common.sql.hooks.sql import DbApiHook

    from partnership_ads.ledger import DeliveryRecord

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")


class SqlTableSink(AdCodeSink):
    """Upsert keyed on ``(business_id, content_id)`` into a table (created when missing).

    Columns: business_id, content_id, ig_user_id (the creator), permalink, ad_code, state (active |
    revoked), issued_at, revoked_at, delivered_at (ISO 8601 UTC text, portable across databases).

    :param conn_id: any Airflow SQL connection (default ``partnership_ads_db``; when absent, the ledger's
        SQLite file).
    :param table: target table name (``schema.table`` allowed).
    """

    name: ClassVar[str] = SQL_SINK

    def __init__(
        self,
        *,
        conn_id: str = DEFAULT_LEDGER_CONN_ID,
        table: str = DEFAULT_SQL_TABLE,
        hook: DbApiHook | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        if not _IDENTIFIER.match(table):
            raise ValueError(f"table {table!r} is not a plain SQL identifier")
        self.conn_id = conn_id
        self.table = table
        self._hook = hook
        self.clock = clock
        self._created = False

    @property
    def hook(self) -> DbApiHook:
        """The SQL hook (resolved on first use, never at construction)."""
        if self._hook is None:
            self._hook = sql_hook_for(self.conn_id)
        return self._hook

    def ensure_table(self) -> None:
        """Create the table when it does not exist (portable DDL).

        On PostgreSQL the creation holds an advisory lock for its transaction: ``CREATE TABLE IF NOT EXISTS``
        is not safe against a concurrent creator there, and the push tasks of several brands deliver to one
        table at once (the loser would fail on ``pg_type``'s unique index and wait for a retry).
        """
        if self._created:
            return
        create = (
            f"CREATE TABLE IF NOT EXISTS {self.table} ("
            "business_id VARCHAR(64) NOT NULL, content_id VARCHAR(64) NOT NULL, ig_user_id VARCHAR(64), "
            "permalink TEXT, ad_code TEXT NOT NULL, state VARCHAR(16) NOT NULL, issued_at VARCHAR(40), "
            "revoked_at VARCHAR(40), delivered_at VARCHAR(40) NOT NULL, PRIMARY KEY (business_id, "
            "content_id))"
        )
        if getattr(self.hook, "conn_type", "") in {"postgres", "postgresql"}:
            # One transaction: the lock is released when the creation commits.
            self.hook.run(
                [f"SELECT pg_advisory_xact_lock(hashtext('partnership_ads.sql_sink.{self.table}'))", create],
                autocommit=False,
            )
        else:
            self.hook.run(create)
        self._created = True

    def deliver(self, records: Sequence[DeliveryRecord], context: DeliveryContext) -> None:
        """Upsert the batch in one transaction."""
        if not records:
            return
        self.ensure_table()
        rows = [
            tuple(row[column] for column in DELIVERED_COLUMNS)
            for row in delivered_rows(records, iso(self.clock()))
        ]
        self.hook.insert_rows(
            self.table,
            rows,
            target_fields=list(DELIVERED_COLUMNS),
            commit_every=max(1, len(rows)),  # one transaction (0 means "no chunks" to some hooks)
            replace=True,
            replace_index=["business_id", "content_id"],
        )

    @property
    def destination(self) -> str:
        """``<connection id>:<table>``: another table, or another database, is another destination."""
        return f"{self.conn_id}:{self.table}"

    def describe(self) -> str:
        """Table and connection id."""
        return f"sql table {self.table} (connection {self.conn_id})"
