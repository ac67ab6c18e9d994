"""Pacing one connector's vendor calls in one run: a :class:`~syncer.delivery.limiter.Limiter` per (limit, scope).

The limits are the data the connector declares (:class:`~syncer.contract.destination.EffectLimits`: HubSpot's portal
window for its task calls, Salesforce's org, a chat vendor's one post per second per channel and a limit per lookup
method; a field destination's :class:`~syncer.contract.destination.RatePolicy`). A limiter is made on first use.

- :meth:`Pacer.limiter`: the limiter itself, for a caller that keeps several requests in flight and waits on its
  own (the executor's field batches);
- :meth:`Pacer.once`: one request, started when its limiter allows (waiting through the run's
  :class:`~syncer.delivery.retry.Patience`); a 429 holds that limiter for the vendor's wait and is raised;
- :meth:`Pacer.call`: :meth:`once` with rate limits waited out under the :class:`~syncer.delivery.retry.RetryPolicy`
  (a 429 means nothing was done, so the same request is sent again). What a connector is given to route its calls.
- :meth:`Pacer.run`: a unit of several calls that is safe to run again (task creation: it looks its keys up before it
  creates), with transient failures retried too.

A wait the patience refuses raises :class:`~syncer.contract.errors.RateLimitedError`, and once the daily allowance
is spent :class:`~syncer.contract.errors.DestinationStoppedError`: the caller leaves the rest for the next run.
Not thread-safe: one run's effects use it from one thread.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from syncer.contract.destination import CallLimit, EffectLimits, RatePolicy
from syncer.contract.errors import DestinationStoppedError, RateLimitedError
from syncer.delivery.limiter import Limiter
from syncer.delivery.retry import Patience, RetryPolicy

T = TypeVar("T")


class Pacer:
    """The limiters, patience and retry policy of one connector for one run."""

    def __init__(
        self, limits: EffectLimits, clock: Callable[[], float], patience: Patience, policy: RetryPolicy
    ) -> None:
        self.limits, self.patience, self.policy = limits, patience, policy
        self._clock = clock
        self._limiters: dict[tuple[str, str], Limiter] = {}
        self.calls = 0  # requests started through once()
        self.rate_limited = 0  # 429s they met

    @classmethod
    def single(
        cls, method: str, rate: RatePolicy, clock: Callable[[], float], patience: Patience, policy: RetryPolicy
    ) -> Pacer:
        """A pacer of one limit for the calls named ``method`` (a field destination's writes)."""
        return cls(EffectLimits((CallLimit(method, rate, frozenset({method})),)), clock, patience, policy)

    @property
    def waited_s(self) -> float:
        return self.patience.waited_s

    def limiter(self, method: str, scope: str = "") -> Limiter:
        """The limiter that paces ``method`` (in ``scope`` when its limit is per scope)."""
        limit = self.limits.limit_of(method)
        key = (limit.name, scope if limit.per_scope else "")
        limiter = self._limiters.get(key)
        if limiter is None:
            limiter = self._limiters[key] = Limiter(limit.rate, self._clock)
        return limiter

    def once(self, method: str, scope: str, request: Callable[[], T]) -> T:
        """Run ``request`` once its limiter allows; a 429 holds the limiter for the vendor's wait and is raised."""
        limiter = self.limiter(method, scope)
        spent = limiter.spent
        if spent is not None:
            raise DestinationStoppedError(f"{method}: {spent}", "DAILY")
        delay = limiter.delay()
        if delay > 0:
            if not self.patience.allows(delay):
                raise RateLimitedError(
                    f"{method}: waiting {delay:.3g} s more would pass the "
                    f"{self.patience.max_wait_s:g} s a run may wait; the rest is left for the "
                    "next run",
                    delay,
                    "WAITED_TOO_LONG",
                )
            self.patience.sleep(delay)
        ticket = limiter.start()
        self.calls += 1
        try:
            return request()
        except RateLimitedError as error:
            self.rate_limited += 1
            limiter.hold(self.policy.rate_limit_wait(error, limiter.policy.window_s))
            raise
        finally:
            limiter.finish(ticket, None)

    def call(self, method: str, scope: str, request: Callable[[], T]) -> T:
        """:meth:`once`, sending the request again after each 429 once the held limiter allows it."""
        return self.policy.call(
            lambda: self.once(method, scope, request), self.patience, transient=False, rate_limit_wait=_held
        )

    def run(self, unit: Callable[[], T]) -> T:
        """Run ``unit`` (whose calls go through :meth:`call`), again after a transient failure (backing off) or a
        rate limit, until it returns or the policy gives up (then its last error is raised). A rate limit reaches
        here only once :meth:`call` gave up, when the patience is spent: it is not waited for again."""
        return self.policy.call(unit, self.patience, transient=True)


def _held(_: RateLimitedError) -> float:
    """A paced call's 429 already holds its limiter for the vendor's wait: the next attempt waits there."""
    return 0.0
