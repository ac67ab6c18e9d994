"""Search, properties, owners, tasks and associations v4 through hubspot-api-client."""

from __future__ import annotations

import json

import pytest
from hubspot.crm.associations.v4 import AssociationSpec, BatchInputPublicAssociationMultiPost
from hubspot.crm.associations.v4 import BatchInputPublicFetchAssociationsBatchRequest as FetchBatch
from hubspot.crm.companies import Filter, FilterGroup, PublicObjectSearchRequest
from hubspot.crm.objects.tasks import BatchReadInputSimplePublicObjectId as TaskBatchRead
from hubspot.crm.objects.tasks import SimplePublicObjectInputForCreate as TaskCreate
from hubspot.crm.objects.tasks.exceptions import ApiException as TaskApiException
from hubspot.crm.properties import PropertyCreate
from hubspot.crm.properties.exceptions import ApiException as PropertyApiException

from connectors.sandbox.people import departed_rep, sample_reps
from tests.sandbox.hubspot.conftest import Sandbox


def _companies(sandbox: Sandbox, count: int) -> list[str]:
    tiers = ["hot", "warm", "cold"]
    return [
        sandbox.emulator.add_record(
            "companies", {"name": f"Co {i}", "domain": f"co{i}.io", "pql_score": str(i * 10), "pql_tier": tiers[i % 3]}
        )
        for i in range(count)
    ]


def _search(**kwargs: object) -> PublicObjectSearchRequest:
    return PublicObjectSearchRequest(**kwargs)


def test_search_filters_sorts_and_pages(sandbox: Sandbox) -> None:
    ids = _companies(sandbox, 12)
    api = sandbox.client().crm.companies.search_api
    hot_or_big = api.do_search(
        _search(
            filter_groups=[
                FilterGroup(filters=[Filter(property_name="pql_tier", operator="EQ", value="hot")]),
                FilterGroup(
                    filters=[
                        Filter(property_name="pql_score", operator="GTE", value="100"),
                        Filter(property_name="pql_tier", operator="NEQ", value="hot"),
                    ]
                ),
            ],
            properties=["name", "pql_score"],
            limit=200,
        )
    )
    scores = sorted(int(r.properties["pql_score"]) for r in hot_or_big.results)
    assert scores == [0, 30, 60, 90, 100, 110] and hot_or_big.total == 6
    seen: list[str] = []
    after = None
    while True:
        sandbox.clock.advance(1.0)  # stay under search's 5 requests/s
        page = api.do_search(_search(sorts=["-pql_score"], limit=5, after=after, properties=["pql_score"]))
        seen += [r.id for r in page.results]
        if page.paging is None:
            break
        after = page.paging.next.after
    assert seen == list(reversed(ids)) and page.total == 12
    sandbox.clock.advance(1.0)
    token = api.do_search(
        _search(
            filter_groups=[
                FilterGroup(
                    filters=[
                        Filter(property_name="domain", operator="CONTAINS_TOKEN", value="co1*"),
                        Filter(property_name="pql_tier", operator="IN", values=["warm", "cold"]),
                    ]
                )
            ]
        )
    )
    assert sorted(r.properties["domain"] for r in token.results) == ["co1.io", "co10.io", "co11.io"]
    missing = api.do_search(
        _search(
            filter_groups=[FilterGroup(filters=[Filter(property_name="pql_reason", operator="NOT_HAS_PROPERTY")])],
            limit=1,
        )
    )
    assert missing.total == 12


def test_search_limit_over_200_rejected(sandbox: Sandbox) -> None:
    reply = sandbox.raw("POST", "/crm/v3/objects/companies/search", {"limit": 201})
    assert reply.status_code == 400 and reply.json()["category"] == "VALIDATION_ERROR"


def test_properties_list_and_create(sandbox: Sandbox) -> None:
    api = sandbox.client().crm.properties.core_api
    listed = {p.name: p for p in api.get_all("companies").results}
    assert listed["product_account_id"].has_unique_value is True and listed["domain"].has_unique_value is False
    assert [o.value for o in listed["pql_tier"].options] == ["hot", "warm", "cold"]
    created = api.create(
        "companies",
        PropertyCreate(
            name="plan", label="Plan", type="string", field_type="text", group_name="pql", has_unique_value=False
        ),
    )
    assert created.name == "plan"
    with pytest.raises(PropertyApiException) as caught:
        api.create(
            "companies", PropertyCreate(name="plan", label="Plan", type="string", field_type="text", group_name="pql")
        )
    assert caught.value.status == 409
    reply = sandbox.raw("POST", "/crm/v3/objects/companies", {"properties": {"plan": "pro"}, "associations": []})
    assert reply.status_code == 201


