"""ThrottleAwareRetryPolicy, called as Airflow's task runner calls it, against a fake clock.

The clock stands where Meta's throttle started: a retry scheduled at ``now + retry_delay`` must not come
before ``now + wait_seconds`` (calling during the block extends it).
"""

from __future__ import annotations

import datetime as dt
import types

import pytest
from airflow.sdk.definitions.retry_policy import RetryAction
from airflow.sdk.exceptions import AirflowException

from partnership_ads.graph.errors import GraphThrottleError, GraphTransientError
from partnership_ads.operators.throttle_retry import ThrottleAwareRetryPolicy


class FakeClock:
    """A clock that moves only when told."""

    def __init__(self) -> None:
        self.now = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


def _context(retry_delay: dt.timedelta | None) -> dict:
    return {"task": types.SimpleNamespace(retry_delay=retry_delay)}


def _throttled(wait_seconds: float) -> GraphThrottleError:
    return GraphThrottleError(
        "throttled", wait_seconds=wait_seconds, method="POST", path="1/partnership_ad_code"
    )


def test_a_throttle_longer_than_the_retry_delay_retries_no_sooner_than_meta_said() -> None:
    clock = FakeClock()
    blocked_until = clock.now + dt.timedelta(seconds=125.3)
    decision = ThrottleAwareRetryPolicy().evaluate(_throttled(125.3), 1, 4, _context(dt.timedelta(minutes=2)))
    assert decision.action == RetryAction.RETRY
    assert decision.retry_delay == dt.timedelta(seconds=126)
    assert clock.now + decision.retry_delay >= blocked_until
    assert "126s" in (decision.reason or "")


def test_the_issue_tasks_failure_carrying_the_longest_wait_is_honoured() -> None:
    error = AirflowException("2 ad code(s) failed with retryable errors")
    error.wait_seconds = 3600.0  # type: ignore[attr-defined] - as IssueAdCodesOperator sets it
    decision = ThrottleAwareRetryPolicy().evaluate(error, 2, 4, _context(dt.timedelta(minutes=2)))
    assert decision.retry_delay == dt.timedelta(hours=1)


def test_a_retry_delay_already_longer_than_the_throttle_keeps_airflows_own_schedule() -> None:
    decision = ThrottleAwareRetryPolicy().evaluate(_throttled(30), 1, 4, _context(dt.timedelta(minutes=2)))
    assert decision.action == RetryAction.DEFAULT
    assert decision.retry_delay is None


def test_without_a_task_in_the_context_the_told_wait_is_the_delay() -> None:
    decision = ThrottleAwareRetryPolicy().evaluate(_throttled(5), 1, 4, None)
    assert decision.retry_delay == dt.timedelta(seconds=5)


@pytest.mark.parametrize(
    "error",
    [
        GraphTransientError("a 500", method="GET", path="x"),
        _throttled(0),
        ValueError("no wait at all"),
    ],
    ids=["no-wait", "zero-wait", "any-other-failure"],
)
def test_a_failure_without_a_positive_wait_keeps_the_standard_retry(error: BaseException) -> None:
    decision = ThrottleAwareRetryPolicy().evaluate(error, 1, 4, _context(dt.timedelta(minutes=2)))
    assert decision.action == RetryAction.DEFAULT


@pytest.mark.parametrize("wait", [True, "600", float("nan"), float("inf")])
def test_a_wait_that_is_not_a_number_of_seconds_is_ignored(wait: object) -> None:
    error = RuntimeError("odd")
    error.wait_seconds = wait  # type: ignore[attr-defined]
    decision = ThrottleAwareRetryPolicy().evaluate(error, 1, 4, _context(None))
    assert decision.action == RetryAction.DEFAULT


def test_the_policy_survives_dag_serialization() -> None:
    policy = ThrottleAwareRetryPolicy()
    restored = ThrottleAwareRetryPolicy.deserialize(policy.serialize())
    assert isinstance(restored, ThrottleAwareRetryPolicy)
