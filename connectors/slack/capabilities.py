"""How fast the Slack alert channel may call Slack, as data for the engine's pacer (:mod:`syncer.delivery.pacer`).

Slack limits its Web API per method per workspace in tiers of requests per minute, and gives ``chat.postMessage`` a
limit of its own (api.slack.com, "Rate limits"):

- ``chat.postMessage``: "generally" one message per second per channel, "short bursts" above that tolerated. The
  burst size is not documented, so syncer paces at the sustained rate and leaves the tolerance as slack for clock
  skew between us and Slack: one post per channel per second, one at a time. A limiter per channel
  (``per_scope``): DMs are channels of their own, so alerts to different reps do not wait on each other.
- ``users.lookupByEmail``, ``users.info``, ``users.conversations``, ``conversations.open`` and
  ``conversations.history``: Tier 3, "about 50 per minute" each, counted per method (one limiter per method in
  :data:`LOOKUP_METHODS`). conversations.history is Tier 3 for internal apps like syncer; commercially distributed
  non-Marketplace apps were moved to Tier 1 in 2025. ``conversations.members`` (Tier 4) and ``chat.update``
  (Tier 3), which a feedback press calls, are paced as lookups when paced at all.

Over either, Slack answers 429 with ``Retry-After``, which the connector raises as
:class:`~syncer.contract.errors.RateLimitedError` for the pacer to wait out. The channel keeps one DM cache and
one lookup cache per instance, so it is used from one thread: ``concurrency`` is 1.
"""

from __future__ import annotations

from connectors.slack.settings import SlackSettings
from syncer.contract.destination import CallLimit, Capabilities, EffectLimits, RatePolicy
from syncer.contract.enums import SyncMode

POSTS_PER_CHANNEL = RatePolicy(requests=1, window_s=1.0, concurrency=1)
TIER_3 = RatePolicy(requests=50, window_s=60.0, concurrency=1)

POST_METHOD = "chat.postMessage"
LOOKUP_METHODS = frozenset(
    {
        "users.lookupByEmail",
        "users.info",
        "users.conversations",
        "conversations.open",
        "conversations.history",
        "conversations.members",
        "chat.update",
    }
)

LIMITS = EffectLimits(
    (
        CallLimit(POST_METHOD, POSTS_PER_CHANNEL, frozenset({POST_METHOD}), per_scope=True),
        *(CallLimit(method, TIER_3, frozenset({method})) for method in sorted(LOOKUP_METHODS)),
    )
)


def capabilities(settings: SlackSettings) -> Capabilities:
    """What a sync with a Slack destination may target: ``object: alerts`` in mode ``upsert``, no field writes (no
    operation has a batch size: the engine opens no destination for Slack, only its alert channel)."""
    del settings  # the same for every workspace
    return Capabilities(
        max_batch={}, rate=POSTS_PER_CHANNEL, modes=frozenset({SyncMode.UPSERT}), objects=frozenset({"alerts"})
    )
