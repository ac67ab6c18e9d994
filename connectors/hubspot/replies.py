"""Turning one batch reply into per-record results.

Every input the connector sends carries ``objectWriteTraceId`` = its index in the batch, so a 207's ``errors`` map
back to their records through ``context.objectWriteTraceId`` (or, failing that, ``context.ids``). Successful
``results`` come back in no promised order; each is matched by a key the caller chooses (the record id for updates
by id, the idProperty's or match property's value otherwise).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from connectors.hubspot.errors import Reply, vendor_reason
from syncer.contract.destination import RecordResult

# A result's key, comparable with Entry.key; None when the result carries none.
ResultKey = Callable[[Mapping[str, Any]], str | None]


@dataclass(frozen=True)
class Entry:
    """One input of a batch call: the record's ``index`` in the write, its match ``key`` and the JSON input."""

    index: int
    key: str
    body: dict[str, Any]


@dataclass
class Outcome:
    """Results gathered over the calls of one ``write``: by record index."""

    results: dict[int, RecordResult] = field(default_factory=dict)

    def reject(self, index: int, code: str, message: str) -> None:
        self.results[index] = RecordResult.rejected(code, message)

    def absorb(self, entries: list[Entry], reply: Reply, result_key: ResultKey) -> None:
        """Record the confirmations and refusals ``reply`` holds for ``entries``; silence is retryable."""
        by_key = {entry.key: entry for entry in entries}
        by_index = {entry.index: entry for entry in entries}
        for result in reply.body.get("results") or []:
            if not isinstance(result, dict):
                continue
            key = result_key(result)
            entry = by_key.get(key) if key is not None else None
            if entry is not None and entry.index not in self.results:
                self.results[entry.index] = RecordResult.confirmed(str(result.get("id")))
        for error in reply.body.get("errors") or []:
            if not isinstance(error, dict):
                continue
            code, message = vendor_reason(error)
            for entry in _named(error.get("context") or {}, by_key, by_index):
                self.results.setdefault(entry.index, RecordResult.rejected(code, message))
        for entry in entries:
            self.results.setdefault(
                entry.index,
                RecordResult.retryable(
                    "NO_RESULT", f"HubSpot's {reply.status} reply did not mention this record; it may not be written"
                ),
            )

    def refuse(self, entries: list[Entry], reply: Reply) -> bool:
        """Answer a whole-batch refusal (400/404/409) per record when possible; False when it names no record.

        A batch of one is refused as that record. Otherwise the records the body's ``errors`` name (by trace id
        or id) are rejected and the others are retryable: HubSpot wrote none of them.
        """
        if len(entries) == 1:
            self.reject(entries[0].index, *vendor_reason(reply.body))
            return True
        by_key = {entry.key: entry for entry in entries}
        by_index = {entry.index: entry for entry in entries}
        named = False
        for error in reply.body.get("errors") or []:
            if not isinstance(error, dict):
                continue
            for entry in _named(error.get("context") or {}, by_key, by_index):
                self.results.setdefault(entry.index, RecordResult.rejected(*vendor_reason(error)))
                named = True
        if named:
            for entry in entries:
                self.results.setdefault(
                    entry.index,
                    RecordResult.retryable(
                        "BATCH_REFUSED", f"not written: HubSpot refused the batch ({reply.status}) for another record"
                    ),
                )
        return named


def _named(context: Mapping[str, Any], by_key: Mapping[str, Entry], by_index: Mapping[int, Entry]) -> list[Entry]:
    """The entries an error's context names: by trace id first, else by id or idProperty value."""
    found = []
    for trace in context.get("objectWriteTraceId") or []:
        if str(trace).isdigit() and int(trace) in by_index:
            found.append(by_index[int(trace)])
    if found:
        return found
    return [by_key[str(value).lower()] for value in context.get("ids") or [] if str(value).lower() in by_key]
