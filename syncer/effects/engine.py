"""The effects engine: one run's trigger firings staged, decided and sent, then the alert log written back.

Order within a run (see :mod:`syncer.runner`), chosen so that nothing is lost or repeated whatever is killed when:

1. :func:`stage` (before any field is written): every firing's intents go into the outbox in one transaction,
   with no I/O besides the store. Fields are committed only after, so a firing can never be forgotten: if the run
   dies first, the next plan finds the same change and the same dedupe keys.
2. The fields are delivered and committed (the runner).
3. :meth:`Effects.process`: alert intents whose time has come are decided by the policy (owners resolved through
   the cache, ledger and outbox written in one transaction); due tasks, alerts and digests are sent
   (:mod:`syncer.effects.send`); the alert log goes to the warehouse when it changed (:mod:`syncer.effects.log`).
   A failure here (the chat workspace down) leaves intents waiting for the next run; it never undoes the fields.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from syncer.config.alerts import AlertPolicy
from syncer.config.sync import SyncConfig
from syncer.contract.destination import EffectLimits
from syncer.contract.effects import AlertChannel, TaskDestination
from syncer.contract.errors import DeliveryError
from syncer.core.alerts import WEEK, decide
from syncer.core.plan import Plan
from syncer.delivery.pacer import Pacer
from syncer.delivery.retry import Patience, RetryPolicy
from syncer.effects.intents import alert_item, candidate, decided_items, firings_of, task_item
from syncer.effects.log import write_alert_log
from syncer.effects.owners import OwnerDirectory
from syncer.effects.payloads import AlertPayload
from syncer.effects.send import by_connector, send_alerts, send_digests, send_tasks
from syncer.effects.session import EffectsReport
from syncer.state.base import StateStore
from syncer.state.outbox import EffectKind, OutboxItem, OutboxRecord, OutboxStatus

# Caps count the rep's local days, which begin up to a day from UTC's: read a day more of the ledger than they span.
LOCAL_DAY_MARGIN = timedelta(days=1)
DECIDE_PAGE = 5_000  # alert intents decided per transaction (each page's decisions are durable before the next)


@dataclass(frozen=True)
class EffectsContext:
    """What the engine needs from the edges: the policy, openers by connector name, pacing, the log writer, and the
    retry policy every effect connector's calls follow (the same value as field writes'; its ``max_wait_s`` bounds
    each connector's waits in one run)."""

    policy: AlertPolicy
    open_alerts: Callable[[str], AlertChannel]
    open_tasks: Callable[[str], TaskDestination]
    clock: Callable[[], float]
    sleep: Callable[[float], None]
    write_log: Callable[[Any], int] | None = None  # writes the alert log table; returns rows written
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    task_fallback_owner: str | None = None  # ``tasks.fallback_owner`` of syncer.yaml


def is_first_run(store: StateStore, sync: str, plan: Plan) -> bool:
    """A sync's first run, when every row is 'new' and would fire: nothing confirmed when planned (a new sync, or
    one reset), or no run has reached its end yet (a first run killed halfway is continued by a first run)."""
    return plan.synced == 0 or not store.runs.has_finished(sync)


def stage(sync: SyncConfig, plan: Plan, store: StateStore, policy: AlertPolicy, now: datetime) -> int:
    """Record every firing's intents (see the module docstring); return how many are new."""
    if plan.firings.num_rows == 0:
        return 0
    first_run = is_first_run(store, sync.name, plan)
    connector = sync.destination.connector if sync.destination is not None else ""
    items: list[OutboxItem] = []
    firings = firings_of(sync, plan.firings)
    alerted = set() if first_run else {f.key for f in firings if f.trigger.alert is not None}
    previous = last_alerts(store, sync.name, sorted(alerted))
    for firing in firings:
        task = task_item(firing, connector, now, first_run=first_run, policy=policy)
        if task is not None:
            items.append(task)
        alert = alert_item(firing, now, first_run=first_run, policy=policy, previous=previous.get(firing.key))
        if alert is not None:
            items.append(alert)
    return len(store.outbox.add(items, now))


def last_alerts(store: StateStore, sync: str, keys: Sequence[str]) -> dict[str, AlertPayload]:
    """``{key: payload of the last alert sent about it}`` for the keys of ``sync`` alerted before."""
    latest: dict[str, OutboxRecord] = {}
    for record in store.outbox.records(sync=sync, kinds=(EffectKind.ALERT,), statuses=(OutboxStatus.DONE,), keys=keys):
        known = latest.get(record.key)
        if known is None or record.updated_at > known.updated_at:
            latest[record.key] = record
    return {key: AlertPayload.from_json(record.payload) for key, record in latest.items()}


