"""A first sync against a populated CRM, end to end: HubSpot and Salesforce sandboxes through the real SDKs.

The CRM already holds records: one with the account's match value, one with only its domain (or website), two
sharing a domain, one cold account's company; and a rep who left (an archived HubSpot owner, an inactive
Salesforce user). The first run creates no duplicate: it updates the matched record, adopts the one found by domain
(writing the match value onto it), rejects the ambiguous pair naming both ids, skips the cold account's create
(``create_when``) and sets owners on what it creates and adopts, leaving the departed rep's record unowned and
saying why. A second run sends nothing. Tasks for a departed or missing owner are held with the reason; a trigger's
``fallback_owner`` gets them instead when it has one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from typer.testing import CliRunner

from connectors.sandbox import Sandbox
from connectors.sandbox.core.faults import FaultRule
from connectors.sandbox.people import departed_rep
from syncer.app import App
from syncer.cli import cli
from syncer.effects.summary import alert_summary
from syncer.state.base import RunStatus
from syncer.state.outbox import EffectKind, OutboxStatus
from tests.effects.world import ALERTS, DANA, MARCO, START, World, tier

GONE = departed_rep()

HUBSPOT = """\
name: companies
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
  adopt_by: domain
  create_when: "new.pql_tier IN ('hot', 'warm')"
  owner: owner_email
fields:
  name: account_name
  pql_tier: pql_tier
triggers:
  - name: went_hot
    when: "new.pql_tier = 'hot' AND coalesce(old.pql_tier, '') <> 'hot'"
    task:
      subject: "Call {{ account_name }}"
      priority: HIGH{fallback}
"""

SALESFORCE = (
    HUBSPOT.replace("name: companies", "name: accounts")
    .replace("connector: hubspot", "connector: salesforce")
    .replace("object: companies", "object: Account")
    .replace("field: product_account_id", "field: Product_Account_Id__c")
    .replace("adopt_by: domain", "adopt_by: {column: domain, field: Website}")
    .replace("  name: account_name\n  pql_tier: pql_tier\n", "  Name: account_name\n  PQL_Tier__c: pql_tier\n")
    .replace("new.pql_tier = 'hot'", "new.PQL_Tier__c = 'hot'")
    .replace("old.pql_tier", "old.PQL_Tier__c")
    .replace("priority: HIGH", "priority: High")
)


@dataclass
class CrmWorld(World):
    """The effects world with a ``domain`` column in the warehouse."""

    domains: dict[str, str | None] = field(default_factory=dict)

    def write(self) -> None:
        con = duckdb.connect(str(self.root / "warehouse.duckdb"))
        try:
            con.execute(
                "CREATE OR REPLACE TABLE accounts (account_id VARCHAR, account_name VARCHAR, "
                "owner_email VARCHAR, pql_score DOUBLE, pql_tier VARCHAR, domain VARCHAR)"
            )
            rows = [
                (key, name, owner, score, tier(score), self.domains.get(key))
                for key, (name, owner, score, _) in sorted(self.rows.items())
            ]
            if rows:
                con.executemany("INSERT INTO accounts VALUES (?, ?, ?, ?, ?, ?)", rows)
        finally:
            con.close()


@pytest.fixture
def world(tmp_path: Path, sandbox: Sandbox) -> Iterator[CrmWorld]:
    built = CrmWorld(tmp_path, sandbox)
    yield built
    built.close()


def _salesforce_connector(sandbox: Sandbox) -> str:
    return f"""\
  salesforce:
    type: salesforce
    instance_url: {sandbox.urls["salesforce"]}
    client_id: sandbox-consumer-key
    client_secret: sandbox-consumer-secret
    ca_bundle: {sandbox.ca_file}
