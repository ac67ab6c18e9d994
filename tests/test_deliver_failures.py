"""Delivery when the CRM refuses, end to end through the runner: what is refused is reported with the vendor's reason
and tried again next run, a spent daily allowance stops the destination cleanly, and nothing is lost or written twice
once the fault clears."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.hubspot.sandbox import HubSpotLimits
from connectors.sandbox import Sandbox
from connectors.sandbox.core.faults import FaultRule
from syncer.app import App
from syncer.state.base import RunStatus
from tests.test_deliver_end_to_end import ACCOUNTS, _run, open_project


@pytest.fixture
def project(tmp_path: Path, sandbox: Sandbox) -> Iterator[App]:
    """The shipped mappings as plain upserts (no adoption lookup, no create_when): every account is one write to
    fault, in a known number of calls."""
    app = open_project(tmp_path, sandbox, plain_upserts=True)
    yield app
    app.close()


def _landed(sandbox: Sandbox) -> Counter[str]:
    return Counter(
        c["properties"]["product_account_id"]
        for c in sandbox.hubspot.records("companies")
        if c["properties"].get("product_account_id")
    )


def test_records_rejected_inside_a_batch_are_reported_and_land_on_the_next_run(
    project: App,
    sandbox: Sandbox,
) -> None:
    sandbox.hubspot.set_faults([FaultRule(route="POST /crm/v3/objects/companies/batch/*", reject_rate=0.05)], seed=7)
    first = _run(project, "hubspot_companies")
    assert first.status is RunStatus.PARTIAL and first.delivery is not None
    rejected = first.delivery.rejected
    assert 0 < rejected < ACCOUNTS and first.delivery.confirmed == ACCOUNTS - rejected
    errors = project.store.row_errors.records("hubspot_companies")
    assert len(errors) == rejected
    assert all(e.stage == "deliver" and e.attempts == 1 and e.code and e.message for e in errors)
    assert len(_landed(sandbox)) == ACCOUNTS - rejected
    sandbox.hubspot.set_faults([])
    sandbox.hubspot.log.clear()
    second = _run(project, "hubspot_companies")
    assert second.status is RunStatus.SUCCEEDED and second.delivery is not None
    assert second.delivery.sent == rejected  # only what was refused goes again
    landed = _landed(sandbox)
    assert len(landed) == ACCOUNTS and set(landed.values()) == {1}
    assert project.store.row_errors.records("hubspot_companies") == []


def test_a_spent_daily_allowance_stops_the_destination_and_the_next_run_finishes(
    project: App,
    sandbox: Sandbox,
) -> None:
    normal = sandbox.hubspot.limits
    sandbox.hubspot.set_limits(HubSpotLimits(daily_max=3))  # the properties read and two batches, then DAILY 429
    try:
        first = _run(project, "hubspot_companies")
    finally:
        sandbox.hubspot.set_limits(normal)
    assert first.status is RunStatus.PARTIAL and first.delivery is not None
    assert first.error is not None and "daily" in first.error
    assert first.delivery.confirmed == 200 and first.delivery.pending == ACCOUNTS - 200
    assert first.delivery.rejected == 0 and project.store.row_errors.records("hubspot_companies") == []
    second = _run(project, "hubspot_companies")
    assert second.status is RunStatus.SUCCEEDED and second.delivery is not None
    assert second.delivery.confirmed == ACCOUNTS - 200
    landed = _landed(sandbox)
    assert len(landed) == ACCOUNTS and set(landed.values()) == {1}


def test_salesforce_request_limit_exceeded_stops_the_destination_and_the_next_run_finishes(
    project: App,
    sandbox: Sandbox,
) -> None:
    sandbox.salesforce.set_faults([FaultRule(route="PATCH /services/data/*/composite/sobjects/*", ratelimit_rate=1.0)])
    first = _run(project, "salesforce_accounts")
    assert first.status is RunStatus.PARTIAL and first.delivery is not None and first.plan is not None
    assert first.error is not None and "daily API request allocation is spent" in first.error
    assert first.delivery.confirmed == 0 and first.delivery.pending == first.plan.counts.create
    sandbox.salesforce.set_faults([])
    second = _run(project, "salesforce_accounts")
    assert second.status is RunStatus.SUCCEEDED and second.delivery is not None
    assert second.delivery.confirmed == first.plan.counts.create
    ids = Counter(
        a["Product_Account_Id__c"]
        for a in sandbox.salesforce.state()["objects"]["Account"]
        if a.get("Product_Account_Id__c")
    )
    assert len(ids) >= first.plan.counts.create and set(ids.values()) == {1}
