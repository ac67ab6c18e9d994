"""The emulated portal's records: CRM objects with property history, owners and the property definitions.

Ids are numeric strings allocated from one counter, as HubSpot's record ids are. Timestamps are wall-clock UTC
(``createdAt``/``updatedAt`` and ``createdate``/``hs_lastmodifieddate``); rate limiting alone uses the injectable clock.
Contacts are unique by ``email`` (HubSpot enforces it even though the definition is not flagged); other objects are
unique by every property whose definition has ``hasUniqueValue: true``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from connectors.hubspot.sandbox.errors import HubSpotError, PropertyErrors, PropertyProblem, conflict
from connectors.hubspot.sandbox.properties import READ_ONLY, PropertyDefinition

OBJECT_TYPES = {"companies": "0-2", "contacts": "0-1", "tasks": "0-27"}
_ALIASES = {
    "company": "companies",
    "contact": "contacts",
    "task": "tasks",
    **{type_id: name for name, type_id in OBJECT_TYPES.items()},
}
SINGULAR = {"companies": "company", "contacts": "contact", "tasks": "task"}
# What GET/batch read return when the caller names no properties.
DEFAULT_PROPERTIES = {
    "companies": ["createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"],
    "contacts": ["createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"],
    "tasks": ["hs_createdate", "hs_lastmodifieddate", "hs_object_id"],
}
_CREATED = {"companies": "createdate", "contacts": "createdate", "tasks": "hs_createdate"}
_MODIFIED = {"companies": "hs_lastmodifieddate", "contacts": "lastmodifieddate", "tasks": "hs_lastmodifieddate"}


def object_type(name: str) -> str | None:
    """The canonical plural name for ``companies``/``company``/``0-2`` and the like; None if not emulated."""
    lowered = name.lower()
    return lowered if lowered in OBJECT_TYPES else _ALIASES.get(lowered)


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Record:
    """One CRM object. ``history`` holds every value a property has had, newest first."""

    id: str
    type: str
    properties: dict[str, str]
    created_at: datetime
    updated_at: datetime
    archived: bool = False
    history: dict[str, list[tuple[str, datetime]]] = field(default_factory=dict)

    def as_json(self, properties: list[str] | None = None, with_history: list[str] | None = None) -> dict[str, Any]:
        """The ``SimplePublicObject`` form; ``properties`` None means every property that has a value."""
        if properties is None:
            props: dict[str, str | None] = dict(sorted(self.properties.items()))
        else:
            # A requested property with no value comes back as null.
            props = {name: self.properties.get(name) for name in properties}
        body: dict[str, Any] = {
            "id": self.id,
            "properties": props,
            "createdAt": iso(self.created_at),
            "updatedAt": iso(self.updated_at),
            "archived": self.archived,
        }
        if with_history:
            body["propertiesWithHistory"] = {
                name: [
                    {"value": value, "timestamp": iso(at), "sourceType": "API"}
                    for value, at in self.history.get(name, [])
                ]
                for name in with_history
            }
        return body


@dataclass(frozen=True)
class Owner:
    id: str
    email: str
    first_name: str
    last_name: str
    user_id: int
    created_at: str = "2021-03-01T09:00:00.000Z"
    archived: bool = False  # a departed user: served only to ``archived=true``, and no option of hubspot_owner_id

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "email": self.email,
            "type": "PERSON",
            "firstName": self.first_name,
            "lastName": self.last_name,
            "userId": self.user_id,
            "userIdIncludingInactive": self.user_id,
            "createdAt": self.created_at,
            "updatedAt": self.created_at,
            "archived": self.archived,
            "teams": [],
        }


class ObjectStore:
    """Records, owners and property definitions of one portal. Callers hold the emulator's lock."""

    def __init__(self, definitions: dict[str, dict[str, PropertyDefinition]], owners: list[Owner]) -> None:
        self.definitions = definitions
        self.owners = owners
        self.records: dict[str, dict[str, Record]] = {name: {} for name in OBJECT_TYPES}
        self._next_id = 10_000_000_001
        # (kind, unique property) -> {value: record id} of live records: upserts look records up by their unique
        # property once per input, and a scan per input made a first sync of n records cost n² comparisons.
        self._unique: dict[tuple[str, str], dict[str, str]] = {}

    # -- properties ---------------------------------------------------------------------------------------------
    def unique_properties(self, kind: str) -> set[str]:
        names = {name for name, d in self.definitions[kind].items() if d.has_unique_value}
        return names | {"email"} if kind == "contacts" else names

    def check_properties(self, kind: str, values: dict[str, str]) -> PropertyErrors:
        """Every problem with ``values`` (strings already): unknown properties and values of the wrong type."""
        found = PropertyErrors()
        for name, value in values.items():
            definition = self.definitions[kind].get(name)
            if definition is None:
                found.problems.append(
                    PropertyProblem(name, "PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist')
                )
                continue
            problem = definition.check(value)
            if problem is not None:
                found.problems.append(problem)
        return found

    # -- records ------------------------------------------------------------------------------------------------
    def get(self, kind: str, record_id: str, id_property: str | None = None) -> Record | None:
        if id_property and id_property != "hs_object_id":
            return self.find_by(kind, id_property, record_id)
        record = self.records[kind].get(record_id)
        return record if record is not None and not record.archived else None

    def find_by(self, kind: str, name: str, value: str) -> Record | None:
        wanted = _fold(name, value)
        if name in self.unique_properties(kind):
            record_id = self._unique_index(kind, name).get(wanted)
            return self.records[kind][record_id] if record_id is not None else None
        for record in self.records[kind].values():
            current = record.properties.get(name)
            if current is None or record.archived:
                continue
            if (current.lower() if name == "email" else current) == wanted:
                return record
        return None

    def _unique_index(self, kind: str, name: str) -> dict[str, str]:
        index = self._unique.get((kind, name))
        if index is None:  # built on first use (a property can become unique after records exist)
            index = self._unique[(kind, name)] = {}
            for record in self.records[kind].values():
                current = record.properties.get(name)
                if current is not None and not record.archived:
                    index.setdefault(_fold(name, current), record.id)
        return index

    def _reindex(self, record: Record, name: str, old: str | None, new: str | None) -> None:
        index = self._unique.get((record.type, name))
        if index is None:
            return
        if old is not None and index.get(_fold(name, old)) == record.id:
            del index[_fold(name, old)]
        if new is not None and not record.archived:
            index.setdefault(_fold(name, new), record.id)

    def unique_conflict(self, kind: str, values: dict[str, str], exclude: str | None = None) -> HubSpotError | None:
        """The 409 HubSpot answers when ``values`` repeats another live record's unique value."""
        for name in sorted(self.unique_properties(kind)):
            value = values.get(name)
            if not value:
                continue
            existing = self.find_by(kind, name, value)
            if existing is not None and existing.id != exclude:
                return conflict(f"{SINGULAR[kind].capitalize()} already exists. Existing ID: {existing.id}")
        return None

    def create(self, kind: str, values: dict[str, str]) -> Record:
        now = datetime.now(UTC)
        record_id = str(self._next_id)
        self._next_id += 1
        record = Record(record_id, kind, {}, now, now)
        self.records[kind][record_id] = record
        self._write(record, {**values, _CREATED[kind]: iso(now), "hs_object_id": record_id}, now, force=True)
        return record

    def update(self, record: Record, values: dict[str, str]) -> Record:
        self._write(record, values, datetime.now(UTC))
        return record

    def _write(self, record: Record, values: dict[str, str], now: datetime, *, force: bool = False) -> None:
        for name, value in values.items():
            if name in READ_ONLY and not force:
                continue  # HubSpot computes these; a client's value is ignored.
            old = record.properties.get(name)
            if value == "":
                record.properties.pop(name, None)
            else:
                record.properties[name] = value
            self._reindex(record, name, old, value or None)
            record.history.setdefault(name, []).insert(0, (value, now))
        record.updated_at = now
        record.properties[_MODIFIED[record.type]] = iso(now)

    def archive(self, kind: str, record_id: str) -> bool:
        record = self.get(kind, record_id)
        if record is None:
            return False
        record.archived = True
        for indexed_kind, name in list(self._unique):
            if indexed_kind == record.type:
                self._reindex(record, name, record.properties.get(name), None)
        return True

    def live(self, kind: str) -> list[Record]:
        return [r for r in self.records[kind].values() if not r.archived]


def _fold(name: str, value: str) -> str:
    """The form a value is compared in: e-mail addresses ignore case, as HubSpot's do."""
    return value.lower() if name == "email" else value
