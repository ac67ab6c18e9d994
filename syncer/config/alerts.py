"""The alert policy as RevOps write it under ``alerts:`` in ``syncer.yaml``.

Reps given 40 alerts a week triage by recency and ignore quality; the guidance is 5 to 15 actionable signals per rep
per week. The policy enforces that with caps, a priority order, cooldowns, quiet hours and a daily digest::

    alerts:
      caps: {per_day: 3, per_week: 15}
      priority_column: pql_score      # higher first, then the trigger's priority (1 most urgent)
      tier_column: pql_tier
      tiers: [cold, warm, hot]        # ordered; a move up breaks the cooldown
      cooldown_days: 7
      quiet_hours: {start: "20:00", end: "08:00"}   # in the rep's own time zone; null turns them off
      overflow: digest                # or drop
      first_run: skip                 # or cap
      fallback_channel: "#pql-triage"
      triggers:
        expansion_signal:             # a trigger name, or sync.trigger to pick one sync's trigger
          caps: {per_day: 1, per_week: 3}
          quiet_hours: null

A trigger's ``caps`` are a narrower budget for that trigger's alerts (counted over that trigger only) inside the rep's
budget, which counts every alert of every sync and trigger: an override can narrow a rep's load, never widen it.
"""

from __future__ import annotations

from datetime import time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OverflowPolicy(StrEnum):
    """What happens to an alert that does not fit a rep's caps."""

    DIGEST = "digest"  # grouped into one digest per rep per local day, sent the next morning
    DROP = "drop"  # recorded as capped and not delivered


class FirstRunPolicy(StrEnum):
    """What the first run of a new sync does with its alerts (every row is 'new' on a first run)."""

    SKIP = "skip"  # alert nobody, record the decisions
    CAP = "cap"  # treat them as ordinary alerts under the caps


class Caps(_Strict):
    """Alerts per rep per local calendar day and per rolling 7 days (any 7-day (168 h) window)."""

    per_day: int = Field(3, ge=0)
    per_week: int = Field(15, ge=0)

    @model_validator(mode="after")
    def _day_within_week(self) -> Caps:
        if self.per_day > self.per_week:
            raise ValueError(f"per_day ({self.per_day}) cannot exceed per_week ({self.per_week})")
        return self


class QuietHours(_Strict):
    """Local times between which nothing is sent; ``start`` after ``end`` spans midnight (20:00 to 08:00)."""

    start: time = time(20, 0)
    end: time = time(8, 0)

    @model_validator(mode="after")
    def _not_empty(self) -> QuietHours:
        if self.start == self.end:
            raise ValueError("start and end are equal; write 'quiet_hours: null' to turn quiet hours off")
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("give local times without an offset; the rep's time zone applies")
        return self

    def contains(self, local: time) -> bool:
        """Whether a local wall-clock time falls in the quiet period (start inclusive, end exclusive)."""
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end


class TriggerRules(_Strict):
    """Per-trigger overrides; a field left out keeps the policy's value (``quiet_hours: null`` turns them off)."""

    caps: Caps | None = None
    priority_column: str | None = None
    cooldown_days: float | None = Field(None, ge=0)
    quiet_hours: QuietHours | None = None
    overflow: OverflowPolicy | None = None
    first_run: FirstRunPolicy | None = None


class Rules(_Strict):
    """The rules that apply to one trigger's alerts: the policy's values with that trigger's overrides applied."""

    caps: Caps
    trigger_caps: Caps | None
    priority_column: str | None
    cooldown: timedelta
    quiet_hours: QuietHours | None
    overflow: OverflowPolicy
    first_run: FirstRunPolicy


class AlertPolicy(_Strict):
    """The ``alerts:`` section of ``syncer.yaml``."""

    caps: Caps = Caps()
    priority_column: str | None = Field("pql_score", description="Model column ranking alerts, higher first.")
    tier_column: str | None = Field("pql_tier", description="Model column holding the account's tier.")
    tiers: list[str] = Field(default_factory=lambda: ["cold", "warm", "hot"], description="Lowest to highest.")
    cooldown_days: float = Field(7, ge=0, description="Per rep and account; broken only by a higher tier.")
    quiet_hours: QuietHours | None = QuietHours()
    default_time_zone: str = Field("UTC", description="IANA zone for reps whose own zone is unknown.")
    overflow: OverflowPolicy = OverflowPolicy.DIGEST
    first_run: FirstRunPolicy = FirstRunPolicy.SKIP
    fallback_channel: str | None = Field(None, description="Where alerts go whose owner cannot be resolved.")
    expire_after_hours: float = Field(48, gt=0, description="Intent fades in 1-2 days: older alerts are dropped.")
    triggers: dict[str, TriggerRules] = Field(default_factory=dict)

    @field_validator("tiers")
    @classmethod
    def _distinct_tiers(cls, tiers: list[str]) -> list[str]:
        if len(set(tiers)) != len(tiers):
            raise ValueError("tiers must be distinct")
        return tiers

    @field_validator("default_time_zone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        if not is_time_zone(name):
            raise ValueError(f"'{name}' is not an IANA time zone (e.g. 'Europe/Berlin')")
        return name

    @model_validator(mode="after")
    def _narrow_caps(self) -> AlertPolicy:
        for name, rules in self.triggers.items():
            if rules.caps is None:
                continue
            if rules.caps.per_day > self.caps.per_day or rules.caps.per_week > self.caps.per_week:
                raise ValueError(
                    f"triggers.{name}.caps can only narrow the rep's caps "
                    f"({self.caps.per_day}/day, {self.caps.per_week}/week)"
                )
        return self

    def tier_rank(self, tier: str | None) -> int:
        """Position of ``tier`` in ``tiers`` (higher is hotter); -1 for no tier or one the list does not name."""
        return self.tiers.index(tier) if tier in self.tiers else -1

    def rules_for(self, sync: str, trigger: str) -> Rules:
        """The effective rules of ``sync``'s ``trigger``: ``sync.trigger`` overrides win over ``trigger`` ones."""
        override = self.triggers.get(f"{sync}.{trigger}") or self.triggers.get(trigger)
        chosen: dict[str, Any] = {}
        if override is not None:
            chosen = {name: getattr(override, name) for name in override.model_fields_set}
        cooldown_days = chosen.get("cooldown_days")
        if cooldown_days is None:
            cooldown_days = self.cooldown_days
        return Rules(
            caps=self.caps,
            trigger_caps=chosen.get("caps"),
            priority_column=chosen.get("priority_column", self.priority_column),
            cooldown=timedelta(days=cooldown_days),
            quiet_hours=chosen.get("quiet_hours", self.quiet_hours),
            overflow=chosen.get("overflow") or self.overflow,
            first_run=chosen.get("first_run") or self.first_run,
        )


def is_time_zone(name: str) -> bool:
    """Whether ``name`` is an IANA time zone this machine knows."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True
