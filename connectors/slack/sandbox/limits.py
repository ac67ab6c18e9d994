"""Slack's rate limits: per-method tiers per workspace, and chat.postMessage's per-channel allowance.

Slack documents its Web API limits as tiers of requests per minute per method per workspace (Tier 1 about 1,
Tier 2 about 20, Tier 3 about 50, Tier 4 about 100) and gives ``chat.postMessage`` a "special" limit of about one
message per second per channel with short bursts tolerated. Over a limit, Slack answers HTTP 429 with
``Retry-After: <seconds>`` (whole seconds). Every window here reads the emulator's injectable monotonic clock, so
tests move time forward instead of sleeping.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum


class Tier(IntEnum):
    """Slack's documented method tiers."""

    TIER_1 = 1
    TIER_2 = 2
    TIER_3 = 3
    TIER_4 = 4


# The tier of each emulated method, from the method reference pages ("Rate limits" on each page).
# chat.postMessage is "Special" and is handled by ChannelPostLimiter instead.
METHOD_TIERS: dict[str, Tier] = {
    "auth.test": Tier.TIER_4,
    "users.lookupByEmail": Tier.TIER_3,
    "users.info": Tier.TIER_3,
    "conversations.open": Tier.TIER_3,
    "conversations.history": Tier.TIER_3,
    "users.conversations": Tier.TIER_3,
    "conversations.members": Tier.TIER_4,
    "chat.update": Tier.TIER_3,
}


@dataclass(frozen=True)
class SlackLimits:
    """Rate and size limits of one emulated workspace; the defaults are Slack's documented values.

    Override ``method_tiers`` to model another mapping (for example conversations.history at Tier 1 for
    non-Marketplace commercially distributed apps since 2025; internal apps like syncer keep Tier 3).
    ``workspace_posts_per_minute`` models the workspace-wide cap on chat.postMessage that Slack describes only as
    "several hundred messages per minute"; it is off (``None``) unless a test sets a number.
    """

    tier_per_minute: dict[Tier, int] = field(
        default_factory=lambda: {
            Tier.TIER_1: 1,
            Tier.TIER_2: 20,
            Tier.TIER_3: 50,
            Tier.TIER_4: 100,
        }
    )
    method_tiers: dict[str, Tier] = field(default_factory=lambda: dict(METHOD_TIERS))
    window_seconds: float = 60.0
    channel_posts_per_second: float = 1.0
    channel_post_burst: int = 3
    workspace_posts_per_minute: int | None = None
    max_text_chars: int = 40_000
    # Slack's 2018 changelog truncates text over the limit (ok, warning ``message_truncated``); its method reference
    # lists ``msg_too_long`` and Slack's SDK maintainers report long text now being rejected. Reject by default.
    truncate_long_text: bool = False
    max_blocks: int = 50
    history_default_limit: int = 100
    history_max_limit: int = 999

    def __hash__(self) -> int:
        # The generated hash would fail on the dict fields; hash what equality compares.
        return hash(tuple(frozenset(v.items()) if isinstance(v, dict) else v for v in vars(self).values()))


def _whole_seconds(seconds: float) -> int:
    """Retry-After is whole seconds and never 0 while the limit still holds."""
    return max(1, math.ceil(seconds - 1e-9))


class SlidingWindowLimiter:
    """At most ``limit`` admitted calls per key in any ``window`` seconds (Slack's per-minute tiers)."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._calls: dict[str, deque[float]] = {}

    def acquire(self, key: str, limit: int, window: float) -> int | None:
        """Admit one call and return ``None``, or refuse it and return the Retry-After in whole seconds."""
        now = self._clock()
        calls = self._calls.setdefault(key, deque())
        while calls and calls[0] <= now - window:
            calls.popleft()
        if len(calls) >= limit:
            return _whole_seconds(calls[0] + window - now)
        calls.append(now)
        return None


class ChannelPostLimiter:
    """A token bucket per channel: ``rate`` posts per second on average, up to ``burst`` at once."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # channel -> (tokens, last refill time)

    def acquire(self, channel: str, rate: float, burst: int) -> int | None:
        """Take a token for ``channel`` and return ``None``, or return the Retry-After in whole seconds."""
        now = self._clock()
        tokens, last = self._buckets.get(channel, (float(burst), now))
        tokens = min(float(burst), tokens + (now - last) * rate)
        if tokens < 1.0:
            self._buckets[channel] = (tokens, now)
            return _whole_seconds((1.0 - tokens) / rate)
        self._buckets[channel] = (tokens - 1.0, now)
        return None


class RateLimits:
    """Every limiter of one workspace, configured by :class:`SlackLimits`."""

    def __init__(self, limits: SlackLimits, clock: Callable[[], float]) -> None:
        self.limits = limits
        self._methods = SlidingWindowLimiter(clock)
        self._workspace_posts = SlidingWindowLimiter(clock)
        self._channels = ChannelPostLimiter(clock)

    def method(self, method: str) -> int | None:
        """Charge one call of a tiered method; ``None`` when admitted, else Retry-After seconds."""
        tier = self.limits.method_tiers.get(method)
        if tier is None:
            return None
        per_minute = self.limits.tier_per_minute[tier]
        return self._methods.acquire(method, per_minute, self.limits.window_seconds)

    def post(self, channel: str) -> int | None:
        """Charge one chat.postMessage to ``channel``; ``None`` when admitted, else Retry-After seconds."""
        cap = self.limits.workspace_posts_per_minute
        if cap is not None:
            retry = self._workspace_posts.acquire("chat.postMessage", cap, self.limits.window_seconds)
            if retry is not None:
                return retry
        return self._channels.acquire(channel, self.limits.channel_posts_per_second, self.limits.channel_post_burst)
