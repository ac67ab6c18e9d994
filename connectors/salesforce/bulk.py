"""Bulk API 2.0 ingest, client side: one job per batch larger than sObject Collections take.

A job is created (``upsert`` with ``externalIdFieldName``, or ``update`` by ``Id``), its CSV uploaded, closed with
``UploadComplete`` and polled until ``JobComplete``, ``Failed`` or ``Aborted``; then ``successfulResults``
(``sf__Id``, ``sf__Created``) and ``failedResults`` (``sf__Error``) are matched back to records by the match
column the CSV carried, and any record found in neither is ``RETRYABLE``.

Why this module waits although connectors never sleep: a job is one logical request whose answer arrives by
polling. The executor paces and retries *requests*; it cannot own the wait inside one. So the wait is bounded
(``BulkWait.max_wait_s``), its ``sleep`` and ``clock`` are injected (tests move the emulator's clock instead of
waiting), and no poll raises while the job is ``InProgress``. A job still running at the bound is aborted: the
records it applied by then are reported per record and the rest ``RETRYABLE``; when it applied none, a
TransientError (the writes are idempotent, so the retry is harmless).

A ``Failed`` job that processed nothing raises: ``InvalidBatch`` (a column Salesforce does not know) as a
BatchRejectedError, so the executor splits the batch and Collections name the bad field per record; anything else
as a TransientError. A ``Failed`` or ``Aborted`` job that processed records reports them per record.
"""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import time
from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from simple_salesforce.bulk2 import Operation as BulkOperation

from connectors.salesforce.client import SalesforceClient
from connectors.salesforce.errors import parse_bulk_error
from connectors.salesforce.records import Planned, Route
from syncer.contract.destination import RecordResult, Target
from syncer.contract.errors import BatchRejectedError, DeliveryError, TransientError

CSV_NULL = "#N/A"  # Bulk API 2.0: an empty cell leaves a field alone, #N/A sets it to null
TERMINAL = frozenset({"JobComplete", "Failed", "Aborted"})
NOT_PROCESSED = RecordResult.retryable("NOT_PROCESSED", "the Bulk API job did not process this record")


@dataclass(frozen=True)
class BulkWait:
    """How to wait for a job: poll after each of ``intervals`` seconds (then the last, repeated) for at most
    ``max_wait_s`` in all, measured by ``clock``."""

    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    intervals: tuple[float, ...] = (0.5, 1.0, 2.0, 5.0)
    max_wait_s: float = 600.0


def key_column(route: Route, target: Target) -> str:
    return target.match_field if route is Route.UPSERT else "Id"


def to_csv(planned: Sequence[Planned], column: str) -> str:
    """The job's CSV: the key column, then every field any record sends (absent: empty, left alone)."""
    names: dict[str, None] = {}
    for item in planned:
        names.update(dict.fromkeys(name for name in item.values if name != column))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([column, *names])
    for item in planned:
        cells = [item.key]
        for name in names:
            if name not in item.values:
                cells.append("")
            else:
                value = item.values[name]
                cells.append(CSV_NULL if value is None or value == "" else value)
        writer.writerow(cells)
    return buffer.getvalue()


def run_job(
    client: SalesforceClient, target: Target, route: Route, planned: Sequence[Planned], wait: BulkWait
) -> dict[int, RecordResult]:
    """Send ``planned`` (all UPSERT or all UPDATE) as one job; results by :attr:`Planned.index`."""
    column = key_column(route, target)
    operation = BulkOperation.upsert if route is Route.UPSERT else BulkOperation.update
    doing = f"Bulk {operation.value} {target.object}"
    external = column if route is Route.UPSERT else None
    job = client.call(
        doing, lambda sf: client.bulk_jobs(sf, target.object).create_job(operation, external_id_field=external)
    )
    job_id = str(job["id"])
    data = to_csv(planned, column)
    try:
        client.call(doing, lambda sf: client.bulk_jobs(sf, target.object).upload_job_data(job_id, data))
        client.call(doing, lambda sf: client.bulk_jobs(sf, target.object).close_job(job_id))
    except DeliveryError:
        # Leave no Open job behind (it would hold its upload until Salesforce purges it); the retry makes a new one.
        with contextlib.suppress(DeliveryError):
            client.call(doing, lambda sf: client.bulk_jobs(sf, target.object).abort_job(job_id, is_query=False))
        raise
    info = _wait(client, target.object, job_id, wait, doing)
    state = str(info.get("state"))
    if state != "JobComplete" and not int(info.get("numberRecordsProcessed") or 0):
        message = f"{doing}: job {job_id} ended {state}: {info.get('errorMessage') or 'no reason given'}"
        if state == "Failed" and str(info.get("errorMessage", "")).startswith("InvalidBatch"):
            raise BatchRejectedError(message, "INVALID_BATCH")
        raise TransientError(message, f"BULK_{state.upper()}")
    return _results(client, target.object, job_id, column, planned, doing)


def _wait(client: SalesforceClient, object_name: str, job_id: str, wait: BulkWait, doing: str) -> dict[str, Any]:
    started = wait.clock()
    for attempt in itertools.count():
        info: dict[str, Any] = client.call(
            doing, lambda sf: client.bulk_jobs(sf, object_name).get_job(job_id, is_query=False)
        )
        if info.get("state") in TERMINAL:
            return info
        delay = wait.intervals[min(attempt, len(wait.intervals) - 1)]
        if wait.clock() - started + delay > wait.max_wait_s:
            break
        wait.sleep(delay)
    with contextlib.suppress(DeliveryError):  # it may have finished meanwhile: the look below tells
        client.call(doing, lambda sf: client.bulk_jobs(sf, object_name).abort_job(job_id, is_query=False))
    after: dict[str, Any] = client.call(
        doing, lambda sf: client.bulk_jobs(sf, object_name).get_job(job_id, is_query=False)
    )
    if after.get("state") in TERMINAL and int(after.get("numberRecordsProcessed") or 0):
        return after  # what it applied before the abort is confirmed; the rest comes back RETRYABLE
    raise TransientError(
        f"{doing}: job {job_id} was still {info.get('state')} after {wait.max_wait_s:.0f} s; aborted", "BULK_TIMEOUT"
    )


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def _results(
    client: SalesforceClient, object_name: str, job_id: str, column: str, planned: Sequence[Planned], doing: str
) -> dict[int, RecordResult]:
    waiting: dict[str, deque[int]] = defaultdict(deque)
    for item in planned:
        waiting[item.key].append(item.index)
    results: dict[int, RecordResult] = {}

    def settle(row: dict[str, str], result: RecordResult) -> None:
        queue = waiting.get(row.get(column, ""))
        if queue:
            results[queue.popleft()] = result

    fetch = client.bulk_jobs
    for row in _rows(
        client.call(doing, lambda sf: fetch(sf, object_name).get_ingest_results(job_id, "successfulResults"))
    ):
        settle(row, RecordResult.confirmed(row.get("sf__Id") or None))
    for row in _rows(client.call(doing, lambda sf: fetch(sf, object_name).get_ingest_results(job_id, "failedResults"))):
        settle(row, parse_bulk_error(row.get("sf__Error", "")))
    return {item.index: results.get(item.index, NOT_PROCESSED) for item in planned}
