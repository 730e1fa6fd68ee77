"""How long to wait before retrying, and when to stop waiting inside a worker.

- Transient errors: exponential backoff with "equal jitter": the n-th retry (n from 0) waits a random time in
  ``[d/2, d]`` with ``d = min(backoff_max_seconds, backoff_base_seconds * 2**n)``. Jitter spreads the retries
  of concurrent threads and workers; the lower bound keeps a real pause.
- Throttling: when Meta tells ``estimated_time_to_regain_access`` (minutes), the wait is exactly that. When it
  does not (codes 4, 17, 32, 341, 613, or a BUC answer without the field), the backoff above with a floor of
  ``THROTTLE_FLOOR_FACTOR * backoff_base_seconds``: Meta's advice is to stop calling once limited. Any
  throttle wait above ``max_throttle_wait_seconds`` is not slept: the hook raises a retryable
  ``GraphThrottleError`` so that Airflow retries the task later instead of holding a worker slot.
- Slowdown: when the usage headers report more than ``usage_slowdown_percent``, the next call is delayed by a
  pause growing linearly from ``backoff_base_seconds`` at the threshold to ``SLOWDOWN_MAX_FACTOR *
  backoff_base_seconds`` at 100%, so calls spread out before Meta throttles them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from partnership_ads.graph import defaults

THROTTLE_FLOOR_FACTOR = 5.0
SLOWDOWN_MAX_FACTOR = 10.0


@dataclass(frozen=True)
class RetryPolicy:
    """The retry settings of one ``meta_graph`` connection."""

    max_retries: int = defaults.MAX_RETRIES
    backoff_base_seconds: float = defaults.BACKOFF_BASE_SECONDS
    backoff_max_seconds: float = defaults.BACKOFF_MAX_SECONDS
    max_throttle_wait_seconds: float = defaults.MAX_THROTTLE_WAIT_SECONDS
    usage_slowdown_percent: float = defaults.USAGE_SLOWDOWN_PERCENT

    def backoff_bounds(self, retry_number: int) -> tuple[float, float]:
        """The ``(low, high)`` range of the wait before retry ``retry_number`` (0 for the first retry)."""
        ceiling = min(self.backoff_max_seconds, self.backoff_base_seconds * (2.0 ** min(retry_number, 62)))
        return ceiling / 2.0, ceiling

    def backoff(self, retry_number: int, rng: random.Random | None = None) -> float:
        """A jittered wait before retry ``retry_number`` (0 for the first retry)."""
        low, high = self.backoff_bounds(retry_number)
        return (rng or random).uniform(low, high)

    def throttle_wait(
        self, retry_number: int, told_seconds: float | None, rng: random.Random | None = None
    ) -> float:
        """The wait after a throttling answer: the told time if any, else a floored backoff."""
        if told_seconds is not None and told_seconds > 0:
            return float(told_seconds)
        floor = min(self.backoff_max_seconds, THROTTLE_FLOOR_FACTOR * self.backoff_base_seconds)
        return max(floor, self.backoff(retry_number, rng))

    def exceeds_throttle_limit(self, wait_seconds: float) -> bool:
        """Whether a throttle wait is too long to sleep inside the worker."""
        return wait_seconds > self.max_throttle_wait_seconds

    def slowdown(self, usage_percent: float | None) -> float:
        """The pause before the next call at this usage percentage (0 below the threshold, or unknown)."""
        if usage_percent is None or usage_percent < self.usage_slowdown_percent:
            return 0.0
        span = max(1.0, 100.0 - self.usage_slowdown_percent)
        fraction = min(1.0, (usage_percent - self.usage_slowdown_percent) / span)
        factor = 1.0 + fraction * (SLOWDOWN_MAX_FACTOR - 1.0)
        return min(self.backoff_max_seconds, self.backoff_base_seconds * factor)
