"""At run time, through the real SDKs and the HubSpot, Salesforce and Slack sandboxes: a template that goes past its
render budget on some rows rejects those rows (field templates) or refuses their intents (task and alert templates)
with the reason, sends nothing for them, and the other rows sync. And what a rep reads in a task is display text:
a NUL or a bidi override from the warehouse never reaches a task subject, while the field keeps the value as is."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from connectors.sandbox import Sandbox
from syncer.state.base import RunStatus
from syncer.state.outbox import EffectKind, OutboxStatus
from tests.effects.test_tasks_sandbox import HUBSPOT, SALESFORCE, _salesforce_connector, _setup, _subject, _tasks
from tests.effects.world import ALERTS, DANA, MARCO, START, WATCH, World

# One template, three attacks: account a1 recurses, a2 builds 'a' * 10**9, a3 loops 99999 x 99999; others render.
ATTACKED = {
    "a1": "calls nested more than 32 deep",
    "a2": "repeating a value 1000000000 times",
    "a3": "range() of more than 10000 numbers",
}
ATTACK = (
    "{% macro m(n) %}{{ m(n + 1) }}{% endmacro %}"
    "{% if account_id == 'a1' %}{{ m(0) }}{% elif account_id == 'a2' %}{{ 'a' * 10**9 }}"
    "{% elif account_id == 'a3' %}{% for i in range(99999) %}{% for j in range(99999) %}x{% endfor %}"
    "{% endfor %}{% else %}{KEPT}{% endif %}"
)
KEYS = [f"a{i}" for i in range(6)]


def _yaml(template: str) -> str:
    return '"' + template.replace('"', '\\"') + '"'


@pytest.fixture
def world(tmp_path: Path, sandbox: Sandbox) -> Iterator[World]:
    built = World(tmp_path, sandbox)
    yield built
    built.close()


def test_a_field_template_past_its_budget_rejects_its_rows_and_the_others_sync(world: World) -> None:
    mapping = HUBSPOT.split("triggers:")[0].replace(
        "  pql_tier: pql_tier\n", f"  pql_tier:\n    template: {_yaml(ATTACK.replace('{KEPT}', '{{ pql_tier }}'))}\n"
    )
    world.setup({"hot_companies": mapping})
    _setup(world, "hot_companies")
    for key in KEYS:
        world.account(key, DANA.email, 85)
    outcome = world.run("hot_companies")
    assert outcome.plan is not None and outcome.plan.rejected_total == 3
    assert world.app is not None
    errors = {key: reason for key, reason, _ in world.app.store.row_errors.latest_run("hot_companies")}
    assert set(errors) == set(ATTACKED)
    for key, limit in ATTACKED.items():
        assert errors[key].startswith("pql_tier: template failed: render budget exceeded: ")
        assert limit in errors[key]
    companies = [c["properties"] for c in world.sandbox.hubspot.records("companies")]
    written = {props["product_account_id"]: props for props in companies if props.get("product_account_id") in KEYS}
    assert sorted(written) == ["a0", "a4", "a5"]
    assert {props["pql_tier"] for props in written.values()} == {"hot"}


def test_a_task_template_past_its_budget_refuses_its_tasks_and_the_others_are_created(world: World) -> None:
    subject = _yaml(ATTACK.replace("{KEPT}", "Call {{ account_name }}"))
    mapping = HUBSPOT.replace("{priority}", "HIGH").replace(
        '"Call {{ account_name }} (PQL {{ pql_score | int }})"', subject
    )
    world.setup({"hot_companies": mapping})
    _setup(world, "hot_companies")
    for key in KEYS:
        world.account(key, MARCO.email, 60)
    assert world.run("hot_companies").status is RunStatus.SUCCEEDED  # a first run: no tasks
    for key in KEYS:
        world.account(key, MARCO.email, 85)
    outcome = world.run("hot_companies", at=START + timedelta(days=1))
    assert outcome.effects is not None and outcome.effects.tasks["created"] == 3
    assert sorted(_subject(task, "hubspot") for task in _tasks(world, "hubspot")) == [
        "Call Account a0",
        "Call Account a4",
        "Call Account a5",
    ]
    assert world.app is not None
    refused = {r.key: r for r in world.app.store.outbox.records(kinds=(EffectKind.TASK,)) if r.key in ATTACKED}
    assert set(refused) == set(ATTACKED)
    for key, limit in ATTACKED.items():
        error = refused[key].error or ""
        assert refused[key].status is OutboxStatus.FAILED
        assert error.startswith("task template failed: render budget exceeded: ") and limit in error


def test_an_alert_template_past_its_budget_refuses_its_alerts_and_the_others_are_sent(world: World) -> None:
    world.setup(
        {
            "pql_watch": WATCH.replace(
                '"*{{ account_name }}* crossed 80 (score {{ pql_score }})"',
                _yaml(ATTACK.replace("{KEPT}", "*{{ account_name }}* crossed 80")),
            )
        },
        alerts=ALERTS.replace("per_day: 3", "per_day: 10"),
    )  # every alert is decided 'send' and rendered
    for key in KEYS:
        world.account(key, DANA.email, 50)
    world.run()  # a first run: alerts nobody
    for key in KEYS:
        world.account(key, DANA.email, 85)
    world.run(at=world.advance(hours=1))
    assert world.app is not None
    alerts = {r.key: r for r in world.app.store.outbox.records(kinds=(EffectKind.ALERT,))}
    sent = sorted(key for key, r in alerts.items() if r.status is OutboxStatus.DONE)
    refused = {key: r for key, r in alerts.items() if r.status is OutboxStatus.FAILED}
    assert set(refused) == set(ATTACKED)
    for key, limit in ATTACKED.items():
        assert "render budget exceeded: " in (refused[key].error or "") and limit in (refused[key].error or "")
    posted = world.alerts_to(DANA.email)
    assert sent == ["a0", "a4", "a5"] and len(posted) == 3
    assert all("crossed 80" in message["text"] or "crossed 80" in str(message["blocks"]) for message in posted)
    assert not any(f"Account {key}" in str(message["blocks"]) for key in ATTACKED for message in posted)


@pytest.mark.parametrize("crm", ["hubspot", "salesforce"])
def test_task_subjects_and_bodies_are_display_text_while_fields_keep_the_warehouses_value(
    world: World, crm: str
) -> None:
    mapping, sync = (HUBSPOT, "hot_companies") if crm == "hubspot" else (SALESFORCE, "hot_accounts")
    mapping = mapping.replace("{priority}", "HIGH" if crm == "hubspot" else "High").replace(
        '"Seats: {{ signals.seats }}"', '"{{ account_name }}\\nline two\\u0007"'
    )
    world.setup({sync: mapping}, extra_connectors=_salesforce_connector(world.sandbox))
    _setup(world, sync)
    hostile = "Acme\u202e fdp.exe\x00 Corp"
    world.account("t1", DANA.email, 60, name=hostile)
    assert world.run(sync).status is RunStatus.SUCCEEDED
    world.account("t1", DANA.email, 85, name=hostile)
    outcome = world.run(sync, at=START + timedelta(days=1))
    assert outcome.effects is not None and outcome.effects.tasks["created"] == 1, outcome.effects
    (task,) = _tasks(world, crm)
    assert _subject(task, crm) == "Call Acme fdp.exe Corp (PQL 85)"
    body = str(task["properties"]["hs_task_body"] if crm == "hubspot" else task["Description"])
    assert body == "Acme fdp.exe Corp\nline two"
    if crm == "hubspot":
        (company,) = [
            c for c in world.sandbox.hubspot.records("companies") if c["properties"].get("product_account_id") == "t1"
        ]
        assert company["properties"]["name"] == hostile
    else:
        (account,) = world.sandbox.salesforce.find_records("Account", Product_Account_Id__c="t1")
        assert account["Name"] == hostile
