"""docker-compose.yaml: consistent with the native topology and the pins, and safe to deploy as shipped.

No Docker engine is needed (the docker client here has no compose plugin): the file is parsed as YAML and its
``${...}`` references are resolved by :func:`interpolate`, which follows Compose's interpolation rules for the
forms the file uses. That is how the tests show what `docker compose up` would do with a given `.env`: refuse
to start while a secret is empty, publish ports on loopback, keep the workers on Meta without the sandbox.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest
import yaml
from cryptography.fernet import Fernet

from include.graph_sandbox.testing import start_sandbox
from include.topology.compose_entry import SANDBOX_URL_ENV
from include.topology.compose_env import OPERATOR_CREDENTIALS, STACK_SECRETS
from include.topology.connections import sandbox_environment
from include.topology.native import TopologyConfig, base_environment
from include.topology.services import API_POOL, CONNECTION_IDS, SERVICES, connection_env_name, service
from partnership_ads.dag_settings import API_POOL_ENV

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

ROOT = Path(__file__).resolve().parents[2]
PROJECT_MOUNTS = {
    "./dags": "/opt/airflow/dags",
    "./plugins": "/opt/airflow/plugins",
    "./include": "/opt/airflow/include",
}
# Variable names that hold a secret: each must be a stack secret (required) or an operator's credential.
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|_KEY$")
SANDBOX_PROFILE = "sandbox"


# -- Compose's variable interpolation ------------------------------------------------------------------------
_REFERENCE = re.compile(
    r"\$(?:(?P<escaped>\$)"
    r"|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|(?P<named>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<invalid>\{))"
)


@dataclass(frozen=True)
class Reference:
    """One ``${name<op><arg>}`` in the compose file (``op`` empty for ``${name}`` and ``$name``)."""

    name: str
    op: str
    arg: str


class RequiredVariableMissing(Exception):
    """What `docker compose` reports for ``${NAME:?message}`` with NAME unset or empty: it starts nothing."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"required variable {name} is missing a value: {message}")
        self.name = name


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)


def references(node: Any) -> list[Reference]:
    """Every variable reference in the values of ``node`` (``$$`` escapes excluded)."""
    found = []
    for text in _strings(node):
        for match in _REFERENCE.finditer(text):
            name = match["braced"] or match["named"]
            if name:
                found.append(Reference(name, match["op"] or "", match["arg"] or ""))
    return found


