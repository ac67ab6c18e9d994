"""Sending due effects exactly once: CRM tasks, chat alerts and daily digests.

Each intent is marked ``sending`` before its request and ``done`` after the vendor confirmed it. A row found in
``sending`` was interrupted (a crash, a lost reply): the vendor is asked first for an effect carrying its dedupe key
(tasks: ``create_once`` always looks up before creating; alerts and digests: ``find_posts`` reads the channel's
history), and only what is not there is sent again. Failures are classed as everywhere else: a refused effect is
``failed`` for good with the vendor's reason; a transient failure, a 429 beyond the pacer's patience or a stopped
destination leaves the intent ``pending`` for the next run.

Every vendor call is paced and its 429s waited out by the connector's pacer (:mod:`syncer.delivery.pacer`). Tasks go
in batches of the size their connector declares, and a batch is retried within the run like a batch of field
writes: after a rate limit, a transient failure or a lost reply (backing off with jitter), and for the tasks the
CRM answered retryable; since every sending looks the keys up first, a retry never duplicates a task. Alert posts
are not sent again within the run after a request with no reply (the next run looks for them first).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING

from syncer.alerts.templates import AlertTemplateError, render_marked
from syncer.contract.alerts import Alert, Change, Digest, DigestItem
from syncer.contract.destination import RecordStatus
from syncer.contract.effects import AlertChannel, AlertPost, EffectResult, TaskDestination, TaskRequest
from syncer.contract.errors import DeliveryError, TransientError
from syncer.effects.intents import render_plain
from syncer.effects.owners import Owner
from syncer.effects.payloads import AlertPayload, DigestPayload, TaskPayload, payload_of
from syncer.state.base import RunLockedError
from syncer.state.outbox import EffectKind, OutboxRecord, OutboxStatus

if TYPE_CHECKING:
    from syncer.effects.session import EffectsSession as Effects

RECORD_WAIT = timedelta(days=7)  # a task whose record the CRM never confirmed is given up after this
DIGEST_LOCK = "__syncer_digests__"  # digests span syncs: one sender at a time, whichever run gets there first
SENDING = (OutboxStatus.PENDING, OutboxStatus.SENDING)
HELD_NO_OWNER = "held, no owner"  # the error prefix of a task held because no active user may own it
SILENT_POSTS_STOP = 3  # posts in a row without a reply: the channel is likely down, leave the rest for the next run


def by_connector(records: Sequence[OutboxRecord]) -> dict[str, list[OutboxRecord]]:
    """Intents grouped by the connector they go through (in their order)."""
    groups: dict[str, list[OutboxRecord]] = {}
    for record in records:
        groups.setdefault(payload_of(record).connector, []).append(record)
    return groups


def send_tasks(effects: Effects, sync: str | None) -> None:
    """Create the due tasks, by CRM connector, on the records their syncs confirmed."""
    due = effects.store.outbox.due(effects.now, sync, (EffectKind.TASK,), SENDING)
    for connector, records in by_connector(due).items():
        _send_task_group(effects, connector, records)


def _send_task_group(effects: Effects, connector: str, records: list[OutboxRecord]) -> None:
    """Create the group's tasks batch by batch; a batch the policy gave up on leaves it and the rest pending."""
    store, now = effects.store, effects.now
    ready, ids = _ready_tasks(effects, records)
    if not ready:
        return
    payloads = [TaskPayload.from_json(r.payload) for r in ready]
    try:
        emails = [p.owner_email for p in payloads]
        fallbacks = [f for p in payloads if (f := _fallback(effects, p))]
        owners = effects.owners.crm(connector, lambda: effects.tasks(connector), [*emails, *fallbacks])
        destination, pacer = effects.tasks(connector), effects.task_pacer(connector)
    except DeliveryError as exc:  # the owners could not be read: the intents stay pending for the next run
        _leave_pending(effects, connector, [r.dedupe_key for r in ready], exc)
        return
    requests = []
    for record, payload in zip(ready, payloads, strict=True):
        owner_id = _task_owner(effects, record, payload, owners)
        if owner_id is None:
            continue  # held: never created unassigned
        requests.append(
            TaskRequest(
                record.dedupe_key,
                ids[(record.sync, record.key)],
                owner_id,
                payload.subject or "",
                payload.body or "",
                payload.due,
                payload.priority,
            )
        )
    size = max(1, destination.limits.task_batch)
    for start in range(0, len(requests), size):
        if effects.stopping():
            return  # shutting down: the batches not sent stay pending
        batch = _TaskBatch(effects, destination, requests[start : start + size])
        store.outbox.mark_sending([r.dedupe_key for r in batch.left], now)
        try:
            pacer.run(batch.attempt)
        except _UnsettledError as unsettled:  # the CRM kept answering "retryable" for these: the next run tries again
            for request, result in unsettled.results:
                _settle(effects, request.dedupe_key, result, "tasks")
        except DeliveryError as exc:
            rest = batch.left + requests[start + size :]
            _leave_pending(effects, connector, [r.dedupe_key for r in rest], exc)
            return


