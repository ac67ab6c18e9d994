"""sObject Collections: create (``POST /composite/sobjects``), update (``PATCH``), delete (``DELETE ?ids=``) and
upsert by external id (``PATCH /composite/sobjects/{Object}/{ExtIdField}``).

At most 200 records per request (more is a request-level 400 ``EXCEEDED_ID_LIMIT``); each record names its type in
``attributes.type``. Results come back in input order with per-record ``success`` and ``errors``
(``{"statusCode", "message", "fields"}``), plus ``created`` for upserts. With ``allOrNone: true`` one failure rolls
back every record: failed records keep their own error, the rest report ``ALL_OR_NONE_OPERATION_ROLLED_BACK``.
Fault injection's ``reject_rate`` rejects individual records with ``UNABLE_TO_LOCK_ROW``, the retryable lock error.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from starlette.responses import Response
from starlette.routing import Route

from connectors.salesforce.sandbox.api import ApiContext, api_routes
from connectors.salesforce.sandbox.errors import ROLLED_BACK, ApiError, RecordError, malformed_json, not_found
from connectors.salesforce.sandbox.ids import is_well_formed
from connectors.salesforce.sandbox.rest import reply
from connectors.salesforce.sandbox.schema import FieldSpec, ObjectSpec
from connectors.salesforce.sandbox.store import Record, SaveResult
from connectors.salesforce.sandbox.validation import convert_record, unknown_field_error
from connectors.salesforce.sandbox.values import ValueTypeError, from_json, parser_error_message

if TYPE_CHECKING:
    from connectors.salesforce.sandbox.emulator import SalesforceEmulator

Operation = Callable[[ObjectSpec, Record, Record], SaveResult]


def _body(ctx: ApiContext) -> tuple[list[Any], bool]:
    data = ctx.json()
    if not isinstance(data, dict) or not isinstance(data.get("records"), list):
        raise malformed_json("Cannot deserialize the request: expected an object with a records array")
    all_or_none = data.get("allOrNone", False)
    if not isinstance(all_or_none, bool):
        raise malformed_json(f"Cannot deserialize instance of boolean from value {all_or_none}")
    records = data["records"]
    limit = ctx.emulator.limits.collection_max_records
    if len(records) > limit:
        raise ApiError(
            400, "EXCEEDED_ID_LIMIT", f"record limit reached. cannot submit more than {limit} records into this call"
        )
    return records, all_or_none


def _prepare(ctx: ApiContext, record: Any, url_type: str | None) -> tuple[ObjectSpec, Record, Record] | RecordError:
    """(spec, raw members, converted values) of one record, or the record's error. Wrong types fail the request."""
    if not isinstance(record, dict):
        raise malformed_json("Cannot deserialize instance of sObject from a value that is not an object")
    attributes = record.get("attributes")
    type_name = attributes.get("type") if isinstance(attributes, dict) else None
    if not type_name:
        return RecordError("INVALID_TYPE", "Must send a concrete entity type.")
    spec = ctx.emulator.store.spec(str(type_name))
    if spec is None or (url_type is not None and spec.name != url_type):
        return RecordError("INVALID_TYPE", f"Record type {type_name} is not {url_type or 'a supported sObject'}")
    raw = {k: v for k, v in record.items() if k != "attributes"}
    unknown = unknown_field_error(spec, raw)
    if unknown:
        return unknown
    try:
        values = convert_record(spec, {k: v for k, v in raw.items() if k.lower() != "id"}, from_json)
    except ValueTypeError as exc:
        raise malformed_json(parser_error_message(exc, ctx.text)) from exc
    return spec, raw, values


def _run(
    ctx: ApiContext,
    records: list[Any],
    *,
    all_or_none: bool,
    url_type: str | None,
    operation: Operation,
    upsert: bool = False,
) -> Response:
    store = ctx.emulator.store
    snapshot = store.snapshot() if all_or_none else None
    results: list[SaveResult] = []
    prepared = [_prepare(ctx, record, url_type) for record in records]
    for item in prepared:
        # Drawn per record in input order, so a seeded fault rule rejects the same records on every run.
        if ctx.emulator.reject_record(ctx.request):
            results.append(
                SaveResult(
                    error=RecordError(
                        "UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this record or 1 records"
                    )
                )
            )
        elif isinstance(item, RecordError):
            results.append(SaveResult(error=item))
        else:
            results.append(operation(*item))
    if snapshot is not None and not all(result.success for result in results):
        store.restore(snapshot)
        results = [result if not result.success else SaveResult(error=ROLLED_BACK) for result in results]
    return reply([result.as_json(upsert=upsert) for result in results])


