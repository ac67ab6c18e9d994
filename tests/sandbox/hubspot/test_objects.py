"""Companies and contacts through hubspot-api-client: single and batch endpoints, validation, 207s and conflicts."""

from __future__ import annotations

import json

import pytest
from hubspot.crm.companies import (
    BatchInputSimplePublicObjectBatchInput,
    BatchInputSimplePublicObjectBatchInputForCreate,
    BatchInputSimplePublicObjectBatchInputUpsert,
    BatchInputSimplePublicObjectId,
    BatchReadInputSimplePublicObjectId,
    SimplePublicObjectBatchInput,
    SimplePublicObjectBatchInputForCreate,
    SimplePublicObjectBatchInputUpsert,
    SimplePublicObjectInput,
    SimplePublicObjectInputForCreate,
)
from hubspot.crm.companies.exceptions import ApiException, NotFoundException
from hubspot.crm.contacts import SimplePublicObjectInputForCreate as ContactCreate
from hubspot.crm.contacts.exceptions import ApiException as ContactApiException

from tests.sandbox.hubspot.conftest import Sandbox


def _upsert(account: str, **props: str) -> SimplePublicObjectBatchInputUpsert:
    return SimplePublicObjectBatchInputUpsert(id=account, id_property="product_account_id", properties=props)


def test_create_get_update_company(sandbox: Sandbox) -> None:
    api = sandbox.client().crm.companies.basic_api
    created = api.create(
        SimplePublicObjectInputForCreate(
            properties={"name": "Acme", "domain": "acme.io", "pql_score": "87", "pql_tier": "hot"}, associations=[]
        )
    )
    assert created.properties["hs_object_id"] == created.id
    assert created.properties["pql_score"] == "87" and "createdate" in created.properties
    assert created.archived is False
    fetched = api.get_by_id(created.id, properties=["name", "pql_tier", "pql_reason"])
    assert fetched.properties["pql_tier"] == "hot" and fetched.properties["pql_reason"] is None
    updated = api.update(created.id, SimplePublicObjectInput(properties={"pql_tier": "warm"}))
    assert updated.properties["pql_tier"] == "warm"
    assert sandbox.emulator.record("companies", created.id)["properties"]["pql_tier"] == "warm"  # type: ignore[index]


def test_unknown_id_is_404(sandbox: Sandbox) -> None:
    with pytest.raises(NotFoundException) as caught:
        sandbox.client().crm.companies.basic_api.get_by_id("999")
    body = json.loads(caught.value.body)
    assert body["category"] == "OBJECT_NOT_FOUND" and body["status"] == "error" and body["correlationId"]


def test_create_requires_associations(sandbox: Sandbox) -> None:
    reply = sandbox.raw("POST", "/crm/v3/objects/companies", {"properties": {"name": "NoAssoc"}})
    assert reply.status_code == 400
    assert "some of required attributes are not set [associations]" in reply.json()["message"]
    assert sandbox.emulator.records("companies") == []


def test_batch_of_101_is_rejected(sandbox: Sandbox) -> None:
    inputs = [SimplePublicObjectBatchInputForCreate(properties={"name": f"c{i}"}) for i in range(101)]
    with pytest.raises(ApiException) as caught:
        sandbox.client().crm.companies.batch_api.create(BatchInputSimplePublicObjectBatchInputForCreate(inputs=inputs))
    assert caught.value.status == 400
    assert json.loads(caught.value.body)["category"] == "VALIDATION_ERROR"
    assert sandbox.emulator.records("companies") == []
    ok = sandbox.client().crm.companies.batch_api.create(
        BatchInputSimplePublicObjectBatchInputForCreate(inputs=inputs[:100])
    )
    assert len(ok.results) == 100


def test_number_instead_of_string_is_rejected(sandbox: Sandbox) -> None:
    # The SDK would send 87 as a JSON number (its models do not coerce): HubSpot's Map<String,String> refuses it.
    api = sandbox.client().crm.companies.basic_api
    with pytest.raises(ApiException) as caught:
        api.create(SimplePublicObjectInputForCreate(properties={"name": "Acme", "pql_score": 87}, associations=[]))
    assert caught.value.status == 400 and "java.lang.String" in json.loads(caught.value.body)["message"]
    reply = sandbox.raw(
        "POST", "/crm/v3/objects/companies/batch/update", {"inputs": [{"id": "1", "properties": {"pql_tier": True}}]}
    )
    assert reply.status_code == 400 and reply.json()["category"] == "VALIDATION_ERROR"


def test_unknown_property_and_bad_values(sandbox: Sandbox) -> None:
    api = sandbox.client().crm.companies.basic_api
    with pytest.raises(ApiException) as caught:
        api.create(
            SimplePublicObjectInputForCreate(properties={"name": "A", "favourite_colour": "red"}, associations=[])
        )
    body = json.loads(caught.value.body)
    assert body["message"].startswith("Property values were not valid: ")
    assert json.loads(body["message"].split(": ", 1)[1])[0]["error"] == "PROPERTY_DOESNT_EXIST"
    assert body["errors"][0]["context"] == {"propertyName": ["favourite_colour"]}
    for name, value, code in [
        ("pql_score", "lots", "INVALID_LONG"),
        ("pql_tier", "scorching", "INVALID_OPTION"),
        ("pql_since", "yesterday", "INVALID_DATE"),
    ]:
        reply = sandbox.raw("POST", "/crm/v3/objects/companies", {"properties": {name: value}, "associations": []})
        assert reply.status_code == 400 and reply.json()["errors"][0]["code"] == code
    for value in ("2026-11-02T10:00:00Z", "1793613600000"):
        reply = sandbox.raw(
            "POST", "/crm/v3/objects/companies", {"properties": {"pql_since": value}, "associations": []}
        )
        assert reply.status_code == 201


