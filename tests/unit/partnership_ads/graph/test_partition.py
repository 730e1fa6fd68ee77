"""Splitting a date window and merging partition pages in order with bounded buffering."""

from __future__ import annotations

import datetime as dt
import threading
from typing import TYPE_CHECKING

import pytest

from partnership_ads.graph.partition import OrderedMerge, split_window

if TYPE_CHECKING:
    from collections.abc import Iterator

D = dt.date


def test_windows_are_newest_first_contiguous_and_cover_the_range() -> None:
    windows = split_window(D(2026, 1, 1), D(2026, 1, 10), 4)
    assert windows == [
        (D(2026, 1, 8), D(2026, 1, 10)),
        (D(2026, 1, 5), D(2026, 1, 7)),
        (D(2026, 1, 3), D(2026, 1, 4)),
        (D(2026, 1, 1), D(2026, 1, 2)),
    ]


def test_fewer_days_than_partitions_gives_one_window_per_day() -> None:
    assert split_window(D(2026, 1, 1), D(2026, 1, 2), 4) == [(D(2026, 1, 2),) * 2, (D(2026, 1, 1),) * 2]


def test_one_partition_is_the_whole_window() -> None:
    assert split_window(D(2026, 1, 1), D(2026, 3, 1), 1) == [(D(2026, 1, 1), D(2026, 3, 1))]


def test_zero_partitions_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^partitions: "):
        split_window(D(2026, 1, 1), D(2026, 1, 2), 0)


def pages(prefix: str, count: int) -> Iterator[list[dict[str, str]]]:
    for index in range(count):
        yield [{"content_id": f"{prefix}{index}"}]


def test_pages_come_in_producer_order_whatever_the_thread_timing() -> None:
    merge = OrderedMerge(
        [lambda: pages("a", 3), lambda: pages("b", 10), lambda: pages("c", 1)], queue_pages=2
    )
    ids = [item["content_id"] for page in merge for item in page]
    assert ids == ["a0", "a1", "a2"] + [f"b{i}" for i in range(10)] + ["c0"]


def test_a_producer_error_is_raised_in_the_consumer() -> None:
    def failing() -> Iterator[list[dict[str, str]]]:
        yield [{"content_id": "x"}]
        raise RuntimeError("page 2 failed")

    with pytest.raises(RuntimeError, match="page 2 failed"):
        list(OrderedMerge([failing, lambda: pages("b", 2)]))


def test_buffering_is_bounded_and_an_early_stop_releases_every_producer() -> None:
    produced = {"count": 0}
    lock = threading.Lock()

    def endless() -> Iterator[list[dict[str, str]]]:
        while True:
            with lock:
                produced["count"] += 1
            yield [{"content_id": "x"}]

    merge = iter(OrderedMerge([endless, endless], queue_pages=3))
    next(merge)
    threading.Event().wait(0.3)
    with lock:
        # Each producer holds at most queue_pages pages plus the one it is trying to put.
        assert produced["count"] <= 2 * (3 + 1) + 1
    merge.close()  # type: ignore[attr-defined]
    assert not any(t.name.startswith("graph-partition-") and t.is_alive() for t in threading.enumerate())
