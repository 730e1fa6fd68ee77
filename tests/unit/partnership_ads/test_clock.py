"""Time as the ledger and the sinks record it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from partnership_ads.clock import iso, parse_iso


def test_iso_writes_utc_with_microseconds_and_parse_iso_reads_it_back() -> None:
    moment = datetime(2026, 6, 1, 14, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2)))
    assert iso(moment) == "2026-06-01T12:00:00.123456Z"
    assert parse_iso(iso(moment)) == moment.astimezone(UTC)


def test_iso_text_order_is_time_order() -> None:
    start = datetime(2026, 6, 1, 23, 59, 59, 999999, tzinfo=UTC)
    later = [start + timedelta(microseconds=step) for step in (1, 10, 1_000_000, 86_400_000_000)]
    texts = [iso(start), *(iso(moment) for moment in later)]
    assert texts == sorted(texts)
