"""Finding record ids by a property that is not unique (a company's ``domain``), through the CRM search API.

One search per batch: a single ``IN`` filter on every value (HubSpot wants string values lower-cased for ``IN``),
200 results per page, following ``paging.next.after``. Search has its own limit (5 requests/s per account) and
answers it with a 429 that :mod:`connectors.hubspot.errors` turns into a one-second :class:`RateLimitedError`;
the executor waits and re-sends the whole batch, nothing having been written.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from connectors.hubspot.client import HubSpotClient

SEARCH_PAGE = 200


@dataclass
class Matches:
    """Record ids by lower-cased match value, and the number of search calls it took."""

    ids: dict[str, list[str]] = field(default_factory=dict)
    calls: int = 0
    also: dict[str, str | None] = field(default_factory=dict)  # record id -> the ``also`` property's value

    def adoptable(self, value: str, match: str | None) -> tuple[bool, list[str]]:
        """For adoption by ``value``: whether a record found there already holds ``match`` (it is the record; no
        adoption needed), and the ids of those that hold no match value at all (the candidates). Records holding
        another match value belong to another key and are never adopted."""
        ids = self.of(value)
        wanted = (match or "").lower()
        if any((self.also.get(i) or "").lower() == wanted for i in ids if self.also.get(i)):
            return True, []
        return False, [i for i in ids if not self.also.get(i)]

    def candidates(self, value: str, match: str | None) -> list[str]:
        """The records a create with adopt value ``value`` and match value ``match`` adopts: none when a record found
        there already holds ``match`` (the write reaches it by its match value), else those holding no match value
        (one: adopted; more: ambiguous)."""
        is_there, candidates = self.adoptable(value, match)
        return [] if is_there else candidates

    def of(self, value: str) -> list[str]:
        return self.ids.get(value.lower(), [])


def find_ids(client: HubSpotClient, property_name: str, values: Iterable[str], also: str | None = None) -> Matches:
    """Every live record whose ``property_name`` is one of ``values`` (compared case-insensitively); with ``also``,
    each found record's value of that property too (:attr:`Matches.also`)."""
    wanted = sorted({value.lower() for value in values})
    found = Matches()
    if not wanted:
        return found
    body: dict[str, object] = {
        "filterGroups": [{"filters": [{"propertyName": property_name, "operator": "IN", "values": wanted}]}],
        "properties": [property_name] + ([also] if also else []),
        "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
        "limit": SEARCH_PAGE,
    }
    while True:
        reply = client.search(body)
        found.calls += 1
        for result in reply.body.get("results") or []:
            value = (result.get("properties") or {}).get(property_name) if isinstance(result, dict) else None
            if value is not None and result.get("id") is not None:
                found.ids.setdefault(str(value).lower(), []).append(str(result["id"]))
                if also:
                    other = (result.get("properties") or {}).get(also)
                    found.also[str(result["id"])] = str(other) if other not in (None, "") else None
        after = ((reply.body.get("paging") or {}).get("next") or {}).get("after")
        if not after:
            return found
        body["after"] = str(after)
