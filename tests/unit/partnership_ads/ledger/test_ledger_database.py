"""Which database the ledger is on: a connection that cannot be read is never an empty private ledger."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from partnership_ads.ledger import Ledger, LedgerUnavailableError

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
    monkeypatch.delenv("AIRFLOW_CONN_PARTNERSHIP_ADS_DB", raising=False)
    return tmp_path


def test_a_ledger_connection_that_cannot_be_parsed_fails_closed_with_no_local_file(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_PARTNERSHIP_ADS_DB", '{"conn_type": "postgres", "host": ')
    with pytest.raises(LedgerUnavailableError, match="partnership_ads_db") as caught:
        Ledger.from_conn_id()
    assert "could not be parsed" in str(caught.value)
    assert not (home / "partnership_ads.db").exists()


def test_a_missing_ledger_connection_on_a_distributed_executor_is_an_error(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "CeleryExecutor")
    with pytest.raises(LedgerUnavailableError, match="CeleryExecutor"):
        Ledger.from_conn_id()
    assert not (home / "partnership_ads.db").exists()


def test_a_missing_ledger_connection_on_one_machine_uses_the_embedded_file(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "LocalExecutor")
    ledger = Ledger.from_conn_id()
    ledger.migrate()
    assert (home / "partnership_ads.db").exists()


def test_a_ledger_connection_that_is_not_sql_is_refused(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_PARTNERSHIP_ADS_DB", json.dumps({"conn_type": "http", "host": "https://example.com"})
    )
    with pytest.raises(LedgerUnavailableError, match="not a SQL connection"):
        Ledger.from_conn_id()
