"""Writes through sObject Collections: upsert by external id, update by Id, clear, per-record errors, call counts."""

from __future__ import annotations

import math
from collections.abc import Callable

from connectors.salesforce.connector import SalesforceDestination
from connectors.salesforce.sandbox.ids import checksum_suffix
from connectors.sandbox import Sandbox
from connectors.sandbox.core.faults import FaultRule
from syncer.contract.destination import Operation, RecordResult, RecordStatus, Target, WriteRecord
from syncer.contract.enums import SyncMode
from tests.connectors.salesforce.conftest import ACCOUNT_FIELDS, account

UPSERT_ROUTE = "PATCH /services/data/v{version}/composite/sobjects/{sobject}/{field}"


def _check_contract(records: list[WriteRecord], results: list[RecordResult]) -> None:
    """The protocol's promise: one result per record, confirmed ones with an 18-character id (checksummed)."""
    assert len(results) == len(records)
    for result in results:
        if result.status is RecordStatus.CONFIRMED:
            assert result.record_id is not None and len(result.record_id) == 18
            assert checksum_suffix(result.record_id[:15]) == result.record_id[15:]
        else:
            assert result.code and result.message and result.record_id is None


def test_upsert_by_external_id_creates_then_updates(destination: SalesforceDestination, sandbox: Sandbox) -> None:
    records = [
        account("p1", Name="Acme", PQL_Score__c="91.5", PQL_Tier__c="hot"),
        account("p2", Name="Globex", PQL_Score__c="40", PQL_Since__c="2026-11-01T09:30:00Z"),
    ]
    created = destination.write(Operation.CREATE, records)
    _check_contract(records, list(created.results))
    assert [r.status for r in created.results] == [RecordStatus.CONFIRMED] * 2
    assert created.calls == 1
    stored = {rec["Product_Account_Id__c"]: rec for rec in sandbox.salesforce.records("Account")}
    assert stored["p1"]["Id"] == created.results[0].record_id
    assert (stored["p1"]["PQL_Score__c"], stored["p2"]["PQL_Since__c"]) == (91.5, "2026-11-01T09:30:00.000+0000")

    updated = destination.write(Operation.UPDATE, [account("p1", Operation.UPDATE, PQL_Tier__c="warm")])
    assert updated.results == [RecordResult.confirmed(created.results[0].record_id)]
    after = sandbox.salesforce.get_record("Account", str(created.results[0].record_id))
    assert after is not None and (after["Name"], after["PQL_Tier__c"]) == ("Acme", "warm")
    assert len(sandbox.salesforce.records("Account")) == 2


def test_update_by_id_uses_the_record_id_or_the_match_value(
    open_destination: Callable[..., SalesforceDestination], sandbox: Sandbox
) -> None:
    first, second = sandbox.salesforce.seed_accounts([{"Name": "A"}, {"Name": "B"}])
    destination = open_destination(Target("Account", SyncMode.UPDATE, "Id", ACCOUNT_FIELDS))
    records = [
        WriteRecord("a", Operation.UPDATE, first, None, {"PQL_Score__c": "7"}),
        WriteRecord("b", Operation.CREATE, None, second[:15], {"PQL_Score__c": "8"}),
        WriteRecord("c", Operation.CREATE, None, None, {"PQL_Score__c": "9"}),
    ]
    result = destination.write(Operation.UPDATE, records)
    assert list(result.results[:2]) == [RecordResult.confirmed(first), RecordResult.confirmed(second)]
    assert (result.results[2].status, result.results[2].code) == (RecordStatus.REJECTED, "NO_RECORD_TO_UPDATE")
    assert "no record to update" in str(result.results[2].message)
    assert [rec["PQL_Score__c"] for rec in sandbox.salesforce.records("Account")] == [7, 8]
    assert sandbox.salesforce.log.count("composite/sobjects") == 1


def test_clear_nulls_only_the_given_fields(destination: SalesforceDestination, sandbox: Sandbox) -> None:
    [record_id] = sandbox.salesforce.seed_accounts(
        [
            {
                "Name": "Acme",
                "Product_Account_Id__c": "p1",
                "PQL_Score__c": 90,
                "PQL_Tier__c": "hot",
                "PQL_Reason__c": "trial",
            }
        ]
    )
    cleared = destination.write(
        Operation.CLEAR, [account("p1", Operation.CLEAR, record_id, PQL_Score__c="90", PQL_Tier__c=None)]
    )
    assert cleared.results == [RecordResult.confirmed(record_id)]
    after = sandbox.salesforce.get_record("Account", record_id)
    assert after is not None
    assert (after["PQL_Score__c"], after["PQL_Tier__c"]) == (None, None)
    assert (after["Name"], after["PQL_Reason__c"]) == ("Acme", "trial")


def test_clear_never_creates_a_record(destination: SalesforceDestination, sandbox: Sandbox) -> None:
    result = destination.write(Operation.CLEAR, [account("gone", Operation.CLEAR, PQL_Tier__c=None)])
    assert result.results[0].code == "NO_RECORD_TO_UPDATE"
    assert sandbox.salesforce.records("Account") == []


