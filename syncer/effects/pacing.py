"""Pacing effect calls: one :class:`~syncer.delivery.limiter.Limiter` per (method, scope), from the policies the
connector declares (Slack: ``chat.postMessage`` one per second per channel, lookups Tier 3 per method).

A connector calls :meth:`Pacer.call` around every request with the method's name and its scope (the channel id for a
post, nothing for a lookup); the pacer waits on the injected clock and sleep until the limiter allows the request,
and when the vendor answers 429 it holds that limiter for ``Retry-After`` and tries again, a few times, before the
:class:`~syncer.contract.errors.RateLimitedError` reaches the caller.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from syncer.contract.destination import RatePolicy
from syncer.contract.errors import RateLimitedError
from syncer.delivery.limiter import Limiter

T = TypeVar("T")
RATE_LIMIT_TRIES = 4
DEFAULT_HOLD_S = 1.0


class Pacer:
    """Limiters per (method, scope), created on first use with ``policy_of(method)``."""

    def __init__(self, policy_of: Callable[[str], RatePolicy], clock: Callable[[], float],
                 sleep: Callable[[float], None]) -> None:
        self._policy_of, self._clock, self._sleep = policy_of, clock, sleep
        self._limiters: dict[tuple[str, str], Limiter] = {}
        self.calls = 0
        self.rate_limited = 0
        self.waited_s = 0.0

    def call(self, method: str, scope: str, request: Callable[[], T]) -> T:
        """Run ``request`` once the limiter of (method, scope) allows it; wait out 429s a few times."""
        limiter = self._limiters.get((method, scope))
        if limiter is None:
            limiter = self._limiters[(method, scope)] = Limiter(self._policy_of(method), self._clock)
        for attempt in range(1, RATE_LIMIT_TRIES + 1):
            delay = limiter.delay()
            if delay > 0:
                self._sleep(delay)
                self.waited_s += delay
            ticket = limiter.start()
            self.calls += 1
            try:
                return request()
            except RateLimitedError as error:
                self.rate_limited += 1
                limiter.hold(error.retry_after if error.retry_after is not None else DEFAULT_HOLD_S)
                if attempt == RATE_LIMIT_TRIES:
                    raise
            finally:
                limiter.finish(ticket, None)
        raise AssertionError("unreachable")  # the loop returns or raises