def _task_owner(
    effects: Effects, record: OutboxRecord, payload: TaskPayload, owners: Mapping[str | None, Owner]
) -> str | None:
    """The user a task is assigned to: the row's owner, else the trigger's ``fallback_owner``; ``None`` holds the
    task (it stays pending, the reason in its error, and is tried again on later runs: the rep may be added)."""
    owner = owners[payload.owner_email]
    if owner.id is not None:
        return owner.id
    fallback = _fallback(effects, payload)
    if fallback and owners[fallback].id is not None:
        effects.report.tasks["fallback_owner"] += 1
        return owners[fallback].id
    reason = f"{HELD_NO_OWNER}: {owner.reason}" + (f"; fallback {owners[fallback].reason}" if fallback else "")
    effects.store.outbox.failed(record.dedupe_key, reason, effects.now, retryable=True)
    effects.report.tasks["held_no_owner"] += 1
    return None


def _fallback(effects: Effects, payload: TaskPayload) -> str | None:
    """The trigger's ``task.fallback_owner``, else ``tasks.fallback_owner`` of syncer.yaml."""
    return payload.fallback_owner or effects.task_fallback_owner or None


class _UnsettledError(TransientError):
    """Tasks the CRM answered retryable (a row lock, a reply that left them out): tried again like a transient
    failure of their batch, and left pending when the attempts run out."""

    def __init__(self, results: list[tuple[TaskRequest, EffectResult]]) -> None:
        super().__init__(f"{len(results)} tasks answered retryable", results[0][1].code)
        self.results = results


class _TaskBatch:
    """One batch of tasks, sent until each is settled; each attempt sends only the tasks not settled yet."""

    def __init__(self, effects: Effects, destination: TaskDestination, batch: list[TaskRequest]) -> None:
        self.effects, self.destination, self.left = effects, destination, batch

    def attempt(self) -> None:
        """One sending (the destination looks the keys up first); raises :class:`_UnsettledError` for what is left."""
        results = self.destination.create_tasks(self.left)
        unsettled = []
        for request, result in zip(self.left, results, strict=True):
            if result.status is RecordStatus.RETRYABLE:
                unsettled.append((request, result))
            else:
                _settle(self.effects, request.dedupe_key, result, "tasks")
        self.left = [request for request, _ in unsettled]
        if unsettled:
            raise _UnsettledError(unsettled)


def _leave_pending(effects: Effects, connector: str, keys: list[str], error: DeliveryError) -> None:
    """These intents were not created (a whole request failed, or the policy gave up): pending for the next run."""
    for key in keys:
        effects.store.outbox.failed(key, str(error), effects.now, retryable=True)
    effects.report.tasks["retry"] += len(keys)
    effects.report.errors.append(f"tasks via {connector}: {error}")


def _ready_tasks(
    effects: Effects,
    records: list[OutboxRecord],
) -> tuple[list[OutboxRecord], dict[tuple[str, str], str]]:
    """The records whose CRM record the sync confirmed, with those ids; a task still waiting for its record after
    :data:`RECORD_WAIT` is failed for good."""
    store, now, report = effects.store, effects.now, effects.report
    ids: dict[tuple[str, str], str] = {}
    for sync in {r.sync for r in records}:
        found = store.snapshot.record_ids(sync, [r.key for r in records if r.sync == sync])
        ids |= {(sync, key): record_id for key, record_id in found.items()}
    ready = []
    for record in records:
        if (record.sync, record.key) in ids:
            ready.append(record)
        elif now - record.created_at > RECORD_WAIT:
            store.outbox.failed(
                record.dedupe_key, "the CRM never confirmed the record the task belongs to", now, retryable=False
            )
            report.tasks["failed"] += 1
        else:
            report.tasks["waiting_for_record"] += 1
    return ready, ids


