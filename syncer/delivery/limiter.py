"""Pacing requests to one destination so the vendor's limits are met before it has to answer 429.

Three limits apply at once, and :meth:`Limiter.delay` waits for the longest of them:

- **the rolling window** of the connector's :class:`RatePolicy` (``requests`` per ``window_s``), kept as the
  times of our own requests, because vendors count a rolling window (HubSpot's ``TEN_SECONDLY_ROLLING``): a token
  bucket refilled at the average rate would wait where the vendor allows a burst. A request counts from its reply
  (the vendor saw it at some moment before that), and one still in flight counts as now: counted from its start,
  the window leaves us as the vendor's closes only if requests take no time, and the skew costs a 429;
- **what the vendor says remains** (:class:`RateInfo.remaining`, HubSpot's ``X-HubSpot-RateLimit-Remaining``):
  other apps may share the allowance. When the reply also gives the window's size (:class:`RateInfo.limit`,
  ``X-HubSpot-RateLimit-Max``), what others use is that size less what remains less those of our requests the
  reply counted (itself, and the ones that started before it, within the window, and were answered: ones still in
  flight may not have reached the vendor), and our window shrinks by it until the reply's window has rolled by:
  waits stay exact whoever uses the allowance (another app, or an earlier run whose requests are still in the
  vendor's window: a new run's limiter never saw them).
  Without the size, once our requests since the reply have used what remained, nothing more starts until the
  reply's window has rolled by;
- **a wait the vendor asked for** (a 429's ``Retry-After``, see :meth:`Limiter.hold`).

The daily allowance is not waited for: once it is spent, :attr:`Limiter.spent` says so and the executor stops
sending to the destination for the run. The limiter never sleeps and reads time only from the injected clock.
It is not thread-safe: the executor calls it from the thread that runs the delivery.
"""

from __future__ import annotations

from collections.abc import Callable
from math import inf

from syncer.contract.destination import RateInfo, RatePolicy

_EPSILON = 1e-6  # float sums of clock readings and waits: a wait this short is no wait


class Limiter:
    """The limits of one destination for one run. Requests are numbered by :meth:`start` (their *ticket*)."""

    def __init__(self, policy: RatePolicy, clock: Callable[[], float]) -> None:
        if policy.requests < 1 or policy.window_s <= 0:
            raise ValueError(f"a rate policy needs at least one request per positive window, not {policy}")
        self.policy = policy
        self._clock = clock
        # ticket -> when the vendor has surely seen our request: its reply's time (in flight: not yet known, so now)
        self._seen: dict[int, float] = {}
        self._begun: dict[int, float] = {}  # ticket -> when it started, for the tickets in ``_seen``
        self._hold_until = -inf
        self._started = 0
        self._in_flight: set[int] = set()
        # What the vendor last said, valid until ``_budget_until``: our share of its window (``_share``, when it gave
        # the window's size), or else ``_budget`` requests remaining from the ``_budget_at``-th start on.
        # ``_budget_ticket`` is the request whose reply said it: replies to older requests are stale.
        self._share: int | None = None
        self._budget: int | None = None
        self._budget_at = 0
        self._budget_until = -inf
        self._budget_ticket = 0
        # The daily allowance: ``_daily`` requests from the ``_daily_at``-th start on (the policy's until a reply says).
        self._daily = policy.daily
        self._daily_at = 0
        self._daily_ticket = 0
        self._daily_limit = policy.daily

    def delay(self) -> float:
        """Seconds to wait before the next request may start; ``0.0`` when it may start now."""
        now = self._clock()
        window = self._window(now)
        wait = self._hold_until - now
        room = self.policy.requests
        if now < self._budget_until:
            if self._share is not None:
                room = min(room, self._share)
            elif self._budget is not None and self._budget - (self._started - self._budget_at) <= 0:
                wait = max(wait, self._budget_until - now)
        if room <= 0:  # others hold the whole window
            wait = max(wait, self._budget_until - now)
        elif len(window) >= room:
            # The request that has to leave the window before another may enter it.
            wait = max(wait, window[-room] + self.policy.window_s - now)
        return wait if wait > _EPSILON else 0.0

    def _window(self, now: float) -> list[float]:
        """When the vendor saw each of our requests still in its window, oldest first (forgetting older ones)."""
        for ticket in [
            t
            for t, seen in self._seen.items()
            if seen <= now - self.policy.window_s + _EPSILON and t not in self._in_flight
        ]:
            del self._seen[ticket]
            del self._begun[ticket]
        return sorted(now if ticket in self._in_flight else seen for ticket, seen in self._seen.items())

    def start(self) -> int:
        """Note that a request starts now; return its ticket for :meth:`finish`."""
        self._started += 1
        self._in_flight.add(self._started)
        self._seen[self._started] = self._begun[self._started] = self._clock()
        return self._started

    def finish(self, ticket: int, rate: RateInfo | None) -> None:
        """Note the reply to request ``ticket`` (or its failure) and what it said about the vendor's limits.

        Requests still in flight may not be counted in the reply yet, so they are taken off what it says remains.
        """
        self._in_flight.discard(ticket)
        if ticket in self._seen:
            self._seen[ticket] = self._clock()
        if rate is None:
            return
        unseen = len(self._in_flight)
        if rate.remaining is not None and ticket > self._budget_ticket:
            now = self._clock()
            self._budget_ticket = ticket
            self._budget_until = now + (rate.interval_s or self.policy.window_s)
            if rate.limit is not None:
                # Ours that the vendor had counted when it answered: this request, and those that started before
                # it (so most likely reached the vendor first), were answered and started within the window. Ours
                # in flight may not have arrived yet: taking them off too (as this did before) let a run that began
                # while an earlier run's requests were still in the window overshoot it by up to the requests in
                # flight, each overshoot a 429 and a wait of a whole window.
                self._window(now)  # forgets requests that left the window
                counted = 1 + sum(
                    1
                    for t, begun in self._begun.items()
                    if t < ticket and t not in self._in_flight and begun > now - self.policy.window_s
                )
                others = max(0, rate.limit - rate.remaining - counted)
                self._share, self._budget = rate.limit - others, None
            else:
                self._share, self._budget, self._budget_at = None, rate.remaining - unseen, self._started
        if rate.daily_remaining is not None and ticket > self._daily_ticket:
            self._daily_ticket = ticket
            self._daily = rate.daily_remaining - unseen
            self._daily_at = self._started
        if rate.daily_limit is not None:
            self._daily_limit = rate.daily_limit

    def hold(self, seconds: float) -> None:
        """The vendor asked us to wait: no request starts for ``seconds`` from now."""
        self._hold_until = max(self._hold_until, self._clock() + seconds)

    @property
    def spent(self) -> str | None:
        """Why no more requests may be sent today, or ``None`` while the daily allowance lasts."""
        if self._daily is None or self._daily - (self._started - self._daily_at) > 0:
            return None
        of = f" of {self._daily_limit} requests" if self._daily_limit is not None else ""
        return f"the daily API allowance{of} is spent; the rest is left for the next run"