def test_record_errors_are_rejected_with_code_and_message_while_the_rest_confirm(
    open_destination: Callable[..., SalesforceDestination], sandbox: Sandbox
) -> None:
    destination = open_destination(
        Target(
            "Account", SyncMode.UPSERT, "Product_Account_Id__c", {**ACCOUNT_FIELDS, "Bogus__c": ACCOUNT_FIELDS["Name"]}
        )
    )
    records = [
        account("ok1", Name="Fine"),
        account("long", Name="Long", PQL_Reason__c="x" * 300),
        account("tier", Name="Tier", PQL_Tier__c="boiling"),
        account("bogus", Name="Bogus", Bogus__c="1"),
        account("dup", Name="First"),
        account("DUP", Name="Second"),
        account("score", Name="Score", PQL_Score__c="lots"),
        account("ok2", Name="Also fine"),
    ]
    results = list(destination.write(Operation.CREATE, records).results)
    _check_contract(records, results)
    codes = [(r.status, r.code) for r in results]
    assert codes == [
        (RecordStatus.CONFIRMED, None),
        (RecordStatus.REJECTED, "STRING_TOO_LONG"),
        (RecordStatus.REJECTED, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"),
        (RecordStatus.REJECTED, "INVALID_FIELD"),
        (RecordStatus.REJECTED, "DUPLICATE_EXTERNAL_ID"),
        (RecordStatus.REJECTED, "DUPLICATE_EXTERNAL_ID"),
        (RecordStatus.REJECTED, "INVALID_TYPE"),  # caught before sending: it would fail the whole request
        (RecordStatus.CONFIRMED, None),
    ]
    assert "bad value for restricted picklist field: boiling" in str(results[2].message)
    assert "Bogus__c" in str(results[3].message)
    assert sorted(rec["Name"] for rec in sandbox.salesforce.records("Account")) == ["Also fine", "Fine"]


def test_duplicate_value_on_a_unique_field_is_rejected(
    open_destination: Callable[..., SalesforceDestination], sandbox: Sandbox
) -> None:
    first, second = sandbox.salesforce.seed_accounts([{"Name": "A", "Product_Account_Id__c": "p1"}, {"Name": "B"}])
    destination = open_destination(
        Target("Account", SyncMode.UPDATE, "Id", {"Product_Account_Id__c": ACCOUNT_FIELDS["Name"]})
    )
    result = destination.write(
        Operation.UPDATE, [WriteRecord("b", Operation.UPDATE, second, second, {"Product_Account_Id__c": "P1"})]
    )
    assert (result.results[0].status, result.results[0].code) == (RecordStatus.REJECTED, "DUPLICATE_VALUE")
    assert first in str(result.results[0].message)


def test_lock_errors_are_retryable(destination: SalesforceDestination, sandbox: Sandbox) -> None:
    sandbox.salesforce.set_faults([FaultRule(route="PATCH /services/data/*/composite/sobjects/*", reject_rate=1.0)])
    result = destination.write(Operation.CREATE, [account("p1", Name="A")])
    assert (result.results[0].status, result.results[0].code) == (RecordStatus.RETRYABLE, "UNABLE_TO_LOCK_ROW")


def test_one_collections_call_per_200_records(destination: SalesforceDestination, sandbox: Sandbox) -> None:
    for total in (1, 200, 201, 450):
        sandbox.salesforce.reset()
        records = [account(f"k{i}", Name=f"N{i}") for i in range(total)]
        size = destination.capabilities.batch_size(Operation.CREATE, total)
        calls = 0
        for start in range(0, total, size):
            batch = destination.write(Operation.CREATE, records[start : start + size])
            assert all(r.status is RecordStatus.CONFIRMED for r in batch.results)
            calls += batch.calls
        assert sandbox.salesforce.log.counts().get(UPSERT_ROUTE, 0) == math.ceil(total / 200) == calls
        assert len(sandbox.salesforce.records("Account")) == total


def test_update_mode_on_an_external_id_finds_records_and_never_creates(
    open_destination: Callable[..., SalesforceDestination], sandbox: Sandbox
) -> None:
    [existing] = sandbox.salesforce.seed_accounts([{"Name": "Acme", "Product_Account_Id__c": "P1"}])
    destination = open_destination(Target("Account", SyncMode.UPDATE, "Product_Account_Id__c", ACCOUNT_FIELDS))
    result = destination.write(Operation.CREATE, [account("p1", PQL_Tier__c="hot"), account("p9", PQL_Tier__c="hot")])
    assert result.results[0] == RecordResult.confirmed(existing)
    assert (result.results[1].code, result.results[1].message) == (
        "NO_RECORD_TO_UPDATE",
        "no record to update: no Account has Product_Account_Id__c = p9",
    )
    assert len(sandbox.salesforce.records("Account")) == 1
    assert result.calls == 2  # the query and one Collections update
