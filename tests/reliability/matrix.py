"""The fault matrix as data: every sandbox fault against every field destination, with the outcome each must end in.

This table is the single source of the parametrisation of ``test_fault_matrix.py`` and of the table in
``docs/reliability.md`` (written by :mod:`tests.reliability.matrix_doc`), so the two cannot drift. A cell is either
an expected :class:`Outcome` or ``n/a`` with the reason the fault cannot happen at that destination.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Destination(StrEnum):
    """A field destination as the matrix runs it (Slack takes no field writes, so it has no column)."""

    HUBSPOT = "hubspot"
    SALESFORCE = "salesforce"  # sObject Collections, 200 a request
    SALESFORCE_BULK = "salesforce_bulk"  # the same org through Bulk API 2.0 jobs
    WEBHOOK = "webhook"


COLUMN_TITLES = {
    Destination.HUBSPOT: "HubSpot",
    Destination.SALESFORCE: "Salesforce (Collections)",
    Destination.SALESFORCE_BULK: "Salesforce (Bulk 2.0)",
    Destination.WEBHOOK: "Webhook",
}


class Outcome(StrEnum):
    """How a run under the fault ends; every outcome is followed by a clean run once the fault clears."""

    CONFIRMED = "confirmed"  # the faulty run itself confirmed every row (retries and waits absorbed the fault)
    RETRIED = "retried next run"  # the run ended partial: rows kept as pending or row errors with the vendor's reason
    PARKED = "parked"  # rows refused on every run were parked after park_after attempts; `syncer retry` re-queues
    STOPPED = "stopped"  # the destination stopped for the run with a clear reason; the rest stays pending


@dataclass(frozen=True)
class Cell:
    outcome: Outcome | None  # None: the fault does not apply to this destination
    note: str = ""  # why n/a, or what the destination does about the fault

    @property
    def applies(self) -> bool:
        return self.outcome is not None


def _na(reason: str) -> Cell:
    return Cell(None, reason)


C, R, P, S = Outcome.CONFIRMED, Outcome.RETRIED, Outcome.PARKED, Outcome.STOPPED
_BULK_ONLY = "Bulk API 2.0 jobs exist only at Salesforce"
_OUTLASTED = "after `max_wait_s` of waiting (300 s here) the rest is left for the next run"


@dataclass(frozen=True)
class Fault:
    """One fault: ``name`` (test id), ``title`` and ``what`` (the sandbox knob behind it) and its cells.

    ``persistent``: the fault holds over ``park_after`` runs before it clears (else it clears after one run).
    """

    name: str
    title: str
    what: str
    cells: dict[Destination, Cell]
    persistent: bool = False


FAULTS: tuple[Fault, ...] = (
    Fault(
        "rate_limit_storm",
        "429 storm",
        "`ratelimit_rate=1`, first 8 write requests",
        {
            Destination.HUBSPOT: Cell(C, "waits out HubSpot's ten-second window on each 429"),
            Destination.SALESFORCE: _na(
                "Salesforce has no per-request rate limit; its only limit reply is the daily allocation (row below)"
            ),
            Destination.SALESFORCE_BULK: _na("as Collections: no per-request rate limit"),
            Destination.WEBHOOK: Cell(C, "waits the receiver's Retry-After"),
        },
    ),
    Fault(
        "rate_limit_endless",
        "429s that outlast the run",
        "`ratelimit_rate=1` on every write request",
        {
            Destination.HUBSPOT: Cell(S, _OUTLASTED),
            Destination.SALESFORCE: _na("Salesforce has no per-request rate limit"),
            Destination.SALESFORCE_BULK: _na("Salesforce has no per-request rate limit"),
            Destination.WEBHOOK: Cell(S, _OUTLASTED),
        },
    ),
    Fault(
        "server_error_burst",
        "5xx burst",
        "`error_rate=1`, first 3 write requests",
        {d: Cell(C, "backs off with jitter and re-sends") for d in Destination},
    ),
    Fault(
        "server_outage",
        "5xx outage",
        "`error_rate=1` on every write request of the run",
        {d: Cell(R, "attempts run out: rows left pending with the 5xx as reason") for d in Destination},
    ),
    Fault("latency", "latency", "`latency_ms=50` on every request", {d: Cell(C) for d in Destination}),
    Fault(
        "timeouts",
        "timeouts",
        "first 2 write requests hang past the client's 1 s timeout",
        {d: Cell(C, "a request without a reply is re-sent") for d in Destination},
    ),
    Fault(
        "dropped_connections",
        "dropped connections",
        "`drop_rate=1`, first 3 write requests",
        {d: Cell(C, "re-sent; nothing was written") for d in Destination},
    ),
    Fault(
        "lost_responses",
        "lost responses",
        "`lost_response_rate=1`, first 3 write requests: the write is applied, the reply never arrives",
        {
            Destination.HUBSPOT: Cell(C, "the re-sent upsert by unique property lands on the same record"),
            Destination.SALESFORCE: Cell(C, "the re-sent upsert by external id lands on the same record"),
            Destination.SALESFORCE_BULK: Cell(C, "a new job upserts by external id again"),
            Destination.WEBHOOK: Cell(C, "the re-sent batch has the same Idempotency-Key: the receiver replays"),
        },
    ),
    Fault(
        "rejected_records",
        "records rejected in a batch",
        "`reject_rate=0.05` per record",
        {
            Destination.HUBSPOT: Cell(R, "VALIDATION_ERROR: a row error with the reason, sent again next run"),
            Destination.SALESFORCE: Cell(C, "UNABLE_TO_LOCK_ROW is retryable: re-sent in smaller batches"),
            Destination.SALESFORCE_BULK: Cell(C, "UNABLE_TO_LOCK_ROW is retryable: re-sent in a new job"),
            Destination.WEBHOOK: Cell(R, "a row error with the receiver's reason, sent again next run"),
        },
    ),
    Fault(
        "refused_every_run",
        "records refused on every run",
        "`reject_rate=1` per record, run after run",
        {d: Cell(P, "parked after park_after runs; `syncer retry` re-queues them") for d in Destination},
        persistent=True,
    ),
    Fault(
        "daily_limit",
        "daily limit spent",
        "the portal's or org's daily allowance runs out mid-run",
        {
            Destination.HUBSPOT: Cell(S, "429 policy DAILY"),
            Destination.SALESFORCE: Cell(S, "403 REQUEST_LIMIT_EXCEEDED"),
            Destination.SALESFORCE_BULK: Cell(
                S,
                "403 REQUEST_LIMIT_EXCEEDED while the job runs; its records land "
                "unconfirmed and are re-upserted next run",
            ),
            Destination.WEBHOOK: _na("a webhook has no daily allowance; a receiver's 429 is the storm row"),
        },
    ),
    Fault(
        "token_revoked",
        "token revoked mid-run",
        "`unauthorized_after`: every request after the first few answers the vendor's 401",
        {
            Destination.HUBSPOT: Cell(S, "401 INVALID_AUTHENTICATION: check access_token"),
            Destination.SALESFORCE: Cell(S, "401 INVALID_SESSION_ID, and the one re-login is refused"),
            Destination.SALESFORCE_BULK: Cell(S, "as Collections, while the job is polled"),
            Destination.WEBHOOK: Cell(S, "401 invalid_signature: the receiver rotated its signing secret"),
        },
    ),
    Fault(
        "bulk_job_failed",
        "Bulk job fails",
        "`fail_bulk_jobs(1)`: the job ends Failed having applied nothing",
        {
            Destination.HUBSPOT: _na(_BULK_ONLY),
            Destination.SALESFORCE: _na("below bulk_threshold no job is made"),
            Destination.SALESFORCE_BULK: Cell(C, "a Failed job that processed nothing is retried as a new job"),
            Destination.WEBHOOK: _na(_BULK_ONLY),
        },
    ),
    Fault(
        "bulk_job_failed_midway",
        "Bulk job fails midway",
        "`fail_bulk_jobs(1, after_rows=40)`",
        {
            Destination.HUBSPOT: _na(_BULK_ONLY),
            Destination.SALESFORCE: _na("below bulk_threshold no job is made"),
            Destination.SALESFORCE_BULK: Cell(C, "rows it applied are confirmed; the unprocessed ones are re-sent"),
            Destination.WEBHOOK: _na(_BULK_ONLY),
        },
    ),
)


def cases() -> list[tuple[Fault, Destination]]:
    """Every (fault, destination) pair, n/a ones included (the test reports those as skipped with the reason)."""
    return [(fault, destination) for fault in FAULTS for destination in Destination]
