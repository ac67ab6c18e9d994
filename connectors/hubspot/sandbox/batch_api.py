"""CRM v3 ``batch/{create,read,update,upsert,archive}`` (semantics in :mod:`connectors.hubspot.sandbox.objects_api`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from connectors.hubspot.sandbox import validation as v
from connectors.hubspot.sandbox.errors import PropertyErrors, batch_error, missing_fields, validation_error
from connectors.hubspot.sandbox.objects_api import ObjectRoutes
from connectors.hubspot.sandbox.portal import Reply, batch_reply, kind_of, now
from connectors.hubspot.sandbox.store import DEFAULT_PROPERTIES, SINGULAR, Record

_FAULT_MESSAGE = "Record rejected by sandbox fault injection; retry the input"


@dataclass
class _Input:
    """One parsed batch input."""

    values: dict[str, str]
    record_id: str = ""
    id_property: str | None = None
    trace: str | None = None

    def context(self) -> dict[str, list[str]]:
        context = {"ids": [self.record_id]} if self.record_id else {}
        return {**context, "objectWriteTraceId": [self.trace]} if self.trace else context


class BatchRoutes(ObjectRoutes):
    """Handlers for ``/crm/v3/objects/{object_type}/batch/*``."""

    async def _inputs(self, request: Request, model: str) -> list[dict[str, Any]]:
        """The body's ``inputs``, checked against the batch cap (HubSpot's 100)."""
        return v.batch_inputs(await v.json_body(request), model, [], self.portal.limits.batch_max_inputs)

    async def _read(self, request: Request, model: str, *, need_id: bool) -> tuple[list[dict[str, Any]], list[_Input]]:
        """The raw inputs of a ``BatchInput<model>`` body and the same inputs parsed."""
        raw = await self._inputs(request, f"BatchInput{model}")
        return raw, self._parse(raw, model, need_id=need_id)

    def _parse(self, raw: list[dict[str, Any]], model: str, *, need_id: bool) -> list[_Input]:
        parsed = []
        for index, item in enumerate(raw):
            absent = [f for f in (["id", "properties"] if need_id else ["properties"]) if item.get(f) is None]
            if absent:
                raise missing_fields(model, absent)
            trace = item.get("objectWriteTraceId")
            parsed.append(
                _Input(
                    values=v.string_map(item["properties"], f"inputs[{index}].properties"),
                    record_id=v.string_id(item["id"], f"inputs[{index}].id") if need_id else "",
                    id_property=item.get("idProperty"),
                    trace=str(trace) if trace is not None else None,
                )
            )
        return parsed

    def _screen(
        self, request: Request, kind: str, inputs: list[_Input], *, creating: bool, errors: list[dict[str, Any]]
    ) -> list[_Input]:
        """Drop inputs with property problems (reported per input when traced, else a 400) and injected rejects."""
        kept = []
        for item in inputs:
            problems: PropertyErrors = self._problems(kind, item.values, creating=creating)
            if problems.problems and item.trace is None:
                raise problems.to_error()
            if problems.problems:
                errors.append(batch_error("VALIDATION_ERROR", problems.message(), item.context(), problems.details()))
            elif self.portal.reject(request):
                errors.append(batch_error("VALIDATION_ERROR", _FAULT_MESSAGE, item.context()))
            else:
                kept.append(item)
        return kept

    def _no_clashes(self, kind: str, writes: list[tuple[Record | None, dict[str, str]]]) -> None:
        """409 for the whole batch if any write repeats a unique value held elsewhere or earlier in the batch."""
        claimed: dict[tuple[str, str], str] = {}
        for index, (record, values) in enumerate(writes):
            clash = self.portal.store.unique_conflict(kind, values, exclude=record.id if record else None)
            if clash is not None:
                raise clash
            for name in self.portal.store.unique_properties(kind):
                value = values.get(name)
                if value:
                    key = (name, value.lower() if name == "email" else value)
                    if key in claimed and claimed[key] != (record.id if record else f"new{index}"):
                        raise validation_error(f"Duplicate value {value} for unique property {name} in batch input")
                    claimed[key] = record.id if record else f"new{index}"

    async def batch_create(self, request: Request) -> Reply:
        kind, started = kind_of(request), now()
        raw, inputs = await self._read(request, "SimplePublicObjectBatchInputForCreate", need_id=False)
        errors: list[dict[str, Any]] = []
        with self.portal.lock:
            kept = self._screen(request, kind, inputs, creating=True, errors=errors)
            self._no_clashes(kind, [(None, item.values) for item in kept])
            kept_ids = {id(item) for item in kept}
            # Check every kept input's associations before creating anything.
            links = [
                self._link_on_create(kind, raw_item.get("associations") or [])
                for raw_item, item in zip(raw, inputs, strict=True)
                if id(item) in kept_ids
            ]
            results = []
            for item, item_links in zip(kept, links, strict=True):
                record = self.portal.store.create(kind, item.values)
                for to_kind, target, assoc_type in item_links:
                    self.portal.associations.link(kind, record.id, to_kind, target, assoc_type)
                results.append(record.as_json())
            return batch_reply(results, errors, 201, started)

    async def batch_read(self, request: Request) -> Reply:
        kind, started = kind_of(request), now()
        body = await v.json_body(request)
        raw = v.batch_inputs(
            body,
            "BatchReadInputSimplePublicObjectId",
            ["properties", "propertiesWithHistory"],
            self.portal.limits.batch_max_inputs,
        )
        properties = v.string_list(body["properties"], "properties")
        history = v.string_list(body["propertiesWithHistory"], "propertiesWithHistory")
        if history and len(raw) > self.portal.limits.history_batch_max_inputs:
            raise validation_error(
                "The maximum number of inputs supported in a batch request for property histories "
                f"is {self.portal.limits.history_batch_max_inputs}. Please reduce the number of "
                "items and try again"
            )
        ids = _object_ids(raw)
        with self.portal.lock:
            id_property = self._id_property(kind, body.get("idProperty"))
            names = properties or None
            results, missing = [], []
            for record_id in dict.fromkeys(ids):
                record = self.portal.store.get(kind, record_id, id_property)
                if record is None:
                    missing.append(record_id)
                else:
                    results.append(record.as_json(names or _defaults(kind), history))
            errors = [] if not missing else [_not_found(kind, {"ids": missing})]
            return batch_reply(results, errors, 200, started)

    async def batch_update(self, request: Request) -> Reply:
        kind, started = kind_of(request), now()
        _, inputs = await self._read(request, "SimplePublicObjectBatchInput", need_id=True)
        v.duplicate_ids([item.record_id for item in inputs])
        errors: list[dict[str, Any]] = []
        with self.portal.lock:
            found: list[tuple[Record, _Input]] = []
            for item in self._screen(request, kind, inputs, creating=False, errors=errors):
                record = self.portal.store.get(kind, item.record_id, self._id_property(kind, item.id_property))
                if record is None:
                    errors.append(_not_found(kind, item.context()))
                else:
                    found.append((record, item))
            self._no_clashes(kind, [(record, item.values) for record, item in found])
            results = [self.portal.store.update(record, item.values).as_json() for record, item in found]
            return batch_reply(results, errors, 200, started)

    async def batch_upsert(self, request: Request) -> Reply:
        kind, started = kind_of(request), now()
        _, inputs = await self._read(request, "SimplePublicObjectBatchInputUpsert", need_id=True)
        if any(item.id_property is None for item in inputs):
            raise missing_fields("SimplePublicObjectBatchInputUpsert", ["idProperty"])
        v.duplicate_ids([item.record_id for item in inputs])
        errors: list[dict[str, Any]] = []
        with self.portal.lock:
            plans: list[tuple[Record | None, dict[str, str]]] = []
            for item in inputs:
                name = self._id_property(kind, item.id_property)
                if name is None:
                    raise validation_error("idProperty must name a unique property other than hs_object_id")
                # A new record takes its id value from the idProperty.
                item.values = {**item.values, name: item.record_id}
            for item in self._screen(request, kind, inputs, creating=False, errors=errors):
                assert item.id_property is not None
                plans.append((self.portal.store.find_by(kind, item.id_property, item.record_id), item.values))
            self._no_clashes(kind, plans)
            results = []
            for record, values in plans:
                if record is None:
                    results.append({**self.portal.store.create(kind, values).as_json(), "new": True})
                else:
                    results.append({**self.portal.store.update(record, values).as_json(), "new": False})
            return batch_reply(results, errors, 200, started)

    async def batch_archive(self, request: Request) -> Reply:
        kind = kind_of(request)
        raw = await self._inputs(request, "BatchInputSimplePublicObjectId")
        ids = _object_ids(raw)
        with self.portal.lock:
            for record_id in ids:
                self.portal.store.archive(kind, record_id)
        return 204, None


def _object_ids(raw: list[dict[str, Any]]) -> list[str]:
    """The ids of ``SimplePublicObjectId`` inputs: each required, given as a JSON string or integer."""
    ids = []
    for index, item in enumerate(raw):
        if item.get("id") is None:
            raise missing_fields("SimplePublicObjectId", ["id"])
        ids.append(v.string_id(item["id"], f"inputs[{index}].id"))
    return ids


def _defaults(kind: str) -> list[str]:
    return DEFAULT_PROPERTIES[kind]


def _not_found(kind: str, context: dict[str, Any]) -> dict[str, Any]:
    """HubSpot's per-input error for ids that match no record (its wording, as batch read and update send it)."""
    return batch_error(
        "OBJECT_NOT_FOUND",
        f"Could not get some {SINGULAR[kind].upper()} objects, they may be "
        "deleted or not exist. Check that ids are valid.",
        context,
    )
