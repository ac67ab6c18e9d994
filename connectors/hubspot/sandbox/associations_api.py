"""Associations v4: read, create (labelled or default) and remove associations, singly and in batches.

Paths and reply models are the ones hubspot-api-client's ``crm.associations.v4`` ``basic_api``/``batch_api`` use:
``GET /crm/v4/objects/{t}/{id}/associations/{toT}`` (``CollectionResponseMultiAssociatedObjectWithLabel``),
``PUT .../associations/{toT}/{toId}`` with a list of ``AssociationSpec`` (201 ``LabelsBetweenObjectPair``),
``PUT .../associations/default/{toT}/{toId}`` (200 ``BatchResponsePublicDefaultAssociation``), ``DELETE`` (204) and
``POST /crm/v4/associations/{from}/{to}/batch/{read,create,associate/default,archive}``. Object ids in results are
numbers, as HubSpot sends them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from starlette.requests import Request

from connectors.hubspot.sandbox import validation as v
from connectors.hubspot.sandbox.associations import AssociationType
from connectors.hubspot.sandbox.errors import HubSpotError, batch_error, invalid_json, not_found, validation_error
from connectors.hubspot.sandbox.portal import Portal, Reply, batch_reply, kind_of, now
from connectors.hubspot.sandbox.store import OBJECT_TYPES, SINGULAR


class AssociationRoutes:
    """Handlers for the associations v4 API, bound to one portal."""

    def __init__(self, portal: Portal) -> None:
        self.portal = portal

    def _exists(self, kind: str, record_id: str) -> None:
        if self.portal.store.get(kind, record_id) is None:
            raise not_found(f"No {SINGULAR[kind]} with id {record_id} exists")

    def _specs(self, from_kind: str, to_kind: str, specs: Any) -> list[AssociationType]:
        if not isinstance(specs, list) or not specs:
            raise invalid_json(
                "Cannot deserialize value of type `java.util.List<AssociationSpec>`: expected a non-empty array"
            )
        found = []
        for raw_spec in specs:
            spec = v.require(raw_spec, "AssociationSpec", ["associationCategory", "associationTypeId"])
            kind = self.portal.associations.find_type(
                from_kind, to_kind, str(spec["associationCategory"]), int(spec["associationTypeId"])
            )
            if kind is None:
                raise validation_error(
                    f"{spec['associationCategory']} association type {spec['associationTypeId']} "
                    f"is not valid between {from_kind} and {to_kind}"
                )
            found.append(kind)
        return found

    def _pair(self, from_kind: str, from_id: str, to_kind: str, to_id: str) -> dict[str, Any]:
        return {
            "fromObjectTypeId": OBJECT_TYPES[from_kind],
            "fromObjectId": int(from_id),
            "toObjectTypeId": OBJECT_TYPES[to_kind],
            "toObjectId": int(to_id),
            "labels": self.portal.associations.labels(from_kind, from_id, to_kind, to_id),
        }

    def _default(self, from_kind: str, from_id: str, to_kind: str, to_id: str) -> dict[str, Any]:
        kind = self.portal.associations.default_type(from_kind, to_kind)
        if kind is None:
            raise validation_error(f"No default association exists between {from_kind} and {to_kind}")
        self.portal.associations.link(from_kind, from_id, to_kind, to_id, kind)
        return {
            "from": {"id": from_id},
            "to": {"id": to_id},
            "associationSpec": {"associationCategory": kind.category, "associationTypeId": kind.type_id},
        }

    def _listing(self, from_kind: str, from_id: str, to_kind: str) -> list[dict[str, Any]]:
        return [
            {"toObjectId": int(target), "associationTypes": [k.as_json() for k in kinds]}
            for target, kinds in self.portal.associations.targets(from_kind, from_id, to_kind)
        ]

    # -- single -------------------------------------------------------------------------------------------------
    async def read(self, request: Request) -> Reply:
        from_kind, to_kind = kind_of(request), kind_of(request, "to_type")
        raw_limit, raw_after = request.query_params.get("limit", "500"), request.query_params.get("after", "0")
        if not raw_limit.isdigit() or not raw_after.isdigit():
            raise validation_error("limit and after must be integers")
        limit, after = int(raw_limit), int(raw_after)
        with self.portal.lock:
            listing = self._listing(from_kind, str(request.path_params["object_id"]), to_kind)
            body: dict[str, Any] = {"results": listing[after : after + limit]}
            if after + limit < len(listing):
                body["paging"] = {"next": {"after": str(after + limit)}}
            return 200, body

    async def create_labelled(self, request: Request) -> Reply:
        from_kind, to_kind = kind_of(request), kind_of(request, "to_type")
        from_id, to_id = str(request.path_params["object_id"]), str(request.path_params["to_id"])
        specs = await v.json_body(request)
        with self.portal.lock:
            kinds = self._specs(from_kind, to_kind, specs)
            self._exists(from_kind, from_id)
            self._exists(to_kind, to_id)
            for kind in kinds:
                self.portal.associations.link(from_kind, from_id, to_kind, to_id, kind)
            return 201, self._pair(from_kind, from_id, to_kind, to_id)

    async def create_default(self, request: Request) -> Reply:
        from_kind, to_kind = kind_of(request), kind_of(request, "to_type")
        from_id, to_id = str(request.path_params["object_id"]), str(request.path_params["to_id"])
        started = now()
        with self.portal.lock:
            self._exists(from_kind, from_id)
            self._exists(to_kind, to_id)
            return batch_reply([self._default(from_kind, from_id, to_kind, to_id)], [], 200, started)

    async def remove(self, request: Request) -> Reply:
        from_kind, to_kind = kind_of(request), kind_of(request, "to_type")
        with self.portal.lock:
            self.portal.associations.unlink(
                from_kind, str(request.path_params["object_id"]), to_kind, str(request.path_params["to_id"])
            )
        return 204, None

    # -- batch --------------------------------------------------------------------------------------------------
    def _batch(self, body: Any, model: str) -> list[dict[str, Any]]:
        return v.batch_inputs(body, model, [], self.portal.limits.batch_max_inputs)

    async def batch_read(self, request: Request) -> Reply:
        from_kind, to_kind = kind_of(request, "from_type"), kind_of(request, "to_type")
        started = now()
        inputs = self._batch(await v.json_body(request), "BatchInputPublicFetchAssociationsBatchRequest")
        results, errors = [], []
        with self.portal.lock:
            for index, item in enumerate(inputs):
                from_id = v.string_id(item.get("id"), f"inputs[{index}].id")
                listing = self._listing(from_kind, from_id, to_kind)
                if listing:
                    results.append({"from": {"id": from_id}, "to": listing})
                else:
                    errors.append(
                        batch_error(
                            "OBJECT_NOT_FOUND",
                            f"No {SINGULAR[to_kind]} is associated with {SINGULAR[from_kind]} {from_id}.",
                            {"fromObjectId": [from_id]},
                        )
                    )
            return batch_reply(results, errors, 200, started)

    async def batch_create(self, request: Request) -> Reply:
        from_kind, to_kind = kind_of(request, "from_type"), kind_of(request, "to_type")

        def link(item: dict[str, Any], from_id: str, to_id: str) -> dict[str, Any] | None:
            kinds = self._specs(from_kind, to_kind, item["types"])
            if self.portal.reject(request):
                return batch_error(
                    "VALIDATION_ERROR", "Association rejected by sandbox fault injection", {"ids": [from_id, to_id]}
                )
            for kind in kinds:
                self.portal.associations.link(from_kind, from_id, to_kind, to_id, kind)
            return None

        results, errors, started = await self._link_each(
            request,
            "PublicAssociationMultiPost",
            ["from", "to", "types"],
            link,
            lambda from_id, to_id: self._pair(from_kind, from_id, to_kind, to_id),
        )
        return batch_reply(results, errors, 201, started)

    async def batch_default(self, request: Request) -> Reply:
        from_kind, to_kind = kind_of(request, "from_type"), kind_of(request, "to_type")
        results, errors, started = await self._link_each(
            request,
            "PublicDefaultAssociationMultiPost",
            ["from", "to"],
            lambda *_: None,
            lambda from_id, to_id: self._default(from_kind, from_id, to_kind, to_id),
        )
        # This endpoint's reply model has errors but no 207 variant: HubSpot reports failures inside a 200.
        return 200, batch_reply(results, errors, 200, started)[1]

    async def _link_each(
        self,
        request: Request,
        model: str,
        required: list[str],
        link: Callable[[dict[str, Any], str, str], dict[str, Any] | None],
        result: Callable[[str, str], dict[str, Any]],
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], datetime]:
        """Run ``link`` for each batch input whose two records exist; collect ``result`` or the per-input error."""
        from_kind, to_kind = kind_of(request, "from_type"), kind_of(request, "to_type")
        started = now()
        inputs = self._batch(await v.json_body(request), f"BatchInput{model}")
        results: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        with self.portal.lock:
            for index, item in enumerate(inputs):
                v.require(item, model, required)
                from_id = v.string_id(item["from"].get("id"), f"inputs[{index}].from.id")
                to_id = v.string_id(item["to"].get("id"), f"inputs[{index}].to.id")
                try:
                    self._exists(from_kind, from_id)
                    self._exists(to_kind, to_id)
                except HubSpotError as exc:
                    errors.append(batch_error("OBJECT_NOT_FOUND", str(exc), {"ids": [from_id, to_id]}))
                    continue
                refused = link(item, from_id, to_id)
                if refused is not None:
                    errors.append(refused)
                    continue
                results.append(result(from_id, to_id))
        return results, errors, started

    async def batch_archive(self, request: Request) -> Reply:
        from_kind, to_kind = kind_of(request, "from_type"), kind_of(request, "to_type")
        inputs = self._batch(await v.json_body(request), "BatchInputPublicAssociationMultiArchive")
        with self.portal.lock:
            for index, item in enumerate(inputs):
                v.require(item, "PublicAssociationMultiArchive", ["from", "to"])
                from_id = v.string_id(item["from"].get("id"), f"inputs[{index}].from.id")
                for target in item["to"]:
                    to_id = v.string_id(target.get("id"), f"inputs[{index}].to.id")
                    self.portal.associations.unlink(from_kind, from_id, to_kind, to_id)
        return 204, None
