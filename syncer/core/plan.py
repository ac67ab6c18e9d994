"""The plan: what one run of a sync would send, as an immutable value.

A plan is computed from the model and the snapshot and sends nothing. ``changes`` holds one row per key to write,
ordered by key, read as Arrow record batches (a first sync of ten million rows must not sit on the heap):

====== =================================================================================================
column meaning
====== =================================================================================================
op      ``create`` | ``update`` | ``clear`` | ``refresh`` (snapshot bookkeeping only, nothing to send)
key     the model key, normalised (see :func:`syncer.core.fields.identity_sql`)
record_id  the destination record id the snapshot knows, or null (also when the match value moved: the record
        to write is then the one the new match value finds)
match   the value of the match column (e.g. the external id) used to find the record: the new one
changed the names of the fields to send
values  a struct of every mapped field's normalised text (null where empty), the state after this change
hash    the row hash the snapshot stores once the destination confirms
====== =================================================================================================
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

import pyarrow as pa

from syncer.core.guards import GuardTrip, allow_hint
from syncer.core.triggers import FIRING_SCHEMA, LANDING_SCHEMA


class ChangeOp(StrEnum):
    """The ``op`` of a change row. ``REFRESH``: the row hash moved but no value did; nothing is sent."""

    CREATE = "create"
    UPDATE = "update"
    CLEAR = "clear"
    REFRESH = "refresh"


CHANGE_OPS = (ChangeOp.CREATE, ChangeOp.UPDATE, ChangeOp.CLEAR)  # what reaches a destination
PLAN_OPS = (*CHANGE_OPS, ChangeOp.REFRESH)


class ChangeRows(Protocol):
    """The change rows of a plan. Implementations never change their rows once built."""

    @property
    def count(self) -> int:
        """How many rows (every op, ``refresh`` included)."""

    def batches(self, size: int = 10_000, op: str | None = None) -> Iterator[pa.RecordBatch]:
        """The rows in key order, ``size`` at a time, optionally only those with ``op``."""

    def to_table(self, op: str | None = None, limit: int | None = None) -> pa.Table:
        """The rows (optionally only ``op``, at most ``limit``) as one table: for samples and small plans."""


@dataclass(frozen=True)
class ChangeCounts:
    """How many keys fall in each class. ``removed``: keys that left the model of a sync whose removals are ignored.
    ``skipped``: new keys whose row fails the destination's ``create_when`` (not sent, not rejected)."""

    create: int = 0
    update: int = 0
    clear: int = 0
    unchanged: int = 0
    removed: int = 0
    skipped: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"create": self.create, "update": self.update, "clear": self.clear, "unchanged": self.unchanged}


@dataclass(frozen=True)
class RejectedRow:
    """A model row that cannot be sent, and why (null or duplicate key, a value that does not convert, ...)."""

    key: str | None
    reason: str


@dataclass(frozen=True)
class Plan:
    """Everything one run of ``sync`` would do. Build it with :func:`syncer.planning.planner.plan_sync`."""

    sync: str
    fields: tuple[str, ...]
    model_rows: int
    counts: ChangeCounts
    changes: ChangeRows
    rejected: tuple[RejectedRow, ...]
    rejected_total: int
    meta: Mapping[str, Any] = field(default_factory=dict)
    synced: int = 0  # keys the snapshot held as present when planned
    guard_trips: tuple[GuardTrip, ...] = ()  # mass-change limits this plan goes past (a run refuses it)
    # Trigger firings (:data:`syncer.core.triggers.FIRING_SCHEMA`), ordered by trigger and key: at most one per
    # trigger and created or updated key, so bounded by triggers x (creates + updates); kept in Arrow (compact).
    firings: pa.Table = field(default_factory=FIRING_SCHEMA.empty_table)
    # Fired rows found landed in the snapshot (:func:`syncer.core.triggers.landings_sql`): recorded with the firings.
    landings: pa.Table = field(default_factory=LANDING_SCHEMA.empty_table)

    @property
    def is_empty(self) -> bool:
        return self.counts.create + self.counts.update + self.counts.clear == 0

    @property
    def blocked(self) -> bool:
        """A guard trips: a run refuses this plan unless the operator allows a mass change."""
        return bool(self.guard_trips)

    def guard_message(self) -> str:
        """One line: what the plan would do that the guards refuse, and how to allow it ('' when none trips)."""
        if not self.guard_trips:
            return ""
        return f"{self.sync}: {'; '.join(t.describe() for t in self.guard_trips)}; {allow_hint(self.sync)}"

    def rows(self, op: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        """Change rows as dicts, optionally only those with ``op``; for display and tests, not for bulk work."""
        return self.changes.to_table(op, limit).to_pylist()  # type: ignore[no-any-return]

    def change_counts(self) -> dict[str, int]:
        """The counts by class; when adoption was previewed (``meta["adoption"]``, see
        :mod:`syncer.planning.adoption`), the creates split into ``create``, ``adopt`` and ``ambiguous``."""
        adoption = self.meta.get("adoption")
        changes: dict[str, int] = self.counts.as_dict()
        if isinstance(adoption, Mapping):
            changes |= {
                "create": adoption["create"],
                "adopt": adoption["adopt"],
                "ambiguous": len(adoption["ambiguous"]),
            }
        return changes

    def summary(self, sample: int = 3) -> dict[str, Any]:
        """The JSON shape of ``syncer plan --json``."""
        adoption = self.meta.get("adoption")
        return {
            "sync": self.sync,
            "model_rows": self.model_rows,
            "changes": self.change_counts(),
            "ambiguous": adoption["ambiguous"] if isinstance(adoption, Mapping) else [],
            "adoption_not_previewed": adoption if isinstance(adoption, str) else None,
            "removed_ignored": self.counts.removed,
            "skipped_create_when": self.counts.skipped,
            "owners": self.meta.get("owners"),
            "rejected": self.rejected_total,
            "rejected_rows": [{"key": r.key, "reason": r.reason} for r in self.rejected[: sample * 10]],
            "synced": self.synced,
            "guard_trips": [trip.as_dict() for trip in self.guard_trips],
            "allow": allow_hint(self.sync) if self.guard_trips else None,
            "samples": {op: self.rows(op, sample) for op in CHANGE_OPS},
        }


def apply_plan(previous: Mapping[str, Mapping[str, str | None]], plan: Plan) -> dict[str, dict[str, str | None]]:
    """The snapshot that results from ``previous`` once every change in ``plan`` is confirmed (pure).

    Creates and updates set the key's values; clears remove the key (its fields are emptied in the destination);
    rejected keys and ignored removals keep what they had.
    """
    result = {key: dict(values) for key, values in previous.items()}
    for batch in plan.changes.batches():
        for row in batch.to_pylist():
            if row["op"] == "clear":
                result.pop(row["key"], None)
            else:
                result[row["key"]] = dict(row["values"])
    return result
