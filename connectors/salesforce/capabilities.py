"""What a Salesforce destination declares: batch sizes, pacing, modes.

sObject Collections take at most 200 records of one type per request; a run with at least ``bulk_threshold``
records of one operation goes through Bulk API 2.0 in batches of 10,000 (one job each). Salesforce has no
per-second request limit, only a rolling 24-hour allocation per org that every reply reports in
``Sforce-Limit-Info``: so the declared rate is generous, ``daily`` is left to the replies (the allocation differs
per org and is shared with other integrations), and ``concurrency`` is 1 because one client session serves the
destination (a re-login replaces it).
"""

from __future__ import annotations

from connectors.salesforce.settings import SalesforceSettings
from syncer.contract.destination import CallLimit, Capabilities, EffectLimits, Operation, RatePolicy
from syncer.contract.enums import SyncMode

COLLECTION_MAX = 200
BULK_BATCH = 10_000
RATE = RatePolicy(requests=25, window_s=1.0, daily=None, concurrency=1)
# The task destination's calls, by the names it gives its pacer (connectors/salesforce/tasks.py): all count against
# the one org allocation, so one limiter paces them.
TASK_CALLS = frozenset({"query", "insert", "describe"})
EFFECT_LIMITS = EffectLimits((CallLimit("org", RATE, TASK_CALLS),), task_batch=COLLECTION_MAX)


def capabilities(settings: SalesforceSettings) -> Capabilities:
    return Capabilities(
        max_batch=dict.fromkeys(Operation, COLLECTION_MAX),
        rate=RATE,
        modes=frozenset(SyncMode),
        objects=None,  # Account, Lead and Contact are the usual; any object the org has may be named
        bulk_threshold=settings.bulk_threshold,
        bulk_batch=BULK_BATCH,
        adopts=True,  # a create is looked up by the adopt field (SOQL) before it is upserted
        owner_field="OwnerId",
        reads_records=True,
    )
