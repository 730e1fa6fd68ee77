"""docker-compose.yaml stays consistent with the native topology (include/topology/services.py) and the pins.

No Docker engine is needed: the file is parsed as YAML and compared with the native topology's own data, the
Dockerfile and requirements.txt.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from include.graph_sandbox.testing import start_sandbox
from include.topology.connections import sandbox_environment
from include.topology.native import TopologyConfig, base_environment
from include.topology.services import API_POOL, CONNECTION_IDS, SERVICES, connection_env_name, service
from partnership_ads.params import API_POOL_ENV

ROOT = Path(__file__).resolve().parents[2]
PROJECT_MOUNTS = {
    "./dags": "/opt/airflow/dags",
    "./plugins": "/opt/airflow/plugins",
    "./include": "/opt/airflow/include",
}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yaml").read_text())


def _default_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Services started by a plain `docker compose up` (profile-only ones left out)."""
    return {name: spec for name, spec in compose["services"].items() if not spec.get("profiles")}


def _command(spec: dict[str, Any]) -> str:
    command = spec.get("command", "")
    return " ".join(command) if isinstance(command, list) else str(command)


def _airflow_pin() -> str:
    match = re.search(
        r"^apache-airflow(?:\[[^\]]*\])?==([\w.]+)\s*$", (ROOT / "requirements.txt").read_text(), re.M
    )
    assert match, "requirements.txt must pin apache-airflow"
    return match.group(1)


def test_compose_runs_the_same_services_as_the_native_topology(compose: dict[str, Any]) -> None:
    assert set(_default_services(compose)) == {spec.compose_name for spec in SERVICES}


def test_each_airflow_daemon_runs_the_same_airflow_command(compose: dict[str, Any]) -> None:
    services = _default_services(compose)
    for spec in SERVICES:
        if spec.kind == "daemon" and spec.airflow_command:
            command = _command(services[spec.compose_name])
            assert re.search(rf"(^|\bairflow )\s*{' '.join(spec.airflow_command)}\b", command), (
                spec.compose_name,
                command,
            )


def test_init_service_migrates_the_metadata_database(compose: dict[str, Any]) -> None:
    assert service("airflow-init").airflow_command == ("db", "migrate")
    assert compose["services"]["airflow-init"]["environment"]["_AIRFLOW_DB_MIGRATE"] == "true"


def test_init_service_creates_the_graph_api_pool_the_native_topology_creates(compose: dict[str, Any]) -> None:
    name, slots, description = API_POOL.airflow_command[2:]
    expected = f'airflow pools set {name} {slots} "{description}"'
    assert expected in _command(compose["services"]["airflow-init"])


def test_airflow_services_name_the_graph_api_pool_to_the_dags(compose: dict[str, Any]) -> None:
    assert compose["x-airflow-common"]["environment"][API_POOL_ENV] == API_POOL.name


def test_native_topology_names_the_graph_api_pool_to_the_dags(tmp_path: Path) -> None:
    environment = base_environment(TopologyConfig(home=tmp_path), api_port=8080, connections={})
    assert environment[API_POOL_ENV] == API_POOL.name


def test_sandbox_service_runs_the_sandbox_with_the_native_world(compose: dict[str, Any]) -> None:
    command = compose["services"]["graph-sandbox"]["command"]
    defaults = TopologyConfig()
    assert command[:3] == ["python", "-m", "include.graph_sandbox"]
    assert command[command.index("--seed") + 1] == str(defaults.sandbox_seed)
    assert command[command.index("--items") + 1] == str(defaults.sandbox_items)


def test_image_version_matches_the_airflow_pin(compose: dict[str, Any]) -> None:
    pin = _airflow_pin()
    common = compose["x-airflow-common"]
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(rf"^ARG AIRFLOW_VERSION={re.escape(pin)}$", dockerfile, re.M)
    assert re.search(r"^FROM apache/airflow:\$\{AIRFLOW_VERSION\}$", dockerfile, re.M)
    assert common["build"]["args"]["AIRFLOW_VERSION"] == pin
    assert common["image"].rstrip("}").endswith(f":{pin}")


def test_requirements_are_baked_into_the_image_not_installed_at_start(compose: dict[str, Any]) -> None:
    assert "_PIP_ADDITIONAL_REQUIREMENTS" not in compose["x-airflow-common"]["environment"]
    assert "-r /opt/airflow/project-requirements.txt" in (ROOT / "Dockerfile").read_text()


def test_every_airflow_service_mounts_the_project_folders(compose: dict[str, Any]) -> None:
    for name, spec in _default_services(compose).items():
        if not (name.startswith("airflow-") or name == "graph-sandbox"):
            continue
        mounts = dict(volume.split(":", 2)[:2] for volume in spec["volumes"])
        assert PROJECT_MOUNTS.items() <= mounts.items(), name


def test_compose_defines_the_pipeline_connections_by_environment(compose: dict[str, Any]) -> None:
    environment = compose["x-airflow-common"]["environment"]
    for conn_id in CONNECTION_IDS:
        assert connection_env_name(conn_id) in environment, conn_id


def test_native_topology_defines_the_same_connection_ids(tmp_path: Path) -> None:
    with start_sandbox(seed=7, items=50) as sandbox:
        environment = sandbox_environment(
            sandbox.url, ledger_uri="postgresql://u@h/ledger", state_dir=tmp_path
        )
    for conn_id in CONNECTION_IDS:
        assert connection_env_name(conn_id) in environment, conn_id
    assert environment[connection_env_name("partnership_ads_db")] == "postgresql://u@h/ledger"


def test_all_airflow_services_share_the_execution_api_and_jwt_secret(compose: dict[str, Any]) -> None:
    common = compose["x-airflow-common"]["environment"]
    assert common["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
    assert "AIRFLOW__API_AUTH__JWT_SECRET" in common
    for name, spec in compose["services"].items():
        environment = spec.get("environment", {})
        for key in ("AIRFLOW__CORE__EXECUTION_API_SERVER_URL", "AIRFLOW__API_AUTH__JWT_SECRET"):
            assert environment.get(key, common[key]) == common[key], (name, key)
