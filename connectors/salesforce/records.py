"""How each record of a batch reaches Salesforce: its route, its field values on the wire, and the replies read back.

Routes, decided per record from the target's match rule, the sync mode and the operation:

- match on an External ID field, and the record may be created (``upsert``/``mirror`` mode, not a ``clear``):
  ``UPSERT`` by that field, so a re-sent write never makes a second record;
- match on an External ID field otherwise: ``UPDATE`` by the record id the snapshot knows, or by the one record a
  query finds for the match value (none: rejected "no record to update"; several: rejected naming them);
- match on ``Id``: ``UPDATE`` by the record id (the snapshot's, else the match value); a ``create`` without one
  is an ``INSERT`` when the mode may create, else rejected "no record to update".

A ``clear`` sends the given fields as null (``#N/A`` in Bulk CSV) and never creates a record.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from connectors.salesforce.errors import record_result
from syncer.contract.destination import Operation, RecordResult, Target, WriteRecord
from syncer.contract.enums import FieldType, SyncMode


class Route(StrEnum):
    UPSERT = "upsert"
    UPDATE = "update"
    INSERT = "insert"
    LOOKUP = "lookup"  # find the record id by the external id first, then UPDATE


@dataclass(frozen=True)
class Planned:
    """One record on its way: ``key`` is the external id value (UPSERT, LOOKUP) or record id (UPDATE)."""

    index: int
    route: Route
    key: str
    values: Mapping[str, str | None]


NO_RECORD = RecordResult.rejected(
    "NO_RECORD_TO_UPDATE", "no record to update: the record has no Salesforce id and the sync may not create one"
)


def matches_id(target: Target) -> bool:
    return target.match_field.lower() == "id"


def sent_values(op: Operation, record: WriteRecord) -> dict[str, str | None]:
    """The fields to send: as given, or all null for a ``clear``."""
    if op is Operation.CLEAR:
        return dict.fromkeys(record.values)
    return dict(record.values)


def route(op: Operation, record: WriteRecord, target: Target, index: int) -> Planned | RecordResult:
    """Where one record goes, or its result when it cannot be sent at all."""
    values = sent_values(op, record)
    may_create = target.mode is not SyncMode.UPDATE and op is not Operation.CLEAR
    if matches_id(target):
        record_id = record.record_id or record.match
        if record_id:
            return Planned(index, Route.UPDATE, record_id, values)
        if may_create and op is Operation.CREATE:
            return Planned(index, Route.INSERT, "", values)
        return NO_RECORD
    if may_create:
        if not record.match:
            return RecordResult.rejected("MISSING_MATCH_VALUE", f"the match value for {target.match_field} is empty")
        return Planned(index, Route.UPSERT, record.match, values)
    if record.record_id:
        return Planned(index, Route.UPDATE, record.record_id, values)
    if not record.match:
        return NO_RECORD
    return Planned(index, Route.LOOKUP, record.match, values)


def resolve_lookup(planned: Planned, found: Sequence[str], target: Target) -> Planned | RecordResult:
    """A LOOKUP record once the query answered with the ids of the records holding its match value."""
    if not found:
        return RecordResult.rejected(
            "NO_RECORD_TO_UPDATE", f"no record to update: no {target.object} has {target.match_field} = {planned.key}"
        )
    if len(found) > 1:
        return RecordResult.rejected(
            "MULTIPLE_MATCHES",
            f"{len(found)} {target.object} records have {target.match_field} = {planned.key}: {', '.join(found)}",
        )
    return Planned(planned.index, Route.UPDATE, found[0], planned.values)


def json_value(value: str | None, kind: FieldType | None) -> Any:
    """A normalised text value as the JSON member Salesforce deserialises into the field's type.

    Raises ValueError when the text is not of ``kind``: Salesforce would fail the whole request for it.
    """
    if value is None or value == "":
        return None
    if kind is FieldType.BOOLEAN:
        if value.lower() not in {"true", "false"}:
            raise ValueError(f"{value!r} is not a boolean")
        return value.lower() == "true"
    if kind in {FieldType.NUMBER, FieldType.INTEGER}:
        try:
            number = Decimal(value)
        except InvalidOperation:
            raise ValueError(f"{value!r} is not a number") from None
        if not number.is_finite():
            raise ValueError(f"{value!r} is not a finite number")
        if number == number.to_integral_value() and abs(number) < 2**53:
            return int(number)
        if kind is FieldType.INTEGER:
            raise ValueError(f"{value!r} is not an integer")
        converted = float(number)
        if converted in {float("inf"), float("-inf")}:
            raise ValueError(f"{value!r} is out of range")
        return converted
    return value


def payload(planned: Planned, target: Target) -> dict[str, Any] | RecordResult:
    """One sObject of a Collections request, or the record's rejection when a value is not of its field's type."""
    body: dict[str, Any] = {"attributes": {"type": target.object}}
    if planned.route is Route.UPSERT:
        body[target.match_field] = planned.key
    elif planned.route is Route.UPDATE:
        body["Id"] = planned.key
    for name, value in planned.values.items():
        try:
            body[name] = json_value(value, target.fields.get(name))
        except ValueError as exc:
            return RecordResult.rejected("INVALID_TYPE", f"{name}: {exc}")
    return body


def save_results(reply: Any, count: int) -> list[RecordResult] | None:
    """Collections' per-record results, in input order; ``None`` when the reply is not one result per record."""
    if not isinstance(reply, list) or len(reply) != count:
        return None
    results = []
    for item in reply:
        if not isinstance(item, dict):
            return None
        if item.get("success"):
            results.append(RecordResult.confirmed(str(item["id"]) if item.get("id") else None))
        else:
            results.append(record_result(item.get("errors") or []))
    return results
