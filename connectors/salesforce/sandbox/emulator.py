"""The Salesforce emulator: one org with Account, Lead, Contact, User and Task, served over REST, Collections and
Bulk API 2.0, plus a Python API for tests and the demo.

Seed data: one User per sample rep (``Id`` = ``rep.salesforce_user_id``) and an inactive one who left
(``departed_rep``), no other records. The first rep is the API user (the running user that owns what the API
creates) unless the credentials name another.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from connectors.salesforce.sandbox import bulk, composite, query, rest
from connectors.salesforce.sandbox.auth import SalesforceCredentials, TokenRegistry, token_endpoint
from connectors.salesforce.sandbox.bulkjobs import IngestJob, advance
from connectors.salesforce.sandbox.errors import REQUEST_LIMIT_MESSAGE, error_response
from connectors.salesforce.sandbox.ids import make_id
from connectors.salesforce.sandbox.limits import OrgLimits, SalesforceLimits
from connectors.salesforce.sandbox.query import CursorTable
from connectors.salesforce.sandbox.schema import DEFAULT_CUSTOM_FIELDS, FieldSpec, build_schema
from connectors.salesforce.sandbox.store import Record, RecordStore
from connectors.salesforce.sandbox.validation import convert_record, unknown_field_error
from connectors.salesforce.sandbox.values import from_json
from connectors.sandbox.core.base import Clock, VendorEmulator
from connectors.sandbox.people import departed_rep, sample_reps

_SERVER_ERRORS = {
    500: (
        "UNKNOWN_EXCEPTION",
        "An unexpected error occurred. Please include this ErrorId if you contact support: "
        "1029384756-12345 (-1234567890)",
    ),
    502: ("SERVER_UNAVAILABLE", "Bad gateway"),
    503: ("SERVER_UNAVAILABLE", "Server temporarily unavailable, please try again later."),
}


class SalesforceEmulator(VendorEmulator):
    """A stateful Salesforce org. Hold :attr:`lock` when reading :attr:`store` directly from another thread."""

    vendor = "salesforce"

    def __init__(
        self,
        *,
        limits: SalesforceLimits | None = None,
        credentials: SalesforceCredentials | None = None,
        custom_fields: Mapping[str, Sequence[FieldSpec]] = DEFAULT_CUSTOM_FIELDS,
        seed: int = 0,
        clock: Clock = time.monotonic,
    ) -> None:
        # seed() runs inside VendorEmulator.__init__, so everything it needs is set first.
        self.limits = self._initial_limits = limits or SalesforceLimits()
        self.credentials = credentials or SalesforceCredentials()
        self.schema = build_schema(custom_fields)
        self.org_id = make_id("00D", 1)
        self.tokens = TokenRegistry(self.org_id)
        self.cursors = CursorTable()
        self._base_clock = clock
        self._clock_offset = 0.0
        super().__init__(seed=seed, clock=self._now)

    def _now(self) -> float:
        return self._base_clock() + self._clock_offset

    # -- VendorEmulator ---------------------------------------------------------------------------------------
    def seed(self) -> None:
        reps = sample_reps()
        self.running_user_id = self.credentials.user_id or reps[0].salesforce_user_id
        self.store = RecordStore(self.schema, self.running_user_id)
        self.org_limits = OrgLimits(self.limits)
        self.cursors.clear()
        self.jobs: dict[str, IngestJob] = {}
        self.job_sequence = 0
        self.job_failures: list[int] = []  # fail_bulk_jobs: rows each of the next jobs applies before it fails
        user = self.schema["User"]
        gone = departed_rep()  # a rep who left: an inactive User, whom no record or task may be assigned to
        for rep in [*reps, gone]:
            self.store.create(
                user,
                {
                    "Id": rep.salesforce_user_id,
                    "Username": rep.email,
                    "Email": rep.email,
                    "FirstName": rep.first_name,
                    "LastName": rep.last_name,
                    "Alias": (rep.first_name[0] + rep.last_name)[:8].lower(),
                    "TimeZoneSidKey": rep.tz,
                    "IsActive": rep is not gone,
                    "Title": rep.role,
                },
                validate=False,
            )

    def reset(self) -> None:
        """Seed data, the constructor's limits and an unmoved clock again; empty request log, no faults."""
        with self.lock:
            self.limits = self._initial_limits
            self._clock_offset = 0.0
        super().reset()

    def state(self) -> dict[str, Any]:
        self.advance_jobs()
        now = self.clock()
        return {
            "org_id": self.org_id,
            "objects": {name: [dict(rec) for rec in table.values()] for name, table in self.store.tables.items()},
            "bulk_jobs": [job.info(detailed=True) for job in self.jobs.values()],
            "api_usage": {"used": self.org_limits.api_requests.used(now), "total": self.limits.daily_api_requests},
        }

    def rate_limited_response(self) -> Response:
        with self.lock:
            # An injected limit reply says what a real one would: the allocation is spent.
            header = self.org_limits.usage_header(self.clock(), spent=True)
        return error_response(
            403, "REQUEST_LIMIT_EXCEEDED", REQUEST_LIMIT_MESSAGE, headers={"Sforce-Limit-Info": header}
        )

    def server_error_response(self, status: int) -> Response:
        code, message = _SERVER_ERRORS.get(status, _SERVER_ERRORS[500])
        return error_response(status, code, message)

    def unauthorized_response(self, path: str) -> Response:
        if path.startswith("/services/oauth2/"):  # the connected app's access was revoked: no new session either
            return JSONResponse(
                {"error": "invalid_grant", "error_description": "expired access/refresh token"}, status_code=400
            )
        return error_response(401, "INVALID_SESSION_ID", "Session expired or invalid")

    def routes(self) -> list[BaseRoute]:
        async def oauth(request: Any) -> Response:
            return await token_endpoint(request, self.credentials, self.tokens, self.running_user_id)

        return [
            Route("/services/oauth2/token", oauth, methods=["POST"]),
            *rest.routes(self),
            *query.routes(self),
            *composite.routes(self),
            *bulk.routes(self),
        ]

    # -- background work --------------------------------------------------------------------------------------
    def advance_jobs(self) -> None:
        """Bring every running ingest job up to the emulator clock's present."""
        with self.lock:
            now = self.clock()
            for job in self.jobs.values():
                if job.state in {"UploadComplete", "InProgress"} and job.finishes_at is not None:
                    applied = advance(self.store, job, now, self.limits.bulk_records_per_internal_batch)
                    if applied:
                        self.org_limits.bulk_batches.add(now, applied)

    # -- Python API for tests and the demo --------------------------------------------------------------------
    def issue_token(self) -> str:
        """A live session token, as the OAuth endpoint would issue."""
        with self.lock:
            return self.tokens.issue()

    def revoke_tokens(self) -> None:
        """End every session: the next API call answers 401 ``INVALID_SESSION_ID``."""
        with self.lock:
            self.tokens.revoke()

    def set_limits(self, limits: SalesforceLimits) -> None:
        """Change the limits of a running org (e.g. a Bulk processing delay); :meth:`reset` restores the first."""
        with self.lock:
            self.limits = limits
            self.org_limits.limits = limits

    def fail_bulk_jobs(self, count: int, after_rows: int = 0) -> None:
        """Fault injection: the next ``count`` ingest jobs closed with ``UploadComplete`` end ``Failed`` once they
        have applied ``after_rows`` rows (0: none), as a job does when Salesforce hits an internal error; their
        other rows stay unprocessed. :meth:`reset` clears it."""
        with self.lock:
            self.job_failures = [after_rows] * count

    def advance_clock(self, seconds: float) -> None:
        """Move the emulator's clock forward: Bulk jobs finish and limit windows roll without waiting."""
        with self.lock:
            self._clock_offset += seconds

    def consume_api_requests(self, count: int) -> None:
        """Count ``count`` requests made by other integrations against today's allocation."""
        with self.lock:
            self.org_limits.api_requests.add(self.clock(), count)

    def api_usage(self) -> tuple[int, int]:
        """(used, total) of the rolling 24-hour API allocation."""
        with self.lock:
            return self.org_limits.api_requests.used(self.clock()), self.limits.daily_api_requests

    def records(self, object_name: str) -> list[Record]:
        """Copies of every record of ``object_name``, in creation order."""
        self.advance_jobs()
        with self.lock:
            return [dict(rec) for rec in self.store.tables[object_name].values()]

    def get_record(self, object_name: str, record_id: str) -> Record | None:
        self.advance_jobs()
        with self.lock:
            found = self.store.get(object_name, record_id)
            return dict(found) if found else None

    def find_records(self, object_name: str, **equals: Any) -> list[Record]:
        """Records whose fields equal every keyword (exact comparison on stored values)."""
        return [rec for rec in self.records(object_name) if all(rec.get(k) == v for k, v in equals.items())]

    def tasks(self) -> list[Record]:
        return self.records("Task")

    def add_record(self, object_name: str, values: Mapping[str, Any]) -> str:
        """Create a record with the API's validation; raises ValueError with the API's error when it fails."""
        with self.lock:
            spec = self.schema[object_name]
            unknown = unknown_field_error(spec, values)
            if unknown:
                raise ValueError(f"{unknown.status_code}: {unknown.message}")
            result = self.store.create(spec, convert_record(spec, values, from_json))
            if result.error:
                raise ValueError(f"{result.error.status_code}: {result.error.message}")
            return str(result.id)

    def seed_accounts(self, accounts: Iterable[Mapping[str, Any]]) -> list[str]:
        """Create demo Accounts (e.g. ``{"Name": ..., "Product_Account_Id__c": ..., "OwnerId": ...}``); their ids."""
        return [self.add_record("Account", account) for account in accounts]
