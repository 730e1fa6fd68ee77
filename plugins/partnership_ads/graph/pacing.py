"""The pause shared by every thread of one hook: set by throttling, backoff and usage slowdown.

Every call first waits out the pause (:meth:`Pacer.wait`); a throttling answer, a retry's backoff or a usage
above ``usage_slowdown_percent`` extends it (:meth:`Pacer.pause`, :meth:`Pacer.note_usage`). A pause longer
than ``max_throttle_wait_seconds`` is not slept: the call raises a retryable :class:`GraphThrottleError`, so
that Airflow retries the task later instead of holding a worker slot (calling on extends Meta's block).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from partnership_ads.graph.errors import GraphThrottleError

if TYPE_CHECKING:
    import logging
    from collections.abc import Callable

    from partnership_ads.graph.retry import RetryPolicy
    from partnership_ads.graph.usage import Usage


class Pacer:
    """A thread-safe pause on one monotonic clock.

    :param monotonic: the clock; :param sleep: how to wait. Both are called at each use, so a test may pass
        callables that read a fake clock set later.
    :param log: where the start and end of a slowdown are logged (the hook's logger).
    """

    def __init__(
        self, *, monotonic: Callable[[], float], sleep: Callable[[float], None], log: logging.Logger
    ) -> None:
        self._monotonic = monotonic
        self._sleep = sleep
        self._log = log
        self._lock = threading.Lock()
        self._pause_until = 0.0
        self._slowing_down = False

    def wait(self, policy: RetryPolicy, method: str, path: str) -> None:
        """Wait out the pause set by any thread, or refuse to wait beyond ``max_throttle_wait_seconds``.

        :raises GraphThrottleError: when the remaining pause is longer than that.
        """
        with self._lock:
            remaining = self._pause_until - self._monotonic()
        if remaining <= 0:
            return
        if policy.exceeds_throttle_limit(remaining):
            raise GraphThrottleError(
                f"calls are paused for {remaining:.0f}s after a throttling answer, longer than "
                f"max_throttle_wait_seconds={policy.max_throttle_wait_seconds:g}",
                wait_seconds=remaining,
                method=method,
                path=path,
            )
        # One sleep, no loop: a fake sleep that does not advance the clock must not spin.
        self._sleep(remaining)

    def pause(self, seconds: float) -> None:
        """Make every thread's next call wait until ``seconds`` from now (a longer pause is kept)."""
        with self._lock:
            self._pause_until = max(self._pause_until, self._monotonic() + seconds)

    def note_usage(self, usage: Usage, policy: RetryPolicy) -> None:
        """Pace the next call when the usage an answer reported is above ``usage_slowdown_percent``."""
        percent = usage.max_percent
        delay = policy.slowdown(percent)
        if delay > 0:
            if not self._slowing_down:
                self._log.info(
                    "Rate-limit usage %s is above usage_slowdown_percent=%g: pacing calls by %.1fs",
                    usage.describe(),
                    policy.usage_slowdown_percent,
                    delay,
                )
            self._slowing_down = True
            self.pause(delay)
        elif self._slowing_down and percent is not None:
            self._slowing_down = False
            self._log.info("Rate-limit usage back to %s: no more pacing", usage.describe())
