"""Delivery errors, grouped by what the executor does about them.

::

    DeliveryError
    ├── TransientError         back off with jitter and retry (5xx, timeouts, dropped connections)
    ├── RateLimitedError       wait (``retry_after`` when the vendor said), retry; never counts as a failed attempt
    ├── BatchRejectedError     the vendor refused the batch as a whole (a 400): split it to isolate the bad records
    └── DestinationStoppedError stop this destination for the run; its rows stay pending (daily limit spent,
                               credentials revoked, a misconfigured object)

Record-level refusals are not exceptions: they are :class:`syncer.contract.destination.RecordResult` values.
Each connector maps its vendor's codes onto these in one table (``connectors/<vendor>/errors.py``).
"""

from __future__ import annotations


class DeliveryError(Exception):
    """A failure of a whole batch. ``code`` is the vendor's code when it gave one."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class TransientError(DeliveryError):
    """May pass on its own: retry after a backoff."""


class RateLimitedError(DeliveryError):
    """The vendor asked us to slow down. ``retry_after`` seconds when it said (Retry-After, a window's length)."""

    def __init__(self, message: str, retry_after: float | None = None, code: str | None = None) -> None:
        super().__init__(message, code)
        self.retry_after = retry_after


class BatchRejectedError(DeliveryError):
    """The batch was refused as a whole for something in its records; single records get their own results."""


class DestinationStoppedError(DeliveryError):
    """Nothing more can be sent to this destination in this run (the reason says why and what to do)."""
