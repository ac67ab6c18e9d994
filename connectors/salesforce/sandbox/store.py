"""The org's records and the DML operations every API surface shares (REST, sObject Collections, Bulk API 2.0).

Records are plain dicts keyed by canonical field name. Operations validate first and change nothing when they
fail; a caller that needs all-or-none semantics takes a :meth:`RecordStore.snapshot` and restores it. The store is
not thread-safe by itself: the emulator holds its lock around every call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from connectors.salesforce.sandbox.errors import RecordError
from connectors.salesforce.sandbox.ids import is_well_formed, make_id
from connectors.salesforce.sandbox.schema import TEXT_TYPES, FieldSpec, ObjectSpec
from connectors.salesforce.sandbox.validation import check_values
from connectors.salesforce.sandbox.values import now_iso

Record = dict[str, Any]


@dataclass
class SaveResult:
    """The outcome of one record's create, update, upsert or delete."""

    id: str | None = None
    error: RecordError | None = None
    created: bool = False
    matches: list[str] = field(default_factory=list)

    @property
    def success(self) -> bool:
        return self.error is None

    def as_json(self, *, upsert: bool = False) -> dict[str, Any]:
        """A SaveResult / UpsertResult as the REST API returns it (failed records carry no ``id``)."""
        body: dict[str, Any] = {"id": self.id} if self.success else {}
        body["success"] = self.success
        body["errors"] = [self.error.as_json()] if self.error else []
        if upsert:
            body["created"] = self.created
        return body


def _key(spec: FieldSpec, value: Any) -> Any:
    # External ids and unique text compare case-insensitively unless the field is marked case-sensitive.
    if isinstance(value, str) and spec.type in TEXT_TYPES and not spec.case_sensitive:
        return value.lower()
    return value


