"""Deferring a task to the triggerer for the length of a Graph throttle, instead of failing it.

A throttle whose told wait exceeds ``max_throttle_wait_seconds`` is too long to sleep in a worker. Failing
the try (and letting :class:`~partnership_ads.operators.throttle_retry.ThrottleAwareRetryPolicy` delay the
retry) spends one of the task's retries on Meta's rate limit; deferring keeps the try: the task waits on the
triggerer (holding no worker slot) with a ``DateTimeTrigger`` at the moment access returns, then resumes in
the operator's ``resume_after_throttle``. Both the fetch and the issue operators use this mixin.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import TYPE_CHECKING, Any, NoReturn

from airflow.sdk.exceptions import AirflowException

if TYPE_CHECKING:
    from partnership_ads.ledger import Ledger

#: Throttle deferrals per try; one more long throttle fails the try (retried after Meta's wait).
MAX_THROTTLE_DEFERRALS = 5
#: The method the triggerer resumes the task in.
RESUME_METHOD = "resume_after_throttle"


def access_returns_at(wait_seconds: float) -> dt.datetime:
    """The moment (UTC, on :func:`partnership_ads.clock.utcnow`) a throttle told now for ``wait_seconds``
    ends; rounded up to the second so that the task never resumes before it."""
    import partnership_ads.clock  # the module, not the function: tests replace clock.utcnow

    now = partnership_ads.clock.utcnow()
    return now + dt.timedelta(seconds=math.ceil(max(0.0, wait_seconds)))


def recorded_wait(ledger: Ledger, conn_id: str, max_wait_seconds: float) -> float | None:
    """The seconds left of the ledger's throttle record for ``conn_id`` when longer than the worker may wait
    (None otherwise): another task or try was told to stop calling with this connection."""
    left = ledger.throttled_for(conn_id)
    return left if left > max_wait_seconds else None


class ThrottleDeferral:
    """Mixin for a ``BaseOperator``: :meth:`defer_for_throttle`, and the count of deferrals in this try.

    The operator defines ``resume_after_throttle(self, context, event=None, deferrals=1, **kwargs)``; the
    count travels in the trigger's kwargs, because the resumed task is a new operator instance.
    """

    #: Throttle deferrals so far in this try (set by the resume method from the trigger's kwargs).
    throttle_deferrals: int = 0

    def defer_for_throttle(
        self, wait_seconds: float, *, why: str, kwargs: dict[str, Any] | None = None
    ) -> NoReturn:
        """Hand the wait to the triggerer; the task resumes in ``resume_after_throttle`` once it is over.

        :param wait_seconds: how long access stays blocked from now.
        :param why: what was throttled, for the log and the failure (no token: ids and paths only).
        :param kwargs: more keyword arguments for the resume method (JSON-serialisable).
        :raises TaskDeferred: the deferral.
        :raises AirflowException: after :data:`MAX_THROTTLE_DEFERRALS` deferrals in this try, carrying
            ``wait_seconds`` so that ThrottleAwareRetryPolicy retries no sooner than Meta said.
        """
        from airflow.providers.standard.triggers.temporal import DateTimeTrigger

        log = self.log  # type: ignore[attr-defined]
        if self.throttle_deferrals >= MAX_THROTTLE_DEFERRALS:
            error = AirflowException(
                f"{why}: throttled for {wait_seconds:.0f}s more after {self.throttle_deferrals} deferral(s) "
                f"to the triggerer in this try (the limit is {MAX_THROTTLE_DEFERRALS}). Meta keeps "
                "throttling this connection: the retry comes after the told wait; if it recurs, lower the "
                "call rate (max_concurrency, usage_slowdown_percent) or spread the brand's runs."
            )
            error.wait_seconds = wait_seconds  # type: ignore[attr-defined]
            raise error
        moment = access_returns_at(wait_seconds)
        log.warning(
            "%s: throttled for %.0fs (over max_throttle_wait_seconds); deferring to the triggerer until %s "
            "(deferral %s of at most %s in this try) instead of holding a worker slot",
            why,
            wait_seconds,
            moment.isoformat(),
            self.throttle_deferrals + 1,
            MAX_THROTTLE_DEFERRALS,
        )
        self.defer(  # type: ignore[attr-defined]
            trigger=DateTimeTrigger(moment),
            method_name=RESUME_METHOD,
            kwargs={**(kwargs or {}), "deferrals": self.throttle_deferrals + 1},
        )
        raise AssertionError("BaseOperator.defer returned")  # pragma: no cover - defer always raises
