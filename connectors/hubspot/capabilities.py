"""What a HubSpot destination declares: batch sizes, limits and modes, as data; and the limits of its task calls."""

from __future__ import annotations

from connectors.hubspot.settings import HubSpotSettings
from syncer.contract.destination import CallLimit, Capabilities, EffectLimits, Operation, RatePolicy
from syncer.contract.enums import SyncMode

BATCH_MAX = 100  # every CRM v3 batch endpoint takes at most 100 inputs; more is a 400
OBJECTS = frozenset({"companies", "contacts", "deals"})
# A few calls in flight keep a 100-190 per 10 s budget busy without bursting into the rolling limit.
CONCURRENCY = 4
# The task destination's calls, by the names it gives its pacer (connectors/hubspot/tasks.py).
TASK_CALLS = frozenset(
    {
        "tasks.read",
        "tasks.create",
        "tasks.properties",
        "tasks.create_property",
        "companies.read",
        "owners.page",
        "associations.read",
    }
)
SEARCH_CALLS = frozenset({"tasks.search"})
SEARCH_RATE = RatePolicy(requests=5, window_s=1.0, concurrency=1)  # search's own limit, per portal


def capabilities(settings: HubSpotSettings) -> Capabilities:
    """Updates by id and upserts by a unique property are safe to repeat. A create follows a
    search that found no record, so a re-sent create finds the record the first send made; the one gap is HubSpot's
    search index, which lags writes by a few seconds."""
    return Capabilities(
        max_batch={op: BATCH_MAX for op in Operation},
        rate=RatePolicy(
            requests=settings.requests_per_10s, window_s=10.0, daily=settings.daily_limit, concurrency=CONCURRENCY
        ),
        modes=frozenset(SyncMode),
        objects=OBJECTS,
        adopts=True,  # a create is looked up by the adopt property (search) before it is made
        owner_field="hubspot_owner_id",
        reads_records=True,
    )


def effect_limits(settings: HubSpotSettings) -> EffectLimits:
    """Task calls count in the portal's rolling window as field writes do (one limiter for them all, one call at a
    time); search, the fallback for finding tasks, has its own five per second. Tasks are created 100 a call."""
    portal = RatePolicy(requests=settings.requests_per_10s, window_s=10.0, daily=settings.daily_limit, concurrency=1)
    return EffectLimits(
        (CallLimit("portal", portal, TASK_CALLS), CallLimit("search", SEARCH_RATE, SEARCH_CALLS)), task_batch=BATCH_MAX
    )
