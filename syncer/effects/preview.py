"""What a run would do with its firings, for ``syncer plan``: each task and alert after the policy, with its reason.

Nothing is recorded and nothing is sent: owners are resolved through the cache and, when the alert connector's
secrets are set, by lookups (reads); the policy is the same pure function a run uses, over the ledger as it is.
An owner that cannot be resolved now (no token, the chat workspace unreachable) is shown as such, not guessed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from syncer.config.sync import SyncConfig
from syncer.contract.errors import DeliveryError
from syncer.core.alerts import WEEK, decide
from syncer.core.plan import Plan
from syncer.effects.engine import LOCAL_DAY_MARGIN, EffectsContext, is_first_run
from syncer.effects.intents import alert_item, candidate, firings_of, task_item
from syncer.effects.owners import Owner, OwnerDirectory
from syncer.effects.payloads import AlertPayload, TaskPayload
from syncer.state.base import StateStore
from syncer.state.outbox import OutboxItem, OutboxStatus


@dataclass(frozen=True)
class EffectPreview:
    kind: str  # task | alert
    trigger: str
    account: str
    owner: str | None
    outcome: str  # task: create | suppressed | failed | recorded already; alert: the policy's outcome
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "trigger": self.trigger,
            "account": self.account,
            "owner": self.owner,
            "outcome": self.outcome,
            "reason": self.reason,
        }


def preview_effects(
    sync: SyncConfig, plan: Plan, store: StateStore, context: EffectsContext, now: datetime, *, can_look_up: bool
) -> list[EffectPreview]:
    """The tasks and alerts ``plan`` would cause at ``now`` (``can_look_up``: the alert channel may be asked for
    owners)."""
    if plan.firings.num_rows == 0:
        return []
    first_run = is_first_run(store, sync.name, plan)
    connector = sync.destination.connector if sync.destination is not None else ""
    tasks: list[OutboxItem] = []
    alerts: list[OutboxItem] = []
    for firing in firings_of(sync, plan.firings):
        task = task_item(firing, connector, now, first_run=first_run, policy=context.policy)
        alert = alert_item(firing, now, first_run=first_run, policy=context.policy, previous=None)
        tasks += [task] if task is not None else []
        alerts += [alert] if alert is not None else []
    known = store.outbox.known([item.dedupe_key for item in [*tasks, *alerts]])
    previews = [_task_preview(item, known=item.dedupe_key in known) for item in tasks]
    fresh = [item for item in alerts if item.dedupe_key not in known]
    previews += [
        EffectPreview(
            "alert",
            item.trigger,
            item.key,
            AlertPayload.from_json(item.payload).owner_email,
            "recorded already",
            "this change was staged by an earlier run",
        )
        for item in alerts
        if item not in fresh
    ]
    return previews + _alert_previews(fresh, store, context, now, can_look_up=can_look_up)


def _task_preview(item: OutboxItem, *, known: bool) -> EffectPreview:
    payload = TaskPayload.from_json(item.payload)
    owner = payload.owner_email
    if known:
        return EffectPreview(
            "task", item.trigger, item.key, owner, "recorded already", "this change was staged by an earlier run"
        )
    if item.status is OutboxStatus.PENDING:
        return EffectPreview(
            "task", item.trigger, item.key, owner, "create", f"{payload.subject} (due {payload.due.isoformat()})"
        )
    return EffectPreview("task", item.trigger, item.key, owner, item.status.value, item.error or "")


def _alert_previews(
    items: list[OutboxItem], store: StateStore, context: EffectsContext, now: datetime, *, can_look_up: bool
) -> list[EffectPreview]:
    if not items:
        return []
    directory = OwnerDirectory(store, now)
    owners: dict[str | None, Owner] = {}
    staged = {item.dedupe_key: AlertPayload.from_json(item.payload) for item in items}
    for connector in {payload.connector for payload in staged.values()}:
        emails = [payload.owner_email for payload in staged.values() if payload.connector == connector]
        owners |= _resolve(directory, context, connector, emails, can_look_up=can_look_up)
    candidates = [
        candidate(
            key,
            payload,
            owners[payload.owner_email].id,
            owners[payload.owner_email].time_zone,
            owners[payload.owner_email].reason,
        )
        for key, payload in staged.items()
    ]
    since = now - max(WEEK, timedelta(days=context.policy.cooldown_days)) - LOCAL_DAY_MARGIN
    ledger = store.ledger.since(None, since, keys=[c.key.token() for c in candidates])
    return [
        EffectPreview(
            "alert", d.candidate.key.trigger, d.candidate.account, d.candidate.rep_name, d.outcome.value, d.reason
        )
        for d in decide(candidates, ledger, context.policy, now)
    ]


def _resolve(
    directory: OwnerDirectory, context: EffectsContext, connector: str, emails: list[Any], *, can_look_up: bool
) -> dict[str | None, Owner]:
    if can_look_up:
        channels: dict[str, Any] = {}

        def channel() -> Any:
            if "open" not in channels:
                channels["open"] = context.open_alerts(connector)
            return channels["open"]

        try:
            return directory.chat(connector, channel, emails)
        except DeliveryError as exc:
            reason = f"{connector} could not be asked: {exc}"
        finally:
            if "open" in channels:
                channels["open"].close()
    else:
        reason = f"the {connector} connector's secrets are not set, so owners were not looked up"
    return {email: Owner(email, None, None, reason) for email in emails}


def effect_counts(previews: list[EffectPreview]) -> dict[str, dict[str, int]]:
    """``{kind: {outcome: count}}`` for the plan's summary."""
    counts: dict[str, Counter[str]] = {}
    for p in previews:
        counts.setdefault(p.kind, Counter())[p.outcome] += 1
    return {kind: dict(sorted(c.items())) for kind, c in sorted(counts.items())}
