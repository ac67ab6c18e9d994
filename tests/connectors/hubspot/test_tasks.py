"""HubSpot tasks through hubspot-api-client against the emulator: owners, associations, dedupe after a lost reply.

The emulator is as strict as HubSpot where duplicates are at stake: a task property cannot hold unique values, and
the re-send tests run with search lagging writes, so a task can only be found through its company's associations.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import date

import pytest

from connectors.hubspot.sandbox import HubSpotEmulator, HubSpotLimits
from connectors.hubspot.tasks import KEY_DEFINITION, KEY_PROPERTY, HubSpotTaskDestination, open_task_destination
from connectors.sandbox import Sandbox
from connectors.sandbox.core.faults import FaultRule
from connectors.sandbox.people import sample_reps
from syncer.contract.destination import RecordStatus
from syncer.contract.effects import TaskRequest
from syncer.contract.errors import BatchRejectedError, DestinationStoppedError, TransientError
from tests.connectors.hubspot.conftest import settings_for

CREATE_ROUTE = "POST /crm/v3/objects/tasks/batch/create"


@pytest.fixture
def tasks(sandbox: Sandbox, hubspot: HubSpotEmulator) -> Iterator[HubSpotTaskDestination]:
    destination = open_task_destination(settings_for(sandbox))
    assert destination.setup() == [
        f"created task property {KEY_PROPERTY} (string/text): tasks are found through "
        "their company's associations, which see every write at once"
    ]
    yield destination
    destination.close()


@pytest.fixture
def lagging(hubspot: HubSpotEmulator) -> Iterator[HubSpotEmulator]:
    """Search misses whatever was written in the last minute, as HubSpot's index does for a few seconds."""
    hubspot.set_limits(HubSpotLimits(search_lag_seconds=60))
    yield hubspot
    hubspot.set_limits(HubSpotLimits())


def _creates(emulator: HubSpotEmulator) -> int:
    return sum(1 for e in emulator.log.entries() if f"{e.method} {e.path}" == CREATE_ROUTE)


def _companies(emulator: HubSpotEmulator, count: int) -> list[str]:
    return [emulator.add_record("companies", {"name": f"Company {i}"}) for i in range(count)]


def _task(key: str, company: str, owner: str | None = None, priority: str = "HIGH") -> TaskRequest:
    return TaskRequest(
        key, company, owner, f"Call about {key}", f"Account {key} became hot.", date(2026, 12, 1), priority
    )


def test_owners_resolve_by_email_whatever_the_case_and_spaces(tasks: HubSpotTaskDestination) -> None:
    rep = sample_reps()[3]
    asked = [f"  {rep.email.upper()} ", "nobody@example.com", rep.email]
    found = tasks.owner_ids(asked)
    assert found == {asked[0]: rep.hubspot_owner_id, rep.email: rep.hubspot_owner_id}
    calls = tasks.calls
    assert tasks.owner_ids([rep.email]) == {rep.email: rep.hubspot_owner_id}
    assert tasks.calls == calls  # owners are read once per instance


def test_tasks_land_with_owner_and_company_association(tasks: HubSpotTaskDestination, hubspot: HubSpotEmulator) -> None:
    (company,) = _companies(hubspot, 1)
    owner = sample_reps()[0].hubspot_owner_id
    (result,) = tasks.create_tasks([_task("k1", company, owner)])
    assert result.status is RecordStatus.CONFIRMED and not result.already_existed and result.external_id
    held = hubspot.record("tasks", result.external_id)
    assert held is not None
    props = held["properties"]
    assert (
        props["hubspot_owner_id"],
        props["hs_task_subject"],
        props["hs_task_status"],
        props["hs_task_priority"],
        props[KEY_PROPERTY],
    ) == (owner, "Call about k1", "NOT_STARTED", "HIGH", "k1")
    assert props["hs_task_body"] == "Account k1 became hot." and props["hs_timestamp"].startswith("2026-12-01")
    assert hubspot.associations_of("tasks", result.external_id, "companies") == [(company, [192])]
    assert tasks.find_tasks(["k1", "k2"]) == {"k1": result.external_id}


