"""The typed payloads of effect intents: what a task, an alert and a digest carry from staging to sending.

The outbox (:mod:`syncer.state.outbox`) stores a payload as JSON text and knows nothing of its shape; the effects
engine writes these values with :meth:`to_json` and reads them back with :meth:`from_json`, so every field is named
and typed in one place. The stored keys are the ones state files already hold, and :meth:`from_json` accepts what
earlier versions wrote (keys added since are optional, dates and times in either ``str()`` or ISO form).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from syncer.state.outbox import EffectKind, OutboxRecord


@dataclass(frozen=True)
class TaskPayload:
    """A CRM task intent. ``subject``/``body`` are None when their template failed (the intent is failed then)."""

    connector: str  # the sync's destination, which creates the task
    owner_email: str | None
    due: date
    priority: str  # the CRM's own word (HubSpot HIGH|MEDIUM|LOW, Salesforce High|Normal|Low)
    fired_at: datetime
    subject: str | None = None
    body: str | None = None
    fallback_owner: str | None = None  # who gets the task when the owner resolves to no active user (else it is held)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "connector": self.connector,
            "owner_email": self.owner_email,
            "due": self.due.isoformat(),
            "priority": self.priority,
            "fired_at": self.fired_at.isoformat(),
        }
        if self.subject is not None:
            data |= {"subject": self.subject, "body": self.body or ""}
        if self.fallback_owner:
            data["fallback_owner"] = self.fallback_owner
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TaskPayload:
        return cls(
            str(data.get("connector") or ""),
            _text(data.get("owner_email")),
            date.fromisoformat(str(data["due"])[:10]),
            str(data.get("priority") or ""),
            _when(data["fired_at"]),
            _text(data.get("subject")),
            _text(data.get("body")),
            _text(data.get("fallback_owner")),
        )


@dataclass(frozen=True)
class AlertPayload:
    """An alert intent: the row as the trigger saw it and what the policy needs, then what the policy decided.

    ``score`` is the model's value as it is (shown as such); ``priority`` the number the policy ranks by; ``changes``
    ``[name, old, new]`` since the last alert about the account (None: there was none). The decided part (``rep``
    onwards) is empty until :func:`syncer.effects.intents.decided_items` fills it.
    """

    connector: str  # the alert channel's connector
    owner_email: str | None
    template: str
    fired_at: datetime
    channel: str | None = None  # None: a direct message to the owner
    title: str = ""
    record_url: str | None = None
    row: dict[str, Any] = field(default_factory=dict)
    signals: dict[str, Any] = field(default_factory=dict)
    score: Any = None
    priority: float | None = None
    tier: str | None = None
    trigger_priority: int = 2
    first_run: bool = False
    changes: list[list[Any]] | None = None
    rep: str | None = None  # the resolved recipient's chat member id
    rep_time_zone: str | None = None
    decision: str | None = None  # the policy's outcome (syncer.core.alerts.Outcome)
    reason: str | None = None
    digest_key: str | None = None  # held for this digest

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "connector": self.connector,
            "owner_email": self.owner_email,
            "template": self.template,
            "fired_at": self.fired_at.isoformat(),
            "channel": self.channel,
            "title": self.title,
            "record_url": self.record_url,
            "row": self.row,
            "signals": self.signals,
            "score": self.score,
            "priority": self.priority,
            "tier": self.tier,
            "trigger_priority": self.trigger_priority,
            "first_run": self.first_run,
            "changes": self.changes,
        }
        if self.decision is not None:
            data |= {
                "rep": self.rep,
                "rep_time_zone": self.rep_time_zone,
                "decision": self.decision,
                "reason": self.reason,
            }
        if self.digest_key is not None:
            data["digest_key"] = self.digest_key
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AlertPayload:
        priority = data.get("priority")
        return cls(
            str(data.get("connector") or ""),
            _text(data.get("owner_email")),
            str(data.get("template") or ""),
            _when(data["fired_at"]),
            _text(data.get("channel")),
            str(data.get("title") or ""),
            _text(data.get("record_url")),
            dict(data.get("row") or {}),
            dict(data.get("signals") or {}),
            data.get("score"),
            None if priority is None else float(priority),
            _text(data.get("tier")),
            int(data.get("trigger_priority") or 2),
            bool(data.get("first_run")),
            None if data.get("changes") is None else [list(c) for c in data["changes"]],
            _text(data.get("rep")),
            _text(data.get("rep_time_zone")),
            _text(data.get("decision")),
            _text(data.get("reason")),
            _text(data.get("digest_key")),
        )


@dataclass(frozen=True)
class DigestPayload:
    """A rep's daily digest: the alerts held under ``digest_key`` go out in one message to ``rep``."""

    digest_key: str
    rep: str | None
    connector: str
    owner_email: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "digest_key": self.digest_key,
            "rep": self.rep,
            "connector": self.connector,
            "owner_email": self.owner_email,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DigestPayload:
        return cls(
            str(data.get("digest_key") or ""),
            _text(data.get("rep")),
            str(data.get("connector") or ""),
            _text(data.get("owner_email")),
        )


Payload = TaskPayload | AlertPayload | DigestPayload
_KINDS: dict[EffectKind, type[TaskPayload] | type[AlertPayload] | type[DigestPayload]] = {
    EffectKind.TASK: TaskPayload,
    EffectKind.ALERT: AlertPayload,
    EffectKind.DIGEST: DigestPayload,
}


def payload_of(record: OutboxRecord) -> Payload:
    """The typed payload of a stored intent, by its kind."""
    return _KINDS[record.kind].from_json(record.payload)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _when(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
