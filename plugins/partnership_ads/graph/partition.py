"""Partitioned discovery: a date window split into contiguous sub-windows walked in parallel.

The sequential walk with ``sort_by=DATE`` yields items newest first. Splitting ``[start_date, end_date]`` into
day-aligned, non-overlapping sub-windows and reading them newest window first gives the same items in the same
order, each exactly once, provided the server orders items of the same day the same way whatever the window
(the sandbox does; Meta's order within a day is unconfirmed, so a caller needing a strict order should sort by
``creation_time`` and ``content_id`` downstream).

:class:`OrderedMerge` runs one producer thread per sub-window. Each producer hands its pages to the consumer
through a bounded queue, so at most ``partitions * queue_pages`` pages are held in memory however large the
window; the consumer drains the newest window's queue first, then the next, ... That order costs the
parallelism: while the consumer reads the newest window, the others can only run ``queue_pages`` pages ahead.
:class:`ArrivalMerge` (``ordered=False`` on the hook) yields pages as they arrive instead: the same items,
each once, in bounded memory, with every partition walking at full speed.
"""

from __future__ import annotations

import datetime as dt
import queue
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

_DONE = object()


def split_window(start_date: dt.date, end_date: dt.date, partitions: int) -> list[tuple[dt.date, dt.date]]:
    """Split ``[start_date, end_date]`` into at most ``partitions`` contiguous windows, newest first.

    Windows differ in length by at most one day; a window shorter than ``partitions`` days gives one window
    per day.
    """
    if partitions < 1:
        raise ValueError(f"partitions: must be at least 1, got {partitions}")
    if start_date > end_date:
        raise ValueError("start_date: must be less than or equal to end_date")
    days = (end_date - start_date).days + 1
    count = min(partitions, days)
    base, extra = divmod(days, count)
    windows: list[tuple[dt.date, dt.date]] = []
    window_end = end_date
    for index in range(count):
        length = base + (1 if index < extra else 0)
        window_start = window_end - dt.timedelta(days=length - 1)
        windows.append((window_start, window_end))
        window_end = window_start - dt.timedelta(days=1)
    return windows


class OrderedMerge:
    """Run page producers in threads and yield their pages in producer order, with bounded buffering.

    :param producers: one callable per partition, each returning an iterator of pages.
    :param queue_pages: pages each producer may buffer ahead of the consumer.
    """

    def __init__(
        self, producers: list[Callable[[], Iterator[list[dict[str, Any]]]]], queue_pages: int = 4
    ) -> None:
        if queue_pages < 1:
            raise ValueError("queue_pages: must be at least 1")
        self._producers = producers
        self._queues: list[queue.Queue[Any]] = [queue.Queue(maxsize=queue_pages) for _ in producers]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def _run(self, index: int) -> None:
        target = self._queues[index]
        try:
            for page in self._producers[index]():
                if not self._put(target, page):
                    return
        except BaseException as exc:  # handed to the consumer, who re-raises it in its own thread
            self._put(target, exc)
            return
        self._put(target, _DONE)

    def _put(self, target: queue.Queue[Any], item: Any) -> bool:
        # Poll so that a consumer that stopped early (closed generator, error) releases every producer.
        while not self._stop.is_set():
            try:
                target.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self) -> Iterator[list[dict[str, Any]]]:
        for index in range(len(self._producers)):
            thread = threading.Thread(
                target=self._run, args=(index,), name=f"graph-partition-{index}", daemon=True
            )
            self._threads.append(thread)
            thread.start()
        try:
            yield from self._pages()
        finally:
            self._stop.set()
            for thread in self._threads:
                thread.join(timeout=5)

    def _pages(self) -> Iterator[list[dict[str, Any]]]:
        """The producers' pages in this merge's order: every page of the first producer, then the next..."""
        for source in self._queues:
            while (item := source.get()) is not _DONE:
                yield _page(item)


class ArrivalMerge(OrderedMerge):
    """Like :class:`OrderedMerge`, but yield pages as soon as any producer has one (arrival order).

    Every page of every producer is yielded exactly once, and each producer's own pages keep their order;
    pages of different producers interleave. This is what makes the partitions run in parallel with bounded
    memory: an ordered merge must hold back every later partition behind the first, so with a bounded buffer
    the later partitions stall after ``queue_pages`` pages and the walk is almost sequential again. One shared
    queue holds at most ``len(producers) * queue_pages`` pages.
    """

    def __init__(
        self, producers: list[Callable[[], Iterator[list[dict[str, Any]]]]], queue_pages: int = 4
    ) -> None:
        super().__init__(producers, queue_pages)
        shared: queue.Queue[Any] = queue.Queue(maxsize=max(1, len(producers)) * queue_pages)
        self._queues = [shared for _ in producers]

    def _pages(self) -> Iterator[list[dict[str, Any]]]:
        """Pages as they arrive on the one shared queue, until every producer has said it is done."""
        remaining = len(self._producers)
        while remaining:
            item = self._queues[0].get()
            if item is _DONE:
                remaining -= 1
            else:
                yield _page(item)


def _page(item: Any) -> list[dict[str, Any]]:
    """A page from a producer's queue; a producer's exception is re-raised in the consumer's thread."""
    if isinstance(item, BaseException):
        raise item
    return item
