"""Whole-batch failures: each HubSpot failure raises the error class of its reaction, with nothing secret in it."""

from __future__ import annotations

import pytest

from connectors.hubspot.errors import Reply, classify
from connectors.hubspot.sandbox import HubSpotEmulator, HubSpotLimits
from connectors.sandbox.core.faults import FaultRule
from syncer.contract.destination import Operation
from syncer.contract.errors import (
    BatchRejectedError,
    DestinationStoppedError,
    RateLimitedError,
    TransientError,
)
from tests.connectors.hubspot.conftest import Open, companies, limits, record, target

BATCH_ROUTES = "POST /crm/v3/objects/companies/batch/*"


def test_a_refused_token_stops_the_destination_without_naming_it(open_hubspot: Open, hubspot: HubSpotEmulator) -> None:
    secret = "pat-na1-revoked-0123456789"
    with pytest.raises(DestinationStoppedError) as caught:
        open_hubspot(token=secret).write(Operation.CREATE, companies(2))
    assert caught.value.code == "INVALID_AUTHENTICATION"
    assert secret not in str(caught.value) and "access_token" in str(caught.value)
    assert hubspot.records("companies") == []


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_transient(open_hubspot: Open, hubspot: HubSpotEmulator, status: int) -> None:
    hubspot.set_faults([FaultRule(route=BATCH_ROUTES, error_rate=1.0, error_status=status)])
    with pytest.raises(TransientError) as caught:
        open_hubspot().write(Operation.CREATE, companies(2))
    assert str(status) in str(caught.value)
    assert hubspot.records("companies") == []


def test_a_dropped_connection_is_transient(open_hubspot: Open, hubspot: HubSpotEmulator) -> None:
    hubspot.set_faults([FaultRule(route=BATCH_ROUTES, drop_rate=1.0)])
    with pytest.raises(TransientError) as caught:
        open_hubspot().write(Operation.CREATE, companies(2))
    assert caught.value.code == "UNREACHABLE"
    assert hubspot.log.count("/batch/upsert") == 1, "the SDK did not retry on its own"


def test_a_lost_reply_is_transient_and_the_resend_is_harmless(open_hubspot: Open, hubspot: HubSpotEmulator) -> None:
    with limits(hubspot, HubSpotLimits(search_lag_seconds=60)):  # the re-send cannot lean on search
        destination = open_hubspot()
        hubspot.set_faults([FaultRule(route=BATCH_ROUTES, lost_response_rate=1.0)])
        with pytest.raises(TransientError):
            destination.write(Operation.CREATE, companies(3))
        hubspot.set_faults([])
        resent = destination.write(Operation.CREATE, companies(3))
        assert len({r.record_id for r in resent.results}) == 3 and len(hubspot.records("companies")) == 3


def test_the_rolling_limit_asks_to_wait_for_the_window(open_hubspot: Open, hubspot: HubSpotEmulator) -> None:
    hubspot.set_faults([FaultRule(route=BATCH_ROUTES, ratelimit_rate=1.0)])
    with pytest.raises(RateLimitedError) as caught:
        open_hubspot().write(Operation.CREATE, companies(2))
    assert caught.value.retry_after == 10.0 and caught.value.code == "TEN_SECONDLY_ROLLING"


def test_the_daily_limit_stops_the_destination(open_hubspot: Open, hubspot: HubSpotEmulator) -> None:
    destination = open_hubspot()
    destination.write(Operation.CREATE, companies(1))  # reads the property definitions: later writes take one call
    with limits(hubspot, HubSpotLimits(daily_max=1)):
        destination.write(Operation.CREATE, companies(1, prefix="day"))
        with pytest.raises(DestinationStoppedError) as caught:
            destination.write(Operation.CREATE, companies(1, prefix="later"))
    assert caught.value.code == "DAILY" and "daily" in str(caught.value)


def test_search_over_its_own_limit_asks_to_wait_a_second(open_hubspot: Open, hubspot: HubSpotEmulator) -> None:
    with limits(hubspot, HubSpotLimits(search_per_second=0)), pytest.raises(RateLimitedError) as caught:
        open_hubspot(target(match="domain")).write(Operation.CREATE, [record("a", {}, match="a.io")])
    assert caught.value.retry_after == 1.0
    assert hubspot.records("companies") == []


def test_a_whole_batch_validation_error_is_split_by_the_executor(open_hubspot: Open) -> None:
    # Two records upserting one product account id: HubSpot refuses the batch, naming no single input.
    with pytest.raises(BatchRejectedError):
        open_hubspot(target(match="domain")).write(
            Operation.CREATE,
            [
                record("a", {"product_account_id": "same"}, match="a.io"),
                record("b", {"product_account_id": "same"}, match="b.io"),
            ],
        )


@pytest.mark.parametrize(
    ("status", "body", "headers", "reaction"),
    [
        (401, {"category": "EXPIRED_AUTHENTICATION", "message": "expired"}, {}, DestinationStoppedError),
        (403, {"category": "MISSING_SCOPES", "message": "no scope"}, {}, DestinationStoppedError),
        (429, {"errorType": "RATE_LIMIT", "policyName": "DAILY"}, {}, DestinationStoppedError),
        (
            429,
            {"errorType": "RATE_LIMIT", "policyName": "SECONDLY"},
            {"X-HubSpot-RateLimit-Interval-Milliseconds": "1000"},
            RateLimitedError,
        ),
        (400, {"category": "VALIDATION_ERROR", "message": "bad"}, {}, BatchRejectedError),
        (504, {}, {}, TransientError),
    ],
)
def test_the_reaction_table(
    status: int, body: dict[str, str], headers: dict[str, str], reaction: type[Exception]
) -> None:
    import json

    error = classify(Reply.parse(status, json.dumps(body).encode(), headers))
    assert type(error) is reaction
    if isinstance(error, RateLimitedError):
        assert error.retry_after == 1.0
