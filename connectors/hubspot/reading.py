"""Reading records' current values (:class:`syncer.contract.destination.RecordReader`) with ``batch/read`` by id.

HubSpot answers every property as text (numbers, dates and booleans included) and an empty property as ``""`` or
``null``, both of which mean empty here. Ids that match no record (a merged or deleted company) come back in the
207's errors and are left out of the answer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from connectors.hubspot.capabilities import BATCH_MAX
from connectors.hubspot.client import HubSpotClient


def read_records(
    client: HubSpotClient, record_ids: Sequence[str], fields: Sequence[str]
) -> tuple[dict[str, Mapping[str, str | None]], int]:
    """``{id: {field: value or None}}`` for the records of ``record_ids`` that exist, 100 a call; and the calls."""
    ids = list(dict.fromkeys(str(i) for i in record_ids if i))
    names = list(dict.fromkeys(fields))
    found: dict[str, Mapping[str, str | None]] = {}
    calls = 0
    for start in range(0, len(ids), BATCH_MAX):
        calls += 1
        reply = client.read_by_id(ids[start : start + BATCH_MAX], names)
        for result in reply.body.get("results") or []:
            if not isinstance(result, dict) or result.get("id") is None:
                continue
            properties = result.get("properties") or {}
            found[str(result["id"])] = {name: _text(properties.get(name)) for name in names}
    return found, calls


def _text(value: object) -> str | None:
    return None if value is None or value == "" else str(value)
