"""Retry a task no sooner than Meta's throttle lasts.

When a throttle wait exceeds ``max_throttle_wait_seconds`` the hook raises a retryable ``GraphThrottleError``
carrying ``wait_seconds`` instead of sleeping in the worker. The fetch and issue operators first defer to
the triggerer for it (:mod:`partnership_ads.operators.throttle_deferral`); a try still fails with the wait
after five deferrals, or when the hook gave up on a shorter throttle. Airflow's own retry delay knows nothing
of that wait: a retry that comes earlier calls Meta again while the block is on, which extends it (found by
the drill ``throttling_beyond_max_wait``). This policy makes the retry wait at least the told time.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import TYPE_CHECKING

from airflow.sdk.definitions.retry_policy import RetryDecision, RetryPolicy

if TYPE_CHECKING:
    from airflow.sdk import Context


class ThrottleAwareRetryPolicy(RetryPolicy):
    """Delay the retry by the exception's ``wait_seconds`` when that is longer than the task's retry delay.

    Any other failure (no wait, or one that is not a finite positive number) keeps Airflow's standard retry
    behaviour.
    """

    def evaluate(
        self, exception: BaseException, try_number: int, max_tries: int, context: Context | None = None
    ) -> RetryDecision:
        wait = getattr(exception, "wait_seconds", None)
        if isinstance(wait, bool) or not isinstance(wait, int | float) or not 0 < wait < math.inf:
            return RetryDecision.default()
        task = context.get("task") if context else None
        base = getattr(task, "retry_delay", None)
        base_seconds = base.total_seconds() if isinstance(base, dt.timedelta) else 0.0
        if base_seconds >= wait:
            return RetryDecision.default()
        return RetryDecision.retry(
            delay=dt.timedelta(seconds=math.ceil(wait)),
            reason=f"throttled by the Graph API: retrying after the told {math.ceil(wait)}s",
        )

    def serialize(self) -> dict[str, str]:
        return {"__type": "ThrottleAwareRetryPolicy"}

    @classmethod
    def deserialize(cls, data: dict[str, str]) -> ThrottleAwareRetryPolicy:
        return cls()
