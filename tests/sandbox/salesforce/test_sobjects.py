"""REST sObject rows through simple-salesforce: describe, create, get, update, upsert, delete and validation."""

from __future__ import annotations

import pytest
from simple_salesforce.exceptions import (
    SalesforceMalformedRequest,
    SalesforceMoreThanOneRecord,
    SalesforceResourceNotFound,
)

from connectors.salesforce.sandbox.ids import checksum_suffix
from connectors.sandbox.people import sample_reps
from tests.sandbox.salesforce.conftest import SF, Org, content


def test_id_checksum_matches_salesforce_algorithm() -> None:
    # Salesforce's documented example: 15-character a0D30000001n7Pi is a0D30000001n7PiEAI in 18 characters.
    assert checksum_suffix("a0D30000001n7Pi") == "EAI"


def test_describe_reports_custom_fields(sf: SF) -> None:
    fields = {f["name"]: f for f in sf.Account.describe()["fields"]}
    assert fields["Product_Account_Id__c"]["externalId"] is True
    assert fields["Product_Account_Id__c"]["unique"] is True
    assert fields["Product_Account_Id__c"]["length"] == 64
    assert [p["value"] for p in fields["PQL_Tier__c"]["picklistValues"]] == ["hot", "warm", "cold"]
    assert fields["PQL_Score__c"]["type"] == "double"
    assert fields["Name"]["nillable"] is False
    assert sf.Account.describe()["keyPrefix"] == "001"


def test_seeded_users_are_the_sample_reps(sf: SF) -> None:
    rep = sample_reps()[5]
    user = sf.User.get(rep.salesforce_user_id)
    assert (user["Email"], user["Name"], user["TimeZoneSidKey"], user["IsActive"]) == (
        rep.email,
        rep.name,
        rep.tz,
        True,
    )


def test_create_get_update_delete(sf: SF, org: Org) -> None:
    created = sf.Account.create({"Name": "Acme", "PQL_Score__c": "87.5", "PQL_Since__c": "2026-11-01T10:00:00Z"})
    assert created["success"] is True and created["errors"] == []
    account_id = created["id"]
    assert len(account_id) == 18 and account_id.startswith("001")
    got = sf.Account.get(account_id, params={"fields": "Name,PQL_Score__c,PQL_Since__c"})
    assert list(got) == ["attributes", "Name", "PQL_Score__c", "PQL_Since__c"]
    assert got["PQL_Score__c"] == 87.5
    assert got["PQL_Since__c"] == "2026-11-01T10:00:00.000+0000"
    assert sf.Account.get(account_id[:15])["Id"] == account_id
    assert sf.Account.update(account_id, {"PQL_Tier__c": "hot"}) == 204
    assert org.emulator.get_record("Account", account_id)["PQL_Tier__c"] == "hot"  # type: ignore[index]
    assert sf.Account.delete(account_id) == 204
    with pytest.raises(SalesforceResourceNotFound):
        sf.Account.get(account_id)


def test_upsert_creates_then_updates(sf: SF, org: Org) -> None:
    assert sf.Account.upsert("Product_Account_Id__c/acct-1", {"Name": "Acme"}) == 201
    assert sf.Account.upsert("Product_Account_Id__c/ACCT-1", {"PQL_Score__c": 12}) == 200  # case-insensitive key
    old_api = org.client(version="45.0")
    assert old_api.Account.upsert("Product_Account_Id__c/acct-1", {"PQL_Score__c": 13}) == 204
    [record] = org.emulator.records("Account")
    assert (record["Product_Account_Id__c"], record["PQL_Score__c"]) == ("acct-1", 13.0)
    response = sf.Account.upsert("Product_Account_Id__c/acct-2", {"Name": "Beta"}, raw_response=True)
    assert response.json()["created"] is True


def test_upsert_with_several_matches_is_300_with_record_urls(sf: SF, org: Org) -> None:
    first = org.emulator.add_record("Account", {"Name": "A", "Legacy_Id__c": "L-1"})
    second = org.emulator.add_record("Account", {"Name": "B", "Legacy_Id__c": "L-1"})
    with pytest.raises(SalesforceMoreThanOneRecord) as raised:
        sf.Account.upsert("Legacy_Id__c/L-1", {"Name": "C"})
    assert raised.value.status == 300
    assert content(raised) == [
        f"/services/data/v59.0/sobjects/Account/{first}",
        f"/services/data/v59.0/sobjects/Account/{second}",
    ]
    assert [rec["Name"] for rec in org.emulator.records("Account")] == ["A", "B"]


def test_upsert_by_a_field_that_is_not_an_external_id_is_404(sf: SF) -> None:
    with pytest.raises(SalesforceResourceNotFound) as raised:
        sf.Account.upsert("Name/Acme", {"Phone": "1"})
    assert "Provided external ID field does not exist" in content(raised)[0]["message"]


