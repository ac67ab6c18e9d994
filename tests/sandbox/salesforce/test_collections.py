"""sObject Collections through simple-salesforce's ``restful`` (create, update, delete, upsert by external id)."""

from __future__ import annotations

from typing import Any

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest, SalesforceResourceNotFound

from tests.sandbox.salesforce.conftest import SF, Org, content

UPSERT = "composite/sobjects/Account/Product_Account_Id__c"


def _account(key: str, **fields: Any) -> dict[str, Any]:
    return {"attributes": {"type": "Account"}, "Product_Account_Id__c": key, **fields}


def test_upsert_results_are_in_input_order_with_created_flags(sf: SF, org: Org) -> None:
    org.emulator.seed_accounts([{"Name": "Existing", "Product_Account_Id__c": "b"}])
    records = [_account("c", Name="C"), _account("b", PQL_Score__c=40), _account("a", Name="A")]
    results = sf.restful(UPSERT, method="PATCH", json={"allOrNone": False, "records": records})
    assert [r["created"] for r in results] == [True, False, True]
    assert all(r["success"] and r["errors"] == [] for r in results)
    by_key = {rec["Product_Account_Id__c"]: rec for rec in org.emulator.records("Account")}
    assert [r["id"] for r in results] == [by_key["c"]["Id"], by_key["b"]["Id"], by_key["a"]["Id"]]
    assert by_key["b"]["PQL_Score__c"] == 40.0 and by_key["b"]["Name"] == "Existing"


def test_201_records_are_rejected_before_anything_is_written(sf: SF, org: Org) -> None:
    records = [_account(f"k{i}", Name=f"N{i}") for i in range(201)]
    with pytest.raises(SalesforceMalformedRequest) as raised:
        sf.restful(UPSERT, method="PATCH", json={"records": records})
    assert content(raised)[0]["errorCode"] == "EXCEEDED_ID_LIMIT"
    assert org.emulator.records("Account") == []
    assert len(sf.restful(UPSERT, method="PATCH", json={"records": records[:200]})) == 200


def test_partial_success_without_all_or_none(sf: SF, org: Org) -> None:
    records = [_account("a", Name="A"), _account("b", Name="B" * 300), _account("c", Name="C", Bogus__c=1)]
    results = sf.restful(UPSERT, method="PATCH", json={"records": records})
    assert results[0]["success"] is True
    assert results[1] == {
        "success": False,
        "errors": [
            {
                "statusCode": "STRING_TOO_LONG",
                "message": f"Account Name: data value too large: {'B' * 300} (max length=255)",
                "fields": ["Name"],
            }
        ],
        "created": False,
    }
    assert results[2]["errors"][0]["statusCode"] == "INVALID_FIELD"
    assert [rec["Product_Account_Id__c"] for rec in org.emulator.records("Account")] == ["a"]


def test_all_or_none_rolls_back_every_record(sf: SF, org: Org) -> None:
    org.emulator.seed_accounts([{"Name": "Before", "Product_Account_Id__c": "b"}])
    records = [_account("a", Name="A"), _account("b", Name="After"), _account("c", PQL_Tier__c="scorching")]
    results = sf.restful(UPSERT, method="PATCH", json={"allOrNone": True, "records": records})
    codes = [r["errors"][0]["statusCode"] for r in results]
    assert codes == [
        "ALL_OR_NONE_OPERATION_ROLLED_BACK",
        "ALL_OR_NONE_OPERATION_ROLLED_BACK",
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
    ]
    assert all(r["success"] is False for r in results)
    assert [(rec["Name"], rec["Product_Account_Id__c"]) for rec in org.emulator.records("Account")] == [("Before", "b")]


def test_record_level_shape_errors(sf: SF) -> None:
    records = [
        {"Product_Account_Id__c": "x", "Name": "No type"},
        _account("d", Name="D1"),
        _account("d", Name="D2"),
        {"attributes": {"type": "Account"}, "Name": "No key"},
    ]
    results = sf.restful(UPSERT, method="PATCH", json={"records": records})
    assert [r["errors"][0]["statusCode"] for r in results] == [
        "INVALID_TYPE",
        "DUPLICATE_EXTERNAL_ID",
        "DUPLICATE_EXTERNAL_ID",
        "MISSING_ARGUMENT",
    ]


def test_wrong_value_type_fails_the_whole_request(sf: SF, org: Org) -> None:
    with pytest.raises(SalesforceMalformedRequest) as raised:
        sf.restful(
            UPSERT,
            method="PATCH",
            json={"records": [_account("a", Name="A"), _account("b", Name="B", PQL_Score__c="high")]},
        )
    assert content(raised)[0]["errorCode"] == "JSON_PARSER_ERROR"
    assert org.emulator.records("Account") == []


def test_upsert_needs_an_external_id_field_and_api_46(sf: SF, org: Org) -> None:
    with pytest.raises(SalesforceResourceNotFound):
        sf.restful("composite/sobjects/Account/Name", method="PATCH", json={"records": []})
    with pytest.raises(SalesforceResourceNotFound):
        org.client("45.0").restful(UPSERT, method="PATCH", json={"records": [_account("a", Name="A")]})


def test_collections_create_update_and_delete(sf: SF, org: Org) -> None:
    created = sf.restful(
        "composite/sobjects",
        method="POST",
        json={
            "records": [
                {"attributes": {"type": "Account"}, "Name": "A"},
                {"attributes": {"type": "Lead"}, "LastName": "Lee", "Company": "Co"},
                {"attributes": {"type": "Lead"}, "LastName": "NoCompany"},
            ]
        },
    )
    assert [r["success"] for r in created] == [True, True, False]
    assert created[0]["id"].startswith("001") and created[1]["id"].startswith("00Q")
    assert "created" not in created[0]
    updated = sf.restful(
        "composite/sobjects",
        method="PATCH",
        json={
            "records": [
                {"attributes": {"type": "Account"}, "Id": created[0]["id"], "PQL_Tier__c": "warm"},
                {"attributes": {"type": "Account"}, "PQL_Tier__c": "warm"},
            ]
        },
    )
    assert updated[0] == {"id": created[0]["id"], "success": True, "errors": []}
    assert updated[1]["errors"][0]["statusCode"] == "MISSING_ARGUMENT"
    assert org.emulator.get_record("Account", created[0]["id"])["PQL_Tier__c"] == "warm"  # type: ignore[index]
    deleted = sf.restful("composite/sobjects", method="DELETE", params={"ids": created[1]["id"]})
    assert deleted == [{"id": created[1]["id"], "success": True, "errors": []}]
    assert org.emulator.records("Lead") == []
