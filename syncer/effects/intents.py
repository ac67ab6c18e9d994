"""From a plan's trigger firings to effect intents (pure: no client, clock or store).

Every firing becomes, per effect its trigger declares, one :class:`~syncer.state.outbox.OutboxItem` whose dedupe key
is stable for that firing (sync, trigger, account, firing id), so the same change planned twice is one intent:

- a **task** intent is ``pending`` at once (the first run of a new sync records it ``suppressed`` when the policy
  says skip), its subject and body rendered now from the row;
- an **alert** intent starts ``deferred`` with ``not_before`` = now: it waits for the policy, which needs the
  owner resolved (a chat lookup) and the ledger. Recording it first, with no I/O, lets the run commit its fields
  knowing no firing can be lost: the decision happens after, and again on a later run if a lookup fails.

The payload holds everything the sender and the policy need later, so nothing depends on the model still holding
the row: the row as the trigger saw it, the previous values, the candidate's priority and tier.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa
from jinja2 import TemplateError

from syncer.config.alerts import AlertPolicy, FirstRunPolicy
from syncer.config.sync import SyncConfig, Trigger
from syncer.contract.text import display_line, display_text
from syncer.core.alerts import Candidate, Decision, DedupeKey, Outcome
from syncer.core.templates import compile_template, template_value
from syncer.effects.payloads import AlertPayload, DigestPayload, TaskPayload
from syncer.state.outbox import EffectKind, OutboxItem, OutboxStatus

TASK_SUFFIX = ":task"
DIGEST_PREFIX = "digest:"


@dataclass(frozen=True)
class Firing:
    """One trigger firing for one account: its owner's e-mail (as the model has it) and the rows it saw."""

    sync: str
    trigger: Trigger
    key: str
    owner: str | None
    firing_id: str
    row: dict[str, Any]
    old: dict[str, Any]

    @property
    def dedupe(self) -> DedupeKey:
        return DedupeKey(self.sync, self.trigger.name, self.key, self.firing_id)


def firings_of(sync: SyncConfig, firings: pa.Table) -> list[Firing]:
    """The plan's firings (:data:`syncer.core.triggers.FIRING_SCHEMA`) with their triggers."""
    triggers = {t.name: t for t in sync.triggers}
    return [
        Firing(
            sync.name,
            triggers[f["trigger"]],
            f["key"],
            f["owner"],
            f["firing_id"],
            json.loads(f["new_row"] or "{}"),
            json.loads(f["old_row"] or "{}"),
        )
        for f in firings.to_pylist()
        if f["trigger"] in triggers
    ]


def render_plain(source: str, row: Mapping[str, Any]) -> str:
    """A task or title template over ``row`` as plain text (no escaping: CRMs and Block Kit's plain_text show text
    literally); raises ``ValueError`` naming what failed, also a render budget exceeded
    (:class:`syncer.core.templates.RenderBudgetError`)."""
    try:
        return compile_template(source).render({k: template_value(v) for k, v in row.items()}).strip()
    except (TemplateError, ArithmeticError, TypeError, ValueError) as exc:
        raise ValueError(" ".join(str(exc).split())[:200] or type(exc).__name__) from exc


def task_item(
    firing: Firing, connector: str, now: datetime, *, first_run: bool, policy: AlertPolicy
) -> OutboxItem | None:
    """The task intent of ``firing`` in the CRM ``connector`` (None when its trigger has no task)."""
    spec = firing.trigger.task
    if spec is None:
        return None
    key = firing.dedupe.token() + TASK_SUFFIX
    due = (now + timedelta(days=spec.due_in_days)).date()
    payload = TaskPayload(connector, firing.owner, due, spec.priority, now, fallback_owner=spec.fallback_owner)
    status, error = OutboxStatus.PENDING, None
    try:
        # What a rep reads is display text: no control characters or bidi overrides from the warehouse's values.
        payload = replace(
            payload,
            subject=display_line(render_plain(spec.subject, firing.row))[:255],
            body=display_text(render_plain(spec.body, firing.row)),
        )
    except ValueError as exc:
        status, error = OutboxStatus.FAILED, f"task template failed: {exc}"
    rules = policy.rules_for(firing.sync, firing.trigger.name)
    if status is OutboxStatus.PENDING and first_run and rules.first_run is FirstRunPolicy.SKIP:
        status, error = OutboxStatus.SUPPRESSED, "first run of the sync: recorded, no task created"
    return OutboxItem(
        key, firing.sync, firing.trigger.name, firing.key, EffectKind.TASK, payload.to_json(), status, None, error
    )


