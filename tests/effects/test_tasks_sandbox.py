"""CRM tasks for the account owner, end to end: HubSpot and Salesforce sandboxes through the real SDKs.

A crossing creates one task per account, assigned to the owner the e-mail resolves to and attached to the record
the sync wrote; running again, or re-planning the same change, creates nothing more.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from connectors.hubspot.sandbox import HubSpotLimits
from connectors.sandbox import Sandbox
from connectors.sandbox.core.faults import FaultRule
from syncer.state.base import RunStatus
from tests.effects.world import DANA, MARCO, START, World

HUBSPOT = """\
name: hot_companies
model:
  table: accounts
key: account_id
destination:
  connector: hubspot
  object: companies
  mode: upsert
  match:
    column: account_id
    field: product_account_id
fields:
  name: account_name
  pql_score:
    source: pql_score
    type: number
  pql_tier: pql_tier
triggers:
  - name: went_hot
    when: "new.pql_tier = 'hot' AND coalesce(old.pql_tier, '') <> 'hot'"
    task:
      subject: "Call {{ account_name }} (PQL {{ pql_score | int }})"
      body: "Seats: {{ signals.seats }}"
      due_in_days: 1
      priority: {priority}
"""

SALESFORCE = (
    HUBSPOT.replace("hot_companies", "hot_accounts")
    .replace("connector: hubspot", "connector: salesforce")
    .replace("object: companies", "object: Account")
    .replace("field: product_account_id", "field: Product_Account_Id__c")
    .replace(
        "  name: account_name\n  pql_score:\n    source: pql_score\n    type: number\n  pql_tier: pql_tier\n",
        "  Name: account_name\n  PQL_Score__c:\n    source: pql_score\n    type: number\n  PQL_Tier__c: pql_tier\n",
    )
    .replace("new.pql_tier", "new.PQL_Tier__c")
    .replace("old.pql_tier", "old.PQL_Tier__c")
)


def _salesforce_connector(sandbox: Sandbox) -> str:
    return f"""\
  salesforce:
    type: salesforce
    instance_url: {sandbox.urls["salesforce"]}
    client_id: sandbox-consumer-key
    client_secret: sandbox-consumer-secret
    ca_bundle: {sandbox.ca_file}
