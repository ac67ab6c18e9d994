"""CRM v3 object endpoints: single create/get/update/archive, list, and ``batch/{create,read,update,upsert,archive}``.

Batch semantics follow HubSpot: a body that does not bind (too many inputs, a missing attribute, a non-string
property value) is a 400 and nothing is written. Property validation problems fail the whole batch with a 400,
except for inputs that carry an ``objectWriteTraceId``, which HubSpot reports one by one in a 207 Multi-Status
while the other inputs are written. Unknown ids in ``batch/read``/``batch/update`` are 207s with an
``OBJECT_NOT_FOUND`` error listing them. A unique-value clash is a 409 for the whole batch. Records rejected by
the sandbox's fault injection are reported per input (207).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from connectors.hubspot.sandbox import validation as v
from connectors.hubspot.sandbox.errors import (
    PropertyErrors,
    PropertyProblem,
    invalid_json,
    missing_fields,
    not_found,
    validation_error,
)
from connectors.hubspot.sandbox.portal import Portal, Reply, kind_of
from connectors.hubspot.sandbox.store import DEFAULT_PROPERTIES, SINGULAR, Record, object_type

_REQUIRED_ON_CREATE = {"tasks": ["hs_timestamp"]}


class ObjectRoutes:
    """Handlers for ``/crm/v3/objects/{object_type}...`` bound to one portal."""

    def __init__(self, portal: Portal) -> None:
        self.portal = portal

    # -- helpers ------------------------------------------------------------------------------------------------
    def _problems(self, kind: str, values: dict[str, str], *, creating: bool) -> PropertyErrors:
        found = self.portal.store.check_properties(kind, values)
        if creating:
            for name in _REQUIRED_ON_CREATE.get(kind, []):
                if not values.get(name):
                    found.problems.append(PropertyProblem(name, "REQUIRED_PROPERTY", f"{name} is required"))
        return found

    def _id_property(self, kind: str, name: str | None) -> str | None:
        """Validate an ``idProperty``: it must exist and hold unique values (``hs_object_id`` means the record id)."""
        if name is None or name == "hs_object_id":
            return None
        store = self.portal.store
        if name not in store.definitions[kind]:
            raise PropertyErrors(
                [PropertyProblem(name, "PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist')]
            ).to_error()
        if name not in store.unique_properties(kind):
            raise validation_error(
                f"Property {name} is not a unique identifier property: idProperty must name a "
                "property with hasUniqueValue set to true"
            )
        return name

    def _link_on_create(self, kind: str, associations: Any) -> list[tuple[str, str, Any]]:
        """Check a create body's ``associations`` and return the links to make once the record exists."""
        if not isinstance(associations, list):
            raise invalid_json("associations must be an array")
        links = []
        for item in associations:
            target = item.get("to", {}).get("id") if isinstance(item, dict) else None
            types = item.get("types") if isinstance(item, dict) else None
            if target is None or not isinstance(types, list) or not types:
                raise missing_fields("PublicAssociationsForObject", ["to", "types"])
            for spec in types:
                category, type_id = spec.get("associationCategory"), spec.get("associationTypeId")
                to_kind = self.portal.associations.to_type_of(kind, str(category), int(type_id or 0))
                if to_kind is None:
                    raise validation_error(f"{category} association type {type_id} is not valid from {kind}")
                if self.portal.store.get(to_kind, str(target)) is None:
                    raise validation_error(f"No {SINGULAR[to_kind]} with id {target} exists to associate with")
                kind_obj = self.portal.associations.find_type(kind, to_kind, str(category), int(type_id))
                links.append((to_kind, str(target), kind_obj))
        return links

    # -- single records -----------------------------------------------------------------------------------------
    async def create(self, request: Request) -> Reply:
        kind = kind_of(request)
        body = v.require(await v.json_body(request), "SimplePublicObjectInputForCreate", ["properties", "associations"])
        values = v.string_map(body["properties"], "properties")
        with self.portal.lock:
            problems = self._problems(kind, values, creating=True)
            if problems.problems:
                raise problems.to_error()
            clash = self.portal.store.unique_conflict(kind, values)
            if clash is not None:
                raise clash
            links = self._link_on_create(kind, body["associations"])
            record = self.portal.store.create(kind, values)
            for to_kind, target, assoc_type in links:
                self.portal.associations.link(kind, record.id, to_kind, target, assoc_type)
            return 201, record.as_json()

    async def get(self, request: Request) -> Reply:
        kind = kind_of(request)
        with self.portal.lock:
            id_property = self._id_property(kind, request.query_params.get("idProperty"))
            record = self.portal.store.get(kind, str(request.path_params["object_id"]), id_property)
            if record is None:
                raise not_found()
            names = v.query_list(request, "properties") or DEFAULT_PROPERTIES[kind]
            body = record.as_json(names, v.query_list(request, "propertiesWithHistory"))
            wanted = v.query_list(request, "associations") or []
            if wanted:
                body["associations"] = self._v3_associations(kind, record, wanted)
            return 200, body

    def _v3_associations(self, kind: str, record: Record, wanted: list[str]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for name in wanted:
            to_kind = object_type(name)
            if to_kind is None:
                continue
            results = [
                {"id": target, "type": f"{SINGULAR[kind]}_to_{SINGULAR[to_kind]}"}
                for target, _ in self.portal.associations.targets(kind, record.id, to_kind)
            ]
            if results:
                found[to_kind] = {"results": results}
        return found

    async def update(self, request: Request) -> Reply:
        kind = kind_of(request)
        body = v.require(await v.json_body(request), "SimplePublicObjectInput", ["properties"])
        values = v.string_map(body["properties"], "properties")
        with self.portal.lock:
            id_property = self._id_property(kind, request.query_params.get("idProperty"))
            record = self.portal.store.get(kind, str(request.path_params["object_id"]), id_property)
            if record is None:
                raise not_found()
            problems = self._problems(kind, values, creating=False)
            if problems.problems:
                raise problems.to_error()
            clash = self.portal.store.unique_conflict(kind, values, exclude=record.id)
            if clash is not None:
                raise clash
            return 200, self.portal.store.update(record, values).as_json()

    async def archive(self, request: Request) -> Reply:
        kind = kind_of(request)
        with self.portal.lock:
            # HubSpot answers 204 whether or not the record existed.
            self.portal.store.archive(kind, str(request.path_params["object_id"]))
        return 204, None

    async def list_page(self, request: Request) -> Reply:
        kind = kind_of(request)
        raw_limit, raw_after = request.query_params.get("limit", "10"), request.query_params.get("after", "0")
        if not raw_limit.isdigit() or not raw_after.isdigit() or int(raw_limit) > 100:
            raise validation_error("limit must be an integer up to 100 and after a record id")
        limit, after = int(raw_limit), int(raw_after)
        with self.portal.lock:
            records = [r for r in self.portal.store.live(kind) if int(r.id) >= after]
            page = records[:limit]
            names = v.query_list(request, "properties") or DEFAULT_PROPERTIES[kind]
            body: dict[str, Any] = {"results": [r.as_json(names) for r in page]}
            if len(records) > limit:
                body["paging"] = {"next": {"after": records[limit].id}}
            return 200, body
