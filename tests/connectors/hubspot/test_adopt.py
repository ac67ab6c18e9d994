"""Adoption by domain and owners through hubspot-api-client against the emulator.

A create carrying an adopt value is written to the one company that holds that domain and no match value (adopted:
the match value is written too), rejected naming the candidates when several do, and upserted as usual when none
does or when a company already holds its match value. A departed (archived) owner is no owner.
"""

from __future__ import annotations

from connectors.hubspot.sandbox import HubSpotEmulator
from connectors.hubspot.tasks import open_task_destination
from connectors.sandbox import Sandbox
from connectors.sandbox.people import departed_rep, sample_reps
from syncer.contract.destination import Operation, RecordResult, RecordStatus, Target, WriteRecord
from syncer.contract.enums import FieldType, SyncMode
from tests.connectors.hubspot.conftest import Open, settings_for

GONE = departed_rep()
DANA = sample_reps()[0]
KINDS = ("adopt", "twin", "held", "other", "plain")


def _create(key: str, adopt: str | None, **values: str) -> WriteRecord:
    return WriteRecord(key, Operation.CREATE, None, key, values, adopt=adopt)


def test_a_create_adopts_the_one_company_with_its_domain_and_no_match_value(
    hubspot: HubSpotEmulator, open_hubspot: Open
) -> None:
    adoptable = hubspot.add_record("companies", {"name": "Adopt Me", "domain": "adopt.example"})
    twins = [hubspot.add_record("companies", {"name": f"Twin {i}", "domain": "twin.example"}) for i in (1, 2)]
    destination = open_hubspot(
        Target("companies", SyncMode.UPSERT, "product_account_id", {"name": FieldType.STRING}, adopt_field="domain")
    )
    destination.setup()  # the unique product_account_id property, where the portal lacks it
    held = hubspot.add_record("companies", {"name": "Held", "domain": "held.example", "product_account_id": "h1"})
    other = hubspot.add_record(
        "companies", {"name": "Other's", "domain": "other.example", "product_account_id": "someone-else"}
    )
    batch = [
        _create("a1", "ADOPT.example", name="A1"),
        _create("a2", "twin.example", name="A2"),
        _create("h1", "held.example", name="H1"),
        _create("o1", "other.example", name="O1"),
        _create("p1", None, name="P1"),
    ]
    results = dict(zip(KINDS, destination.write(Operation.CREATE, batch).results, strict=True))
    assert results["adopt"] == RecordResult.confirmed(adoptable, adopted=True)
    adopted = hubspot.record("companies", adoptable)
    assert adopted is not None and adopted["properties"]["product_account_id"] == "a1"
    twin = results["twin"]
    assert (twin.status, twin.code) == (RecordStatus.REJECTED, "AMBIGUOUS_ADOPTION")
    assert all(i in str(twin.message) for i in twins)
    assert results["held"] == RecordResult.confirmed(held)  # already its company: matched, not adopted
    for key in ("other", "plain"):  # another key's company is never adopted; without a value there is no lookup
        assert results[key].status is RecordStatus.CONFIRMED and not results[key].adopted
        assert results[key].record_id not in {other, adoptable, *twins}


def test_owner_ids_know_only_active_owners(sandbox: Sandbox, hubspot: HubSpotEmulator) -> None:
    tasks = open_task_destination(settings_for(sandbox))
    try:
        assert tasks.owner_ids([GONE.email, DANA.email]) == {DANA.email: DANA.hubspot_owner_id}
    finally:
        tasks.close()
