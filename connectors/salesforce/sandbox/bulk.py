"""Bulk API 2.0 ingest routes under ``/services/data/vXX.X/jobs/ingest``.

``POST`` creates a job (200 with the job info), ``PUT .../batches`` uploads CSV while the job is ``Open`` (201, at
most 150 MB in total), ``PATCH`` sets ``UploadComplete`` or ``Aborted``, ``GET`` reports the state and counts,
``DELETE`` removes a finished job (204), and ``successfulResults``, ``failedResults`` and ``unprocessedrecords``
return CSV. Bad job definitions are 400 ``INVALIDJOB``; actions the job's state forbids are 409
``INVALIDJOBSTATE``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.responses import Response
from starlette.routing import Route

from connectors.salesforce.sandbox.api import ApiContext, api_routes
from connectors.salesforce.sandbox.bulkjobs import DELIMITERS, LINE_ENDINGS, OPERATIONS, TERMINAL, IngestJob
from connectors.salesforce.sandbox.errors import ApiError, not_found
from connectors.salesforce.sandbox.ids import make_id
from connectors.salesforce.sandbox.rest import reply
from connectors.salesforce.sandbox.values import now_iso

if TYPE_CHECKING:
    from connectors.salesforce.sandbox.emulator import SalesforceEmulator


def _invalid(message: str) -> ApiError:
    return ApiError(400, "INVALIDJOB", f"InvalidJob : {message}")


def _job(ctx: ApiContext) -> IngestJob:
    ctx.emulator.advance_jobs()
    job = ctx.emulator.jobs.get(str(ctx.params["job_id"]))
    if job is None:
        raise not_found()
    return job


def create_job(ctx: ApiContext) -> Response:
    body = ctx.json()
    if not isinstance(body, dict):
        raise _invalid("The request body must be a JSON object")
    store = ctx.emulator.store
    spec = store.spec(str(body.get("object", "")))
    if spec is None:
        raise _invalid(f"Unable to find object: {body.get('object')}")
    operation = body.get("operation")
    if operation not in OPERATIONS:
        raise _invalid(f"Invalid operation: {operation}")
    if body.get("contentType", "CSV") != "CSV":
        raise _invalid(f"Unsupported content type: {body.get('contentType')}")
    delimiter, line_ending = body.get("columnDelimiter", "COMMA"), body.get("lineEnding", "LF")
    if delimiter not in DELIMITERS or line_ending not in LINE_ENDINGS:
        raise _invalid("Invalid columnDelimiter or lineEnding")
    external = body.get("externalIdFieldName")
    if operation == "upsert":
        key_field = spec.field_named(str(external or ""))
        if not external or key_field is None or not (key_field.external_id or key_field.name == "Id"):
            raise _invalid(
                f"External ID was blank or invalid for {spec.name}. An External ID must be specified for upsert."
            )
        external = key_field.name
    ctx.emulator.job_sequence += 1
    job = IngestJob(
        make_id("750", ctx.emulator.job_sequence),
        spec.name,
        str(operation),
        external if operation == "upsert" else None,
        delimiter,
        line_ending,
        ctx.version,
        store.running_user_id,
        now_iso(),
    )
    ctx.emulator.jobs[job.id] = job
    return reply(job.info(detailed=False))


def list_jobs(ctx: ApiContext) -> Response:
    ctx.emulator.advance_jobs()
    records = [job.info(detailed=False) for job in ctx.emulator.jobs.values()]
    return reply({"done": True, "records": records, "nextRecordsUrl": None})


def job(ctx: ApiContext) -> Response:
    """``GET | PATCH | DELETE /jobs/ingest/{job_id}``."""
    found = _job(ctx)
    method = ctx.request.method
    if method == "GET":
        return reply(found.info(detailed=True))
    if method == "DELETE":
        if found.state not in (*TERMINAL, "UploadComplete"):
            raise ApiError(409, "INVALIDJOBSTATE", f"Cannot delete a job in state {found.state}")
        del ctx.emulator.jobs[found.id]
        return Response(status_code=204)
    body = ctx.json()
    wanted = body.get("state") if isinstance(body, dict) else None
    if wanted == "UploadComplete" and found.state == "Open":
        found.state = "UploadComplete"
        found.started_at = ctx.emulator.clock()
        found.finishes_at = found.started_at + ctx.emulator.limits.bulk_processing_seconds
        found.parse()
        # Record-level fault decisions are drawn now, while the request that started the job is at hand.
        found.rejects = [ctx.emulator.reject_record(ctx.request) for _ in found.rows]
        if ctx.emulator.job_failures:
            found.fail_after = ctx.emulator.job_failures.pop(0)
    elif wanted == "Aborted" and found.state in {"Open", "UploadComplete", "InProgress"}:
        found.state = "Aborted"
        found.parse()
    elif wanted in {"UploadComplete", "Aborted"}:
        raise ApiError(409, "INVALIDJOBSTATE", f"Cannot change the state of a job from {found.state} to {wanted}")
    else:
        raise _invalid(f"Invalid state: {wanted}")
    found.modstamp = now_iso()
    return reply(found.info(detailed=False))


def upload(ctx: ApiContext) -> Response:
    found = _job(ctx)
    if found.state != "Open":
        raise ApiError(
            409, "INVALIDJOBSTATE", f"Found job in state {found.state}, but data can only be uploaded to an Open job"
        )
    if not ctx.request.headers.get("content-type", "").lower().startswith("text/csv"):
        raise ApiError(400, "INVALIDCONTENTTYPE", "Content-Type must be text/csv")
    if found.upload_bytes + len(ctx.body) > ctx.emulator.limits.bulk_max_upload_bytes:
        raise ApiError(400, "INVALIDBATCH", "InvalidBatch : The uploaded data exceeds the maximum of 150 MB per job")
    found.upload_bytes += len(ctx.body)
    found.uploads.append(ctx.body.decode("utf-8-sig"))
    return Response(status_code=201)


def _csv_reply(text: str) -> Response:
    return Response(text, media_type="text/csv")


def successful(ctx: ApiContext) -> Response:
    return _csv_reply(_job(ctx).successful_csv())


def failed(ctx: ApiContext) -> Response:
    return _csv_reply(_job(ctx).failed_csv())


def unprocessed(ctx: ApiContext) -> Response:
    return _csv_reply(_job(ctx).unprocessed_csv())


def routes(emulator: SalesforceEmulator) -> list[Route]:
    base = "jobs/ingest/{job_id}"
    return api_routes(
        emulator,
        [
            ("jobs/ingest", ["POST"], create_job, 41.0),
            ("jobs/ingest", ["GET"], list_jobs, 41.0),
            (base, ["GET", "PATCH", "DELETE"], job, 41.0),
            (f"{base}/batches", ["PUT"], upload, 41.0),
            (f"{base}/successfulResults", ["GET"], successful, 41.0),
            (f"{base}/failedResults", ["GET"], failed, 41.0),
            # The documented path is lower case; simple-salesforce asks for "unprocessedRecords".
            (f"{base}/unprocessedrecords", ["GET"], unprocessed, 41.0),
            (f"{base}/unprocessedRecords", ["GET"], unprocessed, 41.0),
        ],
    )