@pytest.mark.parametrize(
    ("data", "code", "fields"),
    [
        ({"Name": "A", "Nope__c": 1}, "INVALID_FIELD", None),
        ({"Name": "A" * 256}, "STRING_TOO_LONG", ["Name"]),
        ({"PQL_Score__c": 3}, "REQUIRED_FIELD_MISSING", ["Name"]),
        ({"Name": "A", "PQL_Score__c": "very high"}, "JSON_PARSER_ERROR", None),
        ({"Name": "A", "PQL_Since__c": True}, "JSON_PARSER_ERROR", None),
        ({"Name": "A", "PQL_Tier__c": "lukewarm"}, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", ["PQL_Tier__c"]),
        ({"Name": "A", "CreatedDate": "2020-01-01"}, "INVALID_FIELD_FOR_INSERT_UPDATE", ["CreatedDate"]),
        ({"Name": "A", "OwnerId": "not-an-id"}, "MALFORMED_ID", ["OwnerId"]),
    ],
)
def test_create_rejects_what_salesforce_rejects(
    sf: SF, org: Org, data: dict[str, object], code: str, fields: list[str] | None
) -> None:
    with pytest.raises(SalesforceMalformedRequest) as raised:
        sf.Account.create(data)
    [error] = content(raised)
    assert error["errorCode"] == code
    assert error.get("fields") == fields
    assert org.emulator.records("Account") == []


def test_messages_match_salesforce_wording(sf: SF) -> None:
    with pytest.raises(SalesforceMalformedRequest) as unknown:
        sf.Account.create({"Name": "A", "Nope__c": 1})
    assert content(unknown)[0]["message"] == "No such column 'Nope__c' on sobject of type Account"
    with pytest.raises(SalesforceMalformedRequest) as long_name:
        sf.Lead.create({"LastName": "L" * 81, "Company": "C"})
    assert content(long_name)[0]["message"].endswith("(max length=80)")
    with pytest.raises(SalesforceMalformedRequest) as missing:
        sf.Lead.create({"FirstName": "Ann"})
    assert content(missing)[0]["message"] == "Required fields are missing: [LastName, Company]"


def test_duplicate_unique_external_id_is_duplicate_value(sf: SF) -> None:
    first = sf.Account.create({"Name": "A", "Product_Account_Id__c": "dup"})["id"]
    with pytest.raises(SalesforceMalformedRequest) as raised:
        sf.Account.create({"Name": "B", "Product_Account_Id__c": "DUP"})
    assert content(raised)[0]["errorCode"] == "DUPLICATE_VALUE"
    assert first in content(raised)[0]["message"]


def test_task_references_must_exist_and_owner_be_active(sf: SF, org: Org) -> None:
    rep = sample_reps()[3]
    account = sf.Account.create({"Name": "Acme"})["id"]
    task = sf.Task.create(
        {
            "OwnerId": rep.salesforce_user_id,
            "WhatId": account,
            "Subject": "Call Acme",
            "ActivityDate": "2026-11-30",
            "Priority": "High",
        }
    )
    stored = org.emulator.get_record("Task", task["id"])
    assert stored is not None and stored["Status"] == "Not Started" and stored["ActivityDate"] == "2026-11-30"
    with pytest.raises(SalesforceMalformedRequest) as missing_owner:
        sf.Task.create({"OwnerId": "005000000000000999", "Subject": "x"})
    assert content(missing_owner)[0]["errorCode"] == "INVALID_CROSS_REFERENCE_KEY"
    with pytest.raises(SalesforceMalformedRequest) as wrong_what:
        sf.Task.create({"WhatId": rep.salesforce_user_id, "Subject": "x"})
    assert content(wrong_what)[0]["errorCode"] == "INVALID_CROSS_REFERENCE_KEY"
    with org.emulator.lock:
        org.emulator.store.get("User", rep.salesforce_user_id)["IsActive"] = False  # type: ignore[index]
    with pytest.raises(SalesforceMalformedRequest) as inactive:
        sf.Task.create({"OwnerId": rep.salesforce_user_id, "Subject": "x"})
    assert content(inactive)[0]["errorCode"] == "INACTIVE_OWNER_OR_USER"


def test_unknown_object_and_bad_ids_are_404(sf: SF) -> None:
    with pytest.raises(SalesforceResourceNotFound):
        sf.Opportunityy.describe()
    with pytest.raises(SalesforceResourceNotFound) as malformed:
        sf.Account.get("bad-id")
    assert content(malformed)[0]["errorCode"] == "NOT_FOUND"
    with pytest.raises(SalesforceResourceNotFound):
        sf.Account.get("001000000000000AAA")


def test_update_of_required_field_to_null_is_rejected(sf: SF) -> None:
    account = sf.Account.create({"Name": "Acme"})["id"]
    with pytest.raises(SalesforceMalformedRequest) as raised:
        sf.Account.update(account, {"Name": None})
    assert content(raised)[0]["errorCode"] == "REQUIRED_FIELD_MISSING"
    assert sf.Account.get(account)["Name"] == "Acme"
