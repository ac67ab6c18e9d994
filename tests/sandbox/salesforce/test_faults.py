"""Fault injection seen through simple-salesforce: 5xx, rate-limit storms, lost responses and record rejects."""

from __future__ import annotations

import pytest
import requests
from simple_salesforce.exceptions import SalesforceGeneralError, SalesforceRefusedRequest

from connectors.sandbox.core.faults import FaultRule
from tests.sandbox.salesforce.conftest import SF, Org, content

UPSERT = "composite/sobjects/Account/Product_Account_Id__c"


def _accounts(count: int) -> list[dict[str, object]]:
    return [
        {"attributes": {"type": "Account"}, "Product_Account_Id__c": f"k{i}", "Name": f"N{i}"} for i in range(count)
    ]


def test_server_error_in_salesforce_shape(sf: SF, org: Org) -> None:
    org.emulator.set_faults([FaultRule(route="GET /services/data/*/query*", error_rate=1.0, error_status=503)])
    with pytest.raises(SalesforceGeneralError) as raised:
        sf.query("SELECT Id FROM User")
    assert raised.value.status == 503
    assert content(raised)[0]["errorCode"] == "SERVER_UNAVAILABLE"
    assert sf.Account.describe()["name"] == "Account"  # other routes unaffected


def test_rate_limit_storm_is_the_403_allocation_error(sf: SF, org: Org) -> None:
    org.emulator.set_faults([FaultRule(route="*", ratelimit_rate=1.0)])
    with pytest.raises(SalesforceRefusedRequest) as raised:
        sf.limits()
    assert content(raised)[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"


def test_lost_response_still_writes_and_a_retry_is_an_update(sf: SF, org: Org) -> None:
    org.emulator.set_faults([FaultRule(route=f"PATCH /services/data/*/{UPSERT}", lost_response_rate=1.0)])
    with pytest.raises(requests.exceptions.RequestException):
        sf.restful(UPSERT, method="PATCH", json={"records": _accounts(2)})
    assert len(org.emulator.records("Account")) == 2
    org.emulator.set_faults([])
    results = sf.restful(UPSERT, method="PATCH", json={"records": _accounts(2)})
    assert [r["created"] for r in results] == [False, False]
    assert len(org.emulator.records("Account")) == 2


def test_per_record_rejects_are_deterministic(sf: SF, org: Org) -> None:
    def run() -> list[bool]:
        org.emulator.reset()
        org.emulator.set_faults([FaultRule(route=f"PATCH /services/data/*/{UPSERT}", reject_rate=0.3)], seed=7)
        return [r["success"] for r in sf.restful(UPSERT, method="PATCH", json={"records": _accounts(20)})]

    first = run()
    assert 0 < first.count(False) < 20
    assert run() == first
    results = sf.restful(UPSERT, method="PATCH", json={"records": _accounts(20)})
    rejected = [r for r in results if not r["success"]]
    assert {r["errors"][0]["statusCode"] for r in rejected} == {"UNABLE_TO_LOCK_ROW"}
    assert len(org.emulator.records("Account")) == 20 - first.count(False) + sum(
        1 for r in results if r["success"] and r["created"]
    )


def test_bulk_rows_can_be_rejected(sf: SF, org: Org) -> None:
    org.emulator.set_faults([FaultRule(route="PATCH /services/data/*/jobs/ingest/*", reject_rate=1.0)])
    [summary] = sf.bulk2.Account.insert(records=[{"Name": "A"}, {"Name": "B"}], wait=0)
    assert summary["numberRecordsFailed"] == 2
    assert "UNABLE_TO_LOCK_ROW" in sf.bulk2.Account.get_failed_records(summary["job_id"])
    assert org.emulator.records("Account") == []


def test_sandbox_routes_reset_and_report_state(sf: SF, org: Org) -> None:
    sf.Account.create({"Name": "Acme"})
    session = org.session()
    state = session.get(f"{org.url}/_sandbox/state").json()
    assert [rec["Name"] for rec in state["objects"]["Account"]] == ["Acme"]
    assert len(state["objects"]["User"]) == 25  # the 24 sample reps and the inactive one who left
    assert state["api_usage"] == {"used": 1, "total": 100_000}
    assert session.post(f"{org.url}/_sandbox/reset").json() == {"ok": True}
    assert org.emulator.records("Account") == []


def test_injected_limit_reply_reports_the_allocation_spent(org: Org) -> None:
    org.emulator.set_faults([FaultRule(route="*", ratelimit_rate=1.0)])
    reply = org.session().get(
        f"{org.url}/services/data/v59.0/limits", headers={"Authorization": f"Bearer {org.emulator.issue_token()}"}
    )
    assert reply.status_code == 403
    used, total = reply.headers["Sforce-Limit-Info"].removeprefix("api-usage=").split("/")
    assert int(used) >= int(total) == 100_000
