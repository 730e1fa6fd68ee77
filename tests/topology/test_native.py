"""The native launcher's own rules, on real processes: it stops exactly what it started, by process group."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from typing import TYPE_CHECKING

import psutil

from include.topology.hostname import WORKER_NAME_ENV, worker_hostname
from include.topology.native import (
    ProcessRecord,
    TopologyConfig,
    base_environment,
    render_argv,
    stop_processes,
)
from include.topology.services import SERVICES

if TYPE_CHECKING:
    from pathlib import Path

    import pytest

# A parent that forks a child of its own, like a Celery worker and its pool processes.
_PARENT_WITH_CHILD = (
    "import subprocess, sys, time; "
    "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)']); time.sleep(120)"
)


def _start_group() -> tuple[subprocess.Popen[bytes], ProcessRecord]:
    process = subprocess.Popen([sys.executable, "-c", _PARENT_WITH_CHILD], start_new_session=True)
    record = ProcessRecord(
        "probe", "airflow-worker", process.pid, psutil.Process(process.pid).create_time(), ""
    )
    return process, record


def _wait_for_children(pid: int) -> list[psutil.Process]:
    parent = psutil.Process(pid)
    for _ in range(200):
        children = parent.children()
        if children:
            return children
        psutil.wait_procs([parent], timeout=0.05)
    raise AssertionError("the probe never started its child")


def test_stop_processes_stops_the_whole_process_group() -> None:
    process, record = _start_group()
    children = _wait_for_children(process.pid)

    stopped = stop_processes([record], grace=10)

    assert stopped == ["probe"]
    assert process.wait(timeout=10) is not None
    _gone, alive = psutil.wait_procs(children, timeout=10)
    assert not alive


def test_stop_processes_leaves_a_reused_pid_alone() -> None:
    process, record = _start_group()
    try:
        # Same pid, another start time: the recorded process is gone and the pid now belongs to someone else.
        stale = dataclasses.replace(record, create_time=record.create_time - 3600)
        assert stop_processes([stale], grace=1) == []
        assert process.poll() is None
    finally:
        stop_processes([record], grace=10)
        process.wait(timeout=10)


def test_every_command_template_is_fully_rendered() -> None:
    values = {
        **dataclasses.asdict(TopologyConfig()),
        "python": sys.executable,
        "api_port": 1,
        "sandbox_port": 2,
        "worker_name": "w1",
    }
    for spec in SERVICES:
        argv = render_argv(spec, values)
        assert not [part for part in argv if "{" in part or "}" in part], spec.compose_name


def test_topology_environment_drops_the_callers_airflow_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "LocalExecutor")
    monkeypatch.setenv("AIRFLOW_CONN_LEAKED", "http://elsewhere")
    env = base_environment(TopologyConfig(home=tmp_path), api_port=8123, connections={})

    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert "AIRFLOW_CONN_LEAKED" not in env
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:8123/execution/"


def test_worker_hostname_names_the_celery_node(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(WORKER_NAME_ENV, "w2")
    assert worker_hostname().startswith("w2@")