def alert_item(
    firing: Firing, now: datetime, *, first_run: bool, policy: AlertPolicy, previous: AlertPayload | None
) -> OutboxItem | None:
    """The alert intent of ``firing``, waiting for the policy (None when its trigger has no alert); ``previous``:
    the payload of the last alert sent about the account, if any (its changes since are shown)."""
    spec = firing.trigger.alert
    if spec is None:
        return None
    row = firing.row
    rules = policy.rules_for(firing.sync, firing.trigger.name)
    payload = AlertPayload(
        spec.connector,
        firing.owner,
        spec.template,
        now,
        channel=spec.channel,
        title=spec.title,
        record_url=spec.record_url,
        row=row,
        signals=_signals(row.get(spec.signals_column)) if spec.signals_column else {},
        score=row.get(policy.priority_column) if policy.priority_column else None,
        priority=_number(row.get(rules.priority_column)) if rules.priority_column else None,
        tier=_text(row.get(policy.tier_column)) if policy.tier_column else None,
        trigger_priority=spec.priority,
        first_run=first_run,
    )
    payload = replace(payload, changes=alert_changes(previous, payload))
    return OutboxItem(
        firing.dedupe.token(),
        firing.sync,
        firing.trigger.name,
        firing.key,
        EffectKind.ALERT,
        payload.to_json(),
        OutboxStatus.DEFERRED,
        now,
    )


def candidate(
    token: str, payload: AlertPayload, rep: str | None, time_zone: str | None, no_owner_reason: str = ""
) -> Candidate:
    """The policy's view of a staged alert, its recipient resolved (``rep`` a chat member id, or None)."""
    return Candidate(
        DedupeKey.parse(token),
        rep,
        time_zone,
        payload.tier,
        payload.priority,
        payload.trigger_priority,
        payload.fired_at,
        payload.first_run,
        payload.owner_email,
        no_owner_reason,
    )


def decided_items(decisions: Sequence[Decision], staged: Mapping[str, AlertPayload]) -> list[OutboxItem]:
    """The outbox rows the policy's decisions give: each alert's new status, plus one digest per rep and day.
    ``staged``: each decided alert's staged payload, by dedupe key."""
    items: list[OutboxItem] = []
    for decision in decisions:
        c = decision.candidate
        token = c.key.token()
        payload = replace(
            staged[token],
            rep=c.rep,
            rep_time_zone=c.rep_time_zone,
            decision=decision.outcome.value,
            reason=decision.reason,
        )
        status: OutboxStatus = OutboxStatus.SUPPRESSED
        not_before: datetime | None = None
        error: str | None = decision.reason
        if decision.outcome is Outcome.SEND or (decision.outcome is Outcome.NO_OWNER and decision.channel):
            status, error = OutboxStatus.PENDING, None
            if decision.outcome is Outcome.NO_OWNER:
                payload = replace(payload, channel=decision.channel)
        elif decision.outcome is Outcome.DEFER_QUIET_HOURS:
            status, not_before, error = OutboxStatus.DEFERRED, decision.not_before, None
        elif decision.outcome is Outcome.DIGEST and decision.digest_key:
            status, error = OutboxStatus.HELD, None
            payload = replace(payload, digest_key=decision.digest_key)
            digest = DigestPayload(decision.digest_key, c.rep, payload.connector, payload.owner_email)
            items.append(
                OutboxItem(
                    DIGEST_PREFIX + decision.digest_key,
                    "",
                    "digest",
                    c.rep or "",
                    EffectKind.DIGEST,
                    digest.to_json(),
                    OutboxStatus.PENDING,
                    decision.not_before,
                )
            )
        items.append(
            OutboxItem(
                token,
                c.key.sync,
                c.key.trigger,
                c.key.account,
                EffectKind.ALERT,
                payload.to_json(),
                status,
                not_before,
                error,
            )
        )
    return items


def alert_changes(previous: AlertPayload | None, payload: AlertPayload) -> list[list[Any]] | None:
    """What moved since the last alert about this account (its payload ``previous``): score, tier and each signal,
    as ``[name, old, new]``; None when there was no earlier alert."""
    if previous is None:
        return None
    moved: list[list[Any]] = []
    for name, old, new in (("score", previous.score, payload.score), ("tier", previous.tier, payload.tier)):
        if old != new:
            moved.append([name, old, new])
    old_signals, new_signals = previous.signals, payload.signals
    for name in sorted(set(old_signals) | set(new_signals)):
        if old_signals.get(name) != new_signals.get(name):
            moved.append([str(name), old_signals.get(name), new_signals.get(name)])
    return moved


def _signals(value: Any) -> dict[str, Any]:
    parsed = template_value(value)
    return dict(parsed) if isinstance(parsed, dict) else {}


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