"""


class Crm:
    """One CRM of the sandbox as the test reads and seeds it: records by the test's own names for fields."""

    def __init__(self, world: CrmWorld, crm: str) -> None:
        self.world, self.crm = world, crm
        hubspot = crm == "hubspot"
        self.sync = "companies" if hubspot else "accounts"
        self.match = "product_account_id" if hubspot else "Product_Account_Id__c"
        self.adopt = "domain" if hubspot else "Website"
        self.name = "name" if hubspot else "Name"
        self.owner = "hubspot_owner_id" if hubspot else "OwnerId"

    def add(self, **values: str) -> str:
        if self.crm == "hubspot":
            return self.world.sandbox.hubspot.add_record("companies", values)
        return self.world.sandbox.salesforce.add_record("Account", values)

    def records(self) -> list[dict[str, Any]]:
        if self.crm == "hubspot":
            return [{"id": r["id"], **r["properties"]} for r in self.world.sandbox.hubspot.records("companies")]
        return [{"id": r["Id"], **r} for r in self.world.sandbox.salesforce.records("Account")]

    def with_match(self, value: str) -> list[dict[str, Any]]:
        return [r for r in self.records() if r.get(self.match) == value]

    def user_of(self, rep: Any) -> str:
        return str(rep.hubspot_owner_id if self.crm == "hubspot" else rep.salesforce_user_id)

    def tasks(self) -> list[dict[str, Any]]:
        if self.crm == "hubspot":
            return self.world.sandbox.hubspot.tasks()
        return [dict(t) for t in self.world.sandbox.salesforce.tasks()]

    def writes(self) -> int:
        """Record writes (creates and updates of companies, Accounts or tasks) the CRM has received so far."""
        if self.crm == "hubspot":
            log = self.world.sandbox.hubspot.log.entries()
            return sum(1 for e in log if e.method == "POST" and "/batch/" in e.path and "/batch/read" not in e.path)
        log = self.world.sandbox.salesforce.log.entries()
        return sum(1 for e in log if e.method in ("POST", "PATCH") and "/composite/sobjects" in e.path)

    def task_owner(self, task: dict[str, Any]) -> str | None:
        return (task.get("properties") or {}).get("hubspot_owner_id") if self.crm == "hubspot" else task["OwnerId"]


def _prepare(world: CrmWorld, crm: str, fallback: str = "", project: str = "") -> Crm:
    mapping = HUBSPOT if crm == "hubspot" else SALESFORCE
    world.setup(
        {("companies" if crm == "hubspot" else "accounts"): mapping.replace("{fallback}", fallback)},
        alerts=ALERTS + project,
        extra_connectors=_salesforce_connector(world.sandbox),
    )
    side = Crm(world, crm)
    assert world.app is not None
    config = world.app.project.sync(side.sync)
    assert config.destination is not None
    destination = world.app.open_destination(config)
    assert destination is not None
    destination.setup()  # HubSpot: the custom properties (Salesforce's org has its fields)
    destination.close()
    tasks = world.app.open_task_destination(config.destination.connector)
    tasks.setup()
    tasks.close()
    return side


def _populate(world: CrmWorld, side: Crm) -> dict[str, str]:
    """The CRM's records before syncer's first run, and the warehouse's accounts; the seeded ids by name."""
    ids = {
        "matched": side.add(**{side.name: "Matched Co", side.match: "a1", side.adopt: "matched.example"}),
        "adoptable": side.add(**{side.name: "Adoptable Co", side.adopt: "adopt.example"}),
        "twin1": side.add(**{side.name: "Twin One", side.adopt: "twin.example"}),
        "twin2": side.add(**{side.name: "Twin Two", side.adopt: "twin.example"}),
        "cold": side.add(**{side.name: "Cold Co", side.adopt: "cold.example"}),
    }
    accounts = [
        ("a1", DANA.email, 60, "matched.example"),
        ("a2", MARCO.email, 60, "adopt.example"),
        ("a3", DANA.email, 60, "twin.example"),
        ("a4", GONE.email, 60, "new.example"),
        ("a5", DANA.email, 20, "cold.example"),
        ("a6", None, 60, "null.example"),
        ("a7", MARCO.email, 60, None),
    ]
    for key, owner, score, domain in accounts:
        world.account(key, owner, score)  # type: ignore[arg-type]  # a6: the model's owner is NULL
        world.domains[key] = domain
    return ids


def _hot(world: CrmWorld, *keys: str) -> None:
    for key in keys:
        name, owner, _, signals = world.rows[key]
        world.rows[key] = (name, owner, 90, signals)


