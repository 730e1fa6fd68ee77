"""``SqliteFileHook``: a common-sql ``DbApiHook`` on a SQLite file path, with no Airflow connection.

Its own module so that importing the ledger (and so the operators, at DAG parse time) does not import
common-sql: only code that actually opens a SQLite file imports this module.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.providers.common.sql.hooks.sql import DbApiHook

if TYPE_CHECKING:
    import os

    from airflow.sdk import Connection


class SqliteFileHook(DbApiHook):
    """A ``DbApiHook`` on a SQLite file: the ledger's default when ``partnership_ads_db`` is absent."""

    conn_name_attr = "sqlite_file_conn_id"
    default_conn_name = "partnership_ads_sqlite_file"
    conn_type = "sqlite"
    hook_name = "SQLite file"
    _placeholder = "?"

    def __init__(self, path: str | os.PathLike[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.path = Path(path)

    def get_conn(self) -> sqlite3.Connection:
        """Open the file (creating its folder); waits up to 30 s for another writer's lock."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return sqlite3.connect(str(self.path), timeout=30)

    def get_uri(self) -> str:
        """SQLAlchemy URI of the file."""
        return f"sqlite:///{self.path}"

    @property
    def connection(self) -> Connection:  # type: ignore[override]
        raise NotImplementedError("SqliteFileHook has no Airflow connection")

    @property
    def connection_extra(self) -> dict:  # type: ignore[override]
        return {}
