"""Which database the ledger is on: the ``partnership_ads_db`` connection, or the embedded SQLite file."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from airflow.sdk.exceptions import AirflowException

from partnership_ads.conn_ids import DEFAULT_LEDGER_CONN_ID
from partnership_ads.connections import (
    ConnectionUnreadableError,
    executor,
    resolve_connection,
    single_machine,
)

if TYPE_CHECKING:
    from airflow.providers.common.sql.hooks.sql import DbApiHook

log = logging.getLogger(__name__)


class LedgerUnavailableError(AirflowException):
    """The ledger cannot be used (connection unreadable or absent where no embedded ledger is allowed)."""


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
    # Imported here: common-sql is imported only by code that opens a ledger, never at DAG parse time.
    from partnership_ads.sqlite_file import SqliteFileHook

    return SqliteFileHook(path)
