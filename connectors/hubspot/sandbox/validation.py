"""Binding request bodies to HubSpot's input models, with HubSpot's 400s when they do not bind.

HubSpot deserialises bodies into typed models (Jackson into Immutables builders), so a body missing a required
attribute fails as a whole with "Cannot build <Model>, some of required attributes are not set [...]" before anything
is written. Property values are typed ``Map<String, String>``: the sandbox insists on JSON strings (numbers and
booleans included, as HubSpot documents them), so ``"pql_score": 87`` is a 400 rather than silently coerced.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from connectors.hubspot.sandbox.errors import invalid_json, missing_fields, validation_error

_JSON_KIND = {bool: "Boolean", int: "Number", float: "Number", list: "Array", dict: "Object"}


async def json_body(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        raise invalid_json("No content to map due to end-of-input")
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise invalid_json(f"Unexpected character at position {exc.pos}: {exc.msg}") from exc


def require(body: Any, model: str, fields: list[str]) -> dict[str, Any]:
    """``body`` as an object with every one of ``fields`` present (null counts as missing)."""
    if not isinstance(body, dict):
        raise invalid_json(f"Cannot deserialize value of type `{model}` from {_kind(body)} value")
    absent = [name for name in fields if body.get(name) is None]
    if absent:
        raise missing_fields(model, absent)
    return body


def batch_inputs(body: Any, model: str, fields: list[str], limit: int) -> list[dict[str, Any]]:
    """The ``inputs`` of a batch body: a list of objects, at most ``limit`` of them."""
    checked = require(body, model, ["inputs", *fields])
    inputs = checked["inputs"]
    if not isinstance(inputs, list) or not all(isinstance(item, dict) for item in inputs):
        raise invalid_json(f"Cannot deserialize value of type `{model}`: inputs must be an array of objects")
    if len(inputs) > limit:
        raise validation_error(
            f"The maximum number of inputs supported in a batch request is {limit}. "
            f"Please reduce the number of items ({len(inputs)}) and try again"
        )
    return inputs


def string_map(value: Any, where: str) -> dict[str, str]:
    """A ``properties`` map whose values are all strings (null clears a property and becomes "")."""
    if not isinstance(value, dict):
        raise invalid_json(f"Cannot deserialize value of type `java.util.Map` from {_kind(value)} value at {where}")
    result: dict[str, str] = {}
    for name, item in value.items():
        if item is None:
            result[str(name)] = ""
        elif isinstance(item, str):
            result[str(name)] = item
        else:
            raise invalid_json(
                f"Cannot deserialize value of type `java.lang.String` from {_kind(item)} value "
                f"at {where}.{name}: property values must be sent as strings"
            )
    return result


def string_list(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise invalid_json(f"Cannot deserialize value of type `java.util.List<java.lang.String>` at {where}")
    return list(value)


def string_id(value: Any, where: str) -> str:
    """An id field: HubSpot accepts a JSON string or integer."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise invalid_json(f"Cannot deserialize value of type `java.lang.String` from {_kind(value)} value at {where}")
    return str(value)


def duplicate_ids(ids: list[str]) -> None:
    seen: set[str] = set()
    repeated = [i for i in ids if i in seen or seen.add(i)]  # type: ignore[func-returns-value]
    if repeated:
        raise validation_error(f"Duplicate IDs found in batch input: {sorted(set(repeated))}. IDs must be unique")


def query_list(request: Request, name: str) -> list[str] | None:
    """A list query parameter sent either repeated (the SDK) or comma-separated (the docs)."""
    values = request.query_params.getlist(name)
    if not values:
        return None
    return [part for value in values for part in value.split(",") if part]


def _kind(value: Any) -> str:
    if value is None:
        return "Null"
    if isinstance(value, str):
        return "String"
    return _JSON_KIND.get(type(value), "Object")
