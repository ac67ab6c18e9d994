"""``syncer alerts``: per rep, what was sent, what was held back (by reason) and what the rep answered.

Read from the control store (the ledger and the outbox), the same source as the alert log in the warehouse.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from syncer.effects.payloads import payload_of
from syncer.state.base import StateStore

SENT = "send"
HELD_NO_OWNER = "held, no owner"  # the error of a task held for want of an active owner (syncer.effects.send)
HELD_BACK = ("capped_day", "capped_week", "cooldown", "snoozed", "first_run_skipped", "dropped")


@dataclass
class RepSummary:
    rep: str  # the owner's e-mail (or the chat member id, or "nobody")
    sent: int = 0
    digested: int = 0
    deferred: int = 0
    no_owner: int = 0
    suppressed: Counter[str] = field(default_factory=Counter)
    feedback: Counter[str] = field(default_factory=Counter)
    tasks: int = 0
    tasks_held: Counter[str] = field(default_factory=Counter)  # pending tasks no active user may own, by reason

    def as_dict(self) -> dict[str, Any]:
        return {
            "rep": self.rep,
            "sent": self.sent,
            "digested": self.digested,
            "deferred": self.deferred,
            "no_owner": self.no_owner,
            "suppressed": dict(sorted(self.suppressed.items())),
            "feedback": dict(sorted(self.feedback.items())),
            "tasks_created": self.tasks,
            "tasks_held": dict(sorted(self.tasks_held.items())),
        }


def alert_summary(store: StateStore, since: datetime) -> list[RepSummary]:
    """One summary per rep of the decisions made since ``since`` (a deferral counts until it is decided again)."""
    outbox = {r.dedupe_key: r for r in store.outbox.all()}
    reps: dict[str, RepSummary] = {}
    latest_deferral: dict[str, str] = {}
    for entry in store.ledger.log_rows():
        if entry["decided_at"] < since:
            continue
        intent = outbox.get(entry["dedupe_key"])
        email = payload_of(intent).owner_email if intent else None
        name = str(email).strip().lower() if email else str(entry["rep"] or "nobody")
        summary = reps.setdefault(name, RepSummary(name))
        outcome = str(entry["outcome"])
        if outcome == SENT:
            summary.sent += 1
        elif outcome == "digest":
            summary.digested += 1
        elif outcome == "no_owner":
            summary.no_owner += 1
        elif outcome == "defer_quiet_hours":
            latest_deferral[entry["dedupe_key"]] = name
        elif outcome in HELD_BACK:
            summary.suppressed[outcome] += 1
        if outcome != "defer_quiet_hours":
            latest_deferral.pop(entry["dedupe_key"], None)
        if entry["feedback"] and outcome == SENT:
            summary.feedback[str(entry["feedback"])] += 1
    for name in latest_deferral.values():
        reps[name].deferred += 1
    for intent in outbox.values():
        if intent.kind.value == "task" and intent.status.value == "done" and intent.updated_at >= since:
            email = (payload_of(intent).owner_email or "nobody").strip().lower()
            reps.setdefault(email, RepSummary(email)).tasks += 1
        elif (
            intent.kind.value == "task"
            and intent.status.value == "pending"
            and (intent.error or "").startswith(HELD_NO_OWNER)
        ):
            email = str(intent.payload.get("owner_email") or "nobody").strip().lower()
            reps.setdefault(email, RepSummary(email)).tasks_held[str(intent.error)] += 1
    return sorted(reps.values(), key=lambda s: (-s.sent, s.rep))