def _substitute(text: str, env: Mapping[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        if match["invalid"]:
            raise ValueError(f"invalid interpolation in {text!r}")
        name, op, arg = match["braced"] or match["named"], match["op"] or "", match["arg"] or ""
        value = env.get(name)
        # With a colon the empty string counts as missing too; without, only an unset variable does.
        missing = not value if op.startswith(":") else value is None
        if op.endswith("-"):
            return arg if missing else str(value)
        if op.endswith("?"):
            if missing:
                raise RequiredVariableMissing(name, arg)
            return str(value)
        if op.endswith("+"):
            return "" if missing else arg
        return value or ""

    return _REFERENCE.sub(replace, text)


def interpolate(node: Any, env: Mapping[str, str]) -> Any:
    """``node`` with every value interpolated from ``env`` as `docker compose` does from `.env`."""
    if isinstance(node, str):
        return _substitute(node, env)
    if isinstance(node, dict):
        return {key: interpolate(value, env) for key, value in node.items()}
    if isinstance(node, list):
        return [interpolate(value, env) for value in node]
    return node


def read_env_file(path: Path) -> dict[str, str]:
    """The variables of a `.env` file as Compose reads them (comments, inline `` #`` comments, quotes)."""
    values = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.removeprefix("export ").partition("=")
        assert sep, f"not NAME=value: {raw!r}"
        value = value.strip()
        if value[:1] in ("'", '"'):
            value = value[1 : value.index(value[0], 1)]
        else:
            value = re.split(r"\s+#", value, maxsplit=1)[0].strip()
        values[name.strip()] = value
    return values


@pytest.mark.parametrize(
    ("text", "env", "expected"),
    [
        ("${X:-d}", {}, "d"),
        ("${X:-d}", {"X": ""}, "d"),
        ("${X-d}", {"X": ""}, ""),
        ("${X:-d}", {"X": "v"}, "v"),
        ("${X}/$X", {"X": "v"}, "v/v"),
        ("${X:?m}", {"X": "v"}, "v"),
        ("${X?m}", {"X": ""}, ""),
        ("$${X} $$X", {"X": "v"}, "${X} $X"),
        ("${X:+r}", {"X": "v"}, "r"),
        ("${X:+r}", {"X": ""}, ""),
    ],
)
def test_interpolate_follows_compose_rules(text: str, env: dict[str, str], expected: str) -> None:
    assert interpolate(text, env) == expected


@pytest.mark.parametrize("env", [{}, {"X": ""}], ids=["unset", "empty"])
def test_interpolate_refuses_a_required_variable_unset_or_empty(env: dict[str, str]) -> None:
    with pytest.raises(RequiredVariableMissing, match="X is missing a value: set X"):
        interpolate({"a": ["${X:?set X}"]}, env)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yaml").read_text())


def _make_env(output: Path, example: Path = ROOT / ".env.example") -> subprocess.CompletedProcess[str]:
    """`make env`, run the way the Makefile runs it (the module from the repository root)."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "include.topology.compose_env",
            "--example",
            str(example),
            "--output",
            str(output),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def generated_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The variables of a `.env` written by `make env` from the shipped `.env.example`."""
    output = tmp_path_factory.mktemp("compose-env") / ".env"
    result = _make_env(output)
    assert result.returncode == 0, result.stderr
    return read_env_file(output)


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
    assert set(compose["services"]) == {spec.compose_name for spec in SERVICES}
    assert set(_default_services(compose)) == {
        spec.compose_name for spec in SERVICES if not spec.compose_profiles
    }


def test_each_service_is_in_the_compose_profiles_the_topology_declares(compose: dict[str, Any]) -> None:
    for spec in SERVICES:
        assert compose["services"][spec.compose_name].get("profiles", []) == list(spec.compose_profiles), (
            spec.compose_name
        )


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


def test_compose_and_the_native_topology_give_workers_the_same_celery_config(
    compose: dict[str, Any], tmp_path: Path
) -> None:
    environment = base_environment(TopologyConfig(home=tmp_path), api_port=8080, connections={})
    key = "AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS"
    assert compose["x-airflow-common"]["environment"][key] == "partnership_ads.celery_config.CELERY_CONFIG"
    assert environment[key] == compose["x-airflow-common"]["environment"][key]


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
    airflow_services = {
        name: spec for name, spec in compose["services"].items() if name.startswith("airflow-")
    }
    assert len(airflow_services) == len(
        [spec for spec in SERVICES if spec.compose_name.startswith("airflow-")]
    )
    for name, spec in airflow_services.items():
        mounts = dict(volume.split(":", 2)[:2] for volume in spec["volumes"])
        assert PROJECT_MOUNTS.items() <= mounts.items(), name


def test_the_sandbox_mounts_only_include_read_only(compose: dict[str, Any]) -> None:
    assert compose["services"]["graph-sandbox"]["volumes"] == ["./include:/opt/airflow/include:ro"]


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


# -- Secrets: none has a default, the stack refuses to start while one is empty ------------------------------
def test_every_stack_secret_is_required_wherever_compose_uses_it(compose: dict[str, Any]) -> None:
    for name in STACK_SECRETS:
        uses = [ref for ref in references(compose) if ref.name == name]
        assert uses, f"{name} is not used by docker-compose.yaml"
        assert {ref.op for ref in uses} == {":?"}, (name, uses)


def test_no_secret_in_compose_has_a_default(compose: dict[str, Any]) -> None:
    secret_refs = [ref for ref in references(compose) if SECRET_NAME.search(ref.name)]
    assert {ref.name for ref in secret_refs} <= set(STACK_SECRETS) | set(OPERATOR_CREDENTIALS)
    for ref in secret_refs:
        if ref.name in STACK_SECRETS:
            assert ref.op == ":?", ref
        else:
            # An operator's credential may be left out (the sandbox, no webhook): empty, never a known value.
            assert ref.op in ("", ":-") and ref.arg == "", ref


def test_env_example_leaves_every_secret_empty() -> None:
    example = read_env_file(ROOT / ".env.example")
    for name in (*STACK_SECRETS, *OPERATOR_CREDENTIALS):
        assert example.get(name) == "", name
    assert {name: value for name, value in example.items() if SECRET_NAME.search(name) and value} == {}


def test_the_stack_refuses_to_start_with_env_example_as_shipped(compose: dict[str, Any]) -> None:
    with pytest.raises(RequiredVariableMissing) as refused:
        interpolate(compose, read_env_file(ROOT / ".env.example"))
    assert refused.value.name in STACK_SECRETS


@pytest.mark.parametrize("name", list(STACK_SECRETS))
@pytest.mark.parametrize("value", ["", None], ids=["empty", "unset"])
def test_the_stack_refuses_to_start_while_one_secret_is_empty(
    compose: dict[str, Any], generated_env: dict[str, str], name: str, value: str | None
) -> None:
    env = {key: val for key, val in generated_env.items() if key != name}
    if value is not None:
        env[name] = value
    with pytest.raises(RequiredVariableMissing) as refused:
        interpolate(compose, env)
    assert refused.value.name == name
    assert ".env" in str(refused.value)


def test_generated_secrets_reach_the_services_intact(
    compose: dict[str, Any], generated_env: dict[str, str]
) -> None:
    services = interpolate(compose, generated_env)["services"]
    worker = services["airflow-worker"]["environment"]
    password = generated_env["POSTGRES_PASSWORD"]
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD"] == password
    # Interpolated into URIs as they are: a generated password must survive URL parsing.
    for key in (
        "AIRFLOW_CONN_PARTNERSHIP_ADS_DB",
        "PARTNERSHIP_ADS_LEDGER_URI",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
    ):
        assert urlsplit(worker[key]).password == password, key
    assert worker["AIRFLOW__API_AUTH__JWT_SECRET"] == generated_env["AIRFLOW_JWT_SECRET"]
    assert worker["AIRFLOW__API__SECRET_KEY"] == generated_env["AIRFLOW_API_SECRET_KEY"]
    assert worker["AIRFLOW__CORE__FERNET_KEY"] == generated_env["AIRFLOW_FERNET_KEY"]
    # airflow-init writes the admin password into a JSON file with printf: it must stay valid JSON.
    admin_password = services["airflow-init"]["environment"]["AIRFLOW_ADMIN_PASSWORD"]
    assert admin_password == generated_env["AIRFLOW_ADMIN_PASSWORD"]
    assert json.loads('{"admin": "%s"}' % admin_password) == {"admin": admin_password}  # noqa: UP031


# -- make env ------------------------------------------------------------------------------------------------
def test_make_env_writes_fresh_distinct_secrets_readable_by_the_owner_only(tmp_path: Path) -> None:
    runs = []
    for name in ("first", "second"):
        output = tmp_path / name / ".env"
        output.parent.mkdir()
        result = _make_env(output)
        assert result.returncode == 0, result.stderr
        assert stat.S_IMODE(output.stat().st_mode) == 0o600
        values = read_env_file(output)
        secrets_written = [values[key] for key in STACK_SECRETS]
        assert all(secrets_written), values.keys()
        assert len(set(secrets_written)) == len(secrets_written)
        assert all(re.fullmatch(r"[A-Za-z0-9_=-]{32,}", value) for value in secrets_written)
        Fernet(values["AIRFLOW_FERNET_KEY"].encode())  # a key Airflow accepts
        for value in secrets_written:
            assert value not in result.stdout + result.stderr
        # Everything but the secrets is the example's.
        example = read_env_file(ROOT / ".env.example")
        assert {k: v for k, v in values.items() if k not in STACK_SECRETS} == {
            k: v for k, v in example.items() if k not in STACK_SECRETS
        }
        runs.append(set(secrets_written))
    assert not runs[0] & runs[1]


def test_make_env_never_overwrites_an_existing_env(tmp_path: Path) -> None:
    output = tmp_path / ".env"
    output.write_text("POSTGRES_PASSWORD=the-one-the-volume-was-created-with\n")
    result = _make_env(output)
    assert result.returncode == 1
    assert "exists" in result.stderr
    assert output.read_text() == "POSTGRES_PASSWORD=the-one-the-volume-was-created-with\n"


def test_make_env_refuses_an_example_that_ships_a_secret(tmp_path: Path) -> None:
    example = tmp_path / "example"
    shipped = (ROOT / ".env.example").read_text()
    assert "\nAIRFLOW_JWT_SECRET=\n" in shipped
    example.write_text(
        shipped.replace("\nAIRFLOW_JWT_SECRET=\n", "\nAIRFLOW_JWT_SECRET=change-me-jwt-secret\n")
    )
    result = _make_env(tmp_path / ".env", example)
    assert result.returncode == 1
    assert "AIRFLOW_JWT_SECRET" in result.stderr
    assert "change-me-jwt-secret" not in result.stderr
    assert not (tmp_path / ".env").exists()


# -- Published ports -----------------------------------------------------------------------------------------
def _published_addresses(services: dict[str, Any]) -> dict[str, list[str | None]]:
    """Per service, the host address each published port binds to (None: every interface)."""
    addresses: dict[str, list[str | None]] = {}
    for name, spec in services.items():
        for port in spec.get("ports", []):
            if isinstance(port, dict):
                address = port.get("host_ip")
            else:
                parts = str(port).split("/", 1)[0].rsplit(":", 2)
                address = parts[0].strip("[]") if len(parts) == 3 else None
            addresses.setdefault(name, []).append(address)
    return addresses


@pytest.mark.parametrize("bind_address", [None, ""], ids=["unset", "empty"])
def test_every_published_port_binds_to_loopback_by_default(
    compose: dict[str, Any], generated_env: dict[str, str], bind_address: str | None
) -> None:
    env = {key: value for key, value in generated_env.items() if key != "AIRFLOW_BIND_ADDRESS"}
    if bind_address is not None:
        env["AIRFLOW_BIND_ADDRESS"] = bind_address
    services = interpolate(compose, env)["services"]
    addresses = _published_addresses(services)
    assert "airflow-apiserver" in addresses
    assert {name: set(found) for name, found in addresses.items()} == {
        name: {"127.0.0.1"} for name in addresses
    }
    assert not [name for name, spec in services.items() if spec.get("network_mode") == "host"]


def test_env_example_binds_to_loopback(compose: dict[str, Any], generated_env: dict[str, str]) -> None:
    assert read_env_file(ROOT / ".env.example")["AIRFLOW_BIND_ADDRESS"] == "127.0.0.1"
    services = interpolate(compose, generated_env)["services"]
    assert {address for found in _published_addresses(services).values() for address in found} == {
        "127.0.0.1"
    }


def test_the_operator_can_publish_the_api_on_another_address(
    compose: dict[str, Any], generated_env: dict[str, str]
) -> None:
    services = interpolate(compose, {**generated_env, "AIRFLOW_BIND_ADDRESS": "10.0.0.5"})["services"]
    assert _published_addresses(services)["airflow-apiserver"] == ["10.0.0.5"]


# -- The sandbox: its own profile, its own settings; only that profile points the workers at it --------------
def test_the_sandbox_runs_only_in_the_sandbox_profile(compose: dict[str, Any]) -> None:
    profiled = {name: spec["profiles"] for name, spec in compose["services"].items() if spec.get("profiles")}
    assert profiled == {"graph-sandbox": [SANDBOX_PROFILE]}


def test_a_plain_up_needs_no_profile_service(compose: dict[str, Any]) -> None:
    """Compose refuses a project whose enabled service requires a disabled one, unless `required: false`."""
    profiled = {name for name, spec in compose["services"].items() if spec.get("profiles")}
    for name, spec in _default_services(compose).items():
        depends_on = spec.get("depends_on", {})
        assert isinstance(depends_on, dict), name
        for target, condition in depends_on.items():
            if target in profiled:
                assert condition.get("required") is False, (name, target)


def test_the_sandbox_container_gets_only_its_own_settings(
    compose: dict[str, Any], generated_env: dict[str, str]
) -> None:
    sandbox = compose["services"]["graph-sandbox"]
    assert "env_file" not in sandbox
    assert not [
        key for key in sandbox.get("environment", {}) if key.startswith(("AIRFLOW", "META", "PARTNERSHIP"))
    ]
    assert {ref.name for ref in references(sandbox)} <= {"AIRFLOW_IMAGE_NAME", "AIRFLOW_UID"}
    env = {
        **generated_env,
        "META_ACCESS_TOKEN": "EAAG-meta-access-token",
        "META_APP_SECRET": "meta-app-secret-value",
        "PARTNERSHIP_ADS_WEBHOOK_URL": "https://receiver.example/codes",
        "PARTNERSHIP_ADS_WEBHOOK_SECRET": "webhook-signing-secret",
        SANDBOX_URL_ENV: "http://graph-sandbox:8765",
    }
    rendered = json.dumps(interpolate(compose, env)["services"]["graph-sandbox"])
    for name in (*STACK_SECRETS, *OPERATOR_CREDENTIALS):
        assert env[name] not in rendered, name


@pytest.mark.parametrize("sandbox_url", [None, ""], ids=["unset", "empty"])
def test_without_a_sandbox_url_the_workers_are_not_pointed_at_the_sandbox(
    compose: dict[str, Any], generated_env: dict[str, str], sandbox_url: str | None
) -> None:
    env = {key: value for key, value in generated_env.items() if key != SANDBOX_URL_ENV}
    if sandbox_url is not None:
        env[SANDBOX_URL_ENV] = sandbox_url
    for name, spec in interpolate(compose, env)["services"].items():
        assert spec.get("environment", {}).get(SANDBOX_URL_ENV, "") == "", name


def test_env_example_runs_on_meta_and_documents_the_sandbox_url(compose: dict[str, Any]) -> None:
    assert SANDBOX_URL_ENV not in read_env_file(ROOT / ".env.example")
    documented = re.search(rf"^#\s*{SANDBOX_URL_ENV}=(\S+)$", (ROOT / ".env.example").read_text(), re.M)
    assert documented, f".env.example shows no commented {SANDBOX_URL_ENV}"
    url = urlsplit(documented.group(1))
    sandbox = compose["services"][url.hostname]
    assert sandbox.get("profiles") == [SANDBOX_PROFILE]
    assert url.port in sandbox["expose"]
    assert f"--profile {SANDBOX_PROFILE}" in (ROOT / ".env.example").read_text()


# -- compose_entry: an empty sandbox URL changes nothing -----------------------------------------------------
_PRINT_PIPELINE_ENV = (
    "import json, os; print(json.dumps({k: v for k, v in os.environ.items() "
    "if k.startswith(('AIRFLOW_CONN_', 'PARTNERSHIP_ADS_BRANDS'))}))"
)


def _compose_entry(environment: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """The worker's entry point on ``environment``, exec'ing a command that prints the pipeline's settings."""
    env = {
        **environment,
        "PATH": os.environ["PATH"],
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "plugins")]),
    }
    return subprocess.run(
        [sys.executable, "-m", "include.topology.compose_entry", sys.executable, "-c", _PRINT_PIPELINE_ENV],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("sandbox_url", [None, "", "   "], ids=["unset", "empty", "blank"])
def test_compose_entry_without_a_sandbox_url_leaves_the_connections_untouched(
    sandbox_url: str | None,
) -> None:
    environment = {
        "AIRFLOW_CONN_META_GRAPH_DEFAULT": json.dumps(
            {"conn_type": "meta_graph", "host": "https://graph.facebook.com", "password": "EAAG-real-token"}
        ),
        "AIRFLOW_CONN_PARTNERSHIP_ADS_DB": "postgresql://airflow:pw@postgres:5432/partnership_ads_ledger",
        "PARTNERSHIP_ADS_BRANDS": '[{"business_id": "1", "meta_conn_id": "meta_graph_default"}]',
    }
    if sandbox_url is not None:
        environment[SANDBOX_URL_ENV] = sandbox_url
    result = _compose_entry(environment)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {k: v for k, v in environment.items() if k != SANDBOX_URL_ENV}


def test_a_worker_of_a_deployment_without_the_sandbox_keeps_the_meta_connection(
    compose: dict[str, Any], generated_env: dict[str, str]
) -> None:
    env = {**generated_env, "META_ACCESS_TOKEN": "EAAG-real-token", SANDBOX_URL_ENV: ""}
    worker = interpolate(compose, env)["services"]["airflow-worker"]["environment"]
    assert worker[SANDBOX_URL_ENV] == ""
    result = _compose_entry(worker)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    meta = json.loads(seen["AIRFLOW_CONN_META_GRAPH_DEFAULT"])
    assert (meta["host"], meta["password"]) == ("https://graph.facebook.com", "EAAG-real-token")
    assert seen == {
        k: v for k, v in worker.items() if k.startswith(("AIRFLOW_CONN_", "PARTNERSHIP_ADS_BRANDS"))
    }


@pytest.mark.parametrize(
    "sandbox_url",
    [
        "graph-sandbox:8765",
        "https://graph-sandbox:8765",
        "http://",
        "http://user:s3cret-pw@graph-sandbox:8765",
    ],
)
def test_compose_entry_refuses_a_sandbox_url_it_cannot_use_before_running_anything(sandbox_url: str) -> None:
    result = _compose_entry({SANDBOX_URL_ENV: sandbox_url})
    assert result.returncode != 0
    assert SANDBOX_URL_ENV in result.stderr
    assert "s3cret-pw" not in result.stderr
    assert result.stdout == ""  # the command never ran
