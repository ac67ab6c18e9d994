"""Property definitions (``/crm/v3/properties/{objectType}``) and validation of values against them.

Values travel as strings. A value is checked against its definition's ``type``: ``number`` must parse as a number,
``enumeration`` must be one of the option values, ``datetime``/``date`` must be ISO 8601 or epoch milliseconds,
``bool`` must be ``true``/``false``. An empty string clears a property and is always accepted. Failures use HubSpot's
``PropertyValidationResult`` codes (``PROPERTY_DOESNT_EXIST``, ``INVALID_OPTION``, ``INVALID_LONG``, ...).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from connectors.hubspot.sandbox.errors import PropertyProblem

TYPES = ("string", "number", "date", "datetime", "enumeration", "bool")
FIELD_TYPES = (
    "textarea",
    "text",
    "date",
    "file",
    "number",
    "select",
    "radio",
    "checkbox",
    "booleancheckbox",
    "calculation_equation",
    "phonenumber",
    "html",
)
# The fieldTypes each type accepts (HubSpot's properties guide, "Property type and fieldType values").
FIELD_TYPES_OF = {
    "bool": frozenset({"booleancheckbox"}),
    "enumeration": frozenset({"select", "radio", "checkbox", "booleancheckbox"}),
    "number": frozenset({"number"}),
    "string": frozenset({"text", "textarea", "phonenumber", "html", "file"}),
    "date": frozenset({"date"}),
    "datetime": frozenset({"date"}),
}
# Properties HubSpot computes; writes to them are ignored rather than stored.
READ_ONLY = frozenset({"hs_object_id", "createdate", "hs_createdate", "hs_lastmodifieddate", "lastmodifieddate"})


@dataclass(frozen=True)
class Option:
    value: str
    label: str

    def as_json(self, order: int) -> dict[str, Any]:
        return {"label": self.label, "value": self.value, "displayOrder": order, "hidden": False}


@dataclass
class PropertyDefinition:
    """One property of one object type, as ``GET /crm/v3/properties/{objectType}`` lists it."""

    name: str
    label: str
    type: str
    field_type: str
    group_name: str
    options: list[Option] = field(default_factory=list)
    has_unique_value: bool = False
    hubspot_defined: bool = True
    description: str = ""
    created_at: str = "2019-08-06T02:41:52.000Z"

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": self.name,
            "label": self.label,
            "type": self.type,
            "fieldType": self.field_type,
            "description": self.description,
            "groupName": self.group_name,
            "options": [o.as_json(i) for i, o in enumerate(self.options)],
            "displayOrder": -1,
            "calculated": False,
            "externalOptions": False,
            "hasUniqueValue": self.has_unique_value,
            "hidden": False,
            "formField": not self.hubspot_defined,
            "archived": False,
            "createdAt": self.created_at,
            "updatedAt": self.created_at,
            "modificationMetadata": {
                "archivable": not self.hubspot_defined,
                "readOnlyDefinition": self.hubspot_defined,
                "readOnlyValue": self.name in READ_ONLY,
            },
        }
        if self.hubspot_defined:
            body["hubspotDefined"] = True
        return body

    def check(self, value: str) -> PropertyProblem | None:
        """Whether ``value`` (already known to be a string) is acceptable for this property."""
        if value == "":
            return None
        if self.type == "number" and not _is_number(value):
            return PropertyProblem(self.name, "INVALID_LONG", f"{value} was not a valid long.")
        if self.type == "enumeration":
            allowed = [o.value for o in self.options]
            parts = value.split(";") if self.field_type == "checkbox" else [value]
            bad = next((p for p in parts if p not in allowed), None)
            if bad is not None:
                return PropertyProblem(
                    self.name, "INVALID_OPTION", f"{bad} was not one of the allowed options: [{', '.join(allowed)}]"
                )
        if self.type in ("datetime", "date") and parse_timestamp(value) is None:
            return PropertyProblem(self.name, "INVALID_DATE", f"{value} is not a valid date or epoch milliseconds.")
        if self.type == "bool" and value.lower() not in ("true", "false"):
            return PropertyProblem(self.name, "INVALID_BOOLEAN", f"{value} is not a valid boolean.")
        return None


_NUMBER = re.compile(r"^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


def _is_number(value: str) -> bool:
    return bool(_NUMBER.match(value.strip()))


def parse_timestamp(value: str) -> float | None:
    """Epoch seconds of an ISO 8601 date/datetime or epoch-milliseconds string; None when it is neither."""
    text = value.strip()
    if re.fullmatch(r"-?\d+", text):
        return int(text) / 1000
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def _text(name: str, label: str, group: str, *, unique: bool = False, custom: bool = False) -> PropertyDefinition:
    return PropertyDefinition(name, label, "string", "text", group, has_unique_value=unique, hubspot_defined=not custom)


def _number(name: str, label: str, group: str, *, custom: bool = False) -> PropertyDefinition:
    return PropertyDefinition(name, label, "number", "number", group, hubspot_defined=not custom)


def _datetime(name: str, label: str, group: str, *, custom: bool = False) -> PropertyDefinition:
    return PropertyDefinition(name, label, "datetime", "date", group, hubspot_defined=not custom)


def _enum(
    name: str, label: str, group: str, values: list[tuple[str, str]], *, custom: bool = False
) -> PropertyDefinition:
    return PropertyDefinition(
        name, label, "enumeration", "select", group, [Option(v, lbl) for v, lbl in values], hubspot_defined=not custom
    )


def owner_property(owner_ids: list[tuple[str, str]]) -> PropertyDefinition:
    """``hubspot_owner_id``: an enumeration whose options are the portal's owners."""
    return _enum("hubspot_owner_id", "Owner", "sales_properties", owner_ids)