def _settle(effects: Effects, key: str, result: EffectResult, counter: str) -> None:
    store, now = effects.store, effects.now
    tally = effects.report.tasks if counter == "tasks" else effects.report.alerts
    if result.status is RecordStatus.CONFIRMED:
        store.outbox.done(key, result.external_id, now)
        tally["existed" if result.already_existed else ("created" if counter == "tasks" else "sent")] += 1
    else:
        retryable = result.status is RecordStatus.RETRYABLE
        message = f"{result.code or 'refused'}: {result.message or ''}".strip()
        store.outbox.failed(key, message, now, retryable=retryable)
        tally["retry" if retryable else "failed"] += 1
        if not retryable:
            effects.report.errors.append(f"{counter}: {key.split(':')[2] if key.count(':') >= 3 else key}: {message}")


def send_alerts(effects: Effects, sync: str | None) -> None:
    """Post the due alerts, by alert connector; an interrupted one is looked for before it is posted again."""
    due = effects.store.outbox.due(effects.now, sync, (EffectKind.ALERT,), SENDING)
    for connector, records in by_connector(due).items():
        posts = {r.dedupe_key: post for r in records if (post := _alert_post(effects, r)) is not None}
        try:
            _post_all(effects, effects.channel(connector), [r for r in records if r.dedupe_key in posts], posts)
        except DeliveryError as exc:
            effects.report.errors.append(f"alerts via {connector}: {exc}")


def _post_all(
    effects: Effects, channel: AlertChannel, records: Sequence[OutboxRecord], posts: dict[str, AlertPost]
) -> None:
    """Post each record's message, recovering interrupted ones first, taking the recipients in turn so one rep's
    per-channel pace does not hold up the others. A post with no reply stays ``sending`` and the rest go on; three
    such in a row, or any other whole-request failure, stop the run's posting (the rest stay pending) and raise."""
    store, now = effects.store, effects.now
    interrupted = [posts[r.dedupe_key] for r in records if r.status is OutboxStatus.SENDING]
    found = dict(channel.find_posts(interrupted)) if interrupted else {}
    silent = 0
    for record in _in_turn(records, posts):
        key = record.dedupe_key
        if effects.stopping() and key not in found:
            return  # shutting down: what is not posted yet stays pending
        if key in found:
            store.outbox.done(key, found[key], now)
            effects.report.alerts["found_posted"] += 1
            continue
        if not store.outbox.mark_sending([key], now):
            continue
        try:
            result = channel.post(posts[key])
        except TransientError as exc:
            _unsent(effects, key, exc)
            silent += 1
            if silent >= SILENT_POSTS_STOP:
                raise
            continue
        except DeliveryError as exc:
            _unsent(effects, key, exc)
            raise
        silent = 0
        _settle(effects, key, result, "alerts")


def _in_turn(records: Sequence[OutboxRecord], posts: dict[str, AlertPost]) -> list[OutboxRecord]:
    """Records reordered round-robin over their recipients (each recipient's own order kept)."""
    queues: dict[str, list[OutboxRecord]] = {}
    for record in records:
        post = posts[record.dedupe_key]
        queues.setdefault(post.channel or post.user_id or "", []).append(record)
    ordered: list[OutboxRecord] = []
    while queues:
        for target in list(queues):
            ordered.append(queues[target].pop(0))
            if not queues[target]:
                del queues[target]
    return ordered


def _unsent(effects: Effects, key: str, error: DeliveryError) -> None:
    """A post's request failed. Refused before anything was written (429, bad token): back to ``pending``. No
    reply (a timeout, a cut connection): the channel may have posted it, so it stays ``sending`` and the next attempt
    reads the channel's history for it first."""
    if isinstance(error, TransientError):
        effects.report.alerts["unknown"] += 1
        return
    effects.store.outbox.failed(key, str(error), effects.now, retryable=True)
    effects.report.alerts["retry"] += 1


