"""The destination interface: what a connector declares and what it answers, one result per record.

A connector is opened for one sync's target (object, mode, match rule) and receives batches of
:class:`WriteRecord`. It sends each batch in as few vendor calls as the vendor allows and returns a
:class:`BatchResult` with exactly one :class:`RecordResult` per record, in input order:

- ``CONFIRMED``: the destination holds the record's values; ``record_id`` is its id there. The snapshot advances.
- ``REJECTED``: the vendor refused this record (``code`` and ``message`` are the vendor's). The rest of the batch
  is unaffected; the row is kept as a row error and tried again next run.
- ``RETRYABLE``: this record was not written for a reason that may pass (a row lock, a rolled-back batch).

Whole-batch failures are raised instead, as the classes in :mod:`syncer.contract.errors`. Connectors never sleep
and never retry: the executor owns waiting and retrying, so waits are counted and tests never wait on real time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol, runtime_checkable

from syncer.contract.enums import FieldType, SyncMode


class Operation(StrEnum):
    """What a plan asks of one record. ``CLEAR`` empties the fields syncer owns; syncer never deletes a record."""

    CREATE = "create"
    UPDATE = "update"
    CLEAR = "clear"


class RecordStatus(StrEnum):
    CONFIRMED = "confirmed"
    REJECTED = "rejected"
    RETRYABLE = "retryable"


@dataclass(frozen=True)
class Target:
    """Where a sync writes: the destination ``object``, the sync ``mode`` and the match rule.

    ``match_field`` is the destination field the model's match column equals (``id`` for the record id itself).
    ``fields`` are the mapped destination fields with their types, for ``check`` and ``setup``.
    ``adopt_field``: where a record the match value does not find may already exist (a company's ``domain``):
    before creating, the connector looks for it there and, when exactly one record has the row's adopt value and
    no other match value, writes to it (see :attr:`WriteRecord.adopt`); ``None``: never adopt.
    ``sync`` is the name of the sync writing (a destination that labels what it sends with it, as the webhook's
    body does).
    ``values`` are, per field, the values the mapping can produce when it knows them all (a value map's results, a
    static value, a task priority): ``check`` compares them, case included, with an enumeration's or picklist's
    options.
    """

    object: str
    mode: SyncMode
    match_field: str
    fields: Mapping[str, FieldType] = field(default_factory=dict)
    adopt_field: str | None = None
    sync: str | None = None
    values: Mapping[str, frozenset[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class WriteRecord:
    """One record to write. ``values`` holds only the fields to send (``None`` empties a field), as normalised text.

    ``record_id`` is the id the snapshot knows (or ``None``); ``match`` is the match column's value; ``adopt`` the
    value a ``create`` looks an existing record up by (:attr:`Target.adopt_field`), ``None`` when not adopting.
    """

    key: str
    op: Operation
    record_id: str | None
    match: str | None
    values: Mapping[str, str | None]
    adopt: str | None = None


@dataclass(frozen=True)
class RecordResult:
    """``adopted``: a confirmed ``create`` written to a record that already existed (found by the adopt field),
    not a new one."""

    status: RecordStatus
    record_id: str | None = None
    code: str | None = None
    message: str | None = None
    adopted: bool = False

    @classmethod
    def confirmed(cls, record_id: str | None, *, adopted: bool = False) -> RecordResult:
        return cls(RecordStatus.CONFIRMED, record_id, adopted=adopted)

    @classmethod
    def rejected(cls, code: str, message: str) -> RecordResult:
        return cls(RecordStatus.REJECTED, None, code, message)

    @classmethod
    def retryable(cls, code: str, message: str) -> RecordResult:
        return cls(RecordStatus.RETRYABLE, None, code, message)


@dataclass(frozen=True)
class RateInfo:
    """What a vendor's reply said about its limits, for the limiter to slow down *before* a 429.

    ``remaining`` requests in the current window of ``interval_s`` seconds, of ``limit`` the window allows;
    ``daily_remaining`` of ``daily_limit`` for the day.
    """

    remaining: int | None = None
    limit: int | None = None
    interval_s: float | None = None
    daily_remaining: int | None = None
    daily_limit: int | None = None


@dataclass(frozen=True)
class BatchResult:
    """One result per record, in input order, plus what the replies said about limits and how many calls it took."""

    results: Sequence[RecordResult]
    calls: int = 1
    rate: RateInfo | None = None


@dataclass(frozen=True)
class RatePolicy:
    """A vendor's documented limits, as data. The limiter paces to them and adapts to :class:`RateInfo`.

    ``requests`` per rolling ``window_s`` seconds; ``daily`` requests per day (``None``: not limited);
    ``concurrency``: requests in flight at once.
    """

    requests: int
    window_s: float
    daily: int | None = None
    concurrency: int = 4


@dataclass(frozen=True)
class CallLimit:
    """One limiter an effect connector declares: the vendor calls (``methods``) it paces, at ``rate``.

    The calls of one limit share its limiter because the vendor counts them together (HubSpot counts a portal's
    calls in one window). ``per_scope``: one limiter per scope a call names instead (a chat vendor
    paces its posts per channel).
    """

    name: str
    rate: RatePolicy
    methods: frozenset[str]
    per_scope: bool = False


@dataclass(frozen=True)
class EffectLimits:
    """How fast an effect connector (CRM tasks, chat alerts) may call its vendor, declared once as data in its
    capabilities: every vendor call it makes is named by one of ``limits``. ``task_batch``: tasks per creation call
    (0: it creates no tasks)."""

    limits: tuple[CallLimit, ...]
    task_batch: int = 0

    def limit_of(self, method: str) -> CallLimit:
        """The limit that paces ``method``; raises ``KeyError`` for a call the connector did not declare."""
        for limit in self.limits:
            if method in limit.methods:
                return limit
        raise KeyError(f"no declared limit paces {method}")


@dataclass(frozen=True)
class Capabilities:
    """What a connector can do, declared as data.

    ``max_batch``: records per call for each operation (none: the connector takes no field writes).
    ``modes``/``objects``: what a sync may target (``objects`` ``None``: any object name); ``syncer validate``
    checks every destination against them through the registry, so this is the one place a connector declares them.
    Every connector's writes must be safe to repeat (an upsert or an update by id): a crash between send and commit
    costs a re-send, never a duplicate.
    ``bulk_threshold``/``bulk_batch``: when a run has at least ``bulk_threshold`` records of one operation, the
    executor hands the connector batches of ``bulk_batch`` instead (Salesforce Bulk API 2.0); the connector picks
    its bulk path for any batch larger than ``max_batch``.
    ``adopts``: the connector looks a ``create`` up by :attr:`Target.adopt_field` before creating it (``syncer
    validate`` refuses ``adopt_by`` on a connector without it). ``owner_field``: the field holding a record's owner
    (a destination's ``owner:`` writes the resolved user id there); ``None``: records have no owner to set.
    """

    max_batch: Mapping[Operation, int]
    rate: RatePolicy
    modes: frozenset[SyncMode]
    objects: frozenset[str] | None = None  # None: any object name
    bulk_threshold: int | None = None
    bulk_batch: int | None = None
    adopts: bool = False
    owner_field: str | None = None
    reads_records: bool = False  # the destination is a RecordReader: write policies and `syncer drift` need it
    has_schema: bool = True  # fields and types to check before a run (a webhook takes any: nothing to preflight)

    def batch_size(self, op: Operation, total: int) -> int:
        """Records per :meth:`Destination.write` call for a run with ``total`` records of ``op``."""
        if self.bulk_threshold is not None and self.bulk_batch is not None and total >= self.bulk_threshold:
            return self.bulk_batch
        return self.max_batch[op]


@dataclass(frozen=True)
class FieldCheck:
    """A finding of :meth:`Destination.check`: a mapped field that is missing, of an incompatible type, or a value the
    mapping produces that the field's options (an enumeration, a picklist) do not hold."""

    field: str
    problem: str
    fixable: bool = False  # ``syncer setup`` can create it
    about_type: bool = False  # the field's type, judged from the type the target gives (inferred when undeclared)


@runtime_checkable
class RecordReader(Protocol):
    """A destination that can read its records' current values (declared by ``Capabilities.reads_records``).

    Field write policies (``overwrite: if_empty | unless_changed_in_crm``) and ``syncer drift`` read what the CRM
    holds now, in the vendor's batch reads, only for the records and fields they need.
    """

    def read_records(self, record_ids: Sequence[str], fields: Sequence[str]) -> Mapping[str, Mapping[str, str | None]]:
        """``{record id: {field: current value as text, None when empty}}`` for the records that exist (a missing or
        deleted record is absent from the answer). Reads in batches of the vendor's size; raises a
        :class:`syncer.contract.errors.DeliveryError` subclass when the vendor refuses the read."""
        ...


@runtime_checkable
class AdoptionFinder(Protocol):
    """A destination that can say, without writing, which records a ``create`` would adopt (declared by
    ``Capabilities.adopts``), so ``syncer plan`` shows "adopt N" apart from "create N".

    It answers with the lookup its write path uses before creating (:attr:`Target.adopt_field`), so the plan's
    counts are what the following run does.
    """

    def find_adoptable(self, wanted: Sequence[tuple[str, str]]) -> Mapping[str, Sequence[str]]:
        """For each ``(adopt value, match value)`` of a planned create: the ids of the records holding the adopt
        value and no match value, keyed by the match value. A match value is absent when no record holds its adopt
        value, or when one already holds the match value itself (the write reaches that record: no adoption). One
        id: adopted; two or more: the row is rejected as ambiguous. Looks up in batches of the vendor's size; raises
        a :class:`syncer.contract.errors.DeliveryError` subclass when the vendor refuses the read."""
        ...


@runtime_checkable
class Destination(Protocol):
    """A connector opened for one :class:`Target`. Not thread-safe unless it says so: the executor serialises
    calls per destination unless ``capabilities.rate.concurrency`` > 1, in which case ``write`` must be safe to
    call from several threads."""

    @property
    def capabilities(self) -> Capabilities: ...

    def write(self, op: Operation, records: Sequence[WriteRecord]) -> BatchResult:
        """Send ``records`` (all of ``op``, at most ``capabilities.max_batch[op]``); one result per record.

        Raises a :class:`syncer.contract.errors.DeliveryError` subclass for a failure of the whole batch.
        """
        ...

    def check(self) -> list[FieldCheck]:
        """Verify credentials and that every target field exists with a compatible type."""
        ...

    def setup(self) -> list[str]:
        """Create what :meth:`check` found missing where the vendor allows it; describe what was done or must be."""
        ...

    def close(self) -> None: ...
