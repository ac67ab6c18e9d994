"""Batches above 200 records go through Bulk API 2.0: one job, polled on the emulator's clock, results mapped back."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from connectors.salesforce.connector import SalesforceDestination
from connectors.sandbox import Sandbox
from connectors.sandbox.core.faults import FaultRule
from syncer.contract.destination import Operation, RecordStatus, Target, WriteRecord
from syncer.contract.enums import SyncMode
from syncer.contract.errors import BatchRejectedError, TransientError
from tests.connectors.salesforce.conftest import ACCOUNT_FIELDS, EmulatorWait, account

JOBS = "/jobs/ingest"


def _processing_delay(sandbox: Sandbox, seconds: float) -> None:
    sandbox.salesforce.set_limits(replace(sandbox.salesforce.limits, bulk_processing_seconds=seconds))


def test_3000_records_go_through_one_bulk_job_with_results_per_record(
    destination: SalesforceDestination, sandbox: Sandbox, emulator_wait: EmulatorWait
) -> None:
    existing = dict(
        zip(
            [f"k{i}" for i in range(10)],
            sandbox.salesforce.seed_accounts(
                [{"Name": f"Old {i}", "Product_Account_Id__c": f"k{i}"} for i in range(10)]
            ),
            strict=True,
        )
    )
    _processing_delay(sandbox, 30)
    records = [
        account(f"k{i}", Name=f"N{i}", PQL_Score__c=str(i), PQL_Tier__c="boiling" if i % 500 == 7 else "hot")
        for i in range(3_000)
    ]
    assert destination.capabilities.batch_size(Operation.CREATE, len(records)) == 10_000

    result = destination.write(Operation.CREATE, records)

    assert len(result.results) == 3_000
    rejected = {i for i, r in enumerate(result.results) if r.status is not RecordStatus.CONFIRMED}
    assert rejected == {i for i in range(3_000) if i % 500 == 7}
    bad = result.results[7]
    assert (bad.status, bad.code) == (RecordStatus.REJECTED, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST")
    assert bad.message == "PQL Tier: bad value for restricted picklist field: boiling (fields: PQL_Tier__c)"
    stored = {rec["Product_Account_Id__c"]: rec for rec in sandbox.salesforce.records("Account")}
    assert len(stored) == 3_000 - len(rejected) + 1  # k7 existed before and failed as an update
    for i in (0, 1, 9, 10, 2_999):
        assert result.results[i].record_id == stored[f"k{i}"]["Id"]
    assert result.results[3].record_id == existing["k3"]
    assert stored["k3"]["Name"] == "N3"
    # Polled while InProgress (each poll that found it running was followed by a wait on the emulator's clock).
    assert sum(emulator_wait.sleeps) >= 30
    [job] = sandbox.salesforce.state()["bulk_jobs"]
    assert (job["state"], job["numberRecordsProcessed"], job["numberRecordsFailed"]) == ("JobComplete", 3_000, 6)
    assert sandbox.salesforce.log.count("composite/sobjects") == 0
    polls = sandbox.salesforce.log.counts()["GET /services/data/v{version}/jobs/ingest/{job_id}"]
    assert polls == len(emulator_wait.sleeps) + 1
    assert result.calls == 1 + 1 + 1 + polls + 2  # create, upload, close, polls, two result files
    assert result.rate is not None and result.rate.daily_remaining == 100_000 - result.calls


def test_bulk_update_by_id_maps_results_back_by_id(
    open_destination: Callable[..., SalesforceDestination], sandbox: Sandbox
) -> None:
    ids = sandbox.salesforce.seed_accounts([{"Name": f"A{i}"} for i in range(250)])
    destination = open_destination(Target("Account", SyncMode.UPDATE, "Id", ACCOUNT_FIELDS))
    gone = "001000000000000AAA"
    records = [
        WriteRecord(f"r{i}", Operation.UPDATE, record_id, None, {"PQL_Score__c": str(i)})
        for i, record_id in enumerate([*ids, gone])
    ]
    result = destination.write(Operation.UPDATE, records)
    assert [r.record_id for r in result.results[:250]] == ids
    assert (result.results[250].status, result.results[250].code) == (RecordStatus.REJECTED, "ENTITY_IS_DELETED")
    assert sandbox.salesforce.get_record("Account", ids[42]) is not None
    assert [rec["PQL_Score__c"] for rec in sandbox.salesforce.records("Account")] == list(range(250))
    assert sandbox.salesforce.state()["bulk_jobs"][0]["operation"] == "update"


def test_bulk_clears_with_na_cells_and_leaves_other_fields(
    destination: SalesforceDestination, sandbox: Sandbox
) -> None:
    sandbox.salesforce.seed_accounts(
        [
            {"Name": f"A{i}", "Product_Account_Id__c": f"k{i}", "PQL_Tier__c": "hot", "PQL_Reason__c": "kept"}
            for i in range(201)
        ]
    )
    records = [account(f"k{i}", Name=f"B{i}", PQL_Tier__c=None) for i in range(201)]
    result = destination.write(Operation.UPDATE, records)
    assert {r.status for r in result.results} == {RecordStatus.CONFIRMED}
    after = sandbox.salesforce.records("Account")
    assert {(rec["PQL_Tier__c"], rec["PQL_Reason__c"]) for rec in after} == {(None, "kept")}
    assert after[200]["Name"] == "B200"


def test_a_job_still_running_at_the_bound_is_aborted_and_transient(
    open_destination: Callable[..., SalesforceDestination], sandbox: Sandbox, emulator_wait: EmulatorWait
) -> None:
    _processing_delay(sandbox, 3_600)
    destination = open_destination(wait=emulator_wait.policy(max_wait_s=60))
    with pytest.raises(TransientError) as raised:
        destination.write(Operation.CREATE, [account(f"k{i}", Name="N") for i in range(201)])
    assert raised.value.code == "BULK_TIMEOUT"
    assert 0 < sum(emulator_wait.sleeps) <= 60
    assert sandbox.salesforce.state()["bulk_jobs"][0]["state"] == "Aborted"
    assert sandbox.salesforce.records("Account") == []


def test_a_job_failed_for_an_unknown_column_is_rejected_as_a_batch(
    open_destination: Callable[..., SalesforceDestination],
) -> None:
    destination = open_destination(
        Target(
            "Account", SyncMode.UPSERT, "Product_Account_Id__c", {**ACCOUNT_FIELDS, "Bogus__c": ACCOUNT_FIELDS["Name"]}
        )
    )
    with pytest.raises(BatchRejectedError, match="Field name not found : Bogus__c"):
        destination.write(Operation.CREATE, [account(f"k{i}", Name="N", Bogus__c="x") for i in range(201)])


def test_update_mode_looks_up_external_ids_in_chunks_then_updates_in_one_job(
    open_destination: Callable[..., SalesforceDestination], sandbox: Sandbox
) -> None:
    ids = sandbox.salesforce.seed_accounts([{"Name": f"A{i}", "Product_Account_Id__c": f"k{i}"} for i in range(250)])
    destination = open_destination(Target("Account", SyncMode.UPDATE, "Product_Account_Id__c", ACCOUNT_FIELDS))
    result = destination.write(Operation.CREATE, [account(f"k{i}", PQL_Tier__c="warm") for i in range(260)])
    assert [r.record_id for r in result.results[:250]] == ids
    assert {r.code for r in result.results[250:]} == {"NO_RECORD_TO_UPDATE"}
    assert sandbox.salesforce.log.count("/query") == 2
    assert sandbox.salesforce.state()["bulk_jobs"][0]["operation"] == "update"
    assert len(sandbox.salesforce.records("Account")) == 250


def test_a_session_that_expires_while_a_job_runs_is_renewed(
    open_destination: Callable[..., SalesforceDestination], sandbox: Sandbox, emulator_wait: EmulatorWait
) -> None:
    _processing_delay(sandbox, 10)

    def sleep_and_expire(seconds: float) -> None:
        sandbox.salesforce.revoke_tokens()
        emulator_wait.sleep(seconds)

    destination = open_destination(wait=replace(emulator_wait.policy(), sleep=sleep_and_expire))
    result = destination.write(Operation.CREATE, [account(f"k{i}", Name="N") for i in range(201)])
    assert {r.status for r in result.results} == {RecordStatus.CONFIRMED}
    assert sandbox.salesforce.log.count("POST /services/oauth2/token") == 1 + len(emulator_wait.sleeps)


def test_records_a_job_aborted_at_the_bound_did_not_process_are_retryable(
    open_destination: Callable[..., SalesforceDestination], sandbox: Sandbox, emulator_wait: EmulatorWait
) -> None:
    sandbox.salesforce.set_limits(
        replace(sandbox.salesforce.limits, bulk_processing_seconds=30, bulk_records_per_internal_batch=100)
    )
    destination = open_destination(wait=emulator_wait.policy(max_wait_s=15))
    result = destination.write(Operation.CREATE, [account(f"k{i}", Name=f"N{i}") for i in range(250)])
    # 13.5 s of 30 had passed at the bound: one of three internal batches was applied before the abort.
    assert [r.status for r in result.results] == [RecordStatus.CONFIRMED] * 100 + [RecordStatus.RETRYABLE] * 150
    assert {r.code for r in result.results[100:]} == {"NOT_PROCESSED"}
    assert [r.record_id for r in result.results[:100]] == [rec["Id"] for rec in sandbox.salesforce.records("Account")]
    assert sandbox.salesforce.state()["bulk_jobs"][0]["state"] == "Aborted"


def test_a_failed_upload_aborts_the_open_job(destination: SalesforceDestination, sandbox: Sandbox) -> None:
    sandbox.salesforce.set_faults([FaultRule(route="PUT /services/data/*/jobs/ingest/*/batches", error_rate=1.0)])
    with pytest.raises(TransientError):
        destination.write(Operation.CREATE, [account(f"k{i}", Name="N") for i in range(201)])
    assert [job["state"] for job in sandbox.salesforce.state()["bulk_jobs"]] == ["Aborted"]
