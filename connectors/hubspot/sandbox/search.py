"""``POST /crm/v3/objects/{type}/search``: filter groups, sorting and ``after`` paging, as the CRM search API does.

Filter groups are ORed, the filters inside one group ANDed; at most 5 groups, 6 filters per group, 18 in all.
Comparisons follow the property's type (numbers and datetimes numerically, epoch millis or ISO for datetimes;
strings case-insensitively). ``limit`` is at most 200 per page and paging stops at 10,000 results (HubSpot's cap).

Search reads an index, not the records: with ``HubSpotLimits.search_lag_seconds`` set, a record written less than
that long ago is found as it was then, and one created since is not found at all, as on HubSpot, whose index lags
writes by seconds. Reads by id (``batch/read``, associations) see every write at once.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.hubspot.sandbox.errors import validation_error
from connectors.hubspot.sandbox.limits import HubSpotLimits
from connectors.hubspot.sandbox.properties import PropertyDefinition, parse_timestamp
from connectors.hubspot.sandbox.store import DEFAULT_PROPERTIES, ObjectStore, Record

OPERATORS = frozenset(
    {
        "EQ",
        "NEQ",
        "LT",
        "LTE",
        "GT",
        "GTE",
        "BETWEEN",
        "IN",
        "NOT_IN",
        "HAS_PROPERTY",
        "NOT_HAS_PROPERTY",
        "CONTAINS_TOKEN",
        "NOT_CONTAINS_TOKEN",
    }
)
_ALWAYS = {
    "companies": ["createdate", "hs_lastmodifieddate", "hs_object_id"],
    "contacts": ["createdate", "lastmodifieddate", "hs_object_id"],
    "tasks": ["hs_createdate", "hs_lastmodifieddate", "hs_object_id"],
}
_QUERY_FIELDS = {
    "companies": ["name", "domain", "website", "phone"],
    "contacts": ["firstname", "lastname", "email", "phone", "company"],
    "tasks": ["hs_task_subject", "hs_task_body"],
}


def _key(definition: PropertyDefinition | None, value: str) -> float | str:
    """A comparable form of a stored or filter value for the property's type."""
    if definition is not None and definition.type == "number":
        try:
            return float(value)
        except ValueError:
            return value.lower()
    if definition is not None and definition.type in ("datetime", "date"):
        stamp = parse_timestamp(value)
        return stamp if stamp is not None else value.lower()
    return value.lower()


def _tokens(text: str) -> list[str]:
    return [t for t in re.split(r"[^0-9a-zA-Z]+", text.lower()) if t]


def _contains_token(stored: str, token: str) -> bool:
    """HubSpot's token match: ``*`` is a wildcard; a token with punctuation (an e-mail) matches the whole value."""
    wanted = token.lower()
    if "*" in wanted:
        pattern = re.compile(".*".join(re.escape(part) for part in wanted.split("*")))
        return any(pattern.fullmatch(t) for t in [*_tokens(stored), stored.lower()])
    return wanted in _tokens(stored) or wanted == stored.lower()


def _compare(operator: str, have: float | str, low: float | str, high: float | str) -> bool:
    """Range operators compare only values of one kind (numbers with numbers, text with text)."""
    if isinstance(have, float) and isinstance(low, float):
        if operator == "BETWEEN":
            return isinstance(high, float) and low <= have <= high
        return _ORDER[operator](have, low)
    if isinstance(have, str) and isinstance(low, str):
        if operator == "BETWEEN":
            return isinstance(high, str) and low <= have <= high
        return _ORDER[operator](have, low)
    return False


_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "LT": lambda a, b: bool(a < b),
    "LTE": lambda a, b: bool(a <= b),
    "GT": lambda a, b: bool(a > b),
    "GTE": lambda a, b: bool(a >= b),
}


def _matcher(flt: dict[str, Any], definitions: dict[str, PropertyDefinition]) -> Callable[[Record], bool]:
    name = flt.get("propertyName")
    operator = flt.get("operator")
    if not isinstance(name, str) or operator not in OPERATORS:
        raise validation_error(
            f"Invalid filter: propertyName and an operator ({', '.join(sorted(OPERATORS))}) are required"
        )
    definition = definitions.get(name)
    value = flt.get("value")
    values = flt.get("values")
    if operator in ("IN", "NOT_IN") and not isinstance(values, list):
        raise validation_error(f"operator {operator} requires values")
    if operator not in ("IN", "NOT_IN", "HAS_PROPERTY", "NOT_HAS_PROPERTY") and value is None:
        raise validation_error(f"operator {operator} requires a value")
    wanted = _key(definition, str(value)) if value is not None else ""
    wanted_all = [_key(definition, str(item)) for item in values] if isinstance(values, list) else []
    high = _key(definition, str(flt.get("highValue", "")))

    def test(record: Record) -> bool:
        stored = record.properties.get(name)
        if operator == "HAS_PROPERTY":
            return stored is not None
        if operator == "NOT_HAS_PROPERTY":
            return stored is None
        if stored is None:
            # A record without the property never equals anything, so the negative operators match it.
            return operator in ("NEQ", "NOT_IN", "NOT_CONTAINS_TOKEN")
        have = _key(definition, stored)
        if operator in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
            return bool(_contains_token(stored, str(value)) == (operator == "CONTAINS_TOKEN"))
        if operator in ("EQ", "NEQ"):
            return bool((have == wanted) == (operator == "EQ"))
        if operator in ("IN", "NOT_IN"):
            return bool((have in wanted_all) == (operator == "IN"))
        return _compare(str(operator), have, wanted, high)

    return test


