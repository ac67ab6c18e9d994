"""The daily API allocation as simple-salesforce sees it: Sforce-Limit-Info, /limits and the 403."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from simple_salesforce.exceptions import SalesforceRefusedRequest

from connectors.salesforce.sandbox import SalesforceLimits
from tests.sandbox.salesforce.conftest import SF, Org, content


def test_api_usage_header_is_parsed_by_the_sdk(sf: SF) -> None:
    sf.query("SELECT Id FROM User LIMIT 1")
    sf.limits()
    assert sf.api_usage["api-usage"].used == 2
    assert sf.api_usage["api-usage"].total == 100_000


def test_limits_resource(sf: SF, org: Org) -> None:
    org.emulator.consume_api_requests(41)
    limits = sf.limits()
    assert limits["DailyApiRequests"] == {"Max": 100_000, "Remaining": 100_000 - 42}
    assert limits["DailyBulkV2QueryJobs"]["Max"] == 10_000
    assert limits["DailyBulkApiBatches"] == {"Max": 15_000, "Remaining": 15_000}


def test_spent_allocation_is_403_request_limit_exceeded_until_the_window_rolls(
    make_org: Callable[[SalesforceLimits], Org],
) -> None:
    org = make_org(SalesforceLimits(daily_api_requests=3))
    sf = org.client()
    for _ in range(3):
        sf.query("SELECT Id FROM User LIMIT 1")
    with pytest.raises(SalesforceRefusedRequest) as raised:
        sf.Account.create({"Name": "Too late"})
    assert raised.value.status == 403
    assert content(raised) == [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
    assert org.emulator.records("Account") == []
    assert org.emulator.api_usage() == (3, 3)
    org.clock.advance(12 * 3600)
    with pytest.raises(SalesforceRefusedRequest):
        sf.limits()
    org.clock.advance(12 * 3600)  # the first requests are now 24 h old
    assert sf.Account.create({"Name": "Next day"})["success"] is True
    sf.query("SELECT Id FROM Account")
    assert sf.api_usage["api-usage"].used == 2


def test_allocation_headers_on_refusal(make_org: Callable[[SalesforceLimits], Org]) -> None:
    org = make_org(SalesforceLimits(daily_api_requests=1))
    session = org.session()
    headers = {"Authorization": f"Bearer {org.emulator.issue_token()}"}
    assert session.get(f"{org.url}/services/data/v59.0/limits", headers=headers).status_code == 200
    refused = session.get(f"{org.url}/services/data/v59.0/limits", headers=headers)
    assert refused.status_code == 403
    assert refused.headers["Sforce-Limit-Info"] == "api-usage=1/1"
    assert "Retry-After" not in refused.headers
