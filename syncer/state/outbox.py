"""The outbox: one row per effect a trigger caused (a CRM task, a chat alert, a digest), written before any send.

Every firing the effects engine stages gets a row, whatever the alert policy decided, so a firing planned again
(after a crash, or while its field write is still pending) is recognised by its dedupe key and never decided twice.

State machine, one row per dedupe key::

    deferred --(re-decided when due)--> pending | held | suppressed
    pending --mark_sending--> sending --done--> done
       ^                         |
       +---failed(retryable)-----+--failed(not retryable)--> failed
    held --(its digest is done)--> done
    suppressed  (the policy said no: capped, cooled down, snoozed, first run...; the ledger holds the reason)

``pending`` rows with ``not_before`` in the future (a digest waiting for the rep's morning) are not due yet.
A crash between :meth:`Outbox.mark_sending` and :meth:`Outbox.done` leaves the row in ``sending``: the vendor may
or may not have the effect. The sender reads such rows again, asks the destination for an effect carrying the
dedupe key, and marks the row done (found) or sends it again (not found). One process sends a sync's effects at a
time (the sync's run lock); digests, which span syncs, are claimed under a lock of their own.

Times are stored as naive UTC (like the rest of the state) and come back timezone-aware (UTC).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class EffectKind(StrEnum):
    TASK = "task"
    ALERT = "alert"
    DIGEST = "digest"


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    DONE = "done"
    FAILED = "failed"
    DEFERRED = "deferred"  # quiet hours: offered to the policy again at not_before
    HELD = "held"  # overflow: goes out inside the rep's digest
    SUPPRESSED = "suppressed"  # the policy decided it is not sent (the ledger says why)


@dataclass(frozen=True)
class OutboxItem:
    """An effect intent. ``payload``: what the sender needs (JSON-serialisable), stored as JSON text."""

    dedupe_key: str
    sync: str
    trigger: str
    key: str
    kind: EffectKind
    payload: Mapping[str, Any]
    status: OutboxStatus = OutboxStatus.PENDING
    not_before: datetime | None = None
    error: str | None = None  # for a suppressed or failed intent: why


@dataclass(frozen=True)
class OutboxRecord:
    dedupe_key: str
    sync: str
    trigger: str
    key: str
    kind: EffectKind
    payload: dict[str, Any]
    status: OutboxStatus
    external_id: str | None
    attempts: int
    error: str | None
    created_at: datetime
    updated_at: datetime
    not_before: datetime | None = None


# Intents to send (or to check again after a crash left them sending).
SENDABLE = (OutboxStatus.PENDING, OutboxStatus.SENDING)


class Outbox(ABC):
    """Effect intents by dedupe key, and the state machine above. Times come back aware (UTC)."""

    @abstractmethod
    def add(self, items: Sequence[OutboxItem], now: datetime) -> list[str]:
        """Record intents not recorded yet; return the dedupe keys that are new (a key added before is a no-op,
        except that a ``deferred`` intent takes the new status: that is its re-decision)."""

    @abstractmethod
    def due(
        self,
        now: datetime,
        sync: str | None = None,
        kinds: Sequence[EffectKind] = tuple(EffectKind),
        statuses: Sequence[OutboxStatus] = SENDABLE,
        limit: int = 10_000,
    ) -> list[OutboxRecord]:
        """Intents in ``statuses`` whose time has come (``not_before`` unset or not after ``now``), oldest first;
        ``sync`` None: every sync's."""

    @abstractmethod
    def pending(
        self, sync: str | None = None, limit: int = 1000, *, include_sending: bool = False
    ) -> list[OutboxRecord]:
        """Intents still to send whatever their time, oldest first; with ``include_sending`` also those a crash
        left in ``sending``."""

    @abstractmethod
    def records(
        self,
        *,
        sync: str | None = None,
        kinds: Sequence[EffectKind] = (),
        statuses: Sequence[OutboxStatus] = (),
        keys: Sequence[str] | None = None,
    ) -> list[OutboxRecord]:
        """Intents matching every filter given: of ``sync``, of one of ``kinds``, in one of ``statuses``, about one
        of ``keys`` (the sync's row keys, not dedupe keys). ``sync`` None and empty ``kinds`` or ``statuses`` do
        not filter; ``keys`` None does not filter, while an empty ``keys`` matches nothing. Oldest first."""

    def all(self) -> list[OutboxRecord]:
        """Every intent, oldest first (reports and the alert log)."""
        return self.records()

    @abstractmethod
    def get(self, dedupe_keys: Sequence[str]) -> dict[str, OutboxRecord]:
        """The intents of these dedupe keys that exist, by dedupe key."""

    @abstractmethod
    def known(self, dedupe_keys: Sequence[str]) -> set[str]:
        """Which of these dedupe keys have a row already (in any status)."""

    @abstractmethod
    def mark_sending(self, dedupe_keys: Sequence[str], now: datetime) -> list[str]:
        """Move intents from ``pending`` (or ``sending``, when recovering) to ``sending``, one attempt more each;
        return the keys moved (every other status is left alone)."""

    @abstractmethod
    def done(self, dedupe_key: str, external_id: str | None, now: datetime, members: Sequence[str] = ()) -> bool:
        """The destination confirmed the effect (or already held it): ``done`` with its id, and the alert ledger's
        ``sent_at`` stamped, in one transaction. ``members``: the held alerts a digest carried, done with it.
        Returns False when the intent is unknown, done already or failed."""

    @abstractmethod
    def failed(self, dedupe_key: str, error: str, now: datetime, *, retryable: bool) -> bool:
        """The send failed: back to ``pending`` when ``retryable`` (tried again later), else ``failed`` for good."""
