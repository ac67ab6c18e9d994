"""The HubSpot destination: writes companies, contacts or deals through the CRM v3 batch endpoints.

How a record is routed, by the target's match field:

- ``id``/``hs_object_id``: ``batch/update`` by the record id (``record_id``, else the match value). A record
  without one is rejected: a new record cannot be matched by an id it does not have yet.
- a property with ``hasUniqueValue`` (a custom ``product_account_id``; contacts' ``email``): ``batch/upsert`` with
  ``idProperty`` in upsert/mirror mode (creates and updates alike); ``batch/update`` with ``idProperty`` in update
  mode and for clears, so neither ever creates a record.
- any other property (a company's ``domain``): a record the snapshot knows is updated by its id; the others are looked
  up with one search per batch. One match: update by id. Several: rejected, naming the candidates. None:
  ``batch/create`` in upsert/mirror mode, rejected in update mode and for clears. A re-sent create (its reply lost)
  finds the record the first send made, so re-sending stays harmless.

Adoption (the target's ``adopt_field``, e.g. ``domain``): before the routing above, the batch's creates that carry an
adopt value are looked up by it with one search (``IN``, the match property read alongside). A record found there
that already holds the row's match value is simply the record (routed as above); otherwise exactly one record
holding no match value is adopted: updated by id with the row's fields *and* its match value, and confirmed as
adopted. Two or more such records reject the row as ambiguous, naming them. Records holding another match value
belong to other keys and are never adopted.

Calls go in the order update, upsert, create, so a whole-batch failure raised by a later call leaves only
idempotent writes behind. Values travel as strings; ``None`` is sent as ``""``, which HubSpot takes as "clear".
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

from connectors.hubspot.capabilities import BATCH_MAX, OBJECTS, capabilities
from connectors.hubspot.client import HubSpotClient, rate_info
from connectors.hubspot.errors import RECORD_STATUSES, classify
from connectors.hubspot.matching import find_ids
from connectors.hubspot.properties import ID_FIELDS, Property, check_fields, load_properties, property_definition
from connectors.hubspot.reading import read_records
from connectors.hubspot.replies import Entry, Outcome, ResultKey
from connectors.hubspot.settings import HubSpotSettings
from syncer.contract.destination import (
    BatchResult,
    Capabilities,
    FieldCheck,
    Operation,
    RateInfo,
    RecordResult,
    RecordStatus,
    Target,
    WriteRecord,
)
from syncer.contract.enums import SyncMode
from syncer.contract.errors import DestinationStoppedError


def open_destination(settings: HubSpotSettings, target: Target) -> HubSpotDestination:
    """The registry's factory for ``type: hubspot``."""
    return HubSpotDestination(settings, target)


