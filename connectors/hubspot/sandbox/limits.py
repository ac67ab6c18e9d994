"""HubSpot's request limits: a rolling ten-second window, a daily cap and the search endpoints' own per-second limit.

Defaults are a Professional/Enterprise private app: 190 requests per rolling 10 s and 1,000,000 a day; search allows
5 requests/s per account, is exempt from the ten-secondly window and its replies carry no rate-limit headers. Every
other reply carries ``X-HubSpot-RateLimit-Max``/``-Remaining``/``-Interval-Milliseconds``/``-Daily``/
``-Daily-Remaining``. HubSpot sends no ``Retry-After``.

Time comes from the emulator's injectable clock (seconds). HubSpot resets the daily count at midnight in the account's
time zone; a monotonic clock has no midnight, so the sandbox's "day" is each ``day_seconds`` span since the limiter
started (tests advance the clock across it).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum


@dataclass(frozen=True)
class HubSpotLimits:
    """Per-emulator limits (real defaults; shrink them in tests and benchmarks)."""

    ten_second_max: int = 190
    interval_seconds: float = 10.0
    daily_max: int = 1_000_000
    day_seconds: float = 86_400.0
    search_per_second: int = 5
    batch_max_inputs: int = 100
    history_batch_max_inputs: int = 50
    search_page_max: int = 200
    search_total_max: int = 10_000
    # Search reads an index that lags writes: a record created less than this many seconds ago is not found, and an
    # updated one is found as it was then (HubSpot documents no figure; seconds are usual). 0: no lag.
    search_lag_seconds: float = 0.0
    # HubSpot documents unique-value properties for companies, contacts, deals, tickets and custom objects only:
    # a task property with ``hasUniqueValue`` is refused unless this is set.
    unique_task_properties: bool = False


class Verdict(StrEnum):
    OK = "ok"
    TEN_SECONDLY = "TEN_SECONDLY_ROLLING"
    DAILY = "DAILY"
    SEARCH = "SECONDLY"


class RateLimiter:
    """Counts admitted requests. Not thread-safe on its own: the emulator calls it under its lock.

    Rejected requests are not counted, so a client that backs off gets its window back.
    """

    def __init__(self, limits: HubSpotLimits, clock: Callable[[], float]) -> None:
        self.limits = limits
        self.clock = clock
        self._origin = clock()
        self._window: deque[float] = deque()
        self._search_window: deque[float] = deque()
        self._day = 0
        self._daily_used = 0

    def _advance(self, now: float) -> None:
        day = int((now - self._origin) // self.limits.day_seconds)
        if day != self._day:
            self._day, self._daily_used = day, 0
        while self._window and self._window[0] <= now - self.limits.interval_seconds:
            self._window.popleft()
        while self._search_window and self._search_window[0] <= now - 1.0:
            self._search_window.popleft()

    def admit(self, *, search: bool) -> Verdict:
        """Count one request if the limits allow it; otherwise say which policy refused it."""
        now = self.clock()
        self._advance(now)
        if self._daily_used >= self.limits.daily_max:
            return Verdict.DAILY
        if search:
            if len(self._search_window) >= self.limits.search_per_second:
                return Verdict.SEARCH
            self._search_window.append(now)
        else:
            if len(self._window) >= self.limits.ten_second_max:
                return Verdict.TEN_SECONDLY
            self._window.append(now)
        self._daily_used += 1
        return Verdict.OK

    def headers(self) -> dict[str, str]:
        """The rate-limit headers as they stand after the current request."""
        self._advance(self.clock())
        return {
            "X-HubSpot-RateLimit-Max": str(self.limits.ten_second_max),
            "X-HubSpot-RateLimit-Remaining": str(max(0, self.limits.ten_second_max - len(self._window))),
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(self.limits.interval_seconds * 1000)),
            "X-HubSpot-RateLimit-Daily": str(self.limits.daily_max),
            "X-HubSpot-RateLimit-Daily-Remaining": str(max(0, self.limits.daily_max - self._daily_used)),
        }

    def usage(self) -> dict[str, int]:
        self._advance(self.clock())
        return {
            "window_used": len(self._window),
            "daily_used": self._daily_used,
            "search_window_used": len(self._search_window),
        }
