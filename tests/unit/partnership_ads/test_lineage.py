"""OpenLineage dataset names (partnership_ads.lineage): the spec's conventions, never a credential."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from partnership_ads.lineage import (
    discovery_dataset,
    location_dataset,
    sql_table_dataset,
    webhook_dataset,
)
from partnership_ads.sqlite_file import SqliteFileHook

if TYPE_CHECKING:
    from pathlib import Path


def test_discovery_endpoint_is_named_by_host_business_and_edge() -> None:
    dataset = discovery_dataset("https://graph.facebook.com", "154364196807760")
    assert dataset.namespace == "https://graph.facebook.com"
    assert dataset.name == "154364196807760/partnership-ads-advertisable-content"


def test_local_folder_is_a_file_dataset(tmp_path: Path) -> None:
    assert location_dataset(str(tmp_path / "out")) == location_dataset(f"file://{tmp_path}/out")
    assert location_dataset(str(tmp_path / "out")).namespace == "file"


def test_object_storage_url_loses_its_credentials() -> None:
    dataset = location_dataset("s3://key:secret@bucket/codes/out?X-Amz-Signature=abc")
    assert (dataset.namespace, dataset.name) == ("s3://bucket", "codes/out")


def test_webhook_keeps_scheme_host_and_path_only() -> None:
    dataset = webhook_dataset("https://user:pw@hooks.example.com:8443/ads/in?token=abc#x")
    assert (dataset.namespace, dataset.name) == ("https://hooks.example.com:8443", "/ads/in")


def test_sqlite_table_is_named_by_file_and_main_schema(tmp_path: Path) -> None:
    dataset = sql_table_dataset(SqliteFileHook(tmp_path / "ledger.db"), "pa_ad_codes")
    assert (dataset.namespace, dataset.name) == (f"sqlite://{tmp_path}/ledger.db", "main.pa_ad_codes")


def test_postgres_table_is_named_by_host_port_database_schema(monkeypatch: pytest.MonkeyPatch) -> None:
    from partnership_ads.ledger.database import sql_hook_for

    monkeypatch.setenv("AIRFLOW_CONN_PA_LINEAGE_PG", "postgresql://ads:s3cret@db.internal:6432/ledger")
    dataset = sql_table_dataset(sql_hook_for("pa_lineage_pg"), "partnership_ad_codes")
    assert (dataset.namespace, dataset.name) == (
        "postgres://db.internal:6432",
        "ledger.public.partnership_ad_codes",
    )


def test_push_names_one_output_per_configured_sink_without_the_webhooks_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from partnership_ads.delivery import build_delivery_sinks
    from partnership_ads.lineage import push_datasets

    ledger_file = tmp_path / "ledger.db"
    monkeypatch.setenv(
        "AIRFLOW_CONN_PARTNERSHIP_ADS_DB", f'{{"conn_type": "sqlite", "host": "{ledger_file}"}}'
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_PARTNERSHIP_ADS_WEBHOOK",
        '{"conn_type": "http", "host": "https://hooks.example.com/ads/in?sig=abc", '
        '"password": "hmac-secret"}',
    )
    monkeypatch.setenv("PARTNERSHIP_ADS_OUTPUT_URI", str(tmp_path / "out"))
    sinks = build_delivery_sinks(None, output_uri=None)
    inputs, outputs = push_datasets("partnership_ads_db", sinks)
    assert [(d.namespace, d.name) for d in inputs] == [(f"sqlite://{ledger_file}", "main.pa_ad_codes")]
    assert {(d.namespace, d.name) for d in outputs} == {
        (f"sqlite://{ledger_file}", "main.partnership_ad_codes"),
        ("https://hooks.example.com", "/ads/in"),
        ("file", str(tmp_path / "out")),
    }
    assert "hmac-secret" not in repr(outputs) and "sig=" not in repr(outputs)


def test_meta_ads_sink_is_named_by_graph_host_and_ad_account_without_the_token(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import json

    from partnership_ads.hooks import PartnershipAdsHook
    from partnership_ads.lineage import sink_dataset
    from partnership_ads.sinks import MetaAdsConfig, MetaAdsSink

    monkeypatch.setenv(
        "AIRFLOW_CONN_META_GRAPH_LINEAGE",
        json.dumps(
            {"conn_type": "meta_graph", "host": "https://graph.facebook.com", "password": "EAAB-secret"}
        ),
    )
    config = MetaAdsConfig("111", "meta_graph_lineage", "act_42", "77", 1, "222", "333")
    sink = MetaAdsSink(config, hook=PartnershipAdsHook(meta_conn_id="meta_graph_lineage"))
    dataset = sink_dataset(sink)
    assert (dataset.namespace, dataset.name) == ("https://graph.facebook.com", "act_42/ads")
    assert "EAAB-secret" not in repr(dataset)


def test_a_sink_without_a_naming_is_refused_by_name() -> None:
    from partnership_ads.lineage import sink_dataset

    class Unnamed:
        name = "carrier_pigeon"

    with pytest.raises(ValueError, match="No lineage naming for sink 'carrier_pigeon'"):
        sink_dataset(Unnamed())
