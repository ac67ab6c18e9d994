"""What a webhook destination declares: its batch size and pace come from its settings, not from a vendor."""

from __future__ import annotations

from connectors.webhook.settings import WebhookSettings
from syncer.contract.destination import Capabilities, Operation, RatePolicy
from syncer.contract.enums import SyncMode


def rate_policy(requests_per_second: float) -> RatePolicy:
    """``requests_per_second`` as whole requests per window: a 1 s window for whole rates (10 -> 10 per 1 s);
    otherwise the window that keeps the rate exact with a whole count (2.5 -> 2 per 0.8 s, 0.5 -> 1 per 2 s)."""
    if requests_per_second >= 1 and requests_per_second == int(requests_per_second):
        return RatePolicy(requests=int(requests_per_second), window_s=1.0)
    requests = max(1, round(requests_per_second))
    return RatePolicy(requests=requests, window_s=requests / requests_per_second)


def capabilities(settings: WebhookSettings) -> Capabilities:
    """Every operation in batches of ``batch_size``; any object and mode (the receiver decides what they mean).

    Repeating a write is safe: every batch carries an ``Idempotency-Key`` derived from its content (and the run), so
    a batch re-sent within a run can be recognised; across runs, and for a receiver that ignores the key, records by
    ``key`` must be treated as upserts.
    """
    return Capabilities(
        max_batch={op: settings.batch_size for op in Operation},
        rate=rate_policy(settings.requests_per_second),
        modes=frozenset(SyncMode),
        objects=None,
        has_schema=False,  # a receiver takes any fields: a run's preflight would only post it an empty batch
    )