class RecordStore:
    """Every record of every object, by object name and id."""

    def __init__(self, schema: dict[str, ObjectSpec], running_user_id: str) -> None:
        self.schema = schema
        self.running_user_id = running_user_id
        self.tables: dict[str, dict[str, Record]] = {name: {} for name in schema}
        self._sequence = 0
        # (object, field) -> comparison key -> ids holding it; built on a field's first lookup, kept by every write,
        # so upserts by external id stay linear over a 10,000-row Bulk job instead of quadratic.
        self._indexes: dict[tuple[str, str], dict[Any, dict[str, None]]] = {}

    # -- reading --------------------------------------------------------------------------------------------
    def spec(self, object_name: str) -> ObjectSpec | None:
        """The object called ``object_name`` (case-insensitive, like the API)."""
        for name, spec in self.schema.items():
            if name.lower() == object_name.lower():
                return spec
        return None

    def get(self, object_name: str, record_id: str) -> Record | None:
        """A record by its 15- or 18-character id."""
        table = self.tables[object_name]
        if record_id in table:
            return table[record_id]
        if len(record_id) == 15:
            return next((rec for rid, rec in table.items() if rid[:15] == record_id), None)
        if len(record_id) == 18:
            return next(
                (rec for rid, rec in table.items() if rid[:15] == record_id[:15] and rid.lower() == record_id.lower()),
                None,
            )
        return None

    def resolve(self, record_id: str) -> tuple[str, Record] | None:
        """The object name and record an id points at, found through its key prefix."""
        if not is_well_formed(record_id):
            return None
        for name, spec in self.schema.items():
            if record_id.startswith(spec.key_prefix):
                found = self.get(name, record_id)
                return (name, found) if found is not None else None
        return None

    def find(self, object_name: str, spec: FieldSpec, value: Any) -> list[Record]:
        """Records whose ``spec`` field equals ``value`` (in insertion order)."""
        table = self.tables[object_name]
        ids = list(self._index(object_name, spec).get(_key(spec, value), ()))
        if len(ids) > 1:
            order = {rid: position for position, rid in enumerate(table)}
            ids.sort(key=order.__getitem__)
        return [table[rid] for rid in ids]

    def _index(self, object_name: str, spec: FieldSpec) -> dict[Any, dict[str, None]]:
        index = self._indexes.get((object_name, spec.name))
        if index is None:
            index = {}
            for rid, rec in self.tables[object_name].items():
                if rec.get(spec.name) is not None:
                    index.setdefault(_key(spec, rec[spec.name]), {})[rid] = None
            self._indexes[(object_name, spec.name)] = index
        return index

    def _track(self, object_name: str, record: Record, *, present: bool) -> None:
        """Add ``record`` to (or remove it from) every index built for its object."""
        for (indexed_object, name), index in self._indexes.items():
            if indexed_object != object_name or record.get(name) is None:
                continue
            key = _key(self.schema[object_name].fields[name], record[name])
            if present:
                index.setdefault(key, {})[record["Id"]] = None
            else:
                holders = index.get(key, {})
                holders.pop(record["Id"], None)
                if not holders:
                    index.pop(key, None)

    # -- transactions ---------------------------------------------------------------------------------------
    def snapshot(self) -> tuple[dict[str, dict[str, Record]], int]:
        return {
            name: {rid: dict(rec) for rid, rec in table.items()} for name, table in self.tables.items()
        }, self._sequence

    def restore(self, snapshot: tuple[dict[str, dict[str, Record]], int]) -> None:
        self.tables, self._sequence = snapshot[0], snapshot[1]
        self._indexes.clear()

    # -- writing --------------------------------------------------------------------------------------------
    def _duplicate_error(self, spec: ObjectSpec, values: Record, own_id: str | None) -> RecordError | None:
        for name, value in values.items():
            field_spec = spec.fields[name]
            if not field_spec.unique or value is None:
                continue
            for other in self.find(spec.name, field_spec, value):
                if other["Id"] != own_id:
                    return RecordError(
                        "DUPLICATE_VALUE",
                        f"duplicate value found: {name} duplicates value on record with id: {other['Id']}",
                        (),
                    )
        return None

    def _check(self, spec: ObjectSpec, values: Record, current: Record | None) -> RecordError | None:
        return check_values(spec, values, current, self.resolve) or self._duplicate_error(
            spec, values, current["Id"] if current else None
        )

    def new_id(self, spec: ObjectSpec) -> str:
        self._sequence += 1
        return make_id(spec.key_prefix, self._sequence)

    def create(self, spec: ObjectSpec, values: Record, *, validate: bool = True) -> SaveResult:
        """Insert a record; ``validate=False`` is for seeding (read-only fields such as User names)."""
        if validate:
            error = self._check(spec, values, None)
            if error:
                return SaveResult(error=error)
        stamp = now_iso()
        record: Record = {name: f.default for name, f in spec.fields.items() if f.default is not None}
        if "OwnerId" in spec.fields:
            record["OwnerId"] = self.running_user_id
        record.update({k: v for k, v in values.items() if v is not None})
        record_id = record.get("Id") if not validate and record.get("Id") else self.new_id(spec)
        record.update(
            Id=record_id,
            IsDeleted=False,
            CreatedDate=stamp,
            CreatedById=self.running_user_id,
            LastModifiedDate=stamp,
            SystemModstamp=stamp,
        )
        self.tables[spec.name][str(record_id)] = record
        self._track(spec.name, record, present=True)
        return SaveResult(id=str(record_id), created=True)

    def update(self, spec: ObjectSpec, record_id: str, values: Record) -> SaveResult:
        current = self.get(spec.name, record_id)
        if current is None:
            return SaveResult(error=RecordError("ENTITY_IS_DELETED", "entity is deleted", ()))
        error = self._check(spec, values, current)
        if error:
            return SaveResult(error=error)
        self._track(spec.name, current, present=False)
        current.update(values)
        self._track(spec.name, current, present=True)
        stamp = now_iso()
        current.update(LastModifiedDate=stamp, SystemModstamp=stamp)
        return SaveResult(id=current["Id"])

    def upsert(self, spec: ObjectSpec, key_field: FieldSpec, key: Any, values: Record) -> SaveResult:
        """Create or update by ``key_field``; several matches fail with their ids in ``matches``."""
        if key_field.name == "Id":
            if key in (None, ""):
                return self.create(spec, values)
            found = self.get(spec.name, str(key))
            return (
                self.update(spec, found["Id"], values)
                if found
                else SaveResult(
                    error=RecordError(
                        "NOT_FOUND", f"Provided external ID field does not exist or is not accessible: {key}", ()
                    )
                )
            )
        matches = self.find(spec.name, key_field, key)
        if len(matches) > 1:
            ids = [rec["Id"] for rec in matches]
            return SaveResult(
                error=RecordError(
                    "DUPLICATE_EXTERNAL_ID",
                    f"more than one record found for external id field: {ids}",
                    (key_field.name,),
                ),
                matches=ids,
            )
        if matches:
            return self.update(spec, matches[0]["Id"], values)
        return self.create(spec, {**values, key_field.name: key})

    def delete(self, spec: ObjectSpec, record_id: str) -> SaveResult:
        current = self.get(spec.name, record_id)
        if current is None:
            return SaveResult(error=RecordError("ENTITY_IS_DELETED", "entity is deleted", ()))
        if not spec.deletable:
            return SaveResult(
                error=RecordError("INSUFFICIENT_ACCESS_OR_READONLY", "insufficient access rights on object id", ())
            )
        self._track(spec.name, current, present=False)
        del self.tables[spec.name][current["Id"]]
        return SaveResult(id=current["Id"])

    def view(
        self,
        spec: ObjectSpec,
        record: Record,
        fields: list[str] | None = None,
        version: str = "59.0",
    ) -> dict[str, Any]:
        """A record as the API returns it: ``attributes`` first, then the requested (or all) fields."""
        out: dict[str, Any] = {
            "attributes": {"type": spec.name, "url": f"/services/data/v{version}/sobjects/{spec.name}/{record['Id']}"}
        }
        for name in fields or list(spec.fields):
            out[name] = self.field_value(spec, record, name)
        return out

    @staticmethod
    def field_value(spec: ObjectSpec, record: Record, name: str) -> Any:
        if name == "Name" and spec.compound_name:
            parts = [record.get("FirstName"), record.get("LastName")]
            return " ".join(part for part in parts if part) or None
        return record.get(name)
