"""The meta_graph connection type is registered with Airflow, with its labelled fields."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from partnership_ads.provider import CONN_FIELDS

EXTRAS = {
    "api_version",
    "app_id",
    "app_secret",
    "app_secret_time_proof",
    "token_transport",
    "timeout",
    "max_retries",
    "backoff_base_seconds",
    "backoff_max_seconds",
    "max_throttle_wait_seconds",
    "usage_slowdown_percent",
}


def airflow_json(*args: str) -> list[dict[str, object]]:
    airflow = Path(sys.executable).with_name("airflow")
    result = subprocess.run(
        [str(airflow), *args, "--output", "json"],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=120,
        check=True,
    )
    # Airflow may print warnings before the JSON document.
    return json.loads(result.stdout[result.stdout.index("[") :])


def test_airflow_cli_lists_the_meta_graph_type_and_its_fields(airflow_home: Path) -> None:
    hooks = [row for row in airflow_json("providers", "hooks") if row["connection_type"] == "meta_graph"]
    assert hooks == [
        {
            "connection_type": "meta_graph",
            "class": "partnership_ads.hooks.PartnershipAdsHook",
            "conn_id_attribute_name": "meta_conn_id",
            "package_name": "partnership-ads-airflow",
            "hook_name": "Meta Graph API (partnership ads)",
        }
    ]
    widgets = {
        str(row["connection_parameter_name"]): row
        for row in airflow_json("providers", "widgets")
        if str(row["connection_parameter_name"]).startswith("extra__meta_graph__")
    }
    assert set(widgets) == {f"extra__meta_graph__{name}" for name in EXTRAS}
    assert widgets["extra__meta_graph__app_secret_time_proof"]["field_type"] == ["boolean", "null"]
    assert widgets["extra__meta_graph__max_retries"]["field_type"] == ["integer", "null"]


def test_every_field_has_a_label_and_a_description() -> None:
    assert set(CONN_FIELDS) == EXTRAS
    for name, field in CONN_FIELDS.items():
        assert field["label"] and field["description"], name
    assert CONN_FIELDS["app_secret"]["schema"]["format"] == "password"
