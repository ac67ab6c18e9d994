"""Search, properties and owners endpoints.

- ``POST /crm/v3/objects/{type}/search`` (see :mod:`connectors.hubspot.sandbox.search`).
- ``GET/POST /crm/v3/properties/{objectType}`` and ``GET /crm/v3/properties/{objectType}/{name}``: a duplicate name
  is a 409; ``type``/``fieldType`` must be HubSpot's enumerations and pair as HubSpot allows (``bool`` with
  ``booleancheckbox``, ``string`` with ``text``...), else a 400; an enumeration needs options.
- ``GET /crm/v3/owners/`` (``email``, ``limit`` up to 500, ``after``) and ``GET /crm/v3/owners/{ownerId}``.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from connectors.hubspot.sandbox import validation as v
from connectors.hubspot.sandbox.errors import error, missing_fields, not_found, validation_error
from connectors.hubspot.sandbox.portal import Portal, Reply, kind_of
from connectors.hubspot.sandbox.properties import (
    FIELD_TYPES,
    FIELD_TYPES_OF,
    TYPES,
    definition_from_input,
    unique_refused,
)
from connectors.hubspot.sandbox.search import search


class MiscRoutes:
    """Handlers for search, properties and owners, bound to one portal."""

    def __init__(self, portal: Portal) -> None:
        self.portal = portal

    async def search(self, request: Request) -> Reply:
        kind = kind_of(request)
        body = v.require(await v.json_body(request), "PublicObjectSearchRequest", [])
        with self.portal.lock:
            return 200, search(self.portal.store, kind, body, self.portal.limits)

    async def list_properties(self, request: Request) -> Reply:
        kind = kind_of(request)
        with self.portal.lock:
            return 200, {"results": [d.as_json() for d in self.portal.store.definitions[kind].values()]}

    async def get_property(self, request: Request) -> Reply:
        kind = kind_of(request)
        with self.portal.lock:
            definition = self.portal.store.definitions[kind].get(str(request.path_params["name"]))
            if definition is None:
                raise not_found(f"Unable to find property {request.path_params['name']}")
            return 200, definition.as_json()

    async def create_property(self, request: Request) -> Reply:
        kind = kind_of(request)
        body = v.require(
            await v.json_body(request), "PropertyCreate", ["name", "label", "type", "fieldType", "groupName"]
        )
        if body["type"] not in TYPES:
            raise validation_error(f"Invalid type {body['type']}: expected one of {', '.join(TYPES)}")
        if body["fieldType"] not in FIELD_TYPES:
            raise validation_error(f"Invalid fieldType {body['fieldType']}: expected one of {', '.join(FIELD_TYPES)}")
        if body["fieldType"] not in FIELD_TYPES_OF[body["type"]]:
            raise validation_error(
                f"fieldType {body['fieldType']} is not valid for type {body['type']}: use one of "
                f"{', '.join(sorted(FIELD_TYPES_OF[body['type']]))}"
            )
        options = body.get("options") or []
        if body["type"] == "enumeration" and not options:
            raise validation_error("Enumeration properties must have options")
        if not isinstance(options, list) or any(
            not isinstance(o, dict) or "value" not in o or "label" not in o for o in options
        ):
            raise missing_fields("OptionInput", ["label", "value"])
        refused = unique_refused(kind, body, unique_task_properties=self.portal.limits.unique_task_properties)
        if refused is not None:
            raise validation_error(refused)
        name = str(body["name"])
        with self.portal.lock:
            definitions = self.portal.store.definitions[kind]
            if name in definitions:
                raise error(409, "OBJECT_ALREADY_EXISTS", f"Property named '{name}' already exists.")
            definitions[name] = definition_from_input(body)
            return 201, definitions[name].as_json()

    async def list_owners(self, request: Request) -> Reply:
        email = request.query_params.get("email")
        raw_limit, raw_after = request.query_params.get("limit", "100"), request.query_params.get("after", "0")
        if not raw_limit.isdigit() or not raw_after.isdigit() or not 1 <= int(raw_limit) <= 500:
            raise validation_error("limit must be between 1 and 500 and after a paging cursor")
        limit, after = int(raw_limit), int(raw_after)
        archived = _archived(request)
        with self.portal.lock:
            owners = [
                o
                for o in self.portal.store.owners
                if o.archived is archived and (email is None or o.email.lower() == email.lower())
            ]
            page = owners[after : after + limit]
            body: dict[str, Any] = {"results": [o.as_json() for o in page]}
            if after + limit < len(owners):
                body["paging"] = {"next": {"after": str(after + limit)}}
            return 200, body

    async def get_owner(self, request: Request) -> Reply:
        wanted = str(request.path_params["owner_id"])
        by_user = request.query_params.get("idProperty") == "userId"
        archived = _archived(request)
        with self.portal.lock:
            for owner in self.portal.store.owners:
                if (str(owner.user_id) if by_user else owner.id) == wanted and owner.archived is archived:
                    return 200, owner.as_json()
        raise not_found(f"No owner with {'userId' if by_user else 'id'} {wanted}")


def _archived(request: Request) -> bool:
    """HubSpot serves active owners unless asked ``archived=true``, and then archived ones only."""
    value = request.query_params.get("archived", "false").lower()
    if value not in {"true", "false"}:
        raise validation_error("archived must be true or false")
    return value == "true"
