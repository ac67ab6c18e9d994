"""Reading records' current values (:class:`syncer.contract.destination.RecordReader`) by SOQL on ``Id``.

One query per 200 ids (a query travels in the URL, which Salesforce limits to 16,384 characters). Field names are
matched case-insensitively, as Salesforce does; booleans come back as ``true``/``false`` and numbers as JSON
numbers, written here as text (``42.0`` stays ``42.0``: comparisons of numbers are numeric).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from simple_salesforce.format import format_soql

from connectors.salesforce.capabilities import COLLECTION_MAX

Query = Callable[[str], list[dict[str, Any]]]


def read_records(
    query: Query, object_name: str, record_ids: Sequence[str], fields: Sequence[str]
) -> dict[str, Mapping[str, str | None]]:
    """``{Id: {field: value or None}}`` for the records of ``record_ids`` that exist; ``query`` runs one SOQL."""
    ids = sorted({str(i) for i in record_ids if i})
    names = [name for name in dict.fromkeys(fields) if name.lower() != "id"]
    selected = ", ".join(["Id", *names])
    found: dict[str, Mapping[str, str | None]] = {}
    for start in range(0, len(ids), COLLECTION_MAX):
        soql = format_soql(
            f"SELECT {selected} FROM {object_name} WHERE Id IN {{}}", ids[start : start + COLLECTION_MAX]
        )
        for row in query(soql):
            by_lower = {str(k).lower(): v for k, v in row.items()}
            found[str(row.get("Id"))] = {name: _text(by_lower.get(name.lower())) for name in fields}
    return found


def _text(value: object) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
