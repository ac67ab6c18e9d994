"""Effects a trigger causes: CRM tasks for the account owner and chat alerts to the rep. Vendor-free interfaces.

Unlike field writes, effects are not idempotent at the vendor (a task or a post created twice is two), so each
carries a ``dedupe_key`` that is stable for one firing (sync, trigger, account key, the change that fired it).
The engine records an effect in its outbox before sending it and marks it done after; when it cannot know whether
a send happened (a crash, a lost reply), it first asks the destination for an effect carrying the same key
(:meth:`TaskDestination.find_tasks`, :meth:`AlertChannel.find_posts`) and only sends again when there is none.

Whole-request failures are raised as :mod:`syncer.contract.errors` classes, as for field writes; per-effect
outcomes are :class:`EffectResult` values. Implementations never sleep or retry: each declares its vendor's limits
as data (``limits``) and routes every vendor call through the :class:`Paced` callable the engine gives it
(:mod:`syncer.delivery.pacer`), which waits, and waits out rate limits, as the one retry policy says.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol, TypeVar

from syncer.contract.alerts import AlertMessage
from syncer.contract.destination import EffectLimits, RecordStatus

T = TypeVar("T")


class Paced(Protocol):
    """Runs one vendor call, ``request``, named ``method`` (and ``scope``: the channel of a post, else ``""``), when
    its limiter allows; a 429 is waited out and the call sent again (:meth:`syncer.delivery.pacer.Pacer.call`)."""

    def __call__(self, method: str, scope: str, request: Callable[[], T], /) -> T: ...


@dataclass(frozen=True)
class EffectResult:
    """What became of one effect. ``external_id``: the task id, or the chat message's id.

    ``already_existed``: the destination already held an effect with this dedupe key; nothing new was created.
    """

    status: RecordStatus
    external_id: str | None = None
    code: str | None = None
    message: str | None = None
    already_existed: bool = False


@dataclass(frozen=True)
class TaskRequest:
    """A CRM task for the owner of the record ``record_id`` (a HubSpot company id, a Salesforce Account id)."""

    dedupe_key: str
    record_id: str
    owner_id: str | None  # the CRM's own owner id (see :meth:`TaskDestination.owner_ids`); None: unassigned
    subject: str
    body: str
    due: date
    priority: str  # the vendor's own word: HubSpot HIGH|MEDIUM|LOW, Salesforce High|Normal|Low


def create_once(
    tasks: Sequence[TaskRequest],
    find: Callable[[Sequence[str]], Mapping[str, str]],
    create: Callable[[list[TaskRequest]], Mapping[str, EffectResult]],
    batch_max: int,
) -> list[EffectResult]:
    """The discipline every task destination follows, so a re-send after a crash or a lost reply creates nothing.

    Look the keys up first (``find``: ``{dedupe key: task id}``) and answer those as already existing; send each
    remaining key once, ``batch_max`` at a time (``create``: results by dedupe key). One result per task in input
    order: a key given twice is created once and answered twice; a task without a key is refused unsent, and one the
    vendor's reply left out is retryable (its key makes the retry safe). The engine sends a batch again after a
    transient failure or a lost reply (:meth:`syncer.delivery.pacer.Pacer.run`), and every sending looks first.
    """
    existing = find([t.dedupe_key for t in tasks if t.dedupe_key])
    results = {
        key: EffectResult(RecordStatus.CONFIRMED, task_id, already_existed=True) for key, task_id in existing.items()
    }
    pending: dict[str, TaskRequest] = {}
    for task in tasks:
        if task.dedupe_key and task.dedupe_key not in existing:
            pending.setdefault(task.dedupe_key, task)
    to_send = list(pending.values())
    for start in range(0, len(to_send), batch_max):
        results.update(create(to_send[start : start + batch_max]))
    return [results.get(t.dedupe_key) or _unanswered(t) for t in tasks]


def _unanswered(task: TaskRequest) -> EffectResult:
    if not task.dedupe_key:
        return EffectResult(RecordStatus.REJECTED, code="EMPTY_DEDUPE_KEY", message="a task needs a dedupe key")
    return EffectResult(RecordStatus.RETRYABLE, code="NO_RESULT", message="the reply held no result for this task")


class TaskDestination(Protocol):
    """Creates tasks in one CRM, batch-first, one result per task in input order."""

    def owner_ids(self, emails: Sequence[str]) -> Mapping[str, str]:
        """The CRM's owner (HubSpot) or User (Salesforce) id for each e-mail it knows; compared case-insensitively
        and without surrounding spaces. E-mails it does not know are absent from the answer."""
        ...

    def create_tasks(self, tasks: Sequence[TaskRequest]) -> list[EffectResult]:
        """Create the tasks (each associated with its record and assigned to its owner)."""
        ...

    def find_tasks(self, dedupe_keys: Sequence[str]) -> Mapping[str, str]:
        """Tasks this destination already holds for these keys: ``{dedupe key: task id}``."""
        ...

    def setup(self) -> list[str]:
        """Create what tasks need (the dedupe key property) where the CRM allows it; say what was done or is to do."""
        ...

    @property
    def limits(self) -> EffectLimits:
        """How fast each of its vendor calls may be made, and how many tasks go in one creation call."""
        ...

    def set_pacer(self, pace: Paced) -> None:
        """Route every vendor call through ``pace`` (unpaced until then: ``syncer setup``)."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class ChatMember:
    """A member of the chat workspace found by e-mail; ``tz`` is their IANA time zone (quiet hours use it)."""

    id: str
    email: str
    tz: str | None = None


@dataclass(frozen=True)
class AlertPost:
    """One message to a chat channel: to ``channel`` (an id or name), or as a DM to ``user_id`` when ``channel`` is
    None.

    ``message`` says what to say (:mod:`syncer.contract.alerts`); the channel draws it in the vendor's format and
    escapes the data in it. ``dedupe_key`` travels with the posted message so that an earlier post can be found after
    a lost reply.
    """

    dedupe_key: str
    message: AlertMessage
    channel: str | None = None
    user_id: str | None = None
    posted_after: datetime | None = None  # how far back :meth:`AlertChannel.find_posts` needs to look


class AlertChannel(Protocol):
    """Posts alerts to a chat workspace."""

    def lookup_users(self, emails: Sequence[str]) -> Mapping[str, ChatMember]:
        """The member for each e-mail the workspace knows (case and surrounding spaces ignored); unknown ones are
        absent."""
        ...

    def post(self, alert: AlertPost) -> EffectResult:
        """Post one message; the result's ``external_id`` is the vendor's message id. A message the channel cannot
        draw is a ``REJECTED`` result."""
        ...

    def find_posts(self, alerts: Sequence[AlertPost]) -> Mapping[str, str]:
        """Messages already posted for these alerts, found by the dedupe key in their metadata: ``{key: ts}``."""
        ...

    @property
    def limits(self) -> EffectLimits:
        """How fast each vendor method may be called (data the connector declares)."""
        ...

    def set_pacer(self, pace: Paced) -> None:
        """Route every vendor call through ``pace(method, scope, request)``; scope is the channel of a post."""
        ...

    def close(self) -> None: ...
