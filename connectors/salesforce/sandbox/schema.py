"""The emulated org's data model: Account, Lead, Contact, User and Task, each with a field schema.

Field metadata mirrors what ``/sobjects/{Object}/describe`` reports on a real org (type, length, nillable,
createable/updateable, externalId, unique, picklist values, referenceTo) for the fields syncer and its tests use.
Custom fields (API names ending ``__c``) are configurable per emulator; the default org carries the PQL fields on
Account that the sample mappings write.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class FieldType(StrEnum):
    """Salesforce field data types (the ``type`` of a describe field)."""

    ID = "id"
    STRING = "string"
    TEXTAREA = "textarea"
    EMAIL = "email"
    PHONE = "phone"
    URL = "url"
    PICKLIST = "picklist"
    DOUBLE = "double"
    CURRENCY = "currency"
    PERCENT = "percent"
    INT = "int"
    BOOLEAN = "boolean"
    DATE = "date"
    DATETIME = "datetime"
    REFERENCE = "reference"


TEXT_TYPES = frozenset(
    {FieldType.STRING, FieldType.TEXTAREA, FieldType.EMAIL, FieldType.PHONE, FieldType.URL, FieldType.PICKLIST}
)
NUMBER_TYPES = frozenset({FieldType.DOUBLE, FieldType.CURRENCY, FieldType.PERCENT})


@dataclass(frozen=True)
class FieldSpec:
    """One field. ``required`` means not nillable and not defaulted on create: omitting it fails the save.

    ``length`` limits text fields; ``picklist`` lists the values and ``restricted`` makes the API reject others
    (unrestricted picklists accept any value, as on a real org). ``external_id`` fields can key upserts; ``unique``
    ones reject duplicate values (compared case-insensitively unless ``case_sensitive``).
    """

    name: str
    type: FieldType
    label: str = ""
    length: int = 0
    required: bool = False
    default: Any = None
    external_id: bool = False
    unique: bool = False
    case_sensitive: bool = False
    picklist: tuple[str, ...] = ()
    restricted: bool = False
    reference_to: tuple[str, ...] = ()
    createable: bool = True
    updateable: bool = True
    defaulted_on_create: bool = False

    @property
    def display_label(self) -> str:
        return self.label or self.name.removesuffix("__c").replace("_", " ")

    @property
    def custom(self) -> bool:
        return self.name.endswith("__c")

    def describe(self) -> dict[str, Any]:
        """The field's entry in an sObject describe result."""
        text_like = self.type in TEXT_TYPES
        return {
            "name": self.name,
            "label": self.display_label,
            "type": self.type.value,
            "length": self.length if text_like else 0,
            "byteLength": self.length * 3 if text_like else 0,
            "nillable": not self.required and self.type is not FieldType.BOOLEAN and self.name != "Id",
            "createable": self.createable,
            "updateable": self.updateable,
            "defaultedOnCreate": self.default is not None or self.defaulted_on_create or not self.createable,
            "defaultValue": self.default,
            "calculated": False,
            "custom": self.custom,
            "externalId": self.external_id,
            "unique": self.unique,
            "caseSensitive": self.case_sensitive,
            "idLookup": self.external_id or self.name == "Id",
            "filterable": True,
            "sortable": True,
            "restrictedPicklist": self.restricted,
            "picklistValues": [
                {
                    "active": True,
                    "defaultValue": value == self.default,
                    "label": value,
                    "validFor": None,
                    "value": value,
                }
                for value in self.picklist
            ],
            "referenceTo": list(self.reference_to),
            "relationshipName": self.name[:-2] if self.type is FieldType.REFERENCE else None,
            "soapType": _SOAP_TYPES[self.type],
        }


_SOAP_TYPES = {
    FieldType.ID: "tns:ID",
    FieldType.REFERENCE: "tns:ID",
    FieldType.DOUBLE: "xsd:double",
    FieldType.CURRENCY: "xsd:double",
    FieldType.PERCENT: "xsd:double",
    FieldType.INT: "xsd:int",
    FieldType.BOOLEAN: "xsd:boolean",
    FieldType.DATE: "xsd:date",
    FieldType.DATETIME: "xsd:dateTime",
}
for _text in TEXT_TYPES:
    _SOAP_TYPES[_text] = "xsd:string"