@pytest.mark.parametrize("count", [1, 100, 101, 250])
def test_batches_of_at_most_100_per_create_call(
    tasks: HubSpotTaskDestination, hubspot: HubSpotEmulator, count: int
) -> None:
    (company,) = _companies(hubspot, 1)
    results = tasks.create_tasks([_task(f"k{i}", company) for i in range(count)])
    assert [r.status for r in results] == [RecordStatus.CONFIRMED] * count
    assert _creates(hubspot) == math.ceil(count / 100)
    assert len(hubspot.tasks()) == count
    assert len({r.external_id for r in results}) == count


def test_a_resent_batch_after_a_lost_reply_creates_nothing_new(
    tasks: HubSpotTaskDestination, lagging: HubSpotEmulator
) -> None:
    hubspot = lagging
    company, other = _companies(hubspot, 2)
    batch = [_task(f"k{i}", company if i % 2 else other) for i in range(5)]
    hubspot.set_faults([FaultRule(route=CREATE_ROUTE, lost_response_rate=1.0)])
    with pytest.raises(TransientError):
        tasks.create_tasks(batch)
    first = {t["properties"][KEY_PROPERTY]: t["id"] for t in hubspot.tasks()}
    assert len(first) == 5  # the create happened; only its reply was lost
    hubspot.set_faults([])
    again = tasks.create_tasks(batch)
    assert all(r.status is RecordStatus.CONFIRMED and r.already_existed for r in again)
    assert [r.external_id for r in again] == [first[t.dedupe_key] for t in batch]
    assert len(hubspot.tasks()) == 5 and _creates(hubspot) == 1
    assert hubspot.log.count("/search") == 0  # found through the companies' associations, not the lagging index
    assert tasks.find_tasks([t.dedupe_key for t in batch]) == {}  # search alone misses them all, as HubSpot would


def test_a_key_given_twice_in_one_batch_is_created_once(
    tasks: HubSpotTaskDestination, hubspot: HubSpotEmulator
) -> None:
    (company,) = _companies(hubspot, 1)
    first, second = tasks.create_tasks([_task("same", company), _task("same", company)])
    assert first == second and first.external_id and len(hubspot.tasks()) == 1


def test_a_task_for_a_missing_company_is_rejected_while_the_rest_land(
    tasks: HubSpotTaskDestination, hubspot: HubSpotEmulator
) -> None:
    a, b = _companies(hubspot, 2)
    results = tasks.create_tasks([_task("a", a), _task("ghost", "99999999999"), _task("b", b)])
    assert [r.status for r in results] == [RecordStatus.CONFIRMED, RecordStatus.REJECTED, RecordStatus.CONFIRMED]
    assert results[1].code == "OBJECT_NOT_FOUND" and "99999999999" in str(results[1].message)
    assert sorted(t["properties"][KEY_PROPERTY] for t in hubspot.tasks()) == ["a", "b"]


def test_a_bad_owner_is_rejected_with_hubspots_reason(tasks: HubSpotTaskDestination, hubspot: HubSpotEmulator) -> None:
    (company,) = _companies(hubspot, 1)
    good, bad = tasks.create_tasks(
        [_task("good", company, sample_reps()[1].hubspot_owner_id), _task("bad", company, "123")]
    )
    assert good.status is RecordStatus.CONFIRMED
    assert bad.status is RecordStatus.REJECTED and bad.code == "INVALID_OPTION"
    assert "hubspot_owner_id" in str(bad.message)
    assert [t["properties"][KEY_PROPERTY] for t in hubspot.tasks()] == ["good"]


