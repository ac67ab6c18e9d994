"""The engine's side of feedback on alerts: what was sent, and recording a press, through the state store.

A connector's interaction handler (:mod:`syncer.contract.interactions`) asks :meth:`StoreFeedbackLedger.sent_alert`
whether a dedupe key names an alert this syncer delivered (and where, as which message, offering what), and
records an accepted press with :meth:`StoreFeedbackLedger.record`. It never sees the store itself.

A press is written on the alert's ledger rows with the member who pressed it. "Snooze 7 days" and "Not useful" also
hold the account back from the alert's *rep* (the member it was sent to or about, not the presser, who may be a
teammate in a shared channel): 7 days for a snooze, 30 for "not useful" (the signal did not help; a month later the
account may have changed).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, timedelta

from syncer.contract.alerts import ALERT_ACTIONS, FeedbackAction
from syncer.contract.interactions import Press, SentAlert
from syncer.core.alerts import DedupeKey, LedgerEntry, Outcome
from syncer.effects.payloads import AlertPayload, DigestPayload, payload_of
from syncer.state.base import StateStore
from syncer.state.outbox import EffectKind, OutboxStatus

SNOOZE = timedelta(days=7)
NOT_USEFUL_HOLD = timedelta(days=30)
_HOLDS = {FeedbackAction.SNOOZE_7D: SNOOZE, FeedbackAction.NOT_USEFUL: NOT_USEFUL_HOLD}


def hold_entry(press: Press) -> LedgerEntry | None:
    """The ledger entry that holds the alert's account back from its rep after ``press``; None for a claim."""
    hold = _HOLDS.get(press.action)
    if hold is None:
        return None
    at = press.at if press.at.tzinfo else press.at.replace(tzinfo=UTC)
    return LedgerEntry(DedupeKey.parse(press.alert.dedupe_key), press.alert.rep, Outcome.SNOOZED, at, None, at + hold)


class StoreFeedbackLedger:
    """:class:`~syncer.contract.interactions.FeedbackLedger` over the state store; ``store()`` lends one for a call
    (the daemon's pool, or a store a test opened)."""

    def __init__(self, store: Callable[[], AbstractContextManager[StateStore]]) -> None:
        self._store = store

    def sent_alert(self, dedupe_key: str) -> SentAlert | None:
        """The alert or digest delivered under ``dedupe_key`` (status done, with the vendor's message id)."""
        with self._store() as store:
            record = store.outbox.get([dedupe_key]).get(dedupe_key)
        if record is None or record.status is not OutboxStatus.DONE or not record.external_id:
            return None
        if record.kind not in (EffectKind.ALERT, EffectKind.DIGEST):
            return None
        payload = payload_of(record)
        actions = ALERT_ACTIONS if record.kind is EffectKind.ALERT else ()
        channel = payload.channel if isinstance(payload, AlertPayload) else None
        rep = payload.rep if isinstance(payload, AlertPayload | DigestPayload) else None
        return SentAlert(dedupe_key, str(record.external_id), channel or None, rep or None, actions)

    def record(self, press: Press) -> int:
        """Write ``press`` (with its actor) on the alert's ledger rows, and its hold when it has one."""
        with self._store() as store:
            return store.ledger.feedback(
                press.alert.dedupe_key,
                press.action.value,
                press.at.astimezone(UTC).replace(tzinfo=None),
                press.actor,
                hold_entry(press),
            )