@pytest.mark.parametrize("crm", ["hubspot", "salesforce"])
def test_a_first_sync_adopts_sets_owners_rejects_ambiguity_and_holds_unowned_tasks(world: CrmWorld, crm: str) -> None:
    side = _prepare(world, crm)
    ids = _populate(world, side)
    before = len(side.records())

    first = world.run(side.sync)
    summary = first.summary()
    assert first.status is RunStatus.PARTIAL, first.error  # the ambiguous pair is a rejection
    assert first.plan is not None and first.plan.counts.skipped == 1  # a5: cold, never created
    assert (summary["adopted"], summary["created"], summary["rejected"]) == (1, 4, 1)
    # a1 met its record by the match value, a2 adopted its own; only a4, a6 and a7 are new records.
    assert len(side.records()) == before + 3
    [matched] = side.with_match("a1")
    assert matched["id"] == ids["matched"] and matched[side.owner] == side.user_of(DANA)
    [adopted] = side.with_match("a2")
    assert adopted["id"] == ids["adoptable"] and adopted[side.owner] == side.user_of(MARCO)
    assert not side.with_match("a3") and not side.with_match("a5")
    [created] = side.with_match("a7")
    assert created[side.owner] == side.user_of(MARCO)
    assert world.app is not None
    [error] = world.app.store.row_errors.records(side.sync)
    assert (error.key, error.code) == ("a3", "AMBIGUOUS_ADOPTION")
    assert ids["twin1"] in error.message and ids["twin2"] in error.message
    # The departed rep's and the blank owner's records exist without them; both are counted with the reason.
    for key in ("a4", "a6"):
        [record] = side.with_match(key)
        assert record.get(side.owner) != side.user_of(GONE)
    owners = summary["owners"]
    assert owners["unresolved"] == 2
    reasons = " | ".join(item["reason"] for item in owners["reasons"])
    assert GONE.email in reasons and "no active user" in reasons and "owner column owner_email is empty" in reasons

    writes = side.writes()
    again = world.run(side.sync, at=START + timedelta(hours=1))
    # Nothing changed: only the rejected ambiguous row is tried again (a lookup, still ambiguous), nothing written.
    assert again.plan is not None and (again.plan.counts.create, again.plan.counts.update) == (1, 0)
    assert again.summary()["confirmed"] == 0 and again.summary()["rejected"] == 1
    assert side.writes() == writes and len(side.records()) == before + 3

    _hot(world, "a1", "a4", "a6")
    hot = world.run(side.sync, at=START + timedelta(days=1))
    assert hot.effects is not None
    assert hot.effects.tasks["created"] == 1 and hot.effects.tasks["held_no_owner"] == 2
    [task] = side.tasks()
    assert side.task_owner(task) == side.user_of(DANA)  # nobody's task was created unassigned
    held = [
        r
        for r in world.app.store.outbox.records(sync=side.sync, kinds=(EffectKind.TASK,))
        if r.status is OutboxStatus.PENDING
    ]
    assert sorted(r.key for r in held) == ["a4", "a6"]
    assert all(r.error is not None and r.error.startswith("held, no owner") for r in held)
    shown = {s.rep: dict(s.tasks_held) for s in alert_summary(world.app.store, START - timedelta(days=1))}
    assert any(GONE.email in reason for reason in shown[GONE.email])

    writes = side.writes()
    last = world.run(side.sync, at=START + timedelta(days=2))
    assert last.summary()["confirmed"] == 0 and side.writes() == writes and len(side.tasks()) == 1


@pytest.mark.parametrize("where", ["trigger", "syncer.yaml"])
@pytest.mark.parametrize("crm", ["hubspot", "salesforce"])
def test_a_fallback_owner_gets_the_task_no_active_user_may_own(world: CrmWorld, crm: str, where: str) -> None:
    if where == "trigger":  # the trigger's own fallback wins over the project's
        side = _prepare(
            world,
            crm,
            fallback=f"\n      fallback_owner: {MARCO.email}",
            project=f"tasks:\n  fallback_owner: {DANA.email}\n",
        )
    else:
        side = _prepare(world, crm, project=f"tasks:\n  fallback_owner: {MARCO.email}\n")
    world.account("a4", GONE.email, 60)
    world.domains["a4"] = "gone.example"
    assert world.run(side.sync).status is RunStatus.SUCCEEDED
    _hot(world, "a4")
    outcome = world.run(side.sync, at=START + timedelta(days=1))
    assert outcome.effects is not None and outcome.effects.tasks["fallback_owner"] == 1
    [task] = side.tasks()
    assert side.task_owner(task) == side.user_of(MARCO)