@dataclass(frozen=True)
class ObjectSpec:
    """One sObject type. ``compound_name`` objects derive a read-only ``Name`` from FirstName and LastName."""

    name: str
    key_prefix: str
    label: str
    fields: Mapping[str, FieldSpec]
    compound_name: bool = False
    createable: bool = True
    updateable: bool = True
    deletable: bool = True
    _lower: Mapping[str, str] = field(default_factory=dict, compare=False)

    def field_named(self, name: str) -> FieldSpec | None:
        """The field called ``name`` (API names are case-insensitive, as in SOQL and the REST API)."""
        canonical = self._lower.get(name.lower())
        return self.fields[canonical] if canonical else None

    def describe(self, version: str) -> dict[str, Any]:
        base = f"/services/data/v{version}/sobjects/{self.name}"
        return {
            "name": self.name,
            "label": self.label,
            "labelPlural": self.label + "s",
            "keyPrefix": self.key_prefix,
            "custom": False,
            "createable": self.createable,
            "updateable": self.updateable,
            "deletable": self.deletable,
            "queryable": True,
            "retrieveable": True,
            "searchable": True,
            "layoutable": True,
            "triggerable": True,
            "undeletable": self.deletable,
            "urls": {"sobject": base, "describe": f"{base}/describe", "rowTemplate": f"{base}/{{ID}}"},
        }


def make_object(
    name: str,
    prefix: str,
    fields: Sequence[FieldSpec],
    *,
    compound_name: bool = False,
    createable: bool = True,
    updateable: bool = True,
    deletable: bool = True,
) -> ObjectSpec:
    """Build an :class:`ObjectSpec` with the system fields every object has (Id, audit dates)."""
    system = [
        FieldSpec("Id", FieldType.ID, "Record ID", length=18, createable=False, updateable=False),
        FieldSpec("IsDeleted", FieldType.BOOLEAN, "Deleted", createable=False, updateable=False),
        FieldSpec("CreatedDate", FieldType.DATETIME, "Created Date", createable=False, updateable=False),
        FieldSpec(
            "CreatedById",
            FieldType.REFERENCE,
            "Created By ID",
            length=18,
            reference_to=("User",),
            createable=False,
            updateable=False,
        ),
        FieldSpec("LastModifiedDate", FieldType.DATETIME, "Last Modified Date", createable=False, updateable=False),
        FieldSpec("SystemModstamp", FieldType.DATETIME, "System Modstamp", createable=False, updateable=False),
    ]
    if compound_name:
        system.append(FieldSpec("Name", FieldType.STRING, "Full Name", length=121, createable=False, updateable=False))
    by_name = {spec.name: spec for spec in [*system, *fields]}
    return ObjectSpec(
        name,
        prefix,
        name,
        by_name,
        compound_name,
        createable,
        updateable,
        deletable,
        {key.lower(): key for key in by_name},
    )


def _owner() -> FieldSpec:
    # OwnerId defaults to the running user on create, so it is not required.
    return FieldSpec(
        "OwnerId", FieldType.REFERENCE, "Owner ID", length=18, reference_to=("User",), defaulted_on_create=True
    )


def _standard_fields() -> dict[str, list[FieldSpec]]:
    string, picklist = FieldType.STRING, FieldType.PICKLIST
    return {
        "Account": [
            FieldSpec("Name", string, "Account Name", length=255, required=True),
            FieldSpec(
                "Type",
                picklist,
                "Account Type",
                length=255,
                picklist=("Prospect", "Customer - Direct", "Customer - Channel", "Partner", "Other"),
            ),
            FieldSpec("Industry", picklist, length=255, picklist=("Technology", "Finance", "Healthcare", "Retail")),
            FieldSpec("Website", FieldType.URL, length=255),
            FieldSpec("Phone", FieldType.PHONE, "Account Phone", length=40),
            FieldSpec("Description", FieldType.TEXTAREA, "Account Description", length=32000),
            FieldSpec("NumberOfEmployees", FieldType.INT, "Employees"),
            FieldSpec("AnnualRevenue", FieldType.CURRENCY, "Annual Revenue"),
            FieldSpec("BillingCountry", string, "Billing Country", length=80),
            _owner(),
        ],
        "Lead": [
            FieldSpec("FirstName", string, "First Name", length=40),
            FieldSpec("LastName", string, "Last Name", length=80, required=True),
            FieldSpec("Company", string, length=255, required=True),
            FieldSpec("Email", FieldType.EMAIL, length=80),
            FieldSpec("Title", string, length=128),
            FieldSpec("Phone", FieldType.PHONE, length=40),
            FieldSpec(
                "Status",
                picklist,
                "Lead Status",
                length=255,
                default="Open - Not Contacted",
                restricted=True,
                picklist=(
                    "Open - Not Contacted",
                    "Working - Contacted",
                    "Closed - Converted",
                    "Closed - Not Converted",
                ),
            ),
            FieldSpec(
                "LeadSource",
                picklist,
                "Lead Source",
                length=255,
                picklist=("Web", "Phone Inquiry", "Partner Referral", "Other"),
            ),
            _owner(),
        ],
        "Contact": [
            FieldSpec("FirstName", string, "First Name", length=40),
            FieldSpec("LastName", string, "Last Name", length=80, required=True),
            FieldSpec("Email", FieldType.EMAIL, length=80),
            FieldSpec("Title", string, length=128),
            FieldSpec("Phone", FieldType.PHONE, "Business Phone", length=40),
            FieldSpec("AccountId", FieldType.REFERENCE, "Account ID", length=18, reference_to=("Account",)),
            _owner(),
        ],
        "User": [
            FieldSpec("Username", string, length=80, required=True, unique=True),
            FieldSpec("FirstName", string, "First Name", length=40),
            FieldSpec("LastName", string, "Last Name", length=80, required=True),
            FieldSpec("Email", FieldType.EMAIL, length=128, required=True),
            FieldSpec("Alias", string, length=8, required=True),
            FieldSpec(
                "TimeZoneSidKey",
                picklist,
                "Time Zone",
                length=40,
                required=True,
                restricted=True,
                picklist=(
                    "America/New_York",
                    "America/Chicago",
                    "America/Denver",
                    "America/Los_Angeles",
                    "Europe/London",
                    "Europe/Berlin",
                    "GMT",
                ),
            ),
            FieldSpec("IsActive", FieldType.BOOLEAN, "Active", default=True),
            FieldSpec("Title", string, length=80),
        ],
        "Task": [
            FieldSpec("Subject", FieldType.STRING, length=255),
            FieldSpec("Description", FieldType.TEXTAREA, "Comments", length=32000),
            FieldSpec("ActivityDate", FieldType.DATE, "Due Date Only"),
            FieldSpec("Priority", picklist, length=40, default="Normal", picklist=("High", "Normal", "Low")),
            FieldSpec(
                "Status",
                picklist,
                length=40,
                default="Not Started",
                picklist=("Not Started", "In Progress", "Completed", "Waiting on someone else", "Deferred"),
            ),
            FieldSpec("Type", picklist, length=40, picklist=("Call", "Email", "Meeting", "Other")),
            FieldSpec("WhatId", FieldType.REFERENCE, "Related To ID", length=18, reference_to=("Account",)),
            FieldSpec("WhoId", FieldType.REFERENCE, "Name ID", length=18, reference_to=("Contact", "Lead")),
            _owner(),
        ],
    }


