"""Adoption by Website and inactive owners through simple-salesforce against the emulator.

A create carrying an adopt value is written to the one Account that holds that Website and no external id (adopted:
the external id is written too), rejected naming the candidates when several do, and upserted as usual when none
does or when an Account already holds its external id. An inactive User owns nothing: Salesforce answers
``INACTIVE_OWNER_OR_USER``, and the owner lookup does not know them.
"""

from __future__ import annotations

from collections.abc import Callable

from connectors.salesforce.connector import SalesforceDestination
from connectors.salesforce.tasks import open_task_destination
from connectors.sandbox import Sandbox
from connectors.sandbox.people import departed_rep, sample_reps
from syncer.contract.destination import Operation, RecordResult, RecordStatus, Target, WriteRecord
from syncer.contract.enums import FieldType, SyncMode
from tests.connectors.salesforce.conftest import ACCOUNT_FIELDS, settings_for

GONE = departed_rep()
DANA = sample_reps()[0]
KINDS = ("adopt", "twin", "held", "other", "plain")


def _create(key: str, adopt: str | None, **values: str) -> WriteRecord:
    return WriteRecord(key, Operation.CREATE, None, key, values, adopt=adopt)


def test_a_create_adopts_the_one_account_with_its_website_and_no_external_id(
    sandbox: Sandbox, open_destination: Callable[..., SalesforceDestination]
) -> None:
    org = sandbox.salesforce
    adoptable = org.add_record("Account", {"Name": "Adopt Me", "Website": "adopt.example"})
    twins = [org.add_record("Account", {"Name": f"Twin {i}", "Website": "twin.example"}) for i in (1, 2)]
    held = org.add_record("Account", {"Name": "Held", "Website": "held.example", "Product_Account_Id__c": "h1"})
    other = org.add_record(
        "Account", {"Name": "Other's", "Website": "other.example", "Product_Account_Id__c": "someone-else"}
    )
    destination = open_destination(
        Target("Account", SyncMode.UPSERT, "Product_Account_Id__c", ACCOUNT_FIELDS, adopt_field="Website")
    )
    batch = [
        _create("a1", "ADOPT.example", Name="A1"),
        _create("a2", "twin.example", Name="A2"),
        _create("h1", "held.example", Name="H1"),
        _create("o1", "other.example", Name="O1"),
        _create("p1", None, Name="P1"),
    ]
    results = dict(zip(KINDS, destination.write(Operation.CREATE, batch).results, strict=True))
    assert results["adopt"] == RecordResult.confirmed(adoptable, adopted=True)
    found = org.get_record("Account", adoptable)
    assert found is not None and (found["Product_Account_Id__c"], found["Name"]) == ("a1", "A1")
    twin = results["twin"]
    assert (twin.status, twin.code) == (RecordStatus.REJECTED, "AMBIGUOUS_ADOPTION")
    assert all(i in str(twin.message) for i in twins)
    assert results["held"].status is RecordStatus.CONFIRMED and results["held"].record_id == held
    assert not results["held"].adopted
    for key in ("other", "plain"):
        assert results[key].status is RecordStatus.CONFIRMED and not results[key].adopted
        assert results[key].record_id not in {other, adoptable, *twins}


def test_a_record_assigned_to_an_inactive_user_is_rejected_with_salesforces_code(
    open_destination: Callable[..., SalesforceDestination],
) -> None:
    destination = open_destination(
        Target("Account", SyncMode.UPSERT, "Product_Account_Id__c", {**ACCOUNT_FIELDS, "OwnerId": FieldType.STRING})
    )
    batch = [
        WriteRecord("g1", Operation.CREATE, None, "g1", {"Name": "G", "OwnerId": GONE.salesforce_user_id}),
        WriteRecord("d1", Operation.CREATE, None, "d1", {"Name": "D", "OwnerId": DANA.salesforce_user_id}),
    ]
    gone, dana = destination.write(Operation.CREATE, batch).results
    assert (gone.status, gone.code) == (RecordStatus.REJECTED, "INACTIVE_OWNER_OR_USER")
    assert dana.status is RecordStatus.CONFIRMED


def test_owner_ids_know_only_active_users(sandbox: Sandbox) -> None:
    tasks = open_task_destination(settings_for(sandbox))
    try:
        assert tasks.owner_ids([GONE.email, DANA.email]) == {DANA.email: DANA.salesforce_user_id}
    finally:
        tasks.close()
