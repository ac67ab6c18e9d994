"""Interactions: a vendor's request about an alert (a button press), handled by its connector, applied by the engine.

The daemon knows no vendor. It hands a connector's :class:`InteractionHandler` the raw request (bytes and headers,
:class:`InteractionRequest`); the handler verifies it (the vendor's signature, freshness, replays through
:class:`SeenRequests`), parses it and answers at once (:class:`InteractionAnswer`). What takes longer runs after
the answer (:attr:`InteractionAnswer.followup`): checking that the presser may act on that alert, recording the
press through the engine's :class:`FeedbackLedger` and updating the message. The connector never touches the state
store; the ledger is the only way it reads what was sent and records a press.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from syncer.contract.alerts import FeedbackAction

MAX_BODY_BYTES = 256 * 1024  # no interaction a vendor sends comes near this


@dataclass(frozen=True)
class InteractionRequest:
    """A request as it arrived: the raw body (signatures cover its bytes), its headers, when it arrived (UTC)."""

    body: bytes
    headers: Mapping[str, str]
    now: datetime


@dataclass(frozen=True)
class InteractionAnswer:
    """The HTTP answer (status and JSON body), and the work to do once it is sent (None: nothing)."""

    status: int
    body: dict[str, Any]
    followup: Callable[[], None] | None = None
    action: str | None = None  # what the request asked, for the log (a feedback action), if anything


@dataclass(frozen=True)
class SentAlert:
    """An alert this syncer sent, as the ledger knows it.

    ``message_id``: the vendor's id of the message (a timestamp, for some); ``channel``: the conversation it was posted
    to as configured (an id or a name; None for a DM); ``rep``: the member it was sent to or about (None when
    nobody owns the account); ``actions``: the feedback it offered.
    """

    dedupe_key: str
    message_id: str
    channel: str | None
    rep: str | None
    actions: tuple[FeedbackAction, ...]

    @property
    def is_direct(self) -> bool:
        """Sent as a DM to ``rep`` (no channel, or a member id given as the channel)."""
        return not self.channel or self.channel == self.rep


@dataclass(frozen=True)
class Press:
    """An accepted press: ``actor`` pressed ``action`` on ``alert``."""

    alert: SentAlert
    action: FeedbackAction
    actor: str
    at: datetime = field(compare=False)


class FeedbackLedger(Protocol):
    """The engine's side of feedback: what was sent, and recording a press (ledger row with its actor; a snooze)."""

    def sent_alert(self, dedupe_key: str) -> SentAlert | None:
        """The alert sent under ``dedupe_key`` (delivered and confirmed), or None when none was."""
        ...

    def record(self, press: Press) -> int:
        """Record ``press`` on its alert's ledger rows (with the actor) and, for a snooze or "not useful", hold the
        account back from the alert's rep; return the rows touched."""
        ...


class InteractionHandler(Protocol):
    """A connector's interaction endpoint, framework-agnostic. Never raises for bad input."""

    def handle(self, request: InteractionRequest, ledger: FeedbackLedger) -> InteractionAnswer: ...


class SeenRequests(ABC):
    """Remembers accepted request signatures for as long as their timestamps could still be accepted."""

    @abstractmethod
    def first_time(self, signature: str, expires_at: datetime, now: datetime) -> bool:
        """Record ``signature`` until ``expires_at``; True when it was not recorded (and unexpired) before."""


class InMemorySeenRequests(SeenRequests):
    """One process's memory; several replicas share a store that implements the same contract on the database."""

    def __init__(self) -> None:
        self._expiry: dict[str, datetime] = {}

    def first_time(self, signature: str, expires_at: datetime, now: datetime) -> bool:
        self._expiry = {key: at for key, at in self._expiry.items() if at > now}
        if signature in self._expiry:
            return False
        self._expiry[signature] = expires_at
        return True

    def __len__(self) -> int:
        return len(self._expiry)