def test_owners_by_email_and_paging(sandbox: Sandbox) -> None:
    api = sandbox.client().crm.owners.owners_api
    rep = sample_reps()[3]
    found = api.get_page(email=rep.email)
    assert [(o.id, o.email, o.first_name) for o in found.results] == [(rep.hubspot_owner_id, rep.email, rep.first_name)]
    first = api.get_page(limit=10)
    second = api.get_page(limit=100, after=first.paging.next.after)
    assert len(first.results) + len(second.results) == 24 and second.paging is None
    assert sandbox.emulator.log.entries()[-1].path == "/crm/v3/owners/"


def test_archived_owners_are_served_only_when_asked_for(sandbox: Sandbox) -> None:
    api = sandbox.client().crm.owners.owners_api
    gone = departed_rep()
    assert gone.email not in {o.email for o in api.get_page(limit=500).results}
    archived = api.get_page(limit=500, archived=True).results
    assert [(o.id, o.email, o.archived) for o in archived] == [(gone.hubspot_owner_id, gone.email, True)]
    assert api.get_by_id(gone.hubspot_owner_id, archived=True).email == gone.email
    assert sandbox.raw("GET", f"/crm/v3/owners/{gone.hubspot_owner_id}").status_code == 404


def test_task_with_company_association(sandbox: Sandbox) -> None:
    company = sandbox.emulator.add_record("companies", {"name": "Acme"})
    rep = sample_reps()[0]
    tasks = sandbox.client().crm.objects.tasks
    created = tasks.basic_api.create(
        TaskCreate(
            properties={
                "hs_timestamp": "2026-11-23T09:00:00Z",
                "hs_task_subject": "Call Acme",
                "hs_task_body": "PQL hot",
                "hubspot_owner_id": rep.hubspot_owner_id,
                "hs_task_status": "NOT_STARTED",
                "hs_task_priority": "HIGH",
            },
            associations=[
                {"to": {"id": company}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 192}]}
            ],
        )
    )
    got = tasks.basic_api.get_by_id(created.id, properties=["hs_task_subject"], associations=["companies"])
    assert got.properties["hs_task_subject"] == "Call Acme"
    assert got.associations["companies"].results[0].id == company
    read = tasks.batch_api.read(
        TaskBatchRead(inputs=[{"id": created.id}], properties=["hs_task_priority"], properties_with_history=[])
    )
    assert read.results[0].properties["hs_task_priority"] == "HIGH"
    assert sandbox.emulator.associations_of("companies", company, "tasks") == [(created.id, [191])]
    with pytest.raises(TaskApiException) as caught:
        tasks.basic_api.create(
            TaskCreate(properties={"hs_task_subject": "x", "hubspot_owner_id": "1"}, associations=[])
        )
    problems = {e["code"] for e in json.loads(caught.value.body)["errors"]}
    assert caught.value.status == 400 and problems == {"REQUIRED_PROPERTY", "INVALID_OPTION"}


def test_associations_v4(sandbox: Sandbox) -> None:
    company = sandbox.emulator.add_record("companies", {"name": "Acme"})
    contact = sandbox.emulator.add_record("contacts", {"email": "ann@acme.io"})
    other = sandbox.emulator.add_record("contacts", {"email": "bob@acme.io"})
    v4 = sandbox.client().crm.associations.v4
    label = sandbox.emulator.add_association_label("contacts", "companies", "Champion")
    spec = AssociationSpec(association_category="USER_DEFINED", association_type_id=label.type_id)
    pair = v4.basic_api.create("contacts", contact, "companies", company, [spec])
    assert pair.labels == ["Champion"]
    default = v4.basic_api.create_default("contacts", other, "companies", company)
    assert default.results[0].association_spec.association_type_id == 279
    listed = v4.basic_api.get_page("companies", company, "contacts")
    assert [(str(r.to_object_id), sorted(t.type_id for t in r.association_types)) for r in listed.results] == [
        (contact, [label.inverse_id]),
        (other, [280]),
    ]
    batch = v4.batch_api.create(
        "tasks",
        "companies",
        BatchInputPublicAssociationMultiPost(
            inputs=[
                {
                    "from": {"id": "1"},
                    "to": {"id": company},
                    "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 192}],
                }
            ]
        ),
    )
    assert batch.num_errors == 1 and batch.results == []
    read = v4.batch_api.get_page("companies", "contacts", FetchBatch(inputs=[{"id": company}, {"id": "77"}]))
    assert len(read.results[0].to) == 2 and read.errors[0].category == "OBJECT_NOT_FOUND"
    bad = sandbox.raw(
        "PUT",
        f"/crm/v4/objects/contacts/{contact}/associations/companies/{company}",
        [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 192}],
    )
    assert bad.status_code == 400


