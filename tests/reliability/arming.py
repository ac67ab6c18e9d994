"""How each fault of :mod:`tests.reliability.matrix` is switched on in the sandbox for one destination, and off.

``ARM[fault.name](matrix, destination)`` arms it; :func:`disarm` clears every fault, limit and injected failure.
"""

from __future__ import annotations

from collections.abc import Callable

from connectors.hubspot.sandbox import HubSpotLimits
from connectors.salesforce.sandbox.limits import SalesforceLimits
from connectors.sandbox import Sandbox
from connectors.sandbox.core.faults import Fault as Injected
from connectors.sandbox.core.faults import FaultRule
from connectors.webhook.sandbox import WebhookReceiver
from tests.reliability.harness import WRITE_ROUTES, Matrix
from tests.reliability.matrix import Destination

SEED = 11
WEBHOOK_RETRY_AFTER_S = WebhookReceiver().retry_after_s  # the receiver's default


def _emulator_rules(matrix: Matrix, destination: Destination, rule: FaultRule) -> None:
    sandbox = matrix.sandbox
    emulator = {
        Destination.HUBSPOT: sandbox.hubspot,
        Destination.SALESFORCE: sandbox.salesforce,
        Destination.SALESFORCE_BULK: sandbox.salesforce,
        Destination.WEBHOOK: sandbox.webhook,
    }[destination]
    emulator.set_faults([rule], seed=SEED)


def _on_writes(**knobs: float | int) -> Callable[[Matrix, Destination], None]:
    def arm(matrix: Matrix, destination: Destination) -> None:
        _emulator_rules(matrix, destination, FaultRule(route=WRITE_ROUTES[destination], **knobs))  # type: ignore[arg-type]

    return arm


def _on_every_request(**knobs: float | int) -> Callable[[Matrix, Destination], None]:
    def arm(matrix: Matrix, destination: Destination) -> None:
        _emulator_rules(matrix, destination, FaultRule(route="*", **knobs))  # type: ignore[arg-type]

    return arm


def _endless_rate_limit(matrix: Matrix, destination: Destination) -> None:
    if destination is Destination.WEBHOOK:
        matrix.sandbox.webhook.retry_after_s = 30  # asks for long waits, so the budget runs out in a few replies
    _on_writes(ratelimit_rate=1.0)(matrix, destination)


def _daily_limit(matrix: Matrix, destination: Destination) -> None:
    if destination is Destination.HUBSPOT:
        # The properties read and two batches pass; the third batch meets HubSpot's DAILY 429.
        matrix.sandbox.hubspot.set_limits(HubSpotLimits(daily_max=3))
        return
    salesforce = matrix.sandbox.salesforce
    used, _ = salesforce.api_usage()
    # Collections: one batch passes. Bulk: the job is created, uploaded and closed (so Salesforce applies it),
    # and the first look at it meets the limit: its records land but are not confirmed until the next run.
    allowance = 1 if destination is Destination.SALESFORCE else 3
    salesforce.set_limits(SalesforceLimits(daily_api_requests=used + allowance))


def _token_revoked(matrix: Matrix, destination: Destination) -> None:
    # Requests that pass before the revocation: HubSpot's properties read and one batch; Salesforce's login and
    # one Collections batch, or its login, job creation, upload and close; the webhook's first batch.
    passing = {
        Destination.HUBSPOT: 2,
        Destination.SALESFORCE: 2,
        Destination.SALESFORCE_BULK: 4,
        Destination.WEBHOOK: 1,
    }[destination]
    _on_every_request(unauthorized_after=passing)(matrix, destination)


def _bulk_failures(after_rows: int) -> Callable[[Matrix, Destination], None]:
    def arm(matrix: Matrix, destination: Destination) -> None:
        matrix.sandbox.salesforce.fail_bulk_jobs(1, after_rows=after_rows)

    return arm


ARM: dict[str, Callable[[Matrix, Destination], None]] = {
    "rate_limit_storm": _on_writes(ratelimit_rate=1.0, max_faults=8),
    "rate_limit_endless": _endless_rate_limit,
    "server_error_burst": _on_writes(error_rate=1.0, max_faults=3),
    "server_outage": _on_writes(error_rate=1.0),
    "latency": _on_every_request(latency_ms=50),
    "timeouts": _on_writes(timeout_rate=1.0, timeout_seconds=3.0, max_faults=2),
    "dropped_connections": _on_writes(drop_rate=1.0, max_faults=3),
    "lost_responses": _on_writes(lost_response_rate=1.0, max_faults=3),
    "rejected_records": _on_writes(reject_rate=0.05),
    "refused_every_run": _on_writes(reject_rate=1.0),
    "daily_limit": _daily_limit,
    "token_revoked": _token_revoked,
    "bulk_job_failed": _bulk_failures(0),
    "bulk_job_failed_midway": _bulk_failures(40),
}


# The request faults the emulator's log must show after the first run: (fault, exactly how many; None: some).
INJECTED: dict[str, tuple[Injected, int | None]] = {
    "rate_limit_storm": (Injected.RATE_LIMIT, 8),
    "rate_limit_endless": (Injected.RATE_LIMIT, None),
    "server_error_burst": (Injected.SERVER_ERROR, 3),
    "server_outage": (Injected.SERVER_ERROR, None),
    "timeouts": (Injected.TIMEOUT, 2),
    "dropped_connections": (Injected.DROP, 3),
    "lost_responses": (Injected.LOST_RESPONSE, 3),
    "token_revoked": (Injected.UNAUTHORIZED, None),
}


def disarm(sandbox: Sandbox) -> None:
    """No fault, no spent limit, no failing job: the sandbox as a healthy vendor (records and logs are kept)."""
    for emulator in (sandbox.hubspot, sandbox.salesforce, sandbox.webhook):
        emulator.set_faults([])
    sandbox.hubspot.set_limits(HubSpotLimits())
    sandbox.salesforce.set_limits(SalesforceLimits())
    sandbox.salesforce.fail_bulk_jobs(0)
    sandbox.webhook.retry_after_s = WEBHOOK_RETRY_AFTER_S
