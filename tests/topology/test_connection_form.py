"""The ``meta_graph`` connection type in a running Airflow's connection form (the session's native topology).

The UI builds its Add Connection form from ``GET /ui/connections/hook_meta``, which the api-server fills from
the installed providers; this checks what a running api-server serves, not what the provider module declares.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from partnership_ads.provider import CONN_FIELDS, CONN_TYPE, HOOK_CLASS_NAME

if TYPE_CHECKING:
    from tests.topology.conftest import RunningTopology

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def meta_graph_form(native_topology: RunningTopology) -> dict[str, Any]:
    api = native_topology.api
    response = api.session.get(f"{api.url}/ui/connections/hook_meta", timeout=60)
    assert response.status_code == 200, response.text[:500]
    forms = {entry["connection_type"]: entry for entry in response.json()}
    assert CONN_TYPE in forms, f"{CONN_TYPE} missing from the connection types {sorted(forms, key=str)}"
    return forms[CONN_TYPE]


def test_connection_form_offers_meta_graph_backed_by_the_hook(meta_graph_form: dict[str, Any]) -> None:
    assert meta_graph_form["hook_class_name"] == HOOK_CLASS_NAME


def test_meta_graph_form_shows_every_extra_field_with_its_label(meta_graph_form: dict[str, Any]) -> None:
    labels = {name: field["schema"].get("title") for name, field in meta_graph_form["extra_fields"].items()}
    assert labels == {name: field["label"] for name, field in CONN_FIELDS.items()}
    assert {"api_version", "app_secret", "token_transport", "timeout", "max_retries"} <= set(labels)


def test_meta_graph_form_relabels_host_and_password_and_hides_login(meta_graph_form: dict[str, Any]) -> None:
    standard = meta_graph_form["standard_fields"]
    assert standard["host"]["title"] == "Base URL"
    assert standard["password"]["title"] == "Access token"
    assert standard["login"]["hidden"] is True