def test_associations_v4_batch_create_and_default(sandbox: Sandbox) -> None:
    company = sandbox.emulator.add_record("companies", {"name": "Acme"})
    task = sandbox.emulator.add_record("tasks", {"hs_timestamp": "2026-11-22T12:00:00Z", "hs_task_subject": "Call"})
    contact = sandbox.emulator.add_record("contacts", {"email": "cy@acme.io"})
    v4 = sandbox.client().crm.associations.v4
    created = v4.batch_api.create(
        "tasks",
        "companies",
        BatchInputPublicAssociationMultiPost(
            inputs=[
                {
                    "from": {"id": task},
                    "to": {"id": company},
                    "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 192}],
                }
            ]
        ),
    )
    assert [(str(r.from_object_id), str(r.to_object_id)) for r in created.results] == [(task, company)]
    default = v4.batch_api.create_default(
        "contacts",
        "companies",
        {"inputs": [{"from": {"id": contact}, "to": {"id": company}}, {"from": {"id": "404"}, "to": {"id": company}}]},
    )
    assert [r.association_spec.association_type_id for r in default.results] == [279]
    assert [e.category for e in default.errors] == ["OBJECT_NOT_FOUND"]
    assert sandbox.emulator.associations_of("companies", company, "tasks") == [(task, [191])]
    assert sandbox.emulator.associations_of("companies", company, "contacts") == [(contact, [280])]


@pytest.mark.parametrize(
    ("kind", "field_type"),
    [("string", "number"), ("number", "text"), ("bool", "select"), ("datetime", "text"), ("enumeration", "text")],
)
def test_property_type_and_field_type_must_pair(sandbox: Sandbox, kind: str, field_type: str) -> None:
    body = {
        "name": "mismatched",
        "label": "Mismatched",
        "type": kind,
        "fieldType": field_type,
        "groupName": "pql",
        "options": [{"label": "Yes", "value": "true"}],
    }
    reply = sandbox.raw("POST", "/crm/v3/properties/companies", body)
    assert reply.status_code == 400 and reply.json()["category"] == "VALIDATION_ERROR"
    assert field_type in reply.json()["message"]
    assert sandbox.emulator.portal.store.definitions["companies"].get("mismatched") is None


@pytest.mark.parametrize(
    ("kind", "field_type"),
    [
        ("bool", "booleancheckbox"),
        ("enumeration", "booleancheckbox"),
        ("number", "number"),
        ("string", "textarea"),
        ("date", "date"),
        ("datetime", "date"),
    ],
)
def test_property_pairs_the_vendor_accepts(sandbox: Sandbox, kind: str, field_type: str) -> None:
    body = {
        "name": "paired",
        "label": "Paired",
        "type": kind,
        "fieldType": field_type,
        "groupName": "pql",
        "options": [{"label": "Yes", "value": "true"}, {"label": "No", "value": "false"}],
    }
    assert sandbox.raw("POST", "/crm/v3/properties/companies", body).status_code == 201


def test_record_ids_are_numeric_strings(sandbox: Sandbox) -> None:
    reply = sandbox.raw("POST", "/crm/v3/objects/companies", {"properties": {"name": "Acme"}, "associations": []})
    assert reply.status_code == 201 and reply.json()["id"].isdigit()


def test_tokens_can_be_configured_on_a_running_emulator(sandbox: Sandbox) -> None:
    sandbox.emulator.accept_tokens(frozenset({"only-this"}))
    try:
        refused = sandbox.raw("GET", "/crm/v3/properties/companies", token="pat-other")
        assert refused.status_code == 401 and refused.json()["category"] == "INVALID_AUTHENTICATION"
        assert sandbox.raw("GET", "/crm/v3/properties/companies", token="only-this").status_code == 200
    finally:
        sandbox.emulator.accept_tokens(None)