class HubSpotDestination:
    """One sync's HubSpot object. Thread-safe (``capabilities.rate.concurrency`` > 1): calls share nothing but the
    SDK's connection pool and the property definitions, which are read once under a lock."""

    def __init__(self, settings: HubSpotSettings, target: Target, client: HubSpotClient | None = None) -> None:
        if target.object not in OBJECTS:
            raise ValueError(
                f"a hubspot destination's object must be one of {', '.join(sorted(OBJECTS))}, not {target.object!r}"
            )
        self.target = target
        self._capabilities = capabilities(settings)
        self._client = client or HubSpotClient(settings, target.object)
        self._lock = threading.Lock()
        self._properties: dict[str, Property] | None = None
        self._uncounted = 0  # calls made outside a write (check, read_records): the next write's result counts them

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    # -- write ------------------------------------------------------------------------------------------------
    def write(self, op: Operation, records: Sequence[WriteRecord]) -> BatchResult:
        if len(records) > BATCH_MAX:
            raise ValueError(f"a HubSpot batch takes at most {BATCH_MAX} records, got {len(records)}")
        call = _Calls(self._client)
        with self._lock:
            call.count, self._uncounted = self._uncounted, 0
        outcome = Outcome()
        match = self.target.match_field
        creating = op is not Operation.CLEAR and self.target.mode is not SyncMode.UPDATE
        by_id: list[Entry] = []
        by_property: list[Entry] = []
        to_find: list[int] = []
        for index, record in enumerate(records):
            record_id = record.record_id or (record.match if match in ID_FIELDS else None)
            if record_id:
                by_id.append(Entry(index, record_id, {"id": record_id, "properties": _properties(record)}))
            elif match in ID_FIELDS:
                outcome.reject(index, "NO_RECORD_ID", f"no HubSpot record id to match on {match}")
            elif not record.match:
                outcome.reject(index, "NO_MATCH_VALUE", f"no {match} value to match on")
            elif self._unique(match, call):
                by_property.append(
                    Entry(
                        index,
                        record.match.lower(),
                        {"id": record.match, "idProperty": match, "properties": _properties(record)},
                    )
                )
            else:
                to_find.append(index)
        adopted = self._adopt(call, records, by_property, to_find, by_id, outcome) if creating else set()
        creates = self._resolve(call, records, to_find, creating=creating, by_id=by_id, outcome=outcome)

        def property_key(result: Mapping[str, Any]) -> str | None:
            return _lower((result.get("properties") or {}).get(match))

        call.send("update", _first_of_each(by_id, outcome, "record"), lambda r: _lower(r.get("id")), outcome)
        call.send(
            "upsert" if creating else "update", _first_of_each(by_property, outcome, match), property_key, outcome
        )
        call.send("create", creates, property_key, outcome)
        results = [outcome.results[i] for i in range(len(records))]
        for index in adopted:
            if results[index].status is RecordStatus.CONFIRMED:
                results[index] = RecordResult.confirmed(results[index].record_id, adopted=True)
        return BatchResult(results, call.count, call.rate)

    def _adopt(
        self,
        call: _Calls,
        records: Sequence[WriteRecord],
        by_property: list[Entry],
        to_find: list[int],
        by_id: list[Entry],
        outcome: Outcome,
    ) -> set[int]:
        """Adopt what exists by the adopt field (see the module docstring): the adopted records move from
        ``by_property``/``to_find`` to ``by_id`` (with the match value written), ambiguous ones are rejected.
        Returns the indices of the adopted records."""
        field, match = self.target.adopt_field, self.target.match_field
        wanted = [
            i
            for i, r in enumerate(records)
            if field
            and r.op is Operation.CREATE
            and not r.record_id
            and r.adopt
            and r.match
            and (i in to_find or any(e.index == i for e in by_property))
        ]
        if not field or not wanted:
            return set()
        found = find_ids(self._client, field, [str(records[i].adopt) for i in wanted], also=match)
        call.count += found.calls
        adopted: set[int] = set()
        for index in wanted:
            record = records[index]
            candidates = found.candidates(str(record.adopt), record.match)
            if not candidates:
                continue
            if len(candidates) == 1:
                by_id.append(
                    Entry(
                        index,
                        candidates[0],
                        {"id": candidates[0], "properties": {**_properties(record), match: str(record.match)}},
                    )
                )
                adopted.add(index)
            else:
                outcome.reject(
                    index,
                    "AMBIGUOUS_ADOPTION",
                    f"{len(candidates)} {self.target.object} have {field} "
                    f"{record.adopt!r} and no {match}: "
                    f"{', '.join(candidates)}; set {match} on one of them",
                )
        settled = adopted | {i for i in wanted if i in outcome.results}
        by_property[:] = [e for e in by_property if e.index not in settled]
        to_find[:] = [i for i in to_find if i not in settled]
        return adopted

    def find_adoptable(self, wanted: Sequence[tuple[str, str]]) -> Mapping[str, Sequence[str]]:
        """See :class:`syncer.contract.destination.AdoptionFinder`: the search :meth:`write` makes before creating,
        one per :data:`BATCH_MAX` values, without writing."""
        field, match = self.target.adopt_field, self.target.match_field
        if not field:
            return {}
        answer: dict[str, list[str]] = {}
        for start in range(0, len(wanted), BATCH_MAX):
            chunk = wanted[start : start + BATCH_MAX]
            found = find_ids(self._client, field, [adopt for adopt, _ in chunk], also=match)
            with self._lock:
                self._uncounted += found.calls
            for adopt, match_value in chunk:
                if candidates := found.candidates(adopt, match_value):
                    answer[match_value] = candidates
        return answer

    def _resolve(
        self,
        call: _Calls,
        records: Sequence[WriteRecord],
        to_find: list[int],
        *,
        creating: bool,
        by_id: list[Entry],
        outcome: Outcome,
    ) -> list[Entry]:
        """Search for the records in ``to_find``: found ones join ``by_id``; the creates are returned."""
        match = self.target.match_field
        found = find_ids(self._client, match, [str(records[i].match) for i in to_find])
        call.count += found.calls
        creates: list[Entry] = []
        for index in to_find:
            record = records[index]
            value = str(record.match)
            ids = found.of(value)
            if len(ids) == 1:
                by_id.append(Entry(index, ids[0], {"id": ids[0], "properties": _properties(record)}))
            elif ids:
                outcome.reject(
                    index,
                    "AMBIGUOUS_MATCH",
                    f"{len(ids)} {self.target.object} have {match} {value!r}: "
                    f"{', '.join(ids)}; set the record id to choose one",
                )
            elif creating:
                creates.append(
                    Entry(
                        index, value.lower(), {"properties": {**_properties(record), match: value}, "associations": []}
                    )
                )
            else:
                outcome.reject(
                    index, "NO_RECORD", f"no record to update: no {self.target.object} has {match} {value!r}"
                )
        return _first_of_each(creates, outcome, match)

    def _unique(self, name: str, call: _Calls) -> bool:
        found = self._catalog(call).get(name)
        if found is None:
            raise DestinationStoppedError(
                f"HubSpot {self.target.object} have no property {name!r} to match on; run `syncer check`",
                "PROPERTY_DOESNT_EXIST",
            )
        return found.unique

    def _catalog(self, call: _Calls | None = None) -> dict[str, Property]:
        """The object's properties, read on first use (a call the write that needed it counts)."""
        with self._lock:
            if self._properties is None:
                self._properties = load_properties(self._client)
                if call is not None:
                    call.count += 1
            return self._properties

    def read_records(self, record_ids: Sequence[str], fields: Sequence[str]) -> Mapping[str, Mapping[str, str | None]]:
        """The records' current values (:class:`syncer.contract.destination.RecordReader`), by ``batch/read``."""
        found, calls = read_records(self._client, record_ids, fields)
        with self._lock:
            self._uncounted += calls
        return found

    # -- check / setup ----------------------------------------------------------------------------------------
    def check(self) -> list[FieldCheck]:
        """Credentials (the properties call is authenticated) and every mapped field's property."""
        with self._lock:
            self._properties = None
        try:
            catalog = self._catalog()
        except DestinationStoppedError as exc:
            return [FieldCheck("access_token", str(exc))]
        with self._lock:
            self._uncounted += 1
        return check_fields(catalog, self.target)

    def setup(self) -> list[str]:
        """Create the missing custom properties; say what was created and what must be fixed by hand."""
        done = []
        for finding in self.check():
            if not finding.fixable:
                done.append(f"not fixable here: {finding.field}: {finding.problem}")
                continue
            definition = property_definition(self.target.object, finding.field, self.target.fields.get(finding.field))
            self._client.create_property(definition)
            done.append(
                f"created {self.target.object} property {finding.field} "
                f"({definition['type']}/{definition['fieldType']})"
            )
        with self._lock:
            self._properties = None
        return done

    def close(self) -> None:
        self._client.close()


