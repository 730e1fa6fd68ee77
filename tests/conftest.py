"""Shared test setup.

- Every pytest process gets its own AIRFLOW_HOME under `.demo/pytest/`, set before Airflow is imported, so
  parallel runs never share a metadata database and nothing is written outside the ignored `.demo/` folder.
- The graph sandbox fixtures come from `include.graph_sandbox.pytest_plugin` (`sandbox_server`, `sandbox`).
- Real servers (PostgreSQL, Redis) are required when `CI=true`: a missing one fails the test, never skips it.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

ROOT = Path(__file__).resolve().parents[1]
STATE = ROOT / ".demo" / "pytest"
STATE.mkdir(parents=True, exist_ok=True)

_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="airflow_home-", dir=STATE))
atexit.register(shutil.rmtree, _AIRFLOW_HOME, ignore_errors=True)
os.environ["AIRFLOW_HOME"] = str(_AIRFLOW_HOME)
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(ROOT / "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(ROOT / "plugins")
for _path in (str(ROOT / "plugins"), str(ROOT)):
    if _path not in sys.path:
        sys.path.insert(0, _path)
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in (str(ROOT), str(ROOT / "plugins"), os.environ.get("PYTHONPATH", "")) if p
)

pytest_plugins = ["include.graph_sandbox.pytest_plugin"]

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
POSTGRES_HOST = os.environ.get("PARTNERSHIP_ADS_TEST_PG_HOST", "127.0.0.1")
POSTGRES_PORT = int(os.environ.get("PARTNERSHIP_ADS_TEST_PG_PORT", "5432"))
POSTGRES_USER = os.environ.get("PARTNERSHIP_ADS_TEST_PG_USER", "postgres")
REDIS_HOST = os.environ.get("PARTNERSHIP_ADS_TEST_REDIS_HOST", "127.0.0.1")
REDIS_PORT = int(os.environ.get("PARTNERSHIP_ADS_TEST_REDIS_PORT", "6379"))


def require_server(name: str, host: str, port: int) -> None:
    """Fail (under CI) or skip (elsewhere) when a real server the test needs is not listening."""
    try:
        with socket.create_connection((host, port), timeout=2):
            return
    except OSError as exc:
        message = f"{name} is not reachable on {host}:{port} ({exc})"
        if IN_CI:
            pytest.fail(f"{message}; CI=true requires it", pytrace=False)
        pytest.skip(message)


@pytest.fixture(scope="session")
def airflow_home() -> Path:
    """This pytest process's AIRFLOW_HOME."""
    return _AIRFLOW_HOME


@pytest.fixture(scope="session")
def airflow_db(airflow_home: Path) -> Path:
    """A migrated Airflow metadata database (SQLite) in this process's AIRFLOW_HOME."""
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        check=True,
        capture_output=True,
        env=os.environ.copy(),
        timeout=300,
    )
    return airflow_home


def _postgres_admin_dsn() -> str:
    return f"postgresql://{POSTGRES_USER}@{POSTGRES_HOST}:{POSTGRES_PORT}/postgres"


@pytest.fixture
def postgres_database() -> Iterator[str]:
    """A fresh, empty PostgreSQL database on the real server; dropped afterwards. Yields its URI."""
    require_server("PostgreSQL", POSTGRES_HOST, POSTGRES_PORT)
    import psycopg2  # only tests that need PostgreSQL pay for the import

    name = f"pa_test_{uuid.uuid4().hex[:12]}"
    admin = psycopg2.connect(_postgres_admin_dsn())
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        yield f"postgresql://{POSTGRES_USER}@{POSTGRES_HOST}:{POSTGRES_PORT}/{name}"
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture
def redis_url() -> str:
    """The real Redis server's URL (database 15, flushed by nobody: use unique keys)."""
    require_server("Redis", REDIS_HOST, REDIS_PORT)
    return f"redis://{REDIS_HOST}:{REDIS_PORT}/15"