"""


@pytest.fixture
def world(tmp_path: Path, sandbox: Sandbox) -> Iterator[World]:
    built = World(tmp_path, sandbox)
    yield built
    built.close()


def _setup(world: World, sync: str) -> None:
    assert world.app is not None
    config = world.app.project.sync(sync)
    assert config.destination is not None
    destination = world.app.open_destination(config)
    assert destination is not None
    destination.setup()
    destination.close()
    tasks = world.app.open_task_destination(config.destination.connector)
    tasks.setup()
    tasks.close()


@pytest.mark.parametrize("crm", ["hubspot", "salesforce"])
def test_a_crossing_creates_one_task_for_the_owner_on_the_record_and_never_a_second(world: World, crm: str) -> None:
    mapping, sync = (HUBSPOT, "hot_companies") if crm == "hubspot" else (SALESFORCE, "hot_accounts")
    priority = "HIGH" if crm == "hubspot" else "High"
    world.setup({sync: mapping.replace("{priority}", priority)}, extra_connectors=_salesforce_connector(world.sandbox))
    _setup(world, sync)
    owners = {f"t{i}": (DANA if i % 2 else MARCO) for i in range(6)}
    for key, rep in owners.items():
        world.account(key, rep.email, 60, seats=i_of(key) + 3)
    first = world.run(sync)
    assert first.status is RunStatus.SUCCEEDED, first.error
    assert _tasks(world, crm) == []  # a first run creates no tasks: every row would be 'new'
    for key, rep in owners.items():
        world.account(key, rep.email, 85 if i_of(key) < 4 else 70, seats=i_of(key) + 3)
    outcome = world.run(sync, at=START + timedelta(days=1))
    assert outcome.status is RunStatus.SUCCEEDED, outcome.error
    assert outcome.effects is not None and outcome.effects.tasks["created"] == 4
    tasks = _tasks(world, crm)
    assert len(tasks) == 4
    assert world.app is not None
    records = world.app.store.snapshot.record_ids(sync, list(owners))
    for task in tasks:
        key = _key_of(task, crm)
        rep = owners[key]
        assert _owner(task, crm) == (rep.hubspot_owner_id if crm == "hubspot" else rep.salesforce_user_id)
        assert _subject(task, crm) == f"Call Account {key} (PQL 85)"
        assert _record(world, task, crm) == records[key]
    for day in (2, 3):  # nothing new: no task; the same change re-planned: the same dedupe key, no task
        again = world.run(sync, at=START + timedelta(days=day))
        assert again.effects is not None and not again.effects.tasks
    assert len(_tasks(world, crm)) == 4


def i_of(key: str) -> int:
    return int(key[1:])


def _tasks(world: World, crm: str) -> list[dict[str, Any]]:
    return world.sandbox.hubspot.tasks() if crm == "hubspot" else world.sandbox.salesforce.tasks()


def _props(task: dict[str, Any]) -> dict[str, Any]:
    return dict(task.get("properties") or {})


def _subject(task: dict[str, Any], crm: str) -> str:
    return str(_props(task)["hs_task_subject"] if crm == "hubspot" else task["Subject"])


def _owner(task: dict[str, Any], crm: str) -> str:
    return str(_props(task)["hubspot_owner_id"] if crm == "hubspot" else task["OwnerId"])


def _key_of(task: dict[str, Any], crm: str) -> str:
    dedupe = str(_props(task)["syncer_dedupe_key"] if crm == "hubspot" else task["Syncer_Dedupe_Key__c"])
    return dedupe.split(":")[2]


def _record(world: World, task: dict[str, Any], crm: str) -> str:
    if crm == "salesforce":
        return str(task["WhatId"])
    [(company, _)] = world.sandbox.hubspot.associations_of("tasks", str(task["id"]), "companies")
    return company


def test_hubspot_resends_after_lost_replies_under_search_lag_create_no_duplicate(world: World) -> None:
    """HubSpot's search index lags writes: with the emulator's search a minute behind, the reply to the first company
    upsert and to the first task create are lost (each written, its answer never read). The run sends both again and
    finds what the first sends made (the upsert by its unique property, the tasks through the companies' associated
    tasks, neither through search): one company per account, one task per crossing."""
    world.setup({"hot_companies": HUBSPOT.replace("{priority}", "HIGH")})
    _setup(world, "hot_companies")
    hubspot = world.sandbox.hubspot
    owners = {f"t{i}": (DANA if i % 2 else MARCO) for i in range(6)}
    for key, rep in owners.items():
        world.account(key, rep.email, 60, seats=3)
    hubspot.set_limits(HubSpotLimits(search_lag_seconds=60))
    hubspot.set_faults(
        [
            FaultRule(route="POST /crm/v3/objects/companies/batch/upsert", lost_response_rate=1.0, max_faults=1),
            FaultRule(route="POST /crm/v3/objects/tasks/batch/create", lost_response_rate=1.0, max_faults=1),
        ]
    )
    try:
        first = world.run("hot_companies")
        assert first.status is RunStatus.SUCCEEDED, first.error
        for key, rep in owners.items():
            world.account(key, rep.email, 85, seats=3)
        crossing = world.run("hot_companies", at=START + timedelta(days=1))
        assert crossing.status is RunStatus.SUCCEEDED, crossing.error
        # The lost create made all six; the second send found them all through the companies' associations.
        assert crossing.effects is not None and crossing.effects.tasks == {"existed": 6}
        creates = [e for e in hubspot.log.entries() if e.path == "/crm/v3/objects/tasks/batch/create"]
        upserts = [e for e in hubspot.log.entries() if e.path == "/crm/v3/objects/companies/batch/upsert"]
        reads = [e for e in hubspot.log.entries() if e.path == "/crm/v4/associations/companies/tasks/batch/read"]
        # The lost upsert was sent again; the lost create was followed by a second look, which found every task.
        assert len(upserts) >= 2 and len(creates) == 1 and len(reads) == 2
        assert not any(e.path.endswith("/search") for e in hubspot.log.entries())
    finally:
        hubspot.set_faults([])
        hubspot.set_limits(HubSpotLimits())
    companies = [
        c["properties"]["product_account_id"]
        for c in hubspot.records("companies")
        if c["properties"].get("product_account_id")
    ]
    assert sorted(companies) == sorted(owners)
    keys = [_key_of(task, "hubspot") for task in _tasks(world, "hubspot")]
    assert sorted(keys) == sorted(owners)
