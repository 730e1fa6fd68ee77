"""Backoff, throttle waits and usage slowdown."""

from __future__ import annotations

import random

import pytest

from partnership_ads.graph.retry import RetryPolicy

POLICY = RetryPolicy(
    max_retries=5,
    backoff_base_seconds=1.0,
    backoff_max_seconds=60.0,
    max_throttle_wait_seconds=300.0,
    usage_slowdown_percent=80.0,
)


def test_backoff_doubles_each_retry_with_jitter_in_the_upper_half() -> None:
    assert [POLICY.backoff_bounds(n) for n in range(4)] == [(0.5, 1.0), (1.0, 2.0), (2.0, 4.0), (4.0, 8.0)]
    rng = random.Random(1)
    waits = [POLICY.backoff(3, rng) for _ in range(200)]
    assert all(4.0 <= wait <= 8.0 for wait in waits)
    assert len({round(wait, 6) for wait in waits}) > 100


def test_backoff_is_bounded_by_backoff_max_seconds() -> None:
    assert POLICY.backoff_bounds(30) == (30.0, 60.0)
    assert POLICY.backoff_bounds(10_000) == (30.0, 60.0)


def test_throttle_waits_the_told_time() -> None:
    assert POLICY.throttle_wait(0, 180.0) == 180.0


@pytest.mark.parametrize("told", [None, 0.0])
def test_throttle_without_told_time_keeps_a_minimum_pause(told: float | None) -> None:
    assert POLICY.throttle_wait(0, told, random.Random(3)) == 5.0
    assert 16.0 <= POLICY.throttle_wait(5, told, random.Random(3)) <= 32.0


def test_a_wait_beyond_the_maximum_is_not_to_be_slept() -> None:
    assert POLICY.exceeds_throttle_limit(301.0)
    assert not POLICY.exceeds_throttle_limit(300.0)


def test_no_slowdown_below_the_threshold_or_without_usage() -> None:
    assert POLICY.slowdown(79.9) == 0.0
    assert POLICY.slowdown(None) == 0.0


def test_slowdown_grows_from_base_at_the_threshold_to_ten_times_base_at_100() -> None:
    assert POLICY.slowdown(80.0) == 1.0
    assert POLICY.slowdown(90.0) == pytest.approx(5.5)
    assert POLICY.slowdown(100.0) == 10.0
    assert POLICY.slowdown(250.0) == 10.0
