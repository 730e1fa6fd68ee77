"""Sinks: SQL upsert (SQLite and PostgreSQL), files in three formats, webhook batches, sink selection.

The webhook's delivery and signature are in ``test_webhook_sink.py``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pandas as pd
import pytest

from partnership_ads.conn_ids import DEFAULT_LEDGER_CONN_ID
from partnership_ads.ledger import DeliveryRecord, sql_hook_for
from partnership_ads.sinks import FileSink, SqlTableSink, build_sinks
from partnership_ads.sinks.base import DeliveryContext
from partnership_ads.sinks.webhook import batch_body, idempotency_key
from partnership_ads.sqlite_file import SqliteFileHook

if TYPE_CHECKING:
    from pathlib import Path

CONTEXT = DeliveryContext(business_id="111", run_id="manual__2026-06-01T00:00:00+00:00")


def _record(content_id: str, ad_code: str, state: str = "active") -> DeliveryRecord:
    return DeliveryRecord(
        "111", content_id, "9", f"https://x/{content_id}", ad_code, "2026-06-01", state, None
    )


def _sql_rows(sink: SqlTableSink) -> list[tuple]:
    return sorted(sink.hook.get_records("SELECT content_id, ad_code, state FROM partnership_ad_codes"))


def test_sql_sink_upserts_on_business_and_content_sqlite(tmp_path: Path) -> None:
    sink = SqlTableSink(hook=SqliteFileHook(tmp_path / "db.sqlite"))
    sink.deliver([_record("1", "A"), _record("2", "B")], CONTEXT)
    sink.deliver([_record("1", "A2", "revoked")], CONTEXT)
    assert _sql_rows(sink) == [("1", "A2", "revoked"), ("2", "B", "active")]


def test_sql_sink_upserts_on_business_and_content_postgres(
    postgres_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_PARTNERSHIP_ADS_DB", postgres_database)
    sink = SqlTableSink(hook=sql_hook_for(DEFAULT_LEDGER_CONN_ID))
    sink.deliver([_record("1", "A"), _record("2", "B")], CONTEXT)
    sink.deliver([_record("1", "A2")], CONTEXT)
    assert _sql_rows(sink) == [("1", "A2", "active"), ("2", "B", "active")]


def test_brands_pushing_at_once_to_a_fresh_postgres_table_all_deliver(
    postgres_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CREATE TABLE IF NOT EXISTS races on PostgreSQL (the loser fails on pg_type's unique index): the push
    tasks of several brands deliver to one table at once on an agency's first run."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    monkeypatch.setenv("AIRFLOW_CONN_PARTNERSHIP_ADS_DB", postgres_database)
    for round_ in range(5):
        table = f"codes_race_{round_}"
        start = threading.Barrier(8)

        def push(brand: int, table: str = table, start: threading.Barrier = start) -> None:
            sink = SqlTableSink(hook=sql_hook_for(DEFAULT_LEDGER_CONN_ID), table=table)
            record = DeliveryRecord(
                str(brand), f"c{brand}", "9", "https://x", f"A{brand}", "2026-06-01", "active", None
            )
            start.wait()
            sink.deliver([record], DeliveryContext(business_id=str(brand), run_id="manual__1"))

        with ThreadPoolExecutor(max_workers=8) as pool:
            for future in [pool.submit(push, brand) for brand in range(8)]:
                future.result()
        rows = sql_hook_for(DEFAULT_LEDGER_CONN_ID).get_records(f"SELECT business_id FROM {table}")  # noqa: S608
        assert sorted(r[0] for r in rows) == [str(b) for b in range(8)]


@pytest.mark.parametrize("file_format", ["csv", "parquet", "jsonl"])
def test_file_sink_writes_one_file_per_run_and_brand(tmp_path: Path, file_format: str) -> None:
    sink = FileSink(output_uri=str(tmp_path), file_format=file_format)
    sink.deliver([_record("1", "A")], CONTEXT)
    sink.deliver([_record("2", "B"), _record("1", "A")], CONTEXT)
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(files) == 1
    reader = {"csv": pd.read_csv, "parquet": pd.read_parquet, "jsonl": lambda p: pd.read_json(p, lines=True)}
    frame = reader[file_format](files[0])
    assert list(frame["ad_code"]) == ["A", "B"]
    assert files[0].parent.name == "111"


def test_idempotency_key_is_the_same_for_the_same_batch_in_any_order() -> None:
    one = idempotency_key("111", [_record("1", "A"), _record("2", "B")])
    assert one == idempotency_key("111", [_record("2", "B"), _record("1", "A")])
    assert one != idempotency_key("111", [_record("1", "A")])
    assert one != idempotency_key("222", [_record("1", "A"), _record("2", "B")])


def test_batch_body_is_compact_sorted_json() -> None:
    body = batch_body([_record("1", "A")], CONTEXT)
    assert body == json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()


def test_default_sinks_are_sql_plus_what_is_configured(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_PARTNERSHIP_ADS_WEBHOOK", raising=False)
    assert [s.name for s in build_sinks(None)] == ["sql"]
    monkeypatch.setenv(
        "AIRFLOW_CONN_PARTNERSHIP_ADS_WEBHOOK", json.dumps({"conn_type": "http", "host": "http://h"})
    )
    assert [s.name for s in build_sinks(None, output_uri=str(tmp_path))] == ["sql", "webhook", "files"]
    assert [s.name for s in build_sinks(["files"], output_uri=str(tmp_path))] == ["files"]


def test_selecting_an_unconfigured_sink_says_what_to_configure(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="output_uri"):
        build_sinks(["files"])


def test_each_sink_names_its_destination_for_the_outbox(tmp_path: Path) -> None:
    from partnership_ads.sinks import WebhookSink

    assert FileSink(output_uri=str(tmp_path / "x" / ".." / "out")).destination == str(
        tmp_path.resolve() / "out"
    )
    assert SqlTableSink(conn_id="db", table="s.codes").destination == "db:s.codes"
    assert WebhookSink(conn_id="hook").destination == "hook"


def test_the_file_sink_refuses_a_folder_outside_its_root_when_built(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"^output_uri: .* is outside the files sink's root"):
        FileSink(output_uri=str(tmp_path / "elsewhere"), root=str(tmp_path / "out"))


def test_the_file_sink_writes_nothing_through_a_link_planted_after_validation(tmp_path: Path) -> None:
    root = tmp_path / "out"
    manual = root / "manual"
    manual.mkdir(parents=True)
    sink = FileSink(output_uri=str(manual), root=str(root), at_configured_destination=False)
    outside = tmp_path / "outside"
    outside.mkdir()
    (manual / CONTEXT.business_id).symlink_to(outside, target_is_directory=True)
    with pytest.raises(ValueError, match="outside the files sink's root"):
        sink.deliver([_record("1", "A")], CONTEXT)
    assert list(outside.iterdir()) == []
    assert sink.written == []