def test_upsert_new_then_existing(sandbox: Sandbox) -> None:
    batch = sandbox.client().crm.companies.batch_api
    first = batch.upsert(BatchInputSimplePublicObjectBatchInputUpsert(inputs=[_upsert("pa-1", name="One")]))
    assert [r.new for r in first.results] == [True]
    assert first.results[0].properties["product_account_id"] == "pa-1"
    second = batch.upsert(
        BatchInputSimplePublicObjectBatchInputUpsert(
            inputs=[_upsert("pa-1", pql_tier="cold"), _upsert("pa-2", name="Two")]
        )
    )
    assert sorted((r.properties.get("product_account_id"), r.new) for r in second.results) == [
        ("pa-1", False),
        ("pa-2", True),
    ]
    assert second.results[0].id == first.results[0].id or second.results[1].id == first.results[0].id
    assert len(sandbox.emulator.records("companies")) == 2


def test_upsert_by_non_unique_property_is_rejected(sandbox: Sandbox) -> None:
    batch = sandbox.client().crm.companies.batch_api
    with pytest.raises(ApiException) as caught:
        batch.upsert(
            BatchInputSimplePublicObjectBatchInputUpsert(
                inputs=[
                    SimplePublicObjectBatchInputUpsert(id="acme.io", id_property="domain", properties={"name": "Acme"})
                ]
            )
        )
    assert caught.value.status == 400 and "domain" in json.loads(caught.value.body)["message"]
    assert sandbox.emulator.records("companies") == []


def test_batch_read_requires_properties_with_history(sandbox: Sandbox) -> None:
    company = sandbox.emulator.add_record("companies", {"name": "Acme", "product_account_id": "pa-9"})
    batch = sandbox.client().crm.companies.batch_api
    with pytest.raises(ApiException) as caught:
        batch.read(BatchReadInputSimplePublicObjectId(inputs=[{"id": company}], properties=["name"]))
    assert caught.value.status == 400
    assert "[propertiesWithHistory]" in json.loads(caught.value.body)["message"]
    read = batch.read(
        BatchReadInputSimplePublicObjectId(
            inputs=[{"id": "pa-9"}, {"id": "pa-missing"}],
            properties=["name"],
            properties_with_history=[],
            id_property="product_account_id",
        )
    )
    assert [r.id for r in read.results] == [company]
    assert read.errors[0].category == "OBJECT_NOT_FOUND" and read.errors[0].context == {"ids": ["pa-missing"]}


def test_batch_update_207_for_missing_ids(sandbox: Sandbox) -> None:
    company = sandbox.emulator.add_record("companies", {"name": "Acme"})
    result = sandbox.client().crm.companies.batch_api.update(
        BatchInputSimplePublicObjectBatchInput(
            inputs=[
                SimplePublicObjectBatchInput(id=company, properties={"pql_tier": "hot"}),
                SimplePublicObjectBatchInput(id="424242", properties={"pql_tier": "hot"}),
            ]
        )
    )
    assert result.num_errors == 1 and result.errors[0].context["ids"] == ["424242"]
    assert [r.id for r in result.results] == [company]


def test_traced_inputs_fail_one_by_one(sandbox: Sandbox) -> None:
    result = sandbox.client().crm.companies.batch_api.create(
        BatchInputSimplePublicObjectBatchInputForCreate(
            inputs=[
                SimplePublicObjectBatchInputForCreate(properties={"name": "Good"}, object_write_trace_id="t1"),
                SimplePublicObjectBatchInputForCreate(properties={"missing": "1"}, object_write_trace_id="t2"),
            ]
        )
    )
    assert len(result.results) == 1 and result.errors[0].context == {"objectWriteTraceId": ["t2"]}
    untraced = sandbox.raw(
        "POST",
        "/crm/v3/objects/companies/batch/create",
        {"inputs": [{"properties": {"name": "Good2"}}, {"properties": {"missing": "1"}}]},
    )
    assert untraced.status_code == 400
    assert [c["properties"]["name"] for c in sandbox.emulator.records("companies")] == ["Good"]


def test_batch_archive(sandbox: Sandbox) -> None:
    company = sandbox.emulator.add_record("companies", {"name": "Gone"})
    sandbox.client().crm.companies.batch_api.archive(BatchInputSimplePublicObjectId(inputs=[{"id": company}]))
    assert sandbox.emulator.record("companies", company) is None


def test_unique_values_conflict(sandbox: Sandbox) -> None:
    contacts = sandbox.client().crm.contacts.basic_api
    first = contacts.create(ContactCreate(properties={"email": "ann@acme.io"}, associations=[]))
    with pytest.raises(ContactApiException) as caught:
        contacts.create(ContactCreate(properties={"email": "ANN@acme.io"}, associations=[]))
    assert caught.value.status == 409
    body = json.loads(caught.value.body)
    assert body["category"] == "CONFLICT" and body["message"] == f"Contact already exists. Existing ID: {first.id}"
    companies = sandbox.client().crm.companies.basic_api
    a = companies.create(SimplePublicObjectInputForCreate(properties={"product_account_id": "pa-1"}, associations=[]))
    b = companies.create(SimplePublicObjectInputForCreate(properties={"product_account_id": "pa-2"}, associations=[]))
    with pytest.raises(ApiException) as clash:
        companies.update(b.id, SimplePublicObjectInput(properties={"product_account_id": "pa-1"}))
    assert clash.value.status == 409 and a.id in json.loads(clash.value.body)["message"]
    # domain is not unique: two companies may share it.
    for _ in range(2):
        companies.create(SimplePublicObjectInputForCreate(properties={"domain": "same.io"}, associations=[]))
