"""Bulk API 2.0 ingest through ``sf.bulk2`` (and its job client for the step-by-step lifecycle)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import replace

import pytest
from simple_salesforce.exceptions import SalesforceGeneralError, SalesforceMalformedRequest, SalesforceOperationError

from connectors.salesforce.sandbox import SalesforceLimits
from tests.sandbox.salesforce.conftest import SF, Org, content


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_upsert_job_with_successes_and_failures(sf: SF, org: Org) -> None:
    org.emulator.seed_accounts([{"Name": "Existing", "Product_Account_Id__c": "p2"}])
    records = [
        {"Product_Account_Id__c": "p1", "Name": "New", "PQL_Score__c": "91.5", "PQL_Tier__c": "hot"},
        {"Product_Account_Id__c": "p2", "Name": "", "PQL_Score__c": "40", "PQL_Tier__c": "warm"},
        {"Product_Account_Id__c": "p3", "Name": "Bad score", "PQL_Score__c": "lots", "PQL_Tier__c": "hot"},
        {"Product_Account_Id__c": "p4", "Name": "Bad tier", "PQL_Score__c": "1", "PQL_Tier__c": "boiling"},
    ]
    [summary] = sf.bulk2.Account.upsert(records=records, external_id_field="Product_Account_Id__c", wait=0)
    assert (summary["numberRecordsProcessed"], summary["numberRecordsFailed"]) == (4, 2)
    successes = _rows(sf.bulk2.Account.get_successful_records(summary["job_id"]))
    assert [(row["Product_Account_Id__c"], row["sf__Created"]) for row in successes] == [
        ("p1", "true"),
        ("p2", "false"),
    ]
    assert all(row["sf__Id"].startswith("001") for row in successes)
    failures = {
        row["Product_Account_Id__c"]: row["sf__Error"]
        for row in _rows(sf.bulk2.Account.get_failed_records(summary["job_id"]))
    }
    assert failures == {
        "p3": "INVALID_TYPE_ON_FIELD_IN_RECORD:PQL Score: value not of required type: lots:PQL_Score__c --",
        "p4": "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST:PQL Tier: bad value for restricted picklist field: boiling:"
        "PQL_Tier__c --",
    }
    existing = org.emulator.find_records("Account", Product_Account_Id__c="p2")[0]
    assert (existing["Name"], existing["PQL_Tier__c"]) == ("Existing", "warm")  # empty cell leaves Name alone


def test_insert_and_update_jobs(sf: SF, org: Org) -> None:
    [inserted] = sf.bulk2.Lead.insert(
        records=[{"LastName": "Lee", "Company": "Co"}, {"LastName": "Kim", "Company": ""}], wait=0
    )
    assert inserted["numberRecordsFailed"] == 1
    lead_id = org.emulator.records("Lead")[0]["Id"]
    [updated] = sf.bulk2.Lead.update(
        records=[{"Id": lead_id, "Title": "CTO"}, {"Id": "00Q000000000000AAA", "Title": "x"}], wait=0
    )
    assert (updated["numberRecordsProcessed"], updated["numberRecordsFailed"]) == (2, 1)
    assert org.emulator.records("Lead")[0]["Title"] == "CTO"


def test_lifecycle_states_follow_the_clock(make_org: Callable[[SalesforceLimits], Org]) -> None:
    org = make_org(SalesforceLimits(bulk_processing_seconds=30))
    client = org.client().bulk2.Account._client
    job = client.create_job("insert")
    assert (job["state"], job["contentUrl"]) == ("Open", f"services/data/v59.0/jobs/ingest/{job['id']}/batches")
    client.upload_job_data(job["id"], "Name,PQL_Score__c\nAcme,10\nGlobex,20\n")
    assert client.close_job(job["id"])["state"] == "UploadComplete"
    assert client.get_job(job["id"], is_query=False)["state"] == "InProgress"
    assert org.emulator.records("Account") == []
    org.clock.advance(30)
    info = client.get_job(job["id"], is_query=False)
    assert (info["state"], info["numberRecordsProcessed"], info["numberRecordsFailed"]) == ("JobComplete", 2, 0)
    assert sorted(rec["Name"] for rec in org.emulator.records("Account")) == ["Acme", "Globex"]
    assert org.client().limits()["DailyBulkApiBatches"]["Remaining"] == 14_999


def test_aborted_job_leaves_rows_unprocessed(sf: SF, org: Org) -> None:
    client = sf.bulk2.Account._client
    job = client.create_job("insert")
    client.upload_job_data(job["id"], "Name\nAcme\n")
    assert client.abort_job(job["id"], is_query=False)["state"] == "Aborted"
    assert _rows(sf.bulk2.Account.get_unprocessed_records(job["id"])) == [{"Name": "Acme"}]
    assert org.emulator.records("Account") == []
    with pytest.raises(SalesforceGeneralError) as raised:
        client.close_job(job["id"])
    assert (raised.value.status, content(raised)[0]["errorCode"]) == (409, "INVALIDJOBSTATE")
    assert client.get_job(job["id"], is_query=False)["state"] == "Aborted"


def test_unknown_column_fails_the_job(sf: SF) -> None:
    with pytest.raises(SalesforceOperationError, match="Field name not found : Bogus__c"):
        sf.bulk2.Account.insert(records=[{"Name": "A", "Bogus__c": "x"}], wait=0)


def test_bad_job_definitions_are_rejected(sf: SF) -> None:
    with pytest.raises(SalesforceMalformedRequest) as missing_key:
        sf.bulk2.Account._client.create_job("upsert")
    assert content(missing_key)[0]["errorCode"] == "INVALIDJOB"
    with pytest.raises(SalesforceMalformedRequest) as bad_object:
        sf.bulk2.Widget__c._client.create_job("insert")
    assert "Widget__c" in content(bad_object)[0]["message"]


def test_failed_rows_carry_the_id_of_an_existing_record(sf: SF, org: Org) -> None:
    [existing] = org.emulator.seed_accounts([{"Name": "Existing", "Product_Account_Id__c": "p1"}])
    [upserted] = sf.bulk2.Account.upsert(
        records=[
            {"Product_Account_Id__c": "p1", "PQL_Tier__c": "boiling"},
            {"Product_Account_Id__c": "p2", "Name": "New", "PQL_Tier__c": "boiling"},
            {"Product_Account_Id__c": "p1", "PQL_Score__c": "lots"},
        ],
        external_id_field="Product_Account_Id__c",
        wait=0,
    )
    failures = _rows(sf.bulk2.Account.get_failed_records(upserted["job_id"]))
    assert [row["sf__Id"] for row in failures] == [existing, "", existing]
    [updated] = sf.bulk2.Account.update(
        records=[{"Id": existing, "PQL_Tier__c": "boiling"}, {"Id": "001000000000000AAA", "Name": "Gone"}], wait=0
    )
    assert [row["sf__Id"] for row in _rows(sf.bulk2.Account.get_failed_records(updated["job_id"]))] == [existing, ""]


def test_processing_delay_and_clock_can_be_changed_on_a_running_emulator(sf: SF, org: Org) -> None:
    org.emulator.set_limits(replace(org.emulator.limits, bulk_processing_seconds=5))
    client = sf.bulk2.Account._client
    job = client.create_job("insert")
    client.upload_job_data(job["id"], "Name\nAcme\n")
    client.close_job(job["id"])
    assert client.get_job(job["id"], is_query=False)["state"] == "InProgress"
    org.emulator.advance_clock(5)
    assert client.get_job(job["id"], is_query=False)["state"] == "JobComplete"
    org.emulator.reset()
    assert org.emulator.limits.bulk_processing_seconds == 0


def test_internal_batches_are_processed_as_the_clock_moves_and_an_abort_keeps_them(
    make_org: Callable[[SalesforceLimits], Org],
) -> None:
    org = make_org(SalesforceLimits(bulk_processing_seconds=30, bulk_records_per_internal_batch=2))
    client = org.client().bulk2.Account._client
    job = client.create_job("insert")
    client.upload_job_data(job["id"], "Name\nA\nB\nC\nD\nE\n")
    client.close_job(job["id"])
    org.clock.advance(10)  # a third of the time: one of three internal batches
    info = client.get_job(job["id"], is_query=False)
    assert (info["state"], info["numberRecordsProcessed"]) == ("InProgress", 2)
    org.clock.advance(10)
    assert client.abort_job(job["id"], is_query=False)["state"] == "Aborted"
    assert sorted(rec["Name"] for rec in org.emulator.records("Account")) == ["A", "B", "C", "D"]
    assert _rows(client.get_ingest_results(job["id"], "unprocessedrecords")) == [{"Name": "E"}]
    assert len(_rows(client.get_ingest_results(job["id"], "successfulResults"))) == 4
    assert org.client().limits()["DailyBulkApiBatches"]["Remaining"] == 15_000 - 2