def create(ctx: ApiContext) -> Response:
    records, all_or_none = _body(ctx)
    store = ctx.emulator.store

    def insert(spec: ObjectSpec, raw: Record, values: Record) -> SaveResult:
        if any(name.lower() == "id" for name in raw):
            return SaveResult(error=RecordError("INVALID_FIELD", "cannot specify Id in an insert call", ("Id",)))
        if not spec.createable:
            return SaveResult(
                error=RecordError("INSUFFICIENT_ACCESS_OR_READONLY", f"entity type cannot be inserted: {spec.name}")
            )
        return store.create(spec, values)

    return _run(ctx, records, all_or_none=all_or_none, url_type=None, operation=insert)


def update(ctx: ApiContext) -> Response:
    records, all_or_none = _body(ctx)
    store = ctx.emulator.store

    def change(spec: ObjectSpec, raw: Record, values: Record) -> SaveResult:
        record_id = next((v for k, v in raw.items() if k.lower() == "id"), None)
        if not record_id:
            return SaveResult(error=RecordError("MISSING_ARGUMENT", "Id not specified in an update call"))
        if not is_well_formed(record_id) or not str(record_id).startswith(spec.key_prefix):
            return SaveResult(
                error=RecordError("MALFORMED_ID", f"Record ID: id value of incorrect type: {record_id}", ("Id",))
            )
        return store.update(spec, str(record_id), values)

    return _run(ctx, records, all_or_none=all_or_none, url_type=None, operation=change)


def delete(ctx: ApiContext) -> Response:
    ids = [part for part in ctx.request.query_params.get("ids", "").split(",") if part]
    limit = ctx.emulator.limits.collection_max_records
    if len(ids) > limit:
        raise ApiError(
            400, "EXCEEDED_ID_LIMIT", f"record limit reached. cannot submit more than {limit} records into this call"
        )
    all_or_none = ctx.request.query_params.get("allOrNone", "false").lower() == "true"
    store = ctx.emulator.store
    snapshot = store.snapshot() if all_or_none else None
    results = []
    for record_id in ids:
        target = store.resolve(record_id)
        if ctx.emulator.reject_record(ctx.request):
            results.append(
                SaveResult(
                    error=RecordError(
                        "UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this record or 1 records"
                    )
                )
            )
        elif target is None:
            results.append(SaveResult(error=RecordError("ENTITY_IS_DELETED", "entity is deleted")))
        else:
            results.append(store.delete(store.schema[target[0]], target[1]["Id"]))
    if snapshot is not None and not all(result.success for result in results):
        store.restore(snapshot)
        results = [result if not result.success else SaveResult(error=ROLLED_BACK) for result in results]
    return reply([result.as_json() for result in results])


def upsert(ctx: ApiContext) -> Response:
    spec = ctx.spec(ctx.params["sobject"])
    key_field = spec.field_named(ctx.params["field"])
    if key_field is None or not (key_field.external_id or key_field.name == "Id"):
        raise not_found(f"Provided external ID field does not exist or is not accessible: {ctx.params['field']}")
    records, all_or_none = _body(ctx)
    keys = Counter(_key_of(key_field, record) for record in records if isinstance(record, dict))
    store = ctx.emulator.store

    def save(object_spec: ObjectSpec, raw: Record, values: Record) -> SaveResult:
        key = next((v for k, v in raw.items() if k.lower() == key_field.name.lower()), None)
        if key_field.name != "Id":
            if key in (None, ""):
                return SaveResult(error=RecordError("MISSING_ARGUMENT", f"{key_field.name} not specified"))
            if keys[_key_of(key_field, raw)] > 1:
                return SaveResult(
                    error=RecordError(
                        "DUPLICATE_EXTERNAL_ID", f"Duplicate external id specified: {key}", (key_field.name,)
                    )
                )
            key = values.pop(key_field.name)
        return store.upsert(object_spec, key_field, key, values)

    return _run(ctx, records, all_or_none=all_or_none, url_type=spec.name, operation=save, upsert=True)


def _key_of(field: FieldSpec, record: dict[str, Any]) -> Any:
    key = next((v for k, v in record.items() if k.lower() == field.name.lower()), None)
    return key.lower() if isinstance(key, str) and not field.case_sensitive else key


def routes(emulator: SalesforceEmulator) -> list[Route]:
    return api_routes(
        emulator,
        [
            ("composite/sobjects", ["POST"], create, 42.0),
            ("composite/sobjects", ["PATCH"], update, 42.0),
            ("composite/sobjects", ["DELETE"], delete, 42.0),
            ("composite/sobjects/{sobject}/{field}", ["PATCH"], upsert, 46.0),
        ],
    )