def _sort_key(kind: str, sorts: list[Any], definitions: dict[str, PropertyDefinition]) -> tuple[str, bool]:
    if not sorts:
        return "hs_object_id", False
    first = sorts[0]
    if isinstance(first, str):
        return first.lstrip("-"), first.startswith("-")
    if isinstance(first, dict) and isinstance(first.get("propertyName"), str):
        return first["propertyName"], str(first.get("direction", "ASCENDING")).upper() == "DESCENDING"
    raise validation_error("Invalid sort: expected a property name or {propertyName, direction}")


def _indexed(records: list[Record], limits: HubSpotLimits) -> list[Record]:
    """The records as the lagging search index holds them: each as of ``search_lag_seconds`` ago (its property
    history says what it held then), without the ones created since."""
    cutoff = datetime.now(UTC) - timedelta(seconds=limits.search_lag_seconds)
    seen = []
    for record in records:
        if record.created_at > cutoff:
            continue
        if record.updated_at <= cutoff:
            seen.append(record)
            continue
        then = {
            name: value
            for name, history in record.history.items()
            for value in [next((v for v, at in history if at <= cutoff), "")]
            if value != ""
        }
        seen.append(replace(record, properties=then, updated_at=cutoff))
    return seen


def search(store: ObjectStore, kind: str, body: dict[str, Any], limits: HubSpotLimits) -> dict[str, Any]:
    """Run one search request; raises HubSpot's 400 for a malformed request."""
    definitions = store.definitions[kind]
    groups = body.get("filterGroups") or []
    if not isinstance(groups, list) or len(groups) > 5:
        raise validation_error("filterGroups: at most 5 filter groups are allowed")
    matchers: list[list[Callable[[Record], bool]]] = []
    for group in groups:
        filters = group.get("filters") if isinstance(group, dict) else None
        if not isinstance(filters, list) or len(filters) > 6:
            raise validation_error("filterGroups[].filters: each group takes a list of at most 6 filters")
        matchers.append([_matcher(f, definitions) for f in filters])
    if sum(len(m) for m in matchers) > 18:
        raise validation_error("At most 18 filters are allowed across all filter groups")
    limit = body.get("limit", 10)
    if not isinstance(limit, int) or isinstance(limit, bool) or not 0 <= limit <= limits.search_page_max:
        raise validation_error(f"limit must be between 0 and {limits.search_page_max}")
    after_raw = body.get("after") or "0"
    if not str(after_raw).isdigit():
        raise validation_error(f"Invalid after value: {after_raw}")
    after = int(after_raw)
    if after + limit > limits.search_total_max:
        raise validation_error(f"Paging beyond {limits.search_total_max} results is not supported")

    indexed = store.live(kind) if limits.search_lag_seconds <= 0 else _indexed(store.live(kind), limits)
    records = [r for r in indexed if not matchers or any(all(m(r) for m in g) for g in matchers)]
    query = body.get("query")
    if isinstance(query, str) and query.strip():
        needle = query.lower()
        records = [r for r in records if any(needle in r.properties.get(f, "").lower() for f in _QUERY_FIELDS[kind])]
    sort_name, descending = _sort_key(kind, body.get("sorts") or [], definitions)
    definition = definitions.get(sort_name)
    present = [r for r in records if sort_name in r.properties]
    missing = [r for r in records if sort_name not in r.properties]
    present.sort(key=lambda r: (_key(definition, r.properties[sort_name]), int(r.id)), reverse=descending)
    ordered = present + missing

    requested = body.get("properties") or DEFAULT_PROPERTIES[kind]
    names = list(dict.fromkeys([*requested, *_ALWAYS[kind]]))
    page = ordered[after : after + limit]
    reply: dict[str, Any] = {"total": len(ordered), "results": [r.as_json(names) for r in page]}
    if after + limit < len(ordered) and limit > 0:
        reply["paging"] = {"next": {"after": str(after + limit)}}
    return reply
