"""``check`` and ``setup`` from an object's describe: do the mapped fields exist with compatible types, and can the
match field key an upsert?

Salesforce creates fields through metadata deployment (Setup, or the Metadata API with a deploy), which syncer does
not do on its own: every finding is unfixable here, and ``setup`` spells out each field to create or change, with
label, API name, type and length, for an admin.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from syncer.contract.destination import FieldCheck, Target
from syncer.contract.enums import FieldType
from syncer.contract.nearest import did_you_mean

COMPATIBLE: Mapping[FieldType, frozenset[str]] = {
    FieldType.NUMBER: frozenset({"double", "currency", "percent", "int"}),
    FieldType.INTEGER: frozenset({"int", "double"}),
    FieldType.STRING: frozenset({"string", "textarea", "picklist", "email", "url", "phone"}),
    FieldType.BOOLEAN: frozenset({"boolean"}),
    FieldType.DATETIME: frozenset({"datetime"}),
    FieldType.DATE: frozenset({"date"}),
    FieldType.JSON: frozenset({"textarea", "string"}),
}

# What to pick in Setup > Object Manager > Fields & Relationships > New, per syncer field type.
SETUP_TYPES: Mapping[FieldType, str] = {
    FieldType.NUMBER: "Number, length 16, decimal places 2",
    FieldType.INTEGER: "Number, length 18, decimal places 0",
    FieldType.STRING: "Text, length 255",
    FieldType.BOOLEAN: "Checkbox, default unchecked",
    FieldType.DATETIME: "Date/Time",
    FieldType.DATE: "Date",
    FieldType.JSON: "Long Text Area, length 131072",
}


def _label(api_name: str) -> str:
    return api_name.removesuffix("__c").replace("_", " ").strip()


def _fields(describe: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {str(spec["name"]).lower(): spec for spec in describe.get("fields", []) if isinstance(spec, Mapping)}


def field_checks(describe: Mapping[str, Any], target: Target) -> list[FieldCheck]:
    """What is wrong with the target's fields and match field on the described object."""
    fields = _fields(describe)
    problems = []
    names = [str(spec["name"]) for spec in fields.values()]
    for name, kind in target.fields.items():
        found = fields.get(name.lower())
        if found is None:
            problems.append(FieldCheck(name, f"{target.object} has no field {name}{did_you_mean(name, names)}"))
        elif found.get("type") not in COMPATIBLE[kind]:
            allowed = ", ".join(sorted(COMPATIBLE[kind]))
            problems.append(
                FieldCheck(
                    name,
                    f"{target.object}.{found['name']} is of type {found.get('type')}; a "
                    f"{kind.value} value needs one of {allowed}",
                    about_type=True,
                )
            )
        elif not found.get("updateable", True) or not found.get("createable", True):
            problems.append(FieldCheck(name, f"{target.object}.{found['name']} is read-only for the API user"))
        elif found.get("type") == "picklist":
            problems += picklist_checks(
                found, f"{target.object}.{found['name']}", name, target.values.get(name, frozenset())
            )
    if target.match_field.lower() != "id":
        match = fields.get(target.match_field.lower())
        if match is None:
            if target.match_field not in target.fields:
                problems.append(
                    FieldCheck(
                        target.match_field,
                        f"{target.object} has no field {target.match_field} "
                        f"to match on{did_you_mean(target.match_field, names)}",
                    )
                )
        elif not match.get("externalId"):
            problems.append(
                FieldCheck(
                    target.match_field,
                    f"{target.object}.{match['name']} is not an External ID field, so records cannot be matched on it",
                )
            )
    return problems


def picklist_checks(spec: Mapping[str, Any], where: str, name: str, values: frozenset[str]) -> list[FieldCheck]:
    """One finding per value the mapping produces that the picklist lacks. A restricted picklist refuses any other
    value; an unrestricted one would store it, but as a value no list view or report offers, so it is named too.
    Salesforce compares picklist values case and all through the API."""
    options = [
        str(v.get("value"))
        for v in spec.get("picklistValues") or []
        if isinstance(v, Mapping) and v.get("active", True)
    ]
    shown = ", ".join(options[:20]) + (", ..." if len(options) > 20 else "")
    return [
        FieldCheck(name, f"{where} has no picklist value {value!r}{did_you_mean(value, options)}; its values: {shown}")
        for value in sorted(values)
        if value not in options
    ]


def setup_steps(describe: Mapping[str, Any], target: Target) -> list[str]:
    """One line per field an admin must create or change, with label, API name, type and length."""
    fields = _fields(describe)
    steps = []
    wanted = dict(target.fields)
    if target.match_field.lower() != "id":
        wanted.setdefault(target.match_field, FieldType.STRING)
    for name, kind in wanted.items():
        found = fields.get(name.lower())
        is_match = name == target.match_field
        extra = "; tick External ID and Unique" if is_match else ""
        if found is None and not name.endswith("__c"):
            steps.append(
                f"{target.object}.{name} does not exist and is not a custom field name (custom fields end "
                f"in __c): map a custom field such as {name}__c instead"
            )
        elif found is None:
            steps.append(
                f'Create on {target.object}: label "{_label(name)}", API name {name} (field name '
                f"{name.removesuffix('__c')}), type {SETUP_TYPES[kind]}{extra}"
            )
        elif kind is not None and not is_match and found.get("type") not in COMPATIBLE[kind]:
            steps.append(
                f"Change {target.object}.{found['name']} from {found.get('type')} to "
                f"{SETUP_TYPES[kind]}, or map a field of a compatible type"
            )
        elif is_match and not found.get("externalId") and not found.get("custom", name.endswith("__c")):
            steps.append(
                f"{target.object}.{found['name']} is a standard field and cannot be an External ID: match "
                f"on a custom External ID field (such as {found['name']}_Key__c) or on Id"
            )
        elif is_match and not found.get("externalId"):
            steps.append(
                f"Edit {target.object}.{found['name']}: tick External ID (and Unique), so syncer can upsert on it"
            )
    return steps
