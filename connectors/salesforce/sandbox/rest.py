"""REST API resources: versions, limits, describe and sObject rows (by id and by external id).

Single-record writes answer as Salesforce does: create is 201 with a SaveResult; update by id and delete are 204;
upsert by external id is 201 (``created: true``) for a new record, 200 with ``created: false`` for an update from
API version 46.0 on (204 with no body before), and 300 with the matching records' URLs when the external id matches
several records. Record problems become 400 replies in the list shape; a body value of the wrong type is
``JSON_PARSER_ERROR``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connectors.salesforce.sandbox.api import MAX_VERSION, ApiContext, api_routes
from connectors.salesforce.sandbox.errors import JSON_MEDIA_TYPE, ApiError, malformed_json, not_found
from connectors.salesforce.sandbox.ids import is_well_formed
from connectors.salesforce.sandbox.schema import FieldSpec, ObjectSpec
from connectors.salesforce.sandbox.store import Record, SaveResult
from connectors.salesforce.sandbox.validation import convert_record, unknown_field_error
from connectors.salesforce.sandbox.values import ValueTypeError, from_json, parser_error_message

if TYPE_CHECKING:
    from connectors.salesforce.sandbox.emulator import SalesforceEmulator

UPSERT_RETURNS_BODY_FROM = 46.0


def reply(body: Any, status: int = 200) -> Response:
    return JSONResponse(body, status_code=status, media_type=JSON_MEDIA_TYPE)


def json_values(ctx: ApiContext, spec: ObjectSpec, data: Any) -> Record:
    """Converted field values of one JSON record; unknown fields and wrong types fail the request (400)."""
    if not isinstance(data, dict):
        raise malformed_json("Cannot deserialize instance of sObject from a value that is not an object")
    unknown = unknown_field_error(spec, [name for name in data if name != "attributes"])
    if unknown:
        raise ApiError(400, unknown.status_code, unknown.message)
    try:
        return convert_record(spec, {k: v for k, v in data.items() if k != "attributes"}, from_json)
    except ValueTypeError as exc:
        raise malformed_json(parser_error_message(exc, ctx.text)) from exc


def failed(result: SaveResult) -> ApiError:
    assert result.error is not None
    return ApiError(400, result.error.status_code, result.error.message, list(result.error.fields))


# -- org-level resources ----------------------------------------------------------------------------------------
async def versions(request: Request) -> Response:
    """``GET /services/data``: the API versions served (no session needed, as on a real org)."""
    served = [f"{number}.0" for number in range(50, int(MAX_VERSION) + 1)]
    return reply([{"label": f"API {v}", "url": f"/services/data/v{v}", "version": v} for v in served])


def resources(ctx: ApiContext) -> Response:
    prefix = f"/services/data/v{ctx.version}"
    names = ["sobjects", "query", "queryAll", "limits", "composite", "jobs"]
    return reply({name: f"{prefix}/{name}" for name in names})


def limits(ctx: ApiContext) -> Response:
    return reply(ctx.emulator.org_limits.report(ctx.emulator.clock()))


def global_describe(ctx: ApiContext) -> Response:
    objects = [spec.describe(ctx.version) for spec in ctx.emulator.store.schema.values()]
    return reply({"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": objects})


def object_info(ctx: ApiContext) -> Response:
    spec = ctx.spec(ctx.params["sobject"])
    return reply({"objectDescribe": spec.describe(ctx.version), "recentItems": []})


def describe(ctx: ApiContext) -> Response:
    spec = ctx.spec(ctx.params["sobject"])
    body = spec.describe(ctx.version)
    body.update(
        fields=[f.describe() for f in spec.fields.values()],
        childRelationships=[],
        recordTypeInfos=[],
        supportedScopes=[{"label": "All " + spec.label + "s", "name": "everything"}],
    )
    return reply(body)


# -- sObject rows -----------------------------------------------------------------------------------------------
def create(ctx: ApiContext) -> Response:
    spec = ctx.spec(ctx.params["sobject"])
    if not spec.createable:
        raise ApiError(400, "INSUFFICIENT_ACCESS_OR_READONLY", f"entity type cannot be inserted: {spec.name}")
    result = ctx.emulator.store.create(spec, json_values(ctx, spec, ctx.json()))
    if not result.success:
        raise failed(result)
    return reply(result.as_json(), 201)


def _record(ctx: ApiContext, spec: ObjectSpec, record_id: str) -> Record:
    if not is_well_formed(record_id):
        raise not_found(f"Provided external ID field does not exist or is not accessible: {record_id}")
    record = ctx.emulator.store.get(spec.name, record_id)
    if record is None:
        raise not_found()
    return record


def _selected_fields(ctx: ApiContext, spec: ObjectSpec) -> list[str] | None:
    wanted = ctx.request.query_params.get("fields")
    if not wanted:
        return None
    names = []
    for name in (part.strip() for part in wanted.split(",") if part.strip()):
        field = spec.field_named(name)
        if field is None:
            raise ApiError(
                400,
                "INVALID_FIELD",
                f"No such column '{name}' on entity '{spec.name}'. If you are "
                "attempting to use a custom field, be sure to append the '__c' after the custom field "
                "name. Please reference your WSDL or the describe call for the appropriate names.",
            )
        names.append(field.name)
    return names


def row(ctx: ApiContext) -> Response:
    """``GET | PATCH | DELETE /sobjects/{sobject}/{id}``."""
    spec = ctx.spec(ctx.params["sobject"])
    record = _record(ctx, spec, ctx.params["record_id"])
    store = ctx.emulator.store
    method = ctx.request.method
    if method == "GET":
        return reply(store.view(spec, record, _selected_fields(ctx, spec), ctx.version))
    result = (
        store.delete(spec, record["Id"])
        if method == "DELETE"
        else store.update(spec, record["Id"], json_values(ctx, spec, ctx.json()))
    )
    if not result.success:
        raise failed(result)
    return Response(status_code=204)


def _key_field(spec: ObjectSpec, name: str) -> FieldSpec:
    field = spec.field_named(name)
    if field is None or not (field.external_id or field.name == "Id"):
        raise not_found(f"Provided external ID field does not exist or is not accessible: {name}")
    return field


def _matching(ctx: ApiContext, spec: ObjectSpec, field: FieldSpec, value: str) -> list[Record]:
    store = ctx.emulator.store
    if field.name == "Id":
        found = store.get(spec.name, value) if is_well_formed(value) else None
        return [found] if found else []
    try:
        key = from_json(field, value)
    except ValueTypeError as exc:
        raise not_found(f"Provided external ID field does not exist or is not accessible: {value}") from exc
    return store.find(spec.name, field, key)


def _multiple_choices(ctx: ApiContext, spec: ObjectSpec, ids: list[str]) -> Response:
    return reply([f"/services/data/v{ctx.version}/sobjects/{spec.name}/{rid}" for rid in ids], 300)


def external_row(ctx: ApiContext) -> Response:
    """``GET | PATCH | DELETE /sobjects/{sobject}/{field}/{value}`` (upsert is the PATCH)."""
    spec = ctx.spec(ctx.params["sobject"])
    field = _key_field(spec, ctx.params["field"])
    value = str(ctx.params["value"]).rstrip("/")
    store = ctx.emulator.store
    method = ctx.request.method
    if method == "PATCH":
        return _upsert(ctx, spec, field, value)
    matches = _matching(ctx, spec, field, value)
    if len(matches) > 1:
        return _multiple_choices(ctx, spec, [rec["Id"] for rec in matches])
    if not matches:
        raise not_found()
    if method == "GET":
        return reply(store.view(spec, matches[0], _selected_fields(ctx, spec), ctx.version))
    result = store.delete(spec, matches[0]["Id"])
    if not result.success:
        raise failed(result)
    return Response(status_code=204)


def _upsert(ctx: ApiContext, spec: ObjectSpec, field: FieldSpec, value: str) -> Response:
    data = ctx.json()
    if isinstance(data, dict):
        # The key travels in the URL; repeating it (or the record Id) in the body is an error on a real org.
        for name in data:
            if name.lower() in {"id", field.name.lower()}:
                raise ApiError(
                    400,
                    "INVALID_FIELD",
                    f"{field.name} is not allowed in the request body of an upsert"
                    f" by {field.name}: specify it in the URL only",
                )
    values = json_values(ctx, spec, data)
    try:
        key = from_json(field, value)
    except ValueTypeError as exc:
        raise not_found(f"Provided external ID field does not exist or is not accessible: {value}") from exc
    result = ctx.emulator.store.upsert(spec, field, key, values)
    if result.matches:
        return _multiple_choices(ctx, spec, result.matches)
    if not result.success:
        raise failed(result)
    if result.created:
        return reply(result.as_json(upsert=True), 201)
    if float(ctx.version) >= UPSERT_RETURNS_BODY_FROM:
        return reply(result.as_json(upsert=True), 200)
    return Response(status_code=204)


def routes(emulator: SalesforceEmulator) -> list[Route]:
    table = [
        ("", ["GET"], resources, 20.0),
        ("limits", ["GET"], limits, 29.0),
        ("sobjects", ["GET"], global_describe, 20.0),
        ("sobjects/{sobject}", ["GET"], object_info, 20.0),
        ("sobjects/{sobject}", ["POST"], create, 20.0),
        ("sobjects/{sobject}/describe", ["GET"], describe, 20.0),
        ("sobjects/{sobject}/{record_id}", ["GET", "PATCH", "DELETE"], row, 20.0),
        ("sobjects/{sobject}/{field}/{value:path}", ["GET", "PATCH", "DELETE"], external_row, 20.0),
    ]
    return [
        Route("/services/data", versions, methods=["GET"]),
        Route("/services/data/", versions, methods=["GET"]),
        *api_routes(emulator, table),
    ]
