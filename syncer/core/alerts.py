"""The alert policy as a pure function: which alert candidates reach which rep, now, later, in a digest or never.

``decide(candidates, ledger, policy, now)`` reads no clock or store: ``now`` and the ledger (what was decided
before) are arguments, and ``record(decisions)`` turns decisions into the ledger entries the next call reads.

Each candidate meets these rules in this order; the first that applies decides:

1. ``DROPPED``: its dedupe key was already decided (anything but a deferral), or it fired longer ago than the
   policy's ``expire_after_hours`` (buying intent fades within a day or two).
2. ``FIRST_RUN_SKIPPED``: it comes from a sync's first run and the first-run policy is ``skip``.
3. ``SNOOZED``: the rep pressed "Snooze 7 days" on an alert about this account and the snooze still runs (a
   ledger entry with outcome ``SNOOZED`` and ``not_before`` = its end; no escalation breaks it, the rep asked).
   ``COOLDOWN``: the same recipient heard about the same account (sent, digested or sent to the fallback channel)
   within the cooldown, and its tier is not higher than the tier they heard about.
4. ``NO_OWNER``: its owner could not be resolved; it goes to the fallback channel (if any). No caps apply there.
5. ``DEFER_QUIET_HOURS``: it is quiet time in the rep's zone; ``not_before`` says when it becomes sendable. The
   caller offers it again then, and only a send counts against the caps.
6. ``CAPPED_DAY`` / ``CAPPED_WEEK`` (overflow ``drop``) or ``DIGEST`` (overflow ``digest``): the rep's caps, or
   the trigger's narrower caps, are full. A day is the rep's local calendar day; a week is any rolling 7-day (168 h)
   window ending now. Digested alerts of one rep and local day share a ``digest_key`` and one digest message,
   sendable at the first non-quiet moment of the rep's next day.
7. ``SEND``.

When a batch holds more candidates than a rep has room for, the highest priority wins: priority value descending
(none last), then trigger priority ascending (1 is most urgent), then account key, so the result depends on the
set of candidates and not on their order. Decisions inside one batch count as the ledger for the rest of it.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import InitVar, dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from urllib.parse import quote, unquote
from zoneinfo import ZoneInfo

from syncer.config.alerts import AlertPolicy, FirstRunPolicy, OverflowPolicy, QuietHours, Rules, is_time_zone
from syncer.contract.clock import utc_text

WEEK = timedelta(days=7)


class Outcome(StrEnum):
    SEND = "send"
    DEFER_QUIET_HOURS = "defer_quiet_hours"
    CAPPED_DAY = "capped_day"
    CAPPED_WEEK = "capped_week"
    COOLDOWN = "cooldown"
    SNOOZED = "snoozed"
    DIGEST = "digest"
    DROPPED = "dropped"
    FIRST_RUN_SKIPPED = "first_run_skipped"
    NO_OWNER = "no_owner"


_INFORMED = frozenset({Outcome.SEND, Outcome.DIGEST, Outcome.NO_OWNER})  # the recipient heard about the account


@dataclass(frozen=True, order=True)
class DedupeKey:
    """Identifies one firing of one trigger for one account; the outbox and the posted message's metadata carry it."""

    sync: str
    trigger: str
    account: str
    firing: str

    def token(self) -> str:
        """A compact, reversible text form (each part percent-encoded, joined by ``:``)."""
        return ":".join(quote(part, safe="") for part in (self.sync, self.trigger, self.account, self.firing))

    @classmethod
    def parse(cls, token: str) -> DedupeKey:
        """Inverse of :meth:`token`; raises ``ValueError`` on anything else."""
        parts = token.split(":")
        if len(parts) != 4 or not all(parts):
            raise ValueError(f"not a dedupe key: {token[:80]!r}")
        sync, trigger, account, firing = (unquote(part) for part in parts)
        return cls(sync, trigger, account, firing)


@dataclass(frozen=True)
class Candidate:
    """An alert a trigger wants to send. ``rep`` is the resolved recipient id, or None with ``no_owner_reason``."""

    key: DedupeKey
    rep: str | None
    rep_time_zone: str | None
    tier: str | None
    priority: float | None
    trigger_priority: int
    fired_at: datetime
    is_first_run: bool = False
    rep_name: str | None = None
    no_owner_reason: str = ""

    @property
    def account(self) -> str:
        return self.key.account

    @property
    def label(self) -> str:
        """How reasons name the rep."""
        return self.rep_name or self.rep or "nobody"


@dataclass(frozen=True)
class Decision:
    candidate: Candidate
    outcome: Outcome
    reason: str
    decided_at: datetime
    not_before: datetime | None = None  # DEFER: when it becomes sendable; DIGEST: when the digest goes out
    digest_key: str | None = None  # DIGEST: the rep and local day whose digest this joins
    channel: str | None = None  # NO_OWNER: the fallback channel, if one is configured