def test_without_setup_finding_stops_with_a_clear_reason(sandbox: Sandbox, hubspot: HubSpotEmulator) -> None:
    destination = open_task_destination(settings_for(sandbox))
    try:
        with pytest.raises(DestinationStoppedError, match="syncer setup"):
            destination.find_tasks(["k1"])
        assert destination.setup() != [] and destination.setup() == []  # idempotent
        assert destination.find_tasks(["k1"]) == {}
    finally:
        destination.close()


def test_hubspot_refuses_a_unique_task_property(sandbox: Sandbox, hubspot: HubSpotEmulator) -> None:
    destination = open_task_destination(settings_for(sandbox))
    try:
        with pytest.raises(BatchRejectedError, match="unique values are not supported on tasks"):
            destination._client.create_property({**KEY_DEFINITION, "hasUniqueValue": True})
        assert KEY_PROPERTY not in hubspot.state()["custom_properties"]["tasks"]
    finally:
        destination.close()


def test_a_portal_with_a_unique_key_property_reads_by_it(sandbox: Sandbox, hubspot: HubSpotEmulator) -> None:
    hubspot.set_limits(HubSpotLimits(unique_task_properties=True))  # a portal that took one anyway
    destination = open_task_destination(settings_for(sandbox))
    try:
        destination._client.create_property({**KEY_DEFINITION, "hasUniqueValue": True})
        assert destination.setup() == []
        (company,) = _companies(hubspot, 1)
        (created,) = destination.create_tasks([_task("k1", company)])
        hubspot.log.clear()
        assert destination.find_tasks(["k1", "k2"]) == {"k1": created.external_id}
        assert hubspot.log.count("/search") == 0 and hubspot.log.count("/batch/read") == 1
    finally:
        destination.close()
        hubspot.set_limits(HubSpotLimits())


def test_a_task_without_a_dedupe_key_is_rejected_unsent(
    tasks: HubSpotTaskDestination, hubspot: HubSpotEmulator
) -> None:
    (company,) = _companies(hubspot, 1)
    keyless, keyed = tasks.create_tasks([_task("", company), _task("k", company)])
    assert keyless.status is RecordStatus.REJECTED and keyless.code == "EMPTY_DEDUPE_KEY"
    assert keyed.status is RecordStatus.CONFIRMED and len(hubspot.tasks()) == 1


def test_a_task_another_sender_created_meanwhile_is_answered_as_existing(
    sandbox: Sandbox, hubspot: HubSpotEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    hubspot.set_limits(HubSpotLimits(unique_task_properties=True))  # only a unique key makes HubSpot answer 409
    tasks = open_task_destination(settings_for(sandbox))
    tasks._client.create_property({**KEY_DEFINITION, "hasUniqueValue": True})
    (company,) = _companies(hubspot, 1)
    other_sender = open_task_destination(settings_for(sandbox))
    try:
        theirs = other_sender.create_tasks([_task("k1", company)])[0].external_id
    finally:
        other_sender.close()
    # The first find misses it (the other sender's create came just after): HubSpot refuses the batch with a 409
    # for the repeated unique key, and the connector takes the existing task and creates the rest.
    real_find = tasks.find_tasks
    finds: list[list[str]] = []

    def late_find(keys: list[str], companies: dict[str, str] | None = None) -> dict[str, str]:
        finds.append(list(keys))
        return {} if len(finds) == 1 else dict(real_find(keys, companies))

    monkeypatch.setattr(tasks, "find_tasks", late_find)
    try:
        existing, new = tasks.create_tasks([_task("k1", company), _task("k2", company)])
    finally:
        tasks.close()
        hubspot.set_limits(HubSpotLimits())
    assert existing.status is RecordStatus.CONFIRMED and existing.already_existed and existing.external_id == theirs
    assert new.status is RecordStatus.CONFIRMED and not new.already_existed
    # Three creates: the other sender's, ours refused with a 409, ours again without k1.
    assert len(hubspot.tasks()) == 2 and _creates(hubspot) == 3
