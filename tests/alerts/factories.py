"""Small builders for alert-policy tests: candidates with sensible defaults, and a run loop that keeps a ledger."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from syncer.config.alerts import AlertPolicy
from syncer.core.alerts import Candidate, Decision, DedupeKey, LedgerEntry, Outcome, decide, record

# A Monday at noon in UTC (and in London, which is UTC in November): outside the default quiet hours.
NOON = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
KEEP = timedelta(days=8)


def candidate(
    account: str = "acc_1",
    *,
    rep: str | None = "U_DANA",
    firing: str = "f1",
    sync: str = "slack_pql",
    trigger: str = "hot",
    tier: str | None = "hot",
    priority: float | None = 80.0,
    trigger_priority: int = 1,
    zone: str | None = "Europe/London",
    fired_at: datetime | None = None,
    first_run: bool = False,
    rep_name: str | None = "dana.kim",
    no_owner_reason: str = "",
) -> Candidate:
    return Candidate(
        DedupeKey(sync, trigger, account, firing),
        rep,
        zone,
        tier,
        priority,
        trigger_priority,
        fired_at or NOON,
        first_run,
        rep_name if rep else None,
        no_owner_reason,
    )


class Run:
    """Calls ``decide`` again and again, feeding each call's decisions into the ledger the next one reads."""

    def __init__(self, policy: AlertPolicy | None = None) -> None:
        self.policy = policy or AlertPolicy()
        self.ledger: list[LedgerEntry] = []
        self.history: list[LedgerEntry] = []

    def __call__(self, candidates: Sequence[Candidate], now: datetime) -> list[Decision]:
        decisions = decide(candidates, self.ledger, self.policy, now)
        self.ledger.extend(record(decisions))
        self.history.extend(record(decisions))
        # Keep what the policy needs, as the control store will: a rolling week plus a day of slack.
        self.ledger = [e for e in self.ledger if e.at > now - KEEP]
        return decisions

    def sent(self, rep: str | None = None) -> list[LedgerEntry]:
        return [e for e in self.history if e.outcome is Outcome.SEND and (rep is None or e.rep == rep)]


def outcomes(decisions: Sequence[Decision]) -> dict[str, Outcome]:
    """Outcome per account (tests give each account one candidate)."""
    return {d.candidate.account: d.outcome for d in decisions}