class _Calls:
    """The batch calls of one ``write``: counts them and keeps the latest rate-limit headers."""

    def __init__(self, client: HubSpotClient) -> None:
        self.client = client
        self.count = 0
        self.rate: RateInfo | None = None

    def send(self, action: str, entries: list[Entry], result_key: ResultKey, outcome: Outcome) -> None:
        if not entries:
            return
        inputs = [{**entry.body, "objectWriteTraceId": str(entry.index)} for entry in entries]
        reply = self.client.batch(action, inputs)
        self.count += 1
        self.rate = rate_info(reply.headers) or self.rate
        if reply.status not in RECORD_STATUSES:
            outcome.absorb(entries, reply, result_key)
        elif not outcome.refuse(entries, reply):
            raise classify(reply)  # the executor splits the batch to isolate the bad records


def _properties(record: WriteRecord) -> dict[str, str]:
    return {name: "" if value is None else value for name, value in record.values.items()}


def _lower(value: Any) -> str | None:
    return None if value is None else str(value).lower()


def _first_of_each(entries: list[Entry], outcome: Outcome, what: str) -> list[Entry]:
    """Entries with distinct keys: a later record that targets the same HubSpot record as an earlier one is
    rejected (HubSpot refuses a batch that names one record twice)."""
    seen: set[str] = set()
    kept = []
    for entry in entries:
        if entry.key in seen:
            outcome.reject(
                entry.index, "DUPLICATE_MATCH", f"another record in this batch has the same {what} {entry.key!r}"
            )
        else:
            seen.add(entry.key)
            kept.append(entry)
    return kept