KEY_PREFIXES = {"Account": "001", "Lead": "00Q", "Contact": "003", "User": "005", "Task": "00T"}

DEFAULT_CUSTOM_FIELDS: Mapping[str, Sequence[FieldSpec]] = {
    "Account": (
        FieldSpec("PQL_Score__c", FieldType.DOUBLE, "PQL Score"),
        FieldSpec(
            "PQL_Tier__c", FieldType.PICKLIST, "PQL Tier", length=255, picklist=("hot", "warm", "cold"), restricted=True
        ),
        FieldSpec("PQL_Reason__c", FieldType.STRING, "PQL Reason", length=255),
        FieldSpec("PQL_Since__c", FieldType.DATETIME, "PQL Since"),
        FieldSpec(
            "Product_Account_Id__c", FieldType.STRING, "Product Account Id", length=64, external_id=True, unique=True
        ),
    ),
    # The field syncer's setup asks an admin to create on Activity: a task's dedupe key, unique and an External ID
    # so that the key is indexed and a second task with the same key is refused (DUPLICATE_VALUE).
    "Task": (
        FieldSpec(
            "Syncer_Dedupe_Key__c",
            FieldType.STRING,
            "Syncer Dedupe Key",
            length=255,
            external_id=True,
            unique=True,
            case_sensitive=True,
        ),
    ),
}


def with_default_custom_fields(extra: Mapping[str, Sequence[FieldSpec]]) -> dict[str, list[FieldSpec]]:
    """The default custom fields plus ``extra`` (for an emulator that needs more, e.g. a non-unique external id)."""
    merged: dict[str, list[FieldSpec]] = {name: list(specs) for name, specs in DEFAULT_CUSTOM_FIELDS.items()}
    for name, specs in extra.items():
        merged.setdefault(name, []).extend(specs)
    return merged


def build_schema(custom_fields: Mapping[str, Sequence[FieldSpec]]) -> dict[str, ObjectSpec]:
    """The org's objects with ``custom_fields`` added. Raises ValueError for a bad custom field definition."""
    standard = _standard_fields()
    for object_name, specs in custom_fields.items():
        if object_name not in standard:
            raise ValueError(f"custom fields for unknown object {object_name!r}")
        for spec in specs:
            if not spec.custom:
                raise ValueError(f"custom field names end with __c: {spec.name!r}")
            standard[object_name].append(spec)
    objects = {}
    for name, fields in standard.items():
        objects[name] = make_object(
            name,
            KEY_PREFIXES[name],
            fields,
            compound_name=name in {"Lead", "Contact", "User"},
            createable=name != "User",
            deletable=name != "User",
        )
    return objects
