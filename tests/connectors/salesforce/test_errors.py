"""Whole-batch failures and the session: the allocation, 5xx, dropped connections, 401, and what reaches messages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests
from simple_salesforce.exceptions import SalesforceMalformedRequest, SalesforceMoreThanOneRecord

from connectors.salesforce.connector import SalesforceDestination
from connectors.salesforce.errors import delivery_error, parse_bulk_error
from connectors.sandbox import Sandbox
from connectors.sandbox.core.faults import FaultRule
from syncer.contract.destination import Operation, RateInfo, RecordResult
from syncer.contract.errors import BatchRejectedError, DestinationStoppedError, TransientError
from tests.connectors.salesforce.conftest import account, settings_for

COLLECTIONS = "PATCH /services/data/*/composite/sobjects/*"


def test_spent_allocation_stops_the_destination(destination: SalesforceDestination, sandbox: Sandbox) -> None:
    used, total = sandbox.salesforce.api_usage()
    sandbox.salesforce.consume_api_requests(total - used)
    with pytest.raises(DestinationStoppedError) as raised:
        destination.write(Operation.CREATE, [account("p1", Name="A")])
    assert raised.value.code == "REQUEST_LIMIT_EXCEEDED"
    assert "daily API request allocation is spent" in str(raised.value)
    assert sandbox.salesforce.records("Account") == []


def test_injected_limit_reply_stops_the_destination_too(destination: SalesforceDestination, sandbox: Sandbox) -> None:
    sandbox.salesforce.set_faults([FaultRule(route=COLLECTIONS, ratelimit_rate=1.0)])
    with pytest.raises(DestinationStoppedError) as raised:
        destination.write(Operation.CREATE, [account("p1", Name="A")])
    assert raised.value.code == "REQUEST_LIMIT_EXCEEDED"
    assert destination.client.rate_info() == RateInfo(daily_remaining=0, daily_limit=100_000)


@pytest.mark.parametrize(
    "rule",
    [
        FaultRule(route=COLLECTIONS, error_rate=1.0, error_status=503),
        FaultRule(route=COLLECTIONS, error_rate=1.0, error_status=500),
        FaultRule(route=COLLECTIONS, drop_rate=1.0),
        FaultRule(route=COLLECTIONS, timeout_rate=1.0, timeout_seconds=0.05),
        FaultRule(route=COLLECTIONS, lost_response_rate=1.0),
    ],
    ids=["503", "500", "dropped", "hung-then-dropped", "lost-response"],
)
def test_server_errors_and_broken_connections_are_transient(
    destination: SalesforceDestination, sandbox: Sandbox, rule: FaultRule
) -> None:
    sandbox.salesforce.set_faults([rule])
    with pytest.raises(TransientError):
        destination.write(Operation.CREATE, [account("p1", Name="A")])
    sandbox.salesforce.set_faults([])
    # Upserts are idempotent: the retry after a lost response updates the record it created.
    retried = destination.write(Operation.CREATE, [account("p1", Name="A")])
    assert retried.results[0].record_id == sandbox.salesforce.records("Account")[0]["Id"]
    assert len(sandbox.salesforce.records("Account")) == 1


def test_rate_info_reflects_sforce_limit_info(destination: SalesforceDestination, sandbox: Sandbox) -> None:
    sandbox.salesforce.consume_api_requests(4_321)
    result = destination.write(Operation.CREATE, [account("p1", Name="A")])
    used, total = sandbox.salesforce.api_usage()
    assert result.rate == RateInfo(daily_remaining=total - used, daily_limit=total)
    assert result.rate.daily_remaining == 100_000 - 4_321 - 1


def test_expired_oauth_session_logs_in_again_once(destination: SalesforceDestination, sandbox: Sandbox) -> None:
    sandbox.salesforce.revoke_tokens()
    result = destination.write(Operation.CREATE, [account("p1", Name="A")])
    assert result.results[0] == RecordResult.confirmed(sandbox.salesforce.records("Account")[0]["Id"])
    assert sandbox.salesforce.log.count("POST /services/oauth2/token") == 2  # the first login and the renewal


def test_expired_access_token_stops_the_destination(
    open_destination: Callable[..., SalesforceDestination], sandbox: Sandbox
) -> None:
    token = sandbox.salesforce.issue_token()
    destination = open_destination(client_id=None, client_secret=None, access_token=token)
    assert destination.write(Operation.CREATE, [account("p1", Name="A")]).calls == 1
    sandbox.salesforce.revoke_tokens()
    with pytest.raises(DestinationStoppedError) as raised:
        destination.write(Operation.CREATE, [account("p2", Name="B")])
    assert raised.value.code == "INVALID_SESSION_ID"
    assert token not in str(raised.value)


def test_password_grant_and_refused_credentials(
    open_destination: Callable[..., SalesforceDestination], sandbox: Sandbox
) -> None:
    creds = sandbox.salesforce.credentials
    destination = open_destination(username=creds.username, password=creds.password + creds.security_token)
    assert destination.write(Operation.CREATE, [account("p1", Name="A")]).results[0].record_id
    with pytest.raises(DestinationStoppedError) as raised:
        open_destination(client_secret="not-the-secret")
    assert (raised.value.code, str(raised.value)) == (
        "invalid_client",
        "Salesforce refused the client_credentials login: invalid_client (invalid client credentials)",
    )
    assert "not-the-secret" not in str(raised.value)
    with pytest.raises(DestinationStoppedError, match="needs username, password, client_id and client_secret"):
        open_destination(client_id=None, client_secret=None, username=creds.username, password="x")


def test_secrets_never_reach_messages_or_settings_output(sandbox: Sandbox) -> None:
    settings = settings_for(sandbox, password="hunter2-secret", username="u@example.com")
    assert "hunter2-secret" not in repr(settings) and "sandbox-consumer-secret" not in repr(settings)


def test_request_table() -> None:
    url = "https://example.my.salesforce.com/services/data/v59.0/sobjects/Account/Ext__c/k1"
    # simple-salesforce types ``content`` as bytes although it holds the decoded JSON body.
    candidates: Any = ["/services/data/v59.0/sobjects/Account/001A", "/services/data/v59.0/sobjects/Account/001B"]
    several = SalesforceMoreThanOneRecord(url, 300, "Account", candidates)
    error = delivery_error(several, "upsert Account")
    assert isinstance(error, BatchRejectedError) and str(error) == "upsert Account: several records match: 001A, 001B"
    body: Any = [{"errorCode": "EXCEEDED_ID_LIMIT", "message": "limit"}]
    too_many = SalesforceMalformedRequest(url, 400, "x", body)
    assert isinstance(delivery_error(too_many, "upsert"), BatchRejectedError)
    assert delivery_error(too_many, "upsert").code == "EXCEEDED_ID_LIMIT"
    assert isinstance(delivery_error(requests.exceptions.ReadTimeout(), "upsert"), TransientError)


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        (
            "STRING_TOO_LONG:Name: data value too large: xxx:Name --",
            RecordResult.rejected("STRING_TOO_LONG", "Name: data value too large: xxx"),
        ),
        (
            "UNABLE_TO_LOCK_ROW:unable to obtain exclusive access to this record or 1 records: --",
            RecordResult.retryable(
                "UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this record or 1 records"
            ),
        ),
        (
            "REQUIRED_FIELD_MISSING:Required fields are missing: [Name]:Name --",
            RecordResult.rejected("REQUIRED_FIELD_MISSING", "Required fields are missing: [Name]"),
        ),
        (
            "FIELD_CUSTOM_VALIDATION_EXCEPTION:Score must be positive: --",
            RecordResult.rejected("FIELD_CUSTOM_VALIDATION_EXCEPTION", "Score must be positive"),
        ),
    ],
)
def test_bulk_error_cells(cell: str, expected: RecordResult) -> None:
    assert parse_bulk_error(cell) == expected
