"""HubSpot writes through hubspot-api-client against the emulator: routing by match rule, per-record results."""

from __future__ import annotations

import math

import pytest
from pydantic import SecretStr

from connectors.hubspot.connector import open_destination
from connectors.hubspot.sandbox import HubSpotEmulator
from connectors.hubspot.settings import HubSpotSettings
from syncer.contract.destination import Operation, RecordResult, RecordStatus
from syncer.contract.enums import SyncMode
from syncer.contract.errors import BatchRejectedError
from tests.connectors.hubspot.conftest import Open, companies, record, target


def _batch_calls(emulator: HubSpotEmulator) -> int:
    return emulator.log.count("/batch/")


def test_upsert_by_unique_property_creates_then_updates_in_one_call_each(
    open_hubspot: Open, hubspot: HubSpotEmulator
) -> None:
    destination = open_hubspot()
    records = companies(3)
    first = destination.write(Operation.CREATE, records)
    assert [r.status for r in first.results] == [RecordStatus.CONFIRMED] * 3
    # The first write also reads the property definitions (once per destination) and counts that call.
    assert _batch_calls(hubspot) == 1 and first.calls == 2 and hubspot.log.count("/properties") == 1
    created = {r.record_id: hubspot.record("companies", str(r.record_id)) for r in first.results}
    assert all(found is not None for found in created.values())
    for rec, result in zip(records, first.results, strict=True):
        held = hubspot.record("companies", str(result.record_id))
        assert held is not None and held["properties"]["product_account_id"] == rec.key
        assert held["properties"]["pql_tier"] == rec.values["pql_tier"]
    before = hubspot.records("companies")

    second = destination.write(Operation.UPDATE, records)
    assert [r.record_id for r in second.results] == [r.record_id for r in first.results]
    assert _batch_calls(hubspot) == 2 and second.calls == 1 and hubspot.log.count("/properties") == 1
    after = hubspot.records("companies")
    assert len(after) == len(before)
    assert [a["properties"] | {"hs_lastmodifieddate": ""} for a in after] == [
        b["properties"] | {"hs_lastmodifieddate": ""} for b in before
    ]


def test_results_carry_rate_headers(open_hubspot: Open) -> None:
    result = open_hubspot().write(Operation.CREATE, companies(2))
    assert result.rate is not None and result.rate.remaining is not None and result.rate.interval_s == 10.0
    assert result.rate.daily_remaining is not None and result.rate.daily_limit is not None


def test_update_by_id_sends_only_the_given_fields(open_hubspot: Open, hubspot: HubSpotEmulator) -> None:
    record_id = hubspot.add_record("companies", {"name": "Acme", "domain": "acme.io", "city": "Lyon"})
    destination = open_hubspot(target(match="id", mode=SyncMode.UPDATE))
    result = destination.write(
        Operation.UPDATE, [record("k1", {"name": "Acme Inc", "pql_score": "42"}, match=record_id)]
    )
    assert result.results[0].status is RecordStatus.CONFIRMED and result.results[0].record_id == record_id
    held = hubspot.record("companies", record_id)
    assert held is not None
    assert (held["properties"]["name"], held["properties"]["pql_score"], held["properties"]["city"]) == (
        "Acme Inc",
        "42",
        "Lyon",
    )
    assert hubspot.log.count("/batch/update") == 1


def test_update_mode_rejects_a_record_without_an_id(open_hubspot: Open, hubspot: HubSpotEmulator) -> None:
    destination = open_hubspot(target(match="id", mode=SyncMode.UPDATE))
    result = destination.write(Operation.UPDATE, [record("k1", {"name": "Nobody"}, match="")])
    assert result.results[0].status is RecordStatus.REJECTED and result.results[0].code == "NO_RECORD_ID"
    assert _batch_calls(hubspot) == 0 and hubspot.records("companies") == []


def test_unknown_record_id_is_rejected_while_the_rest_confirm(open_hubspot: Open, hubspot: HubSpotEmulator) -> None:
    known = hubspot.add_record("companies", {"name": "Known"})
    destination = open_hubspot(target(match="id", mode=SyncMode.UPDATE))
    result = destination.write(
        Operation.UPDATE, [record("a", {"name": "A"}, match=known), record("b", {"name": "B"}, match="99999999999")]
    )
    assert [r.status for r in result.results] == [RecordStatus.CONFIRMED, RecordStatus.REJECTED]
    assert result.results[1].code == "OBJECT_NOT_FOUND"


