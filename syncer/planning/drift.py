"""Drift: where the CRM no longer holds what syncer last confirmed (a human's edit, another tool's write).

Reads the snapshot's present records with a known id, ``READ_CHUNK`` at a time, and the destination's current values
of the synced fields for those records (:class:`syncer.contract.destination.RecordReader`, in the vendor's batch
reads); compares each field as the write policy ``unless_changed_in_crm`` does
(:func:`same_value`). Writes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from syncer.config.sync import SyncConfig
from syncer.contract.destination import Destination, RecordReader
from syncer.state.base import StateStore

EXAMPLES = 5
READ_CHUNK = 2_000  # records whose CRM values are read at once (the destination splits them into its batches)


class RecordsUnreadableError(Exception):
    """The destination cannot read its records, so neither drift nor a write policy can be judged."""


def same_value(crm: str | None, confirmed: str | None) -> bool:
    """Whether the CRM's value is the one syncer confirmed: empty equals empty, numbers compare as numbers (a CRM
    answers ``42.0`` for ``42``), booleans and the rest as text, booleans without case."""
    if not crm or not confirmed:
        return not crm and not confirmed
    if crm == confirmed:
        return True
    try:
        return float(crm) == float(confirmed)
    except ValueError:
        pass
    pair = {crm.lower(), confirmed.lower()}
    return pair <= {"true", "false"} and len(pair) == 1


@dataclass(frozen=True)
class DriftExample:
    key: str
    record_id: str
    crm: str | None
    confirmed: str | None


@dataclass
class FieldDrift:
    """One field: how many records differ, and the first few."""

    name: str
    policy: str
    keys: int = 0
    examples: list[DriftExample] = field(default_factory=list)


@dataclass
class DriftReport:
    sync: str
    records: int = 0  # records compared
    missing: int = 0  # records the snapshot holds that the destination no longer has
    fields: dict[str, FieldDrift] = field(default_factory=dict)

    @property
    def drifted(self) -> bool:
        return any(f.keys for f in self.fields.values()) or self.missing > 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "sync": self.sync,
            "records": self.records,
            "missing": self.missing,
            "fields": [
                {"field": f.name, "overwrite": f.policy, "keys": f.keys, "examples": [vars(e) for e in f.examples]}
                for f in self.fields.values()
            ],
        }


def synced_fields(sync: SyncConfig) -> list[str]:
    """The fields whose values syncer owns: every mapped field but the match field (it identifies the record)."""
    match = sync.destination.match.field if sync.destination is not None else None
    return [name for name in sync.fields if name != match]


def find_drift(
    sync: SyncConfig, store: StateStore, destination: Destination, fields: Sequence[str] | None = None
) -> DriftReport:
    """Compare the CRM's current values of ``fields`` (default: :func:`synced_fields`) with the snapshot's."""
    if not (destination.capabilities.reads_records and isinstance(destination, RecordReader)):
        raise RecordsUnreadableError(f"{sync.name}: this destination cannot read its records, so drift cannot be seen")
    names = list(fields) if fields is not None else synced_fields(sync)
    report = DriftReport(
        sync.name, fields={name: FieldDrift(name, sync.fields[name].overwrite.value) for name in names}
    )
    con = store.workspace().cursor()
    try:
        result = con.execute(
            f"SELECT key, record_id, fields FROM (SELECT * FROM {store.snapshot.relation(sync.name)})"
            " WHERE present AND record_id IS NOT NULL ORDER BY key"
        )
        while rows := result.fetchmany(READ_CHUNK):
            current = destination.read_records([str(row[1]) for row in rows], names)
            for key, record_id, fields_json in rows:
                crm = current.get(str(record_id))
                if crm is None:
                    report.missing += 1
                    continue
                report.records += 1
                confirmed = json.loads(fields_json) if fields_json else {}
                for name in names:
                    theirs, ours = crm.get(name), confirmed.get(name)
                    ours = None if ours is None else str(ours)
                    if not same_value(theirs, ours):
                        _note(report.fields[name], DriftExample(str(key), str(record_id), theirs, ours))
    finally:
        con.close()
    return report


def _note(drift: FieldDrift, example: DriftExample) -> None:
    drift.keys += 1
    if len(drift.examples) < EXAMPLES:
        drift.examples.append(example)
