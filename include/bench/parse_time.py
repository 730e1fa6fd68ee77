"""Parse time of each DAG file, beyond the cost of importing Airflow itself.

Each sample is a fresh interpreter that first imports what the DAG processor already holds when it parses a
file (``airflow``, ``airflow.sdk`` and the authoring names the DAG files use), then times loading the DAG
file the way the DagBag does (``spec_from_file_location`` + ``exec_module``). Everything the DAG file pulls
in beyond that, the project's operators and hooks included, counts against it: a top-level ``import pandas``
in an operator module shows up here, which is the point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

PROBE = r"""
import importlib.util, json, sys, time
import airflow, airflow.sdk
from airflow.sdk import DAG, Asset, BaseOperator, Param, TriggerRule, dag, task  # noqa: F401
path = sys.argv[1]
start = time.perf_counter()
spec = importlib.util.spec_from_file_location("bench_dag_module", path)
module = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = module
spec.loader.exec_module(module)
elapsed = time.perf_counter() - start
dag_ids = sorted({v.dag_id for v in vars(module).values() if isinstance(v, DAG)})
print(json.dumps({"seconds": elapsed, "dag_ids": dag_ids}))
"""


def dag_files(dags_folder: Path) -> list[Path]:
    """The DAG files of the project: every ``*.py`` directly in ``dags/`` except private ones."""
    return sorted(p for p in dags_folder.glob("*.py") if not p.name.startswith("_"))


def measure_once(path: Path, env: dict[str, str] | None = None) -> dict[str, object]:
    """Load one DAG file in a fresh interpreter; returns ``{"seconds": float, "dag_ids": [...]}``."""
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(path)],
        capture_output=True,
        text=True,
        env=env or os.environ.copy(),
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"loading {path.name} failed:\n{result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def measure(dags_folder: Path, runs: int, env: dict[str, str] | None = None) -> dict[str, list[float]]:
    """``runs`` samples (seconds) per DAG file, files interleaved so a noisy moment hits all of them alike."""
    samples: dict[str, list[float]] = {p.name: [] for p in dag_files(dags_folder)}
    for _ in range(runs):
        for path in dag_files(dags_folder):
            samples[path.name].append(float(measure_once(path, env)["seconds"]))  # type: ignore[arg-type]
    return samples