@dataclass(frozen=True)
class LedgerEntry:
    """One past decision as the policy needs it: callers keep at least the last max(7 days, cooldown)."""

    key: DedupeKey
    rep: str | None
    outcome: Outcome
    at: datetime
    tier: str | None
    not_before: datetime | None = None  # a deferral is due again then; a digest goes out then
    digest_key: str | None = None


def record(decisions: Iterable[Decision]) -> list[LedgerEntry]:
    """The ledger entries that ``decisions`` add (a send counts at the time it was decided)."""
    return [
        LedgerEntry(
            d.candidate.key, d.candidate.rep, d.outcome, d.decided_at, d.candidate.tier, d.not_before, d.digest_key
        )
        for d in decisions
    ]


def rank(candidate: Candidate) -> tuple[object, ...]:
    """Sort key, most deserving first; a total order over every field, so ties never depend on input order."""
    value = candidate.priority
    missing = value is None or math.isnan(value)
    return (
        missing,
        0.0 if missing or value is None else -value,
        candidate.trigger_priority,
        candidate.account,
        candidate.key,
        candidate.rep or "",
        candidate.rep_time_zone or "",
        candidate.tier or "",
        candidate.fired_at,
        candidate.is_first_run,
        candidate.rep_name or "",
        candidate.no_owner_reason,
    )