def test_domain_matching_searches_once_and_names_ambiguous_candidates(
    open_hubspot: Open, hubspot: HubSpotEmulator
) -> None:
    single = hubspot.add_record("companies", {"name": "One", "domain": "one.io"})
    twins = [hubspot.add_record("companies", {"name": f"Twin {i}", "domain": "twin.io"}) for i in range(2)]
    destination = open_hubspot(target(match="domain"))
    result = destination.write(
        Operation.CREATE,
        [
            record("one", {"pql_score": "10"}, match="One.io"),
            record("twin", {"pql_score": "20"}, match="twin.io"),
            record("new", {"name": "New", "pql_score": "30"}, match="new.io"),
        ],
    )
    one, twin, new = result.results
    assert one.status is RecordStatus.CONFIRMED and one.record_id == single
    assert twin.status is RecordStatus.REJECTED and twin.code == "AMBIGUOUS_MATCH"
    assert twin.message is not None and all(t in twin.message for t in twins)
    assert new.status is RecordStatus.CONFIRMED and new.record_id not in (single, *twins)
    created = hubspot.record("companies", str(new.record_id))
    assert created is not None and created["properties"]["domain"] == "new.io"
    assert hubspot.log.count("/search") == 1
    assert hubspot.log.count("/batch/update") == 1 and hubspot.log.count("/batch/create") == 1
    assert result.calls == 4  # properties, search, update, create


def test_domain_matching_in_update_mode_never_creates(open_hubspot: Open, hubspot: HubSpotEmulator) -> None:
    destination = open_hubspot(target(match="domain", mode=SyncMode.UPDATE))
    result = destination.write(Operation.UPDATE, [record("x", {"pql_score": "1"}, match="absent.io")])
    assert result.results[0].status is RecordStatus.REJECTED and result.results[0].code == "NO_RECORD"
    assert "no record to update" in str(result.results[0].message)
    assert hubspot.records("companies") == []


def test_domain_resend_after_a_lost_reply_finds_the_created_record(
    open_hubspot: Open, hubspot: HubSpotEmulator
) -> None:
    destination = open_hubspot(target(match="domain"))
    batch = [record("n", {"name": "New"}, match="fresh.io")]
    first = destination.write(Operation.CREATE, batch)
    second = destination.write(Operation.CREATE, batch)
    assert first.results[0].record_id == second.results[0].record_id
    assert len(hubspot.records("companies")) == 1


def test_clear_empties_only_the_given_fields(open_hubspot: Open, hubspot: HubSpotEmulator) -> None:
    destination = open_hubspot(target(mode=SyncMode.MIRROR))
    created = destination.write(Operation.CREATE, companies(2)).results
    cleared = destination.write(
        Operation.CLEAR,
        [
            record("acct-0", {"pql_score": None, "pql_tier": None}),
            record("acct-1", {"pql_tier": None}, record_id=created[1].record_id, op=Operation.CLEAR),
        ],
    )
    assert [r.status for r in cleared.results] == [RecordStatus.CONFIRMED] * 2
    first = hubspot.record("companies", str(created[0].record_id))
    second = hubspot.record("companies", str(created[1].record_id))
    assert first is not None and second is not None
    assert "pql_score" not in first["properties"] and "pql_tier" not in first["properties"]
    assert first["properties"]["name"] == "Company 0"
    assert second["properties"]["pql_score"] == "1" and "pql_tier" not in second["properties"]
    assert hubspot.log.count("/batch/upsert") == 1  # the create; clears never upsert
    assert len(hubspot.records("companies")) == 2