SECRETS = {"SLACK_BOT_TOKEN": "xoxb-sandbox-token", "HUBSPOT_ACCESS_TOKEN": "sandbox-token"}


def _plan_json(world: CrmWorld, sync: str, env: dict[str, str]) -> dict[str, Any]:
    """``syncer plan SYNC --json`` as a user runs it (the world's app closed: the CLI opens the state itself)."""
    if world.app is not None:
        world.app.close()
        world.app = None
    result = CliRunner().invoke(
        cli, ["plan", sync, "--project", str(world.root), "--json"], env=env, catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.stdout))


@pytest.mark.parametrize("crm", ["hubspot", "salesforce"])
def test_plan_shows_adopt_and_ambiguous_apart_from_create_as_the_run_then_does(world: CrmWorld, crm: str) -> None:
    side = _prepare(world, crm)
    ids = _populate(world, side)
    world.write()
    records, writes = side.records(), side.writes()

    planned = _plan_json(world, side.sync, SECRETS)
    changes = planned["changes"]
    # a1 meets its record by the match value (a create that the upsert turns into an update, as the run counts
    # it), a2 is adopted, a3 is torn between the twins, a4, a6 and a7 are new; a5 (cold) is skipped.
    assert (changes["create"], changes["adopt"], changes["ambiguous"]) == (4, 1, 1)
    assert planned["skipped_create_when"] == 1 and planned["adoption_not_previewed"] is None
    [ambiguous] = planned["ambiguous"]
    assert ambiguous["key"] == "a3" and sorted(ambiguous["ids"]) == sorted([ids["twin1"], ids["twin2"]])
    text = CliRunner().invoke(cli, ["plan", side.sync, "--project", str(world.root)], env={**SECRETS, "COLUMNS": "200"})
    assert text.exit_code == 0, text.output
    assert re.search(r"create\s+┃\s+adopt\s+┃\s+ambiguous", text.stdout)
    assert re.search(r"│\s+4\s+│\s+1\s+│\s+1\s+│", text.stdout)
    assert f"ambiguous: a3 would be rejected between {ids['twin1']}, {ids['twin2']}" in text.stdout
    assert side.writes() == writes and side.records() == records  # a plan writes nothing

    world.app = App(world.root, SECRETS)
    summary = world.run(side.sync).summary()
    assert (summary["created"], summary["adopted"], summary["rejected"]) == (4, 1, 1)


def test_plan_without_the_destinations_secrets_says_adoption_was_not_previewed(world: CrmWorld) -> None:
    side = _prepare(world, "hubspot")
    _populate(world, side)
    world.write()

    planned = _plan_json(world, side.sync, {"SLACK_BOT_TOKEN": "xoxb-sandbox-token"})
    assert "adopt" not in planned["changes"] and planned["changes"]["create"] == 6
    assert "HUBSPOT_ACCESS_TOKEN" in planned["adoption_not_previewed"]
    text = CliRunner().invoke(cli, ["plan", side.sync, "--project", str(world.root)], env={"SLACK_BOT_TOKEN": "x"})
    assert text.exit_code == 0, text.output
    assert "adoption could not be previewed" in text.output


def test_plan_whose_destination_refuses_the_lookup_says_so_in_one_line(world: CrmWorld) -> None:
    side = _prepare(world, "hubspot")
    _populate(world, side)
    world.write()

    world.sandbox.hubspot.set_faults([FaultRule(route="POST /crm/v3/objects/companies/search", unauthorized_after=0)])
    try:
        planned = _plan_json(world, side.sync, SECRETS)
    finally:
        world.sandbox.hubspot.set_faults([])
    assert "adopt" not in planned["changes"] and planned["changes"]["create"] == 6
    reason = planned["adoption_not_previewed"]
    assert (
        reason.startswith("the destination refused the lookup: HubSpot refused the access token") and "\n" not in reason
    )
    assert SECRETS["HUBSPOT_ACCESS_TOKEN"] not in json.dumps(planned)
