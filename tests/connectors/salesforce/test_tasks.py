"""Salesforce Tasks through simple-salesforce against the emulator: Users by e-mail, WhatId/OwnerId, dedupe."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from connectors.salesforce.sandbox import DEFAULT_CUSTOM_FIELDS, SalesforceEmulator, make_tls_files
from connectors.salesforce.settings import SalesforceSettings
from connectors.salesforce.tasks import KEY_FIELD, SETUP_STEP, SalesforceTaskDestination, open_task_destination
from connectors.sandbox import Sandbox
from connectors.sandbox.core.faults import FaultRule
from connectors.sandbox.core.server import EmulatorServer
from connectors.sandbox.people import sample_reps
from syncer.contract.destination import RecordStatus
from syncer.contract.effects import TaskRequest
from syncer.contract.errors import DestinationStoppedError, TransientError
from tests.connectors.salesforce.conftest import settings_for

INSERT_ROUTE = "POST /services/data/*/composite/sobjects"


@pytest.fixture
def org(sandbox: Sandbox) -> SalesforceEmulator:
    return sandbox.salesforce


@pytest.fixture
def tasks(sandbox: Sandbox) -> Iterator[SalesforceTaskDestination]:
    destination = open_task_destination(settings_for(sandbox))
    yield destination
    destination.close()


def _inserts(org: SalesforceEmulator) -> int:
    return sum(1 for e in org.log.entries() if e.method == "POST" and e.path.endswith("/composite/sobjects"))


def _task(key: str, account: str, owner: str | None = None, priority: str = "High") -> TaskRequest:
    return TaskRequest(
        key, account, owner, f"Call about {key}", f"Account {key} became hot.", date(2026, 12, 1), priority
    )


def test_users_resolve_by_email_whatever_the_case_and_spaces(
    tasks: SalesforceTaskDestination, org: SalesforceEmulator
) -> None:
    rep, other = sample_reps()[2], sample_reps()[5]
    asked = [f" {rep.email.upper()}  ", "nobody@example.com", other.email, rep.email]
    assert tasks.owner_ids(asked) == {
        asked[0]: rep.salesforce_user_id,
        other.email: other.salesforce_user_id,
        rep.email: rep.salesforce_user_id,
    }
    assert org.log.count("/query") == 1  # one query for every distinct e-mail


def test_inactive_users_are_not_owners(tasks: SalesforceTaskDestination, org: SalesforceEmulator) -> None:
    rep = sample_reps()[4]
    with org.lock:
        user = org.store.get("User", rep.salesforce_user_id)
        assert user is not None
        user["IsActive"] = False
    assert tasks.owner_ids([rep.email]) == {}


def test_tasks_land_with_what_id_owner_and_key(tasks: SalesforceTaskDestination, org: SalesforceEmulator) -> None:
    account = org.add_record("Account", {"Name": "Acme"})
    owner = sample_reps()[1].salesforce_user_id
    (result,) = tasks.create_tasks([_task("k1", account, owner, "Low")])
    assert result.status is RecordStatus.CONFIRMED and not result.already_existed and result.external_id
    held = org.get_record("Task", result.external_id)
    assert held is not None
    assert (
        held["WhatId"],
        held["OwnerId"],
        held["Subject"],
        held["Description"],
        held["ActivityDate"],
        held["Priority"],
        held["Status"],
        held[KEY_FIELD],
    ) == (account, owner, "Call about k1", "Account k1 became hot.", "2026-12-01", "Low", "Not Started", "k1")
    assert tasks.find_tasks(["k1", "K1", "k2"]) == {"k1": result.external_id}


def test_keys_are_case_sensitive(tasks: SalesforceTaskDestination, org: SalesforceEmulator) -> None:
    account = org.add_record("Account", {"Name": "Acme"})
    lower, upper = tasks.create_tasks([_task("key", account), _task("KEY", account)])
    assert lower.status is upper.status is RecordStatus.CONFIRMED and lower.external_id != upper.external_id
    assert tasks.find_tasks(["key", "KEY", "Key"]) == {"key": lower.external_id, "KEY": upper.external_id}


@pytest.mark.parametrize("count", [1, 200, 201, 450])
def test_batches_of_at_most_200_per_insert_call(
    tasks: SalesforceTaskDestination, org: SalesforceEmulator, count: int
) -> None:
    account = org.add_record("Account", {"Name": "Acme"})
    results = tasks.create_tasks([_task(f"k{i}", account) for i in range(count)])
    assert [r.status for r in results] == [RecordStatus.CONFIRMED] * count
    assert _inserts(org) == math.ceil(count / 200)
    assert len(org.tasks()) == count and len({r.external_id for r in results}) == count


def test_a_resent_batch_after_a_lost_reply_creates_nothing_new(
    tasks: SalesforceTaskDestination, org: SalesforceEmulator
) -> None:
    account = org.add_record("Account", {"Name": "Acme"})
    batch = [_task(f"k{i}", account) for i in range(5)]
    org.set_faults([FaultRule(route=INSERT_ROUTE, lost_response_rate=1.0)])
    with pytest.raises(TransientError):
        tasks.create_tasks(batch)
    first = {t[KEY_FIELD]: t["Id"] for t in org.tasks()}
    assert len(first) == 5  # the insert happened; only its reply was lost
    org.set_faults([])
    again = tasks.create_tasks(batch)
    assert all(r.status is RecordStatus.CONFIRMED and r.already_existed for r in again)
    assert [r.external_id for r in again] == [first[t.dedupe_key] for t in batch]
    assert len(org.tasks()) == 5 and _inserts(org) == 1


def test_a_task_for_a_missing_account_is_rejected_while_the_rest_land(
    tasks: SalesforceTaskDestination, org: SalesforceEmulator
) -> None:
    a, b = org.add_record("Account", {"Name": "A"}), org.add_record("Account", {"Name": "B"})
    ghost = "001" + "9" * 15
    results = tasks.create_tasks([_task("a", a), _task("ghost", ghost), _task("b", b)])
    assert [r.status for r in results] == [RecordStatus.CONFIRMED, RecordStatus.REJECTED, RecordStatus.CONFIRMED]
    assert results[1].code == "INVALID_CROSS_REFERENCE_KEY" and "WhatId" in str(results[1].message)
    assert sorted(t[KEY_FIELD] for t in org.tasks()) == ["a", "b"] and _inserts(org) == 1


def test_a_bad_owner_is_rejected_with_salesforces_reason(
    tasks: SalesforceTaskDestination, org: SalesforceEmulator
) -> None:
    account = org.add_record("Account", {"Name": "A"})
    good, bad = tasks.create_tasks(
        [_task("good", account, sample_reps()[0].salesforce_user_id), _task("bad", account, "005" + "8" * 15)]
    )
    assert good.status is RecordStatus.CONFIRMED
    assert bad.status is RecordStatus.REJECTED and bad.code == "INVALID_CROSS_REFERENCE_KEY"
    assert "OwnerId" in str(bad.message)


def test_a_task_another_sender_created_meanwhile_is_answered_as_existing(
    tasks: SalesforceTaskDestination, org: SalesforceEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    account = org.add_record("Account", {"Name": "A"})
    theirs = org.add_record("Task", {"Subject": "theirs", "WhatId": account, KEY_FIELD: "k1"})
    # find_tasks misses it (as if the other sender's insert came just after our query): the insert is refused
    # with DUPLICATE_VALUE and the task is answered as the one that exists.
    real_find = tasks.find_tasks
    calls: list[list[str]] = []

    def late_find(keys: list[str]) -> dict[str, str]:
        calls.append(list(keys))
        return {} if len(calls) == 1 else dict(real_find(keys))

    monkeypatch.setattr(tasks, "find_tasks", late_find)
    result, other = tasks.create_tasks([_task("k1", account), _task("k2", account)])
    assert result.status is RecordStatus.CONFIRMED and result.already_existed and result.external_id == theirs
    assert other.status is RecordStatus.CONFIRMED and not other.already_existed
    assert len(org.tasks()) == 2


@pytest.fixture
def org_without_key_field(tmp_path: Path) -> Iterator[SalesforceSettings]:
    """An org whose admin has not created the key field yet."""
    tls = make_tls_files(tmp_path)
    emulator = SalesforceEmulator(custom_fields={"Account": DEFAULT_CUSTOM_FIELDS["Account"]})
    server = EmulatorServer(emulator, certfile=tls.cert_chain_pem, keyfile=tls.key_pem).start()
    creds = emulator.credentials
    yield SalesforceSettings(
        type="salesforce",
        instance_url=server.url,
        client_id=creds.client_id,
        client_secret=creds.client_secret,
        ca_bundle=str(tls.ca_pem),
    )
    server.stop()


def test_without_the_key_field_setup_says_what_to_create_and_finding_stops(
    org_without_key_field: SalesforceSettings, tasks: SalesforceTaskDestination
) -> None:
    assert tasks.setup() == []  # the sandbox org has the field
    bare = open_task_destination(org_without_key_field)
    try:
        assert bare.setup() == [SETUP_STEP]
        with pytest.raises(DestinationStoppedError, match=KEY_FIELD):
            bare.find_tasks(["k1"])
    finally:
        bare.close()


def test_a_task_without_a_dedupe_key_is_rejected_unsent(
    tasks: SalesforceTaskDestination, org: SalesforceEmulator
) -> None:
    account = org.add_record("Account", {"Name": "A"})
    keyless, keyed = tasks.create_tasks([_task("", account), _task("k", account)])
    assert keyless.status is RecordStatus.REJECTED and keyless.code == "EMPTY_DEDUPE_KEY"
    assert keyed.status is RecordStatus.CONFIRMED and len(org.tasks()) == 1