def seed_definitions(owner_ids: list[tuple[str, str]]) -> dict[str, dict[str, PropertyDefinition]]:
    """Standard properties of companies, contacts and tasks, plus the sample company's custom PQL properties."""
    companies = [
        _text("name", "Company name", "companyinformation"),
        _text("domain", "Company domain name", "companyinformation"),
        _text("website", "Website URL", "companyinformation"),
        _text("city", "City", "companyinformation"),
        _text("country", "Country/Region", "companyinformation"),
        _text("phone", "Phone Number", "companyinformation"),
        _text("industry", "Industry", "companyinformation"),
        _number("numberofemployees", "Number of Employees", "companyinformation"),
        _number("annualrevenue", "Annual Revenue", "companyinformation"),
        _enum(
            "lifecyclestage",
            "Lifecycle Stage",
            "companyinformation",
            [
                ("lead", "Lead"),
                ("marketingqualifiedlead", "Marketing Qualified Lead"),
                ("salesqualifiedlead", "Sales Qualified Lead"),
                ("opportunity", "Opportunity"),
                ("customer", "Customer"),
            ],
        ),
        owner_property(owner_ids),
        _datetime("createdate", "Create Date", "companyinformation"),
        _datetime("hs_lastmodifieddate", "Last Modified Date", "companyinformation"),
        _number("hs_object_id", "Record ID", "companyinformation"),
        _number("pql_score", "PQL score", "pql", custom=True),
        _enum("pql_tier", "PQL tier", "pql", [("hot", "Hot"), ("warm", "Warm"), ("cold", "Cold")], custom=True),
        _text("pql_reason", "PQL reason", "pql", custom=True),
        _datetime("pql_since", "PQL since", "pql", custom=True),
        _text("product_account_id", "Product account id", "pql", unique=True, custom=True),
    ]
    contacts = [
        _text("email", "Email", "contactinformation"),
        _text("firstname", "First Name", "contactinformation"),
        _text("lastname", "Last Name", "contactinformation"),
        _text("phone", "Phone Number", "contactinformation"),
        _text("company", "Company Name", "contactinformation"),
        _text("jobtitle", "Job Title", "contactinformation"),
        owner_property(owner_ids),
        _datetime("createdate", "Create Date", "contactinformation"),
        _datetime("lastmodifieddate", "Last Modified Date", "contactinformation"),
        _number("hs_object_id", "Record ID", "contactinformation"),
    ]
    tasks = [
        _datetime("hs_timestamp", "Due date", "task"),
        _text("hs_task_subject", "Task Title", "task"),
        PropertyDefinition("hs_task_body", "Notes", "string", "html", "task"),
        _enum(
            "hs_task_status",
            "Task Status",
            "task",
            [
                ("NOT_STARTED", "Not started"),
                ("IN_PROGRESS", "In progress"),
                ("WAITING", "Waiting"),
                ("COMPLETED", "Completed"),
                ("DEFERRED", "Deferred"),
            ],
        ),
        _enum(
            "hs_task_priority",
            "Priority",
            "task",
            [("NONE", "None"), ("LOW", "Low"), ("MEDIUM", "Medium"), ("HIGH", "High")],
        ),
        _enum("hs_task_type", "Task Type", "task", [("TODO", "To-do"), ("CALL", "Call"), ("EMAIL", "Email")]),
        owner_property(owner_ids),
        _datetime("hs_createdate", "Create date", "task"),
        _datetime("hs_lastmodifieddate", "Last Modified Date", "task"),
        _number("hs_object_id", "Record ID", "task"),
    ]
    return {
        kind: {p.name: p for p in props}
        for kind, props in (("companies", companies), ("contacts", contacts), ("tasks", tasks))
    }


UNIQUE_KINDS = frozenset({"companies", "contacts"})  # of the emulated objects, those HubSpot lets hold unique values


def unique_refused(kind: str, body: dict[str, Any], *, unique_task_properties: bool) -> str | None:
    """Why a ``PropertyCreate`` asking for ``hasUniqueValue`` on ``kind`` is refused (None: allowed). HubSpot
    documents unique-value properties for companies, contacts, deals, tickets and custom objects, not activities;
    ``unique_task_properties`` lets a test emulate a portal that took one anyway. The wording is the emulator's."""
    if not body.get("hasUniqueValue") or kind in UNIQUE_KINDS or (kind == "tasks" and unique_task_properties):
        return None
    return f"Properties with unique values are not supported on {kind}"


def definition_from_input(body: dict[str, Any]) -> PropertyDefinition:
    """A custom property from a validated ``PropertyCreate`` body."""
    options = [Option(str(o["value"]), str(o["label"])) for o in body.get("options") or []]
    return PropertyDefinition(
        name=body["name"],
        label=body["label"],
        type=body["type"],
        field_type=body["fieldType"],
        group_name=body["groupName"],
        options=options,
        has_unique_value=bool(body.get("hasUniqueValue", False)),
        hubspot_defined=False,
        description=str(body.get("description", "")),
        created_at=datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    )
