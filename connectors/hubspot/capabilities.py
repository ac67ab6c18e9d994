"""What a HubSpot destination declares: batch sizes, limits and modes, as data."""

from __future__ import annotations

from connectors.hubspot.settings import HubSpotSettings
from syncer.contract.destination import Capabilities, Operation, RatePolicy
from syncer.contract.enums import SyncMode

BATCH_MAX = 100  # every CRM v3 batch endpoint takes at most 100 inputs; more is a 400
OBJECTS = frozenset({"companies", "contacts", "deals"})
# A few calls in flight keep a 100-190 per 10 s budget busy without bursting into the rolling limit.
CONCURRENCY = 4


def capabilities(settings: HubSpotSettings) -> Capabilities:
    """Updates by id and upserts by a unique property are safe to repeat. A create follows a
    search that found no record, so a re-sent create finds the record the first send made; the one gap is HubSpot's
    search index, which lags writes by a few seconds."""
    return Capabilities(
        max_batch={op: BATCH_MAX for op in Operation},
        rate=RatePolicy(requests=settings.requests_per_10s, window_s=10.0, daily=settings.daily_limit,
                        concurrency=CONCURRENCY),
        modes=frozenset(SyncMode),
        objects=OBJECTS,
    )