def decide(
    candidates: Sequence[Candidate], ledger: Iterable[LedgerEntry], policy: AlertPolicy, now: datetime
) -> list[Decision]:
    """Decide every candidate (see the module docstring); decisions come back in :func:`rank` order."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if not candidates:
        return []
    # Index only what these candidates can meet: their reps' entries and their own keys.
    reps = {c.rep for c in candidates}
    keys = {c.key for c in candidates}
    state = _State(policy, now, [e for e in ledger if e.rep in reps or e.key in keys])
    return [state.decide(candidate) for candidate in sorted(candidates, key=rank)]


def zone_of(candidate: Candidate, policy: AlertPolicy) -> tzinfo:
    """The rep's zone, or the policy's default when unknown or not an IANA name."""
    name = candidate.rep_time_zone
    return ZoneInfo(name if name and is_time_zone(name) else policy.default_time_zone)


def quiet_until(quiet: QuietHours, zone: tzinfo, now: datetime) -> datetime | None:
    """When the quiet period around ``now`` ends (UTC), or None when ``now`` is not quiet."""
    local = now.astimezone(zone)
    if not quiet.contains(local.time().replace(tzinfo=None)):
        return None
    end = datetime.combine(local.date(), quiet.end, tzinfo=zone)
    if end <= local:
        end = datetime.combine(local.date() + timedelta(days=1), quiet.end, tzinfo=zone)
    return end.astimezone(now.tzinfo)


def digest_time(day: date, quiet: QuietHours | None, zone: tzinfo) -> datetime:
    """The digest of local ``day`` goes out at the first moment of the next day outside quiet hours."""
    starts = quiet.end if quiet is not None and quiet.contains(time(0)) else time(0)
    return datetime.combine(day + timedelta(days=1), starts, tzinfo=zone)


@dataclass
class _State:
    """The ledger indexed for one ``decide`` call, updated with each decision so a batch sees its own sends."""

    policy: AlertPolicy
    now: datetime
    entries: InitVar[list[LedgerEntry]]
    final: dict[DedupeKey, LedgerEntry] = field(default_factory=dict)
    sends: dict[str | None, list[LedgerEntry]] = field(default_factory=lambda: defaultdict(list))
    informed: dict[tuple[str | None, str], list[LedgerEntry]] = field(default_factory=lambda: defaultdict(list))
    snoozed: dict[tuple[str | None, str], datetime] = field(default_factory=dict)

    def __post_init__(self, entries: list[LedgerEntry]) -> None:
        for entry in entries:
            self._add(entry)

    def _add(self, entry: LedgerEntry) -> None:
        if entry.outcome is Outcome.SNOOZED and entry.not_before is not None:  # a rep's press, not a decision
            pair = (entry.rep, entry.key.account)
            self.snoozed[pair] = max(entry.not_before, self.snoozed.get(pair, entry.not_before))
            return
        if entry.outcome is not Outcome.DEFER_QUIET_HOURS:
            known = self.final.get(entry.key)
            if known is None or _first(entry) < _first(known):  # the same answer whatever the ledger's order
                self.final[entry.key] = entry
        if entry.outcome is Outcome.SEND:
            self.sends[entry.rep].append(entry)
        if entry.outcome in _INFORMED:
            self.informed[(entry.rep, entry.key.account)].append(entry)

    def decide(self, candidate: Candidate) -> Decision:
        decision = self._rules(candidate, self.policy.rules_for(candidate.key.sync, candidate.key.trigger))
        self._add(record([decision])[0])
        return decision

    def _decision(
        self,
        candidate: Candidate,
        outcome: Outcome,
        reason: str,
        not_before: datetime | None = None,
        digest_key: str | None = None,
        channel: str | None = None,
    ) -> Decision:
        return Decision(candidate, outcome, reason, self.now, not_before, digest_key, channel)

    def _rules(self, c: Candidate, rules: Rules) -> Decision:
        earlier = self.final.get(c.key)
        if earlier is not None:
            return self._decision(
                c, Outcome.DROPPED, f"already decided: {earlier.outcome.value} at {utc_text(earlier.at)}"
            )
        age = self.now - c.fired_at
        if age > timedelta(hours=self.policy.expire_after_hours):
            return self._decision(
                c,
                Outcome.DROPPED,
                f"fired {_hours(age)} ago; alerts older than {self.policy.expire_after_hours:g} h are stale",
            )
        if c.is_first_run and rules.first_run is FirstRunPolicy.SKIP:
            return self._decision(c, Outcome.FIRST_RUN_SKIPPED, "first run of the sync: recorded, nobody alerted")
        until = self.snoozed.get((c.rep, c.account))
        if until is not None and until > self.now:
            return self._decision(c, Outcome.SNOOZED, f"{c.label} snoozed {c.account} until {utc_text(until)}")
        cooling = self._cooldown(c, rules)
        if cooling is not None:
            return self._decision(c, Outcome.COOLDOWN, cooling)
        if c.rep is None:
            channel = self.policy.fallback_channel
            where = f"sent to {channel}" if channel else "no fallback channel configured, not sent"
            return self._decision(
                c, Outcome.NO_OWNER, f"no owner ({c.no_owner_reason or 'unresolved'}); {where}", channel=channel
            )
        zone = zone_of(c, self.policy)
        if rules.quiet_hours is not None:
            until = quiet_until(rules.quiet_hours, zone, self.now)
            if until is not None:
                local = until.astimezone(zone)
                return self._decision(
                    c,
                    Outcome.DEFER_QUIET_HOURS,
                    f"quiet hours for {c.label} until {local:%Y-%m-%d %H:%M} {zone}",
                    not_before=until,
                )
        full = self._full(c, rules, zone)
        if full is None:
            return self._decision(c, Outcome.SEND, f"sent to {c.label}")
        outcome, reason = full
        if rules.overflow is OverflowPolicy.DROP:
            return self._decision(c, outcome, reason)
        day = self.now.astimezone(zone).date()
        at = digest_time(day, rules.quiet_hours, zone)
        return self._decision(
            c,
            Outcome.DIGEST,
            f"{reason}; in the digest for {day}, sent {at:%Y-%m-%d %H:%M} {zone}",
            not_before=at.astimezone(self.now.tzinfo),
            digest_key=f"{c.rep}/{day.isoformat()}",
        )

    def _cooldown(self, c: Candidate, rules: Rules) -> str | None:
        since = self.now - rules.cooldown
        recent = [e for e in self.informed[(c.rep, c.account)] if e.at > since]
        if not recent:
            return None
        top = max(recent, key=lambda e: (self.policy.tier_rank(e.tier), e.at))
        if self.policy.tier_rank(c.tier) > self.policy.tier_rank(top.tier):
            return None  # escalation to a higher tier breaks the cooldown
        last = max(e.at for e in recent)
        return (
            f"{c.label} heard about {c.account} {_hours(self.now - last)} ago (tier {top.tier or 'none'}); "
            f"cooldown {_days(rules.cooldown)}, broken only by a tier above {top.tier or 'none'}"
        )

    def _full(self, c: Candidate, rules: Rules, zone: tzinfo) -> tuple[Outcome, str] | None:
        """Which cap is full for ``c``, with the reason, or None when there is room."""
        today = self.now.astimezone(zone).date()
        week_start = self.now - WEEK
        sends = self.sends[c.rep]
        scopes = [("", sends, rules.caps)]
        if rules.trigger_caps is not None:
            own = [e for e in sends if (e.key.sync, e.key.trigger) == (c.key.sync, c.key.trigger)]
            scopes.append((f" by trigger {c.key.trigger}", own, rules.trigger_caps))
        for scope, entries, caps in scopes:
            day_count = sum(1 for e in entries if e.at.astimezone(zone).date() == today)
            if day_count >= caps.per_day:
                return Outcome.CAPPED_DAY, (
                    f"{day_count} of {caps.per_day} alerts{scope} today ({today}, {zone}) already sent to {c.label}"
                )
            week_count = sum(1 for e in entries if e.at > week_start)
            if week_count >= caps.per_week:
                return Outcome.CAPPED_WEEK, (
                    f"{week_count} of {caps.per_week} alerts{scope} in the last 7 days already sent to {c.label}"
                )
        return None


def _first(entry: LedgerEntry) -> tuple[datetime, bool, str]:
    return entry.at, entry.outcome not in _INFORMED, entry.outcome.value


def _hours(span: timedelta) -> str:
    hours = span.total_seconds() / 3600
    return f"{hours:.0f} h" if hours < 48 else f"{hours / 24:.1f} days"


def _days(span: timedelta) -> str:
    return f"{span.total_seconds() / 86400:g} days"
