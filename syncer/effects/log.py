"""The loop closed: the alert log, written back to the warehouse for RevOps to join with opportunities.

One row per decision about an alert (a deferral and the later send are two rows), per task and per digest, with the
account, the rep, the trigger, score and tier, the outcome and its reason, where it went, when it was delivered, its
vendor id (message or task id) and the rep's feedback. The control store is the source of truth: the table is
rebuilt from it whenever anything it shows changed (the store counts a version up), and replaced in one
transaction. When the warehouse cannot be written (a build holds the file, read-only credentials), the version
stays unwritten and the next run tries again: nothing waits anywhere but in the control store.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from syncer.effects.payloads import AlertPayload, DigestPayload, payload_of
from syncer.state.base import StateStore
from syncer.state.outbox import EffectKind, OutboxRecord
from syncer.warehouse.base import WarehouseError

if TYPE_CHECKING:
    from syncer.effects.session import EffectsSession

ALERT_LOG_TABLE = "syncer_alert_log"
_TS = pa.timestamp("us", tz="UTC")
ALERT_LOG_SCHEMA = pa.schema(
    [
        ("decided_at", _TS),
        ("kind", pa.string()),
        ("sync", pa.string()),
        ("trigger", pa.string()),
        ("account", pa.string()),
        ("owner_email", pa.string()),
        ("rep", pa.string()),
        ("outcome", pa.string()),
        ("reason", pa.string()),
        ("score", pa.float64()),
        ("tier", pa.string()),
        ("channel", pa.string()),
        ("delivery", pa.string()),
        ("external_id", pa.string()),
        ("delivered_at", _TS),
        ("not_before", _TS),
        ("digest_key", pa.string()),
        ("feedback", pa.string()),
        ("feedback_at", _TS),
        ("dedupe_key", pa.string()),
    ]
)


def alert_log_table(store: StateStore) -> pa.Table:
    """The whole alert log as the control store holds it now (:data:`ALERT_LOG_SCHEMA`)."""
    outbox = {r.dedupe_key: r for r in store.outbox.all()}
    rows: list[dict[str, Any]] = []
    for entry in store.ledger.log_rows():
        intent = outbox.get(entry["dedupe_key"])
        payload = AlertPayload.from_json(intent.payload) if intent else None
        delivered = intent is not None and intent.status.value == "done" and entry["sent_at"] is not None
        rows.append(
            {
                "decided_at": entry["decided_at"],
                "kind": "alert",
                "sync": entry["sync"],
                "trigger": entry["trigger"],
                "account": entry["key"],
                "owner_email": payload.owner_email if payload else None,
                "rep": entry["rep"],
                "outcome": entry["outcome"],
                "reason": entry["reason"],
                "score": _number(payload.score) if payload else None,
                "tier": entry["tier"],
                "channel": payload.channel if payload else None,
                "delivery": intent.status.value if intent else None,
                "external_id": intent.external_id if delivered and intent else None,
                "delivered_at": entry["sent_at"],
                "not_before": entry["not_before"],
                "digest_key": entry["digest_key"],
                "feedback": entry["feedback"],
                "feedback_at": entry["feedback_at"],
                "dedupe_key": entry["dedupe_key"],
            }
        )
    for intent in outbox.values():
        if intent.kind is not EffectKind.ALERT:
            rows.append(_effect_row(intent))
    rows.sort(key=lambda r: (r["decided_at"], r["dedupe_key"], r["outcome"]))
    return pa.Table.from_pylist(rows, schema=ALERT_LOG_SCHEMA)


def _effect_row(intent: OutboxRecord) -> dict[str, Any]:
    """A task or a digest: its outcome is its delivery state (created, failed with the vendor's reason...)."""
    payload = payload_of(intent)
    digest = payload if isinstance(payload, DigestPayload) else None  # a task has neither rep nor digest key
    done = intent.status.value == "done"
    return {
        "decided_at": intent.created_at,
        "kind": intent.kind.value,
        "sync": intent.sync or None,
        "trigger": intent.trigger,
        "account": intent.key if intent.kind is EffectKind.TASK else None,
        "owner_email": payload.owner_email,
        "rep": digest.rep if digest else None,
        "outcome": {"done": "created" if intent.kind is EffectKind.TASK else "sent"}.get(
            intent.status.value, intent.status.value
        ),
        "reason": intent.error or "",
        "score": None,
        "tier": None,
        "channel": None,
        "delivery": intent.status.value,
        "external_id": intent.external_id if done else None,
        "delivered_at": intent.updated_at if done else None,
        "not_before": intent.not_before,
        "digest_key": digest.digest_key if digest else None,
        "feedback": None,
        "feedback_at": None,
        "dedupe_key": intent.dedupe_key,
    }


def write_alert_log(effects: EffectsSession, writer: Callable[[pa.Table], int] | None) -> None:
    """Write the log through ``writer`` when it changed since the last write; a refused write waits for the next
    run. ``None``: no warehouse table to write (nothing is done)."""
    if writer is None:
        return
    store = effects.store
    version, written = store.ledger.log_version()
    if version == written:
        effects.report.log = "current"
        return
    try:
        rows = writer(alert_log_table(store))
    except WarehouseError as exc:
        store.ledger.log_written(version, effects.now, error=str(exc))
        effects.report.log = f"waiting in the control store for the next run: {exc}"
        return
    store.ledger.log_written(version, effects.now)
    effects.report.log = f"{rows} rows written to {ALERT_LOG_TABLE}"


def _number(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None
