"""Field validation of one record about to be saved, with the error codes and messages a real org returns.

Checks run in the order Salesforce reports them and stop at the first failing kind, because the API reports one
problem per record: unknown fields (``INVALID_FIELD``), read-only fields (``INVALID_FIELD_FOR_INSERT_UPDATE``),
then per-value checks (``STRING_TOO_LONG``, restricted picklists, e-mail format, ``MALFORMED_ID``), then required
fields (``REQUIRED_FIELD_MISSING``, listing all of them) and finally referenced records
(``INVALID_CROSS_REFERENCE_KEY``, ``INACTIVE_OWNER_OR_USER``). Type conversion happens earlier (see values.py);
uniqueness is checked by the store, which sees the other records.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from connectors.salesforce.sandbox.errors import RecordError
from connectors.salesforce.sandbox.ids import is_well_formed
from connectors.salesforce.sandbox.schema import TEXT_TYPES, FieldSpec, FieldType, ObjectSpec

Resolver = Callable[[str], tuple[str, dict[str, Any]] | None]
Converter = Callable[[FieldSpec, Any], Any]

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def unknown_field_error(spec: ObjectSpec, names: Iterable[str]) -> RecordError | None:
    """``INVALID_FIELD`` for the first name that is not a field of ``spec``."""
    for name in names:
        if spec.field_named(name) is None:
            return RecordError("INVALID_FIELD", f"No such column '{name}' on sobject of type {spec.name}")
    return None


def convert_record(spec: ObjectSpec, data: Mapping[str, Any], convert: Converter) -> dict[str, Any]:
    """Known members of ``data`` under their canonical names, converted. ``convert`` raises ValueTypeError.

    Call :func:`unknown_field_error` first: unknown names are skipped here.
    """
    values: dict[str, Any] = {}
    for name, raw in data.items():
        field = spec.field_named(name)
        if field is None:
            continue
        values[field.name] = convert(field, raw)
    return values


def _readonly_error(spec: ObjectSpec, values: Mapping[str, Any], *, creating: bool) -> RecordError | None:
    blocked = [
        name for name in values if not (spec.fields[name].createable if creating else spec.fields[name].updateable)
    ]
    if not blocked:
        return None
    names = ", ".join(blocked)
    return RecordError(
        "INVALID_FIELD_FOR_INSERT_UPDATE",
        f"Unable to create/update fields: {names}. Please check the security settings of this field "
        "and verify that it is read/write for your profile or permission set.",
        tuple(blocked),
    )


def _value_error(field: FieldSpec, value: Any) -> RecordError | None:
    label = field.display_label
    if field.type in TEXT_TYPES and field.length and len(str(value)) > field.length:
        return RecordError(
            "STRING_TOO_LONG", f"{label}: data value too large: {value} (max length={field.length})", (field.name,)
        )
    if field.type is FieldType.PICKLIST and field.restricted and value not in field.picklist:
        return RecordError(
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            f"{label}: bad value for restricted picklist field: {value}",
            (field.name,),
        )
    if field.type is FieldType.EMAIL and not _EMAIL.match(str(value)):
        return RecordError("INVALID_EMAIL_ADDRESS", f"{label}: invalid email address: {value}", (field.name,))
    if field.type is FieldType.REFERENCE and not is_well_formed(value):
        return RecordError("MALFORMED_ID", f"{label}: id value of incorrect type: {value}", (field.name,))
    return None


def _reference_error(field: FieldSpec, value: str, resolve: Resolver) -> RecordError | None:
    target = resolve(value)
    if target is None or target[0] not in field.reference_to:
        return RecordError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", (field.name,))
    if field.name == "OwnerId" and target[1].get("IsActive") is False:
        return RecordError("INACTIVE_OWNER_OR_USER", "operation performed with inactive user as owner", ())
    return None


def check_values(
    spec: ObjectSpec, values: Mapping[str, Any], current: Mapping[str, Any] | None, resolve: Resolver
) -> RecordError | None:
    """The first reason ``values`` cannot be saved (``current`` is the stored record on update, else None)."""
    creating = current is None
    readonly = _readonly_error(spec, values, creating=creating)
    if readonly:
        return readonly
    for name, value in values.items():
        if value is not None:
            error = _value_error(spec.fields[name], value)
            if error:
                return error
    merged = {**(current or {}), **values}
    missing = [
        f.name
        for f in spec.fields.values()
        if f.required
        and f.createable
        and (merged.get(f.name) is None or merged.get(f.name) == "")
        and (creating or f.name in values)
    ]
    if missing:
        return RecordError(
            "REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]", tuple(missing)
        )
    for name, value in values.items():
        field = spec.fields[name]
        if field.type is FieldType.REFERENCE and value is not None:
            error = _reference_error(field, value, resolve)
            if error:
                return error
    return None