def test_clear_of_an_absent_unique_value_creates_nothing(open_hubspot: Open, hubspot: HubSpotEmulator) -> None:
    result = open_hubspot(target(mode=SyncMode.MIRROR)).write(Operation.CLEAR, [record("gone", {"pql_score": None})])
    assert result.results[0].status is RecordStatus.REJECTED and result.results[0].code == "OBJECT_NOT_FOUND"
    assert hubspot.records("companies") == []


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("no_such_property", "x", "PROPERTY_DOESNT_EXIST"),
        ("pql_tier", "scalding", "INVALID_OPTION"),
        ("pql_score", "lots", "INVALID_LONG"),
    ],
)
def test_a_bad_value_rejects_its_record_only(
    open_hubspot: Open, hubspot: HubSpotEmulator, field: str, value: str, code: str
) -> None:
    records = companies(3)
    records[1] = record("acct-bad", {"name": "Bad", field: value})
    result = open_hubspot().write(Operation.CREATE, records)
    assert [r.status for r in result.results] == [RecordStatus.CONFIRMED, RecordStatus.REJECTED, RecordStatus.CONFIRMED]
    assert result.results[1].code == code and field in str(result.results[1].message)
    assert hubspot.find("companies", "product_account_id", "acct-bad") is None
    assert _batch_calls(hubspot) == 1


def test_a_duplicate_unique_value_splits_down_to_the_record(open_hubspot: Open, hubspot: HubSpotEmulator) -> None:
    hubspot.add_record("companies", {"name": "Taken", "domain": "taken.io", "product_account_id": "acct-9"})
    destination = open_hubspot(target(match="domain"))
    batch = [record("a", {"name": "A"}, match="a.io"), record("b", {"product_account_id": "acct-9"}, match="b.io")]
    with pytest.raises(BatchRejectedError) as caught:
        destination.write(Operation.CREATE, batch)
    assert caught.value.code == "CONFLICT"
    # What the executor does next: the halves, down to single records.
    alone = [destination.write(Operation.CREATE, [one]).results[0] for one in batch]
    assert alone[0].status is RecordStatus.CONFIRMED
    assert alone[1].status is RecordStatus.REJECTED and alone[1].code == "CONFLICT"
    assert alone[1].message is not None and "already exists" in alone[1].message


def test_two_records_naming_one_hubspot_record_reject_the_second(open_hubspot: Open, hubspot: HubSpotEmulator) -> None:
    hubspot.add_record("companies", {"name": "Shared", "domain": "shared.io"})
    result = open_hubspot(target(match="domain")).write(
        Operation.UPDATE,
        [record("a", {"pql_score": "1"}, match="shared.io"), record("b", {"pql_score": "2"}, match="SHARED.io")],
    )
    assert [r.status for r in result.results] == [RecordStatus.CONFIRMED, RecordStatus.REJECTED]
    assert result.results[1].code == "DUPLICATE_MATCH"


@pytest.mark.parametrize("count", [1, 100, 250])
def test_one_batch_call_per_hundred_records(open_hubspot: Open, hubspot: HubSpotEmulator, count: int) -> None:
    destination = open_hubspot()
    size = destination.capabilities.max_batch[Operation.CREATE]
    records = companies(count)
    results: list[RecordResult] = []
    for start in range(0, count, size):
        results.extend(destination.write(Operation.CREATE, records[start : start + size]).results)
    assert _batch_calls(hubspot) == math.ceil(count / 100)
    assert len(results) == count and all(r.status is RecordStatus.CONFIRMED for r in results)
    assert len(hubspot.records("companies")) == count


def test_contacts_upsert_by_email(open_hubspot: Open, hubspot: HubSpotEmulator) -> None:
    destination = open_hubspot(target("contacts", match="email", fields={}))
    result = destination.write(Operation.CREATE, [record("ana@acme.io", {"firstname": "Ana"})])
    assert result.results[0].status is RecordStatus.CONFIRMED
    assert hubspot.log.count("/batch/upsert") == 1 and hubspot.log.count("/search") == 0
    found = hubspot.find("contacts", "email", "ana@acme.io")
    assert found is not None and found["id"] == result.results[0].record_id


def test_an_unknown_object_is_a_one_line_error() -> None:
    settings = HubSpotSettings(type="hubspot", access_token=SecretStr("t"))
    with pytest.raises(ValueError, match="must be one of companies, contacts, deals"):
        open_destination(settings, target("tickets"))
