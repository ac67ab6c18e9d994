"""Bulk API 2.0 ingest jobs: their state machine and the processing of uploaded CSV.

A job is ``Open`` until the client sets ``UploadComplete``; it is then ``InProgress`` for
``SalesforceLimits.bulk_processing_seconds`` of emulator clock, applying its internal batches
(``bulk_records_per_internal_batch`` rows each) as their share of that time passes, and ends ``JobComplete`` (or
``Failed`` when the CSV header names a field the object lacks, or no data was uploaded). An ``Aborted`` job keeps
what it applied; its other rows stay unprocessed.
Rows are applied through the same store operations as the REST API; a row's failure goes to the failed results as
``sf__Error`` = ``CODE:message:fields --``, with ``sf__Id`` naming the existing record the row addressed (empty
for a row that would have created one), as from API version 53.0. A cell of the wrong type fails only its row, with
``INVALID_TYPE_ON_FIELD_IN_RECORD``; an empty cell leaves the field unchanged and ``#N/A`` clears it.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from typing import Any

from connectors.salesforce.sandbox.errors import RecordError
from connectors.salesforce.sandbox.ids import is_well_formed
from connectors.salesforce.sandbox.schema import ObjectSpec
from connectors.salesforce.sandbox.store import RecordStore, SaveResult
from connectors.salesforce.sandbox.values import ValueTypeError, from_csv

DELIMITERS = {"COMMA": ",", "TAB": "\t", "PIPE": "|", "SEMICOLON": ";", "CARET": "^", "BACKQUOTE": "`"}
LINE_ENDINGS = {"LF": "\n", "CRLF": "\r\n"}
OPERATIONS = ("insert", "update", "upsert", "delete")
TERMINAL = ("JobComplete", "Failed", "Aborted")


@dataclass
class IngestJob:
    """One ingest job and, once processed, its per-row outcome."""

    id: str
    object: str
    operation: str
    external_id_field: str | None
    column_delimiter: str
    line_ending: str
    api_version: str
    created_by: str
    created_date: str
    state: str = "Open"
    uploads: list[str] = field(default_factory=list)
    upload_bytes: int = 0
    finishes_at: float | None = None
    rejects: list[bool] = field(default_factory=list)
    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    outcomes: list[SaveResult | None] = field(default_factory=list)
    columns: list[str] | None = None  # the header's canonical field names, once processing began
    started_at: float = 0.0
    error_message: str | None = None
    modstamp: str = ""
    fail_after: int | None = None  # fault injection: fail once this many rows are applied

    def info(self, *, detailed: bool) -> dict[str, Any]:
        """Job info as ``POST``/``PATCH`` (basic) and ``GET`` (``detailed``) return it."""
        body: dict[str, Any] = {
            "id": self.id,
            "operation": self.operation,
            "object": self.object,
            "createdById": self.created_by,
            "createdDate": self.created_date,
            "systemModstamp": self.modstamp or self.created_date,
            "state": self.state,
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": float(self.api_version),
            "lineEnding": self.line_ending,
            "columnDelimiter": self.column_delimiter,
        }
        if self.external_id_field:
            body["externalIdFieldName"] = self.external_id_field
        if self.state == "Open":
            body["contentUrl"] = f"services/data/v{self.api_version}/jobs/ingest/{self.id}/batches"
        if detailed:
            body.update(
                jobType="V2Ingest",
                numberRecordsProcessed=self.processed,
                numberRecordsFailed=self.failed,
                retries=0,
                totalProcessingTime=0,
                apiActiveProcessingTime=0,
                apexProcessingTime=0,
            )
            if self.error_message:
                body["errorMessage"] = self.error_message
        return body

    @property
    def processed(self) -> int:
        return sum(1 for outcome in self.outcomes if outcome is not None)

    @property
    def failed(self) -> int:
        return sum(1 for outcome in self.outcomes if outcome is not None and not outcome.success)

    def parse(self) -> None:
        """Split the uploads into a header and rows (each upload repeats the header)."""
        self.header, self.rows = [], []
        for upload in self.uploads:
            reader = csv.reader(io.StringIO(upload, newline=""), delimiter=DELIMITERS[self.column_delimiter])
            lines = [line for line in reader if line]
            if not lines:
                continue
            self.header = self.header or lines[0]
            self.rows.extend(lines[1:])

    # -- results CSVs ---------------------------------------------------------------------------------------
    def _csv(self, header: list[str], rows: list[list[str]]) -> str:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
        return buffer.getvalue()

    def successful_csv(self) -> str:
        rows = [
            [outcome.id or "", "true" if outcome.created else "false", *row]
            for row, outcome in zip(self.rows, self.outcomes, strict=False)
            if outcome and outcome.success
        ]
        return self._csv(["sf__Id", "sf__Created", *self.header], rows)

    def failed_csv(self) -> str:
        rows = [
            [outcome.id or "", outcome.error.as_bulk(), *row]
            for row, outcome in zip(self.rows, self.outcomes, strict=False)
            if outcome and outcome.error
        ]
        return self._csv(["sf__Id", "sf__Error", *self.header], rows)

    def unprocessed_csv(self) -> str:
        done = len(self.outcomes)
        return self._csv(
            self.header, [row for index, row in enumerate(self.rows) if index >= done or self.outcomes[index] is None]
        )


def _row_result(store: RecordStore, spec: ObjectSpec, job: IngestJob, cells: dict[str, str]) -> SaveResult:
    """Apply one CSV row."""
    values: dict[str, Any] = {}
    for name, cell in cells.items():
        field_spec = spec.fields[name]
        if cell == "" or name in {"Id", job.external_id_field}:
            continue
        try:
            values[name] = from_csv(field_spec, cell)
        except ValueTypeError:
            return SaveResult(
                error=RecordError(
                    "INVALID_TYPE_ON_FIELD_IN_RECORD",
                    f"{field_spec.display_label}: value not of required type: {cell}",
                    (name,),
                )
            )
    record_id = cells.get("Id", "")
    if job.operation == "insert":
        if not spec.createable:
            return SaveResult(
                error=RecordError("INSUFFICIENT_ACCESS_OR_READONLY", f"entity type cannot be inserted: {spec.name}")
            )
        return store.create(spec, values)
    if job.operation == "upsert":
        key_field = spec.fields[str(job.external_id_field)]
        key = cells.get(key_field.name, "")
        if key_field.name != "Id" and not key:
            return SaveResult(error=RecordError("MISSING_ARGUMENT", f"{key_field.name} not specified"))
        try:
            converted = key if key_field.name == "Id" else from_csv(key_field, key)
        except ValueTypeError:
            return SaveResult(
                error=RecordError(
                    "INVALID_TYPE_ON_FIELD_IN_RECORD",
                    f"{key_field.display_label}: value not of required type: {key}",
                    (key_field.name,),
                )
            )
        return store.upsert(spec, key_field, converted, values)
    if not record_id:
        return SaveResult(error=RecordError("MISSING_ARGUMENT", f"Id not specified in an {job.operation} call"))
    if not is_well_formed(record_id):
        return SaveResult(
            error=RecordError("MALFORMED_ID", f"Record ID: id value of incorrect type: {record_id}", ("Id",))
        )
    return store.delete(spec, record_id) if job.operation == "delete" else store.update(spec, record_id, values)


def _existing_id(store: RecordStore, spec: ObjectSpec, job: IngestJob, cells: dict[str, str]) -> str | None:
    """The id of the one existing record a row addresses (by Id, or by its upsert key), if any."""
    if job.operation == "upsert" and job.external_id_field != "Id":
        key_field = spec.fields[str(job.external_id_field)]
        try:
            matches = store.find(spec.name, key_field, from_csv(key_field, cells.get(key_field.name, "")))
        except ValueTypeError:
            return None
        return str(matches[0]["Id"]) if len(matches) == 1 else None
    record_id = cells.get("Id", "")
    found = store.get(spec.name, record_id) if is_well_formed(record_id) else None
    return str(found["Id"]) if found else None


def _outcome(store: RecordStore, spec: ObjectSpec, job: IngestJob, cells: dict[str, str]) -> SaveResult:
    outcome = _row_result(store, spec, job, cells)
    if outcome.error is not None and outcome.id is None and job.operation != "insert":
        outcome.id = _existing_id(store, spec, job, cells)
    return outcome


def begin(store: RecordStore, job: IngestJob) -> None:
    """Check the uploaded header before any row is applied; a column the object lacks fails the whole job."""
    spec = store.schema[job.object]
    job.parse()
    job.outcomes = []
    if not job.header:
        job.state, job.error_message = "Failed", "InvalidBatch : No data uploaded"
        return
    canonical = []
    for name in job.header:
        field_spec = spec.field_named(name)
        if field_spec is None:
            job.state, job.error_message = "Failed", f"InvalidBatch : Field name not found : {name}"
            return
        canonical.append(field_spec.name)
    job.columns = canonical


def process_rows(store: RecordStore, job: IngestJob, upto: int) -> None:
    """Apply the rows from the first unprocessed one up to (not including) row ``upto``."""
    spec, canonical = store.schema[job.object], job.columns or []
    for index in range(len(job.outcomes), min(upto, len(job.rows))):
        row = job.rows[index]
        if len(row) != len(canonical):
            job.outcomes.append(
                SaveResult(
                    error=RecordError(
                        "INVALID_FIELD", f"Number of values ({len(row)}) does not match the header ({len(canonical)})"
                    )
                )
            )
        elif index < len(job.rejects) and job.rejects[index]:
            cells = dict(zip(canonical, row, strict=True))
            job.outcomes.append(
                SaveResult(
                    id=_existing_id(store, spec, job, cells),
                    error=RecordError(
                        "UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this record or 1 records"
                    ),
                )
            )
        else:
            job.outcomes.append(_outcome(store, spec, job, dict(zip(canonical, row, strict=True))))


def advance(store: RecordStore, job: IngestJob, now: float, records_per_batch: int) -> int:
    """Apply the internal batches whose share of the processing time has passed by ``now``; ``JobComplete`` once
    it all has. Returns how many internal batches this call applied (they count against the daily allocation)."""
    if job.columns is None:
        begin(store, job)
        if job.state == "Failed":
            return 0
    total = internal_batches(job, records_per_batch)
    finishes_at = job.finishes_at if job.finishes_at is not None else now
    if now >= finishes_at:
        due = total
    else:
        job.state = "InProgress"
        span = finishes_at - job.started_at
        due = min(total, math.floor(total * (now - job.started_at) / span)) if span > 0 else total
    before = math.ceil(len(job.outcomes) / records_per_batch) if job.outcomes else 0
    upto = due * records_per_batch
    if job.fail_after is not None and upto >= job.fail_after:
        process_rows(store, job, job.fail_after)
        job.state, job.error_message = "Failed", "UNKNOWN_EXCEPTION : An unexpected error occurred (injected fault)"
        return max(0, math.ceil(len(job.outcomes) / records_per_batch) - before)
    process_rows(store, job, upto)
    if now >= finishes_at:
        job.state = "JobComplete"
    return max(0, due - before)


def internal_batches(job: IngestJob, records_per_batch: int) -> int:
    """How many internal batches the job counts against the daily Bulk batch allocation."""
    return max(1, math.ceil(len(job.rows) / records_per_batch))
