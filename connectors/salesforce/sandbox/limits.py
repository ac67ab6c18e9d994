"""The org's limits: the rolling 24-hour API request allocation and the numbers ``GET /limits`` reports.

Salesforce counts every REST, Composite and Bulk API 2.0 request against a per-org allocation over a rolling
24 hours (100,000 plus per-licence extras on Enterprise Edition). Each reply reports the usage in
``Sforce-Limit-Info: api-usage=USED/TOTAL``; once the allocation is spent requests fail with HTTP 403
``REQUEST_LIMIT_EXCEEDED`` (not 429, and without Retry-After) until old requests age out of the window.
All windows run on the emulator's injectable clock.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class SalesforceLimits:
    """Per-emulator limits; the defaults are a real Enterprise org's.

    ``bulk_processing_seconds`` is how long (on the emulator clock) an ingest job stays ``InProgress`` after
    ``UploadComplete`` before its records are applied; 0 finishes it at the next look.
    """

    daily_api_requests: int = 100_000
    window_seconds: float = 86_400.0
    collection_max_records: int = 200
    query_batch_size: int = 2_000
    query_min_batch_size: int = 200
    query_locator_idle_seconds: float = 900.0
    bulk_max_upload_bytes: int = 150 * 1024 * 1024
    bulk_batches_per_day: int = 15_000
    bulk_records_per_internal_batch: int = 10_000
    bulk_processing_seconds: float = 0.0
    bulk_query_jobs_per_day: int = 10_000
    data_storage_mb: int = 5_120


class RollingCounter:
    """Events in a rolling window: ``add`` records events at a time, ``used`` counts those still inside it."""

    def __init__(self, window_seconds: float) -> None:
        self.window = window_seconds
        self._events: deque[tuple[float, int]] = deque()
        self._total = 0

    def _expire(self, now: float) -> None:
        while self._events and self._events[0][0] <= now - self.window:
            self._total -= self._events.popleft()[1]

    def used(self, now: float) -> int:
        self._expire(now)
        return self._total

    def add(self, now: float, count: int = 1) -> None:
        self._expire(now)
        if self._events and self._events[-1][0] == now:
            # Coalesce same-instant events so a frozen test clock does not grow the deque without bound.
            at, previous = self._events.pop()
            self._events.append((at, previous + count))
        else:
            self._events.append((now, count))
        self._total += count

    def clear(self) -> None:
        self._events.clear()
        self._total = 0


class OrgLimits:
    """The usage counters behind ``Sforce-Limit-Info`` and ``GET /limits``."""

    def __init__(self, limits: SalesforceLimits) -> None:
        self.limits = limits
        self.api_requests = RollingCounter(limits.window_seconds)
        self.bulk_batches = RollingCounter(limits.window_seconds)

    def try_request(self, now: float) -> bool:
        """Count one API request; False (and nothing counted) when the allocation is spent."""
        if self.api_requests.used(now) >= self.limits.daily_api_requests:
            return False
        self.api_requests.add(now)
        return True

    def usage_header(self, now: float, *, spent: bool = False) -> str:
        """``api-usage=USED/TOTAL``; ``spent`` reports at least the whole allocation (a limit reply)."""
        used = self.api_requests.used(now)
        if spent:
            used = max(used, self.limits.daily_api_requests)
        return f"api-usage={used}/{self.limits.daily_api_requests}"

    def report(self, now: float) -> dict[str, dict[str, int]]:
        """The body of ``GET /limits`` (the subset of a real org's entries that the sandbox tracks)."""
        lim = self.limits

        def entry(maximum: int, used: int = 0) -> dict[str, int]:
            return {"Max": maximum, "Remaining": max(0, maximum - used)}

        return {
            "DailyApiRequests": entry(lim.daily_api_requests, self.api_requests.used(now)),
            "DailyBulkApiBatches": entry(lim.bulk_batches_per_day, self.bulk_batches.used(now)),
            "DailyBulkV2QueryJobs": entry(lim.bulk_query_jobs_per_day),
            "DailyBulkV2QueryFileStorageMB": entry(976_562),
            "DailyAsyncApexExecutions": entry(250_000),
            "DataStorageMB": entry(lim.data_storage_mb),
            "FileStorageMB": entry(lim.data_storage_mb),
            "SingleEmail": entry(5_000),
            "HourlyTimeBasedWorkflow": entry(1_000),
        }
