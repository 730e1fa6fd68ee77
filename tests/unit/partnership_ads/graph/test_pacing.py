"""The pause shared by the threads of one hook, on a fake clock."""

from __future__ import annotations

import logging

import pytest

from partnership_ads.graph.errors import GraphThrottleError
from partnership_ads.graph.pacing import Pacer
from partnership_ads.graph.retry import RetryPolicy
from partnership_ads.graph.usage import Usage
from tests.fakes import SleepingClock

POLICY = RetryPolicy(backoff_base_seconds=1.0, max_throttle_wait_seconds=300.0, usage_slowdown_percent=80.0)


@pytest.fixture
def clock() -> SleepingClock:
    return SleepingClock()


@pytest.fixture
def pacer(clock: SleepingClock) -> Pacer:
    return Pacer(monotonic=clock.monotonic, sleep=clock.sleep, log=logging.getLogger("test_pacing"))


def usage(percent: float) -> Usage:
    return Usage(app_percent=percent)


def test_no_pause_means_no_sleep(pacer: Pacer, clock: SleepingClock) -> None:
    pacer.wait(POLICY, "GET", "1/edge")
    assert clock.sleeps == []


def test_a_call_waits_out_the_remaining_pause_once(pacer: Pacer, clock: SleepingClock) -> None:
    pacer.pause(30.0)
    clock.now += 10.0
    pacer.wait(POLICY, "GET", "1/edge")
    pacer.wait(POLICY, "GET", "1/edge")
    assert clock.sleeps == [20.0]


def test_a_shorter_pause_never_shortens_a_longer_one(pacer: Pacer, clock: SleepingClock) -> None:
    pacer.pause(120.0)
    pacer.pause(5.0)
    pacer.wait(POLICY, "GET", "1/edge")
    assert clock.sleeps == [120.0]


def test_a_pause_beyond_max_throttle_wait_is_refused_not_slept(pacer: Pacer, clock: SleepingClock) -> None:
    pacer.pause(900.0)
    with pytest.raises(GraphThrottleError) as caught:
        pacer.wait(POLICY, "POST", "1/partnership_ad_code")
    assert clock.sleeps == []
    assert caught.value.wait_seconds == 900.0
    assert caught.value.retryable is True
    assert "max_throttle_wait_seconds=300" in str(caught.value)


def test_usage_above_the_threshold_paces_the_next_call_and_is_logged_once_each_way(
    pacer: Pacer, clock: SleepingClock, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="test_pacing"):
        pacer.note_usage(usage(90.0), POLICY)
        pacer.note_usage(usage(95.0), POLICY)
        pacer.wait(POLICY, "GET", "1/edge")
        pacer.note_usage(usage(10.0), POLICY)
        pacer.note_usage(usage(12.0), POLICY)
    assert clock.sleeps == [pytest.approx(POLICY.slowdown(95.0))]
    messages = [record.getMessage() for record in caplog.records]
    assert messages == [
        "Rate-limit usage 90% is above usage_slowdown_percent=80: pacing calls by 5.5s",
        "Rate-limit usage back to 10%: no more pacing",
    ]


def test_the_clock_is_read_at_each_use_so_a_test_may_swap_it_later(clock: SleepingClock) -> None:
    holder = {"clock": SleepingClock()}
    pacer = Pacer(
        monotonic=lambda: holder["clock"].monotonic(),
        sleep=lambda seconds: holder["clock"].sleep(seconds),
        log=logging.getLogger("test_pacing"),
    )
    holder["clock"] = clock
    pacer.pause(7.0)
    pacer.wait(POLICY, "GET", "1/edge")
    assert clock.sleeps == [7.0]