class Effects:
    """One run's processing of due intents: decide, send, write the log. Opens connectors lazily, once each."""

    def __init__(
        self, store: StateStore, context: EffectsContext, now: datetime, stop: Callable[[], bool] | None = None
    ) -> None:
        """``stop``: answers true once the daemon shuts down; no new send starts after that (intents wait)."""
        self.store, self.context, self.now = store, context, now
        self.stopping = stop or (lambda: False)
        self.report = EffectsReport()
        self.task_fallback_owner = context.task_fallback_owner
        self.owners = OwnerDirectory(store, now)
        self._channels: dict[str, AlertChannel] = {}
        self._tasks: dict[str, TaskDestination] = {}
        self._pacers: dict[str, Pacer] = {}

    def channel(self, connector: str) -> AlertChannel:
        """The alert channel of ``connector``, opened once, its calls paced (:mod:`syncer.delivery.pacer`)."""
        if connector not in self._channels:
            channel = self.context.open_alerts(connector)
            channel.set_pacer(self._pace(f"alerts:{connector}", channel.limits).call)
            self._channels[connector] = channel
        return self._channels[connector]

    def tasks(self, connector: str) -> TaskDestination:
        """The task destination of ``connector``, opened once, its calls paced (:mod:`syncer.delivery.pacer`)."""
        if connector not in self._tasks:
            tasks = self.context.open_tasks(connector)
            tasks.set_pacer(self._pace(f"tasks:{connector}", tasks.limits).call)
            self._tasks[connector] = tasks
        return self._tasks[connector]

    def task_pacer(self, connector: str) -> Pacer:
        """The pacer of ``connector``'s tasks (opening it): its limiters, its patience for this run, the policy."""
        self.tasks(connector)
        return self._pacers[f"tasks:{connector}"]

    def _pace(self, name: str, limits: EffectLimits) -> Pacer:
        context = self.context
        pacer = Pacer(limits, context.clock, Patience(context.retry.max_wait_s, context.sleep), context.retry)
        self._pacers[name] = pacer
        return pacer

    def close(self) -> None:
        for channel in self._channels.values():
            channel.close()
        for tasks in self._tasks.values():
            tasks.close()
        self.report.api_calls = sum(p.calls for p in self._pacers.values())
        self.report.rate_limited = sum(p.rate_limited for p in self._pacers.values())

    def process(self, sync: str | None) -> EffectsReport:
        """Decide and send what is due for ``sync`` (None: every sync, as a daemon's sweep), digests and the log."""
        try:
            steps: list[Callable[[], None]] = [
                lambda: self.decide_due(sync),
                lambda: send_tasks(self, sync),
                lambda: send_alerts(self, sync),
                lambda: send_digests(self),
            ]
            for step in steps:
                if self.stopping():
                    if self._work_left(sync):  # nothing due is nothing left undone: the run stays succeeded
                        self.report.errors.append("stopped on request (shutdown); the rest waits for the next run")
                    break
                step()
        finally:
            self.close()
        write_alert_log(self, self.context.write_log)
        return self.report

    def _work_left(self, sync: str | None) -> bool:
        """Whether an intent of ``sync`` (any sync's when None), or a digest, is due: what a stop leaves waiting."""
        waiting = (OutboxStatus.PENDING, OutboxStatus.SENDING, OutboxStatus.DEFERRED)
        return bool(
            self.store.outbox.due(self.now, sync, statuses=waiting, limit=1)
            or self.store.outbox.due(self.now, None, (EffectKind.DIGEST,), waiting, limit=1)
        )

    def decide_due(self, sync: str | None) -> None:
        """Offer every alert intent whose time has come to the policy, by connector, a page at a time."""
        while True:
            due = self.store.outbox.due(
                self.now, sync, (EffectKind.ALERT,), (OutboxStatus.DEFERRED,), limit=DECIDE_PAGE
            )
            for connector, records in by_connector(due).items():
                try:
                    self._decide(connector, records)
                except DeliveryError as exc:  # the channel unreachable: the intents stay deferred for the next run
                    self.report.errors.append(f"alerts via {connector}: owners not resolved: {exc}")
                    return
            if len(due) < DECIDE_PAGE:
                return

    def _decide(self, connector: str, records: Sequence[OutboxRecord]) -> None:
        staged = {r.dedupe_key: AlertPayload.from_json(r.payload) for r in records}
        emails = [payload.owner_email for payload in staged.values()]
        owners = self.owners.chat(connector, lambda: self.channel(connector), emails)
        candidates = []
        for key, payload in staged.items():
            owner = owners[payload.owner_email]
            candidates.append(candidate(key, payload, owner.id, owner.time_zone, owner.reason))
        policy, now = self.context.policy, self.now
        since = now - max(WEEK, timedelta(days=policy.cooldown_days)) - LOCAL_DAY_MARGIN
        decisions = self.store.ledger.decide(
            {c.rep for c in candidates},
            since,
            lambda ledger: decide(candidates, ledger, policy, now),
            keys=[c.key.token() for c in candidates],
            outbox=lambda made: decided_items(made, staged),
            now=now,
        )
        self.report.decisions.update(d.outcome.value for d in decisions)
