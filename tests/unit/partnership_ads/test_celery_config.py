"""The deployment's Celery configuration: Airflow's default plus one module preloaded by each worker, and
that module imports what an issue shard imports in ``execute``, with no connection defined."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG

from partnership_ads.celery_config import CELERY_CONFIG, PRELOAD_MODULE

ROOT = Path(__file__).resolve().parents[3]


def test_the_config_is_airflows_default_plus_the_preload_module() -> None:
    assert {k: v for k, v in CELERY_CONFIG.items() if k != "imports"} == {
        k: v for k, v in DEFAULT_CELERY_CONFIG.items() if k != "imports"
    }
    assert CELERY_CONFIG["imports"] == (*DEFAULT_CELERY_CONFIG.get("imports", ()), PRELOAD_MODULE)


MODULES = (
    "partnership_ads.hooks",
    "partnership_ads.issuance",
    "partnership_ads.ledger",
    "airflow.providers.http.hooks.http",
    "airflow.providers.postgres.hooks.postgres",
    "pyarrow.parquet",
)


def test_the_preload_imports_the_shards_modules_with_no_connection_defined(tmp_path: Path) -> None:
    """A fresh interpreter, as a worker before its first task: no connection or Variable in sight."""
    probe = (
        "import json, sys\n"
        "import partnership_ads.worker_preload\n"
        f"print(json.dumps([m for m in {list(MODULES)!r} if m in sys.modules]))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_CONN_", "AIRFLOW_VAR_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "plugins")])
    env["AIRFLOW_HOME"] = str(tmp_path)
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == list(MODULES)
