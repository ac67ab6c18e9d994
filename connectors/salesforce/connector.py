"""The Salesforce destination: sObject Collections for batches of up to 200, Bulk API 2.0 above.

``write`` routes each record (:mod:`connectors.salesforce.records`), resolves external ids to record ids where the
sync may not create records (one SOQL query per batch), sends each route's records in one Collections request per
200 (or one Bulk job when a route holds more), and answers one result per record in input order, with the calls
made and the daily allocation the last reply reported.

Adoption (the target's ``adopt_field``, e.g. ``Website``): the batch's creates that carry an adopt value are first
looked up by it (``SELECT Id, <adopt>, <match> ... WHERE <adopt> IN (...)``, 200 values a query). A record found
that already holds the row's match value is the record (the upsert reaches it); otherwise exactly one record
holding no match value is adopted: updated by Id with the row's fields and its match value, confirmed as adopted;
two or more are rejected as ambiguous, naming them.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from functools import partial
from typing import Any

from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import SalesforceResourceNotFound
from simple_salesforce.format import format_soql

from connectors.salesforce.auth import DEFAULT_TIMEOUT_S
from connectors.salesforce.bulk import BulkWait, run_job
from connectors.salesforce.capabilities import COLLECTION_MAX, capabilities
from connectors.salesforce.client import SalesforceClient
from connectors.salesforce.describe import field_checks, setup_steps
from connectors.salesforce.reading import read_records
from connectors.salesforce.records import (
    Planned,
    Route,
    matches_id,
    payload,
    resolve_lookup,
    route,
    save_results,
    sent_values,
)
from connectors.salesforce.settings import SalesforceSettings
from syncer.contract.destination import (
    BatchResult,
    Capabilities,
    FieldCheck,
    Operation,
    RecordResult,
    RecordStatus,
    Target,
    WriteRecord,
)
from syncer.contract.enums import SyncMode
from syncer.contract.errors import DestinationStoppedError, TransientError

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_PATHS = {Route.UPDATE: ("PATCH", "composite/sobjects"), Route.INSERT: ("POST", "composite/sobjects")}


def _query(sf: Salesforce, soql: str) -> list[dict[str, Any]]:
    return list(sf.query_all(soql)["records"])


def _candidates(rows: Sequence[tuple[str, str]], match: str) -> list[str]:
    """The Ids a create with match value ``match`` adopts among ``rows`` (``(Id, match value)`` found by its adopt
    value): none when one already holds ``match`` (the upsert reaches it), else those holding no match value."""
    if any(held.lower() == match.lower() for _, held in rows if held):
        return []
    return [record_id for record_id, held in rows if not held]


def open_destination(settings: SalesforceSettings, target: Target) -> SalesforceDestination:
    """Log in and return the destination for ``target``; raises DestinationStoppedError for bad credentials."""
    return SalesforceDestination(settings, target)


class SalesforceDestination:
    """A Salesforce object as a syncer destination (see :class:`syncer.contract.destination.Destination`)."""

    def __init__(
        self,
        settings: SalesforceSettings,
        target: Target,
        *,
        wait: BulkWait | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        for name in (target.object, target.match_field, target.adopt_field or target.object):
            if not _NAME.match(name):
                raise DestinationStoppedError(f"{name!r} is not a Salesforce API name", "CONFIGURATION")
        self.target = target
        self.wait = wait or BulkWait()
        self._capabilities = capabilities(settings)
        self.client = SalesforceClient(settings, timeout_s)
        self._uncounted = 0  # calls made outside a write (check, read_records): the next write's result counts them

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    # -- writing --------------------------------------------------------------------------------------------------
    def write(self, op: Operation, records: Sequence[WriteRecord]) -> BatchResult:
        self.client.reset_counters()
        self.client.calls, self._uncounted = self._uncounted, 0
        results: list[RecordResult | None] = [None] * len(records)
        routed: dict[Route, list[Planned]] = defaultdict(list)
        adoptions = self._adoptions(records)
        for index, record in enumerate(records):
            decided = adoptions.get(index) or route(op, record, self.target, index)
            if isinstance(decided, RecordResult):
                results[index] = decided
            else:
                routed[decided.route].append(decided)
        for index, outcome in self._lookup(routed.pop(Route.LOOKUP, [])):
            if isinstance(outcome, RecordResult):
                results[index] = outcome
            else:
                routed[outcome.route].append(outcome)
        for kind, planned_records in routed.items():
            for index, result in self._send(kind, planned_records).items():
                results[index] = result
        final = [result if result is not None else RecordResult.retryable("NOT_SENT", "not sent") for result in results]
        for index, decided in adoptions.items():
            if isinstance(decided, Planned) and final[index].status is RecordStatus.CONFIRMED:
                final[index] = RecordResult.confirmed(final[index].record_id, adopted=True)
        return BatchResult(final, calls=self.client.calls, rate=self.client.rate_info())

    def _adoptions(self, records: Sequence[WriteRecord]) -> dict[int, Planned | RecordResult]:
        """The creates to adopt (an UPDATE by the found Id, the match value added) or to reject as ambiguous, by
        index; the other records are routed as usual."""
        field, match = self.target.adopt_field, self.target.match_field
        wanted = {
            i: str(r.adopt)
            for i, r in enumerate(records)
            if field
            and r.op is Operation.CREATE
            and not r.record_id
            and r.adopt
            and r.match
            and self.target.mode is not SyncMode.UPDATE
        }
        if not field or not wanted or matches_id(self.target):
            return {}
        found = self._by_adopt_value(field, wanted.values())
        decided: dict[int, Planned | RecordResult] = {}
        for index, value in wanted.items():
            record = records[index]
            candidates = _candidates(found.get(value.lower(), []), str(record.match))
            if len(candidates) == 1:
                values_sent = {**sent_values(Operation.CREATE, record), match: record.match}
                decided[index] = Planned(index, Route.UPDATE, candidates[0], values_sent)
            elif candidates:
                decided[index] = RecordResult.rejected(
                    "AMBIGUOUS_ADOPTION",
                    f"{len(candidates)} {self.target.object} records have {field} = {value} "
                    f"and no {match}: {', '.join(candidates)}; set {match} on one of them",
                )
        return decided

    def find_adoptable(self, wanted: Sequence[tuple[str, str]]) -> Mapping[str, Sequence[str]]:
        """See :class:`syncer.contract.destination.AdoptionFinder`: the query :meth:`write` makes before creating,
        without writing."""
        field = self.target.adopt_field
        if not field or matches_id(self.target):
            return {}
        before = self.client.calls
        found = self._by_adopt_value(field, (adopt for adopt, _ in wanted))
        self._uncounted += self.client.calls - before
        answer: dict[str, list[str]] = {}
        for adopt, match_value in wanted:
            if candidates := _candidates(found.get(adopt.lower(), []), match_value):
                answer[match_value] = candidates
        return answer

    def _by_adopt_value(self, field: str, adopt_values: Iterable[str]) -> dict[str, list[tuple[str, str]]]:
        """``(Id, match value)`` of the records by their lower-cased adopt ``field`` value, 200 values a query."""
        match = self.target.match_field
        values = sorted({v.lower() for v in adopt_values})
        found: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for start in range(0, len(values), COLLECTION_MAX):
            soql = format_soql(
                f"SELECT Id, {field}, {match} FROM {self.target.object} WHERE {field} IN {{}} ORDER BY Id",
                values[start : start + COLLECTION_MAX],
            )
            for row in self.client.call(f"look up {self.target.object} by {field}", partial(_query, soql=soql)):
                found[str(row.get(field) or "").lower()].append((str(row.get("Id")), str(row.get(match) or "")))
        return found

    def _lookup(self, planned: list[Planned]) -> list[tuple[int, Planned | RecordResult]]:
        """Record ids for LOOKUP records by SOQL on the match field, 200 values a query (a query travels in the URL,
        which Salesforce limits to 16,384 characters): (index, UPDATE or rejection) per record."""
        field = self.target.match_field
        keys = sorted({item.key for item in planned})
        found: dict[str, list[str]] = defaultdict(list)
        for start in range(0, len(keys), COLLECTION_MAX):
            soql = format_soql(
                f"SELECT Id, {field} FROM {self.target.object} WHERE {field} IN {{}}",
                keys[start : start + COLLECTION_MAX],
            )
            rows = self.client.call(f"look up {self.target.object} by {field}", partial(_query, soql=soql))
            for row in rows:
                # Salesforce matches external ids case-insensitively (unless a field is marked case-sensitive).
                found[str(row.get(field, "")).lower()].append(str(row.get("Id")))
        return [(item.index, resolve_lookup(item, found.get(item.key.lower(), []), self.target)) for item in planned]

    def _send(self, kind: Route, planned: list[Planned]) -> dict[int, RecordResult]:
        if len(planned) > COLLECTION_MAX and kind in {Route.UPSERT, Route.UPDATE}:
            return run_job(self.client, self.target, kind, planned, self.wait)
        results: dict[int, RecordResult] = {}
        for start in range(0, len(planned), COLLECTION_MAX):
            results.update(self._collection(kind, planned[start : start + COLLECTION_MAX]))
        return results

    def _collection(self, kind: Route, planned: list[Planned]) -> dict[int, RecordResult]:
        """One sObject Collections request (records whose values do not convert are rejected without one)."""
        results: dict[int, RecordResult] = {}
        bodies: list[tuple[int, dict[str, Any]]] = []
        for item in planned:
            body = payload(item, self.target)
            if isinstance(body, RecordResult):
                results[item.index] = body
            else:
                bodies.append((item.index, body))
        if not bodies:
            return results
        if kind is Route.UPSERT:
            method, path = "PATCH", f"composite/sobjects/{self.target.object}/{self.target.match_field}"
        else:
            method, path = _PATHS[kind]
        doing = f"{kind.value} {self.target.object}"
        reply = self.client.rest(doing, method, path, {"allOrNone": False, "records": [b for _, b in bodies]})
        saved = save_results(reply, len(bodies))
        if saved is None:
            raise TransientError(f"{doing}: Salesforce's reply did not hold one result per record", "BAD_REPLY")
        results.update((index, result) for (index, _), result in zip(bodies, saved, strict=True))
        return results

    def read_records(self, record_ids: Sequence[str], fields: Sequence[str]) -> Mapping[str, Mapping[str, str | None]]:
        """The records' current values (:class:`syncer.contract.destination.RecordReader`), by SOQL on Id."""

        def query(soql: str) -> list[dict[str, Any]]:
            return self.client.call(f"read {self.target.object}", partial(_query, soql=soql))

        before = self.client.calls
        try:
            return read_records(query, self.target.object, record_ids, fields)
        finally:
            self._uncounted += self.client.calls - before

    # -- check, setup, close ----------------------------------------------------------------------------------------
    def _describe(self) -> dict[str, Any] | None:
        def describe(sf: Any) -> dict[str, Any] | None:
            try:
                found: dict[str, Any] = sf.restful(f"sobjects/{self.target.object}/describe")
                return found
            except SalesforceResourceNotFound:
                return None

        return self.client.call(f"describe {self.target.object}", describe)

    def check(self) -> list[FieldCheck]:
        """The object and each target field; refused credentials raise DestinationStoppedError."""
        before = self.client.calls
        try:
            described = self._describe()
        finally:
            self._uncounted += self.client.calls - before
        if described is None:
            return [FieldCheck(self.target.object, f"this org has no object {self.target.object}")]
        return field_checks(described, self.target)

    def setup(self) -> list[str]:
        """What an admin must create or change in Salesforce; syncer cannot deploy metadata itself."""
        described = self._describe()
        if described is None:
            return [f"Create the object {self.target.object} (or fix the object name in the mapping)"]
        return setup_steps(described, self.target)

    def close(self) -> None:
        self.client.close()
