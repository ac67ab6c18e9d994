"""Turning wire values (JSON members, CSV cells) into stored field values, and stored values back into JSON.

Salesforce deserialises a JSON body into typed fields before it saves anything, so a value of the wrong type
(``"abc"`` for a number, ``true`` for a date) fails the whole request with ``JSON_PARSER_ERROR``. Bulk API 2.0
converts each CSV cell on its own, so the same mistake there fails only that row, with
``INVALID_TYPE_ON_FIELD_IN_RECORD``. Strings that parse as the field's type are accepted in both, as on a real org.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime
from typing import Any

from connectors.salesforce.sandbox.schema import NUMBER_TYPES, TEXT_TYPES, FieldSpec, FieldType

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Bulk API 2.0: an empty cell leaves the field alone, #N/A sets it to null.
CSV_NULL = "#N/A"


class ValueTypeError(ValueError):
    """A value that cannot become the field's type. ``kind`` is the Salesforce type name used in messages."""

    def __init__(self, spec: FieldSpec, value: Any) -> None:
        self.spec = spec
        self.value = value
        self.kind = "reference" if spec.type is FieldType.REFERENCE else spec.type.value
        super().__init__(f"{spec.name}: value not of required type: {value}")


def format_datetime(moment: datetime) -> str:
    """Salesforce's datetime format in API replies: ``2024-05-01T12:00:00.000+0000`` (always UTC)."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}+0000"


def now_iso() -> str:
    return format_datetime(datetime.now(UTC))


def _parse_datetime(text: str) -> str:
    if _DATE.match(text):
        return text + "T00:00:00.000+0000"
    normalised = text.replace("Z", "+00:00")
    # Salesforce writes offsets without a colon (+0000); Python's parser wants +00:00.
    match = re.match(r"^(.*[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)([+-]\d{2})(\d{2})$", normalised)
    if match:
        normalised = f"{match.group(1)}{match.group(2)}:{match.group(3)}"
    moment = datetime.fromisoformat(normalised)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return format_datetime(moment)


def _convert(spec: FieldSpec, value: Any) -> Any:
    """Convert a non-null JSON or CSV value; raise ValueError/TypeError when it is not of the field's type."""
    kind = spec.type
    if isinstance(value, (dict, list)):
        raise TypeError("structured value")
    if kind in TEXT_TYPES or kind in {FieldType.ID, FieldType.REFERENCE}:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value)
    if kind in NUMBER_TYPES:
        if isinstance(value, bool):
            raise TypeError("boolean for a number")
        number = float(value)
        if math.isnan(number) or math.isinf(number):
            raise ValueError("not a finite number")
        return number
    if kind is FieldType.INT:
        if isinstance(value, bool):
            raise TypeError("boolean for an integer")
        number = float(value)
        if not number.is_integer():
            raise ValueError("not an integer")
        return int(number)
    if kind is FieldType.BOOLEAN:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in {"true", "false"}:
            return value.lower() == "true"
        raise ValueError("not a boolean")
    if not isinstance(value, str):
        raise TypeError("dates are strings")
    if kind is FieldType.DATE:
        if not _DATE.match(value):
            raise ValueError("not a date")
        date.fromisoformat(value)
        return value
    return _parse_datetime(value)


def from_json(spec: FieldSpec, value: Any) -> Any:
    """The stored form of a JSON member; raises :class:`ValueTypeError` for the wrong type."""
    if value is None:
        return None
    try:
        return _convert(spec, value)
    except (TypeError, ValueError) as exc:
        raise ValueTypeError(spec, value) from exc


def from_csv(spec: FieldSpec, cell: str) -> Any:
    """The stored form of a CSV cell (``#N/A`` is null); raises :class:`ValueTypeError` for the wrong type."""
    if cell == CSV_NULL:
        return None
    try:
        return _convert(spec, cell)
    except (TypeError, ValueError) as exc:
        raise ValueTypeError(spec, cell) from exc


def json_token(value: Any) -> str:
    """The parser token name Salesforce's JSON_PARSER_ERROR messages use for ``value``."""
    if isinstance(value, bool):
        return "VALUE_TRUE" if value else "VALUE_FALSE"
    if isinstance(value, int):
        return "VALUE_NUMBER_INT"
    if isinstance(value, float):
        return "VALUE_NUMBER_FLOAT"
    if isinstance(value, dict):
        return "START_OBJECT"
    if isinstance(value, list):
        return "START_ARRAY"
    return "VALUE_STRING"


def parser_error_message(error: ValueTypeError, body: str) -> str:
    """JSON_PARSER_ERROR's message for a member that could not be deserialised into its field."""
    column = body.find(f'"{error.spec.name}"') + 1 or 1
    return (
        f"Cannot deserialize instance of {error.kind} from {json_token(error.value)} value {error.value} "
        f"or request may be missing a required field at [line:1, column:{column}]"
    )


def csv_cell(value: Any) -> str:
    """A stored value as a Bulk API result cell."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
