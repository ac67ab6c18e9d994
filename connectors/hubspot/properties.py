"""The object's property definitions: which are unique (for matching), and ``check``/``setup`` of mapped fields.

Definitions are read once per destination from ``GET /crm/v3/properties/{object}``. A mapped field is compatible when
its :class:`FieldType` may be written into the property's HubSpot ``type`` (values always travel as strings):

==========  ===============================  ==============================
FieldType   HubSpot types accepted           created by ``setup`` as
==========  ===============================  ==============================
number      number                           number / number
integer     number                           number / number
string      string, enumeration (options)    string / text
boolean     bool, enumeration                bool / booleancheckbox
datetime    datetime, date                   datetime / date
date        date                             date / date
json        string                           string / textarea
==========  ===============================  ==============================

A string may go into an enumeration (a tier, a lifecycle stage, an owner id): HubSpot checks each value against the
options, case included, and refuses a record whose value is not one. ``check`` compares the values the mapping is
known to produce (``Target.values``: a value map's results, a static value) with the options first, naming the
nearest option; a missing property is reported with the nearest existing name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from connectors.hubspot.client import HubSpotClient
from syncer.contract.destination import FieldCheck, Target
from syncer.contract.enums import FieldType
from syncer.contract.nearest import did_you_mean

ID_FIELDS = frozenset({"id", "hs_object_id"})

ACCEPTS: Mapping[FieldType, frozenset[str]] = {
    FieldType.NUMBER: frozenset({"number"}),
    FieldType.INTEGER: frozenset({"number"}),
    FieldType.STRING: frozenset({"string", "enumeration"}),
    FieldType.BOOLEAN: frozenset({"bool", "enumeration"}),
    FieldType.DATETIME: frozenset({"datetime", "date"}),
    FieldType.DATE: frozenset({"date"}),
    FieldType.JSON: frozenset({"string"}),
}

CREATE_AS: Mapping[FieldType, tuple[str, str]] = {
    FieldType.NUMBER: ("number", "number"),
    FieldType.INTEGER: ("number", "number"),
    FieldType.STRING: ("string", "text"),
    FieldType.BOOLEAN: ("bool", "booleancheckbox"),
    FieldType.DATETIME: ("datetime", "date"),
    FieldType.DATE: ("date", "date"),
    FieldType.JSON: ("string", "textarea"),
}

_GROUPS = {"companies": "companyinformation", "contacts": "contactinformation", "deals": "dealinformation"}
_BOOL_OPTIONS = [
    {"label": "Yes", "value": "true", "displayOrder": 0, "hidden": False},
    {"label": "No", "value": "false", "displayOrder": 1, "hidden": False},
]


@dataclass(frozen=True)
class Property:
    name: str
    type: str
    field_type: str
    unique: bool
    options: tuple[str, ...] = ()  # an enumeration's option values


def load_properties(client: HubSpotClient) -> dict[str, Property]:
    """Every property of the client's object by name. Contacts' ``email`` counts as unique: HubSpot upserts by it."""
    object_type = client.object_type
    reply = client.properties()
    found: dict[str, Property] = {}
    for item in reply.body.get("results") or []:
        if not isinstance(item, dict) or not item.get("name"):
            continue
        name = str(item["name"])
        unique = bool(item.get("hasUniqueValue")) or (object_type == "contacts" and name == "email")
        options = tuple(str(o["value"]) for o in item.get("options") or [] if isinstance(o, dict) and "value" in o)
        found[name] = Property(name, str(item.get("type")), str(item.get("fieldType")), unique, options)
    return found


def check_fields(properties: Mapping[str, Property], target: Target) -> list[FieldCheck]:
    """Missing properties (fixable unless HubSpot reserves the name) and mapped fields of an incompatible type."""
    findings = []
    wanted: dict[str, FieldType | None] = dict(target.fields)
    if target.match_field not in ID_FIELDS:
        wanted.setdefault(target.match_field, None)
    for name, field_type in wanted.items():
        if name in ID_FIELDS:
            continue
        found = properties.get(name)
        if found is None:
            reserved = name.startswith("hs_")
            findings.append(
                FieldCheck(
                    name,
                    f"{target.object} has no property {name!r}"
                    + (" (hs_ names are HubSpot's own)" if reserved else "")
                    + did_you_mean(name, properties),
                    fixable=not reserved,
                )
            )
        elif field_type is not None and found.type not in ACCEPTS[field_type]:
            allowed = " or ".join(sorted(ACCEPTS[field_type]))
            findings.append(
                FieldCheck(
                    name,
                    f"{target.object}.{name} is a HubSpot {found.type} property; a "
                    f"{field_type.value} field needs {allowed}",
                    about_type=True,
                )
            )
        elif found.type == "enumeration" and found.options:
            findings += option_checks(
                f"{target.object}.{name}", name, target.values.get(name, frozenset()), found.options
            )
    return findings


def option_checks(where: str, name: str, values: frozenset[str], options: tuple[str, ...]) -> list[FieldCheck]:
    """One finding per value the mapping produces that is not one of ``options`` (HubSpot compares case and all)."""
    shown = ", ".join(options[:20]) + (", ..." if len(options) > 20 else "")
    return [
        FieldCheck(name, f"{where} has no option {value!r}{did_you_mean(value, options)}; its options: {shown}")
        for value in sorted(values)
        if value not in options
    ]


def property_definition(object_type: str, name: str, field_type: FieldType | None) -> dict[str, Any]:
    """A ``PropertyCreate`` body for a custom property ``name`` holding values of ``field_type``."""
    kind, widget = CREATE_AS[field_type or FieldType.STRING]
    body: dict[str, Any] = {
        "name": name,
        "label": name.replace("_", " ").strip().capitalize() or name,
        "type": kind,
        "fieldType": widget,
        "groupName": _GROUPS.get(object_type, "default"),
        "description": "Created by syncer setup.",
    }
    if kind == "bool":
        body["options"] = _BOOL_OPTIONS
    return body
