"""The emulator's index of unique property values follows every write: updates move it, archiving frees the value."""

from __future__ import annotations

from connectors.hubspot.sandbox.properties import seed_definitions
from connectors.hubspot.sandbox.store import ObjectStore


def _store() -> ObjectStore:
    return ObjectStore(seed_definitions([]), [])


def test_lookups_by_a_unique_property_follow_updates_clears_and_archiving() -> None:
    store = _store()
    first = store.create("companies", {"name": "A", "product_account_id": "acc_1"})
    assert store.find_by("companies", "product_account_id", "acc_1") is first
    store.update(first, {"product_account_id": "acc_2"})
    assert store.find_by("companies", "product_account_id", "acc_1") is None
    assert store.find_by("companies", "product_account_id", "acc_2") is first
    assert store.unique_conflict("companies", {"product_account_id": "acc_2"}) is not None
    store.update(first, {"product_account_id": ""})
    assert store.find_by("companies", "product_account_id", "acc_2") is None
    store.update(first, {"product_account_id": "acc_3"})
    assert store.archive("companies", first.id)
    assert store.find_by("companies", "product_account_id", "acc_3") is None
    second = store.create("companies", {"name": "B", "product_account_id": "acc_3"})
    assert store.find_by("companies", "product_account_id", "acc_3") is second


def test_contacts_are_found_by_email_whatever_its_case() -> None:
    store = _store()
    contact = store.create("contacts", {"email": "Dana.Kim@YourCo.com"})
    assert store.find_by("contacts", "email", "dana.kim@yourco.com") is contact
    store.update(contact, {"email": "dana@yourco.com"})
    assert store.find_by("contacts", "email", "DANA.KIM@yourco.com") is None
    assert store.find_by("contacts", "email", "Dana@YourCo.com") is contact


def test_a_property_that_becomes_unique_later_indexes_the_records_it_already_has() -> None:
    store = _store()
    record = store.create("companies", {"name": "A", "domain": "a.io"})
    definition = store.definitions["companies"]["domain"]
    store.definitions["companies"]["domain"] = definition.__class__(**{**definition.__dict__, "has_unique_value": True})
    assert store.find_by("companies", "domain", "a.io") is record