def _alert_post(effects: Effects, record: OutboxRecord) -> AlertPost | None:
    """The alert value of a staged alert, its template rendered now (the record's URL needs the id the CRM
    confirmed); the connector draws it."""
    payload = AlertPayload.from_json(record.payload)
    row = payload.row
    try:
        record_url = None
        if payload.record_url:
            record_id = effects.store.snapshot.record_ids(record.sync, [record.key]).get(record.key)
            record_url = render_plain(payload.record_url, {**row, "record_id": record_id}) or None
        title = _title(payload, record.key)
        changes = payload.changes
        alert = Alert(
            record.dedupe_key,
            title,
            render_marked(payload.template, row),
            payload.score,
            payload.tier,
            payload.signals,
            None if changes is None else [Change(*c) for c in changes],
            record_url,
        )
    except (AlertTemplateError, ValueError) as exc:
        effects.store.outbox.failed(record.dedupe_key, f"alert template: {exc}", effects.now, retryable=False)
        effects.report.alerts["failed"] += 1
        effects.report.errors.append(f"alerts: {record.key}: {exc}")
        return None
    return AlertPost(
        record.dedupe_key,
        alert,
        channel=payload.channel,
        user_id=payload.rep,
        posted_after=record.created_at - timedelta(minutes=5),
    )


def _title(payload: AlertPayload, key: str) -> str:
    try:
        return render_plain(payload.title, payload.row) or key
    except ValueError:
        return key


def send_digests(effects: Effects) -> None:
    """Post each due digest (one per rep and local day) with the alerts it holds, best first."""
    store, now = effects.store, effects.now
    due = store.outbox.due(now, None, (EffectKind.DIGEST,), SENDING)
    if not due:
        return
    try:
        with store.runs.lock(DIGEST_LOCK, 0):
            for digest in store.outbox.due(now, None, (EffectKind.DIGEST,), SENDING):
                _send_digest(effects, digest)
    except RunLockedError:
        return  # another run is sending them
    except DeliveryError as exc:
        effects.report.errors.append(f"digests: {exc}")


def _send_digest(effects: Effects, digest: OutboxRecord) -> None:
    store, now = effects.store, effects.now
    payload = DigestPayload.from_json(digest.payload)
    digest_key = payload.digest_key
    held = [
        (r, AlertPayload.from_json(r.payload))
        for r in store.outbox.records(kinds=(EffectKind.ALERT,), statuses=(OutboxStatus.HELD,))
    ]
    held = [(r, p) for r, p in held if p.digest_key == digest_key]
    held.sort(key=lambda held_alert: (-(held_alert[1].priority or float("-inf")), held_alert[0].key))
    members = [r for r, _ in held]
    items = [DigestItem(_title(p, r.key), p.score, p.tier) for r, p in held]
    day = digest_key.rsplit("/", 1)[-1]
    post = AlertPost(
        digest.dedupe_key,
        Digest(digest_key, day, items),
        user_id=payload.rep,
        posted_after=digest.created_at - timedelta(minutes=5),
    )
    channel = effects.channel(payload.connector)
    if digest.status is OutboxStatus.SENDING:
        found = channel.find_posts([post])
        if digest.dedupe_key in found:
            store.outbox.done(digest.dedupe_key, found[digest.dedupe_key], now, [m.dedupe_key for m in members])
            effects.report.digests += 1
            return
    if not members:
        store.outbox.failed(digest.dedupe_key, "no alerts held for this digest", now, retryable=False)
        return
    if not store.outbox.mark_sending([digest.dedupe_key], now):
        return
    try:
        result = channel.post(post)
    except DeliveryError as exc:
        _unsent(effects, digest.dedupe_key, exc)
        raise
    if result.status is RecordStatus.CONFIRMED:
        store.outbox.done(digest.dedupe_key, result.external_id, now, [m.dedupe_key for m in members])
        effects.report.digests += 1
    else:
        store.outbox.failed(
            digest.dedupe_key,
            f"{result.code}: {result.message}",
            now,
            retryable=result.status is RecordStatus.RETRYABLE,
        )
