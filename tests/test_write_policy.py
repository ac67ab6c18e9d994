"""Field write policies and `syncer drift` end to end: the real runner and SDKs against the HubSpot and Salesforce
sandboxes, a human editing records through the vendor's own API between runs.

``unless_changed_in_crm`` keeps a value a human typed since syncer wrote it (and `drift` names it), while the same
field of an untouched record follows the warehouse; ``if_empty`` writes only into an empty CRM field.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import duckdb
import pytest
from typer.testing import CliRunner

from connectors import REGISTRY
from connectors.hubspot.client import HubSpotClient
from connectors.salesforce.connector import SalesforceDestination
from connectors.sandbox import Sandbox
from syncer.app import App
from syncer.cli import cli
from syncer.config.errors import ConfigError
from syncer.config.loader import load_project
from syncer.contract.clock import naive_now
from syncer.demo.sample_warehouse import build_sample_warehouse
from syncer.planning.drift import find_drift, same_value
from syncer.runner import RunOptions, RunOutcome, run_sync
from syncer.state.base import RunStatus
from tests.project import ENVIRONMENT, MAPPING_YAML, crm_project_yaml, make_project

ACCOUNTS = 40
ENV = {
    "HUBSPOT_ACCESS_TOKEN": "sandbox-hubspot-token",
    "SALESFORCE_CLIENT_ID": "sandbox-consumer-key",
    "SALESFORCE_CLIENT_SECRET": "sandbox-consumer-secret",
}

HUBSPOT_MAPPING = """\
name: companies
model:
  table: scored_accounts
key: account_id
destination:
  connector: hubspot
  object: companies
  match: {column: account_id, field: product_account_id}
fields:
  name: account_name
  pql_tier:
    source: pql_tier
    overwrite: unless_changed_in_crm
  pql_reason:
    source: pql_reason
    max_length: 255
    truncate: true
    overwrite: if_empty
guards: {max_update_percent: 100}
"""

SALESFORCE_MAPPING = """\
name: accounts
model:
  table: scored_accounts
key: account_id
destination:
  connector: salesforce
  object: Account
  match: {column: account_id, field: Product_Account_Id__c}
fields:
  Name: account_name
  PQL_Tier__c:
    source: pql_tier
    overwrite: unless_changed_in_crm
  PQL_Score__c:
    source: pql_score
    type: number
    round: 1
    overwrite: unless_changed_in_crm
guards: {max_update_percent: 100}
"""


@pytest.fixture
def project(tmp_path: Path, sandbox: Sandbox) -> Iterator[App]:
    (tmp_path / "mappings").mkdir()
    (tmp_path / "mappings" / "companies.yaml").write_text(HUBSPOT_MAPPING)
    (tmp_path / "mappings" / "accounts.yaml").write_text(SALESFORCE_MAPPING)
    (tmp_path / "syncer.yaml").write_text(crm_project_yaml(sandbox))
    build_sample_warehouse(tmp_path / "warehouse.duckdb", accounts=ACCOUNTS)
    app = App(tmp_path, ENV)
    yield app
    app.close()


def _run(app: App, name: str) -> RunOutcome:
    outcome = run_sync(
        app.project.sync(name),
        app.store,
        app.warehouse,
        naive_now,
        app.open_destination,
        RunOptions(batch_size=app.batch_size),
    )
    assert outcome.status is RunStatus.SUCCEEDED, outcome.error
    return outcome


def _warehouse(app: App, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(app.root / "warehouse.duckdb"))
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def _other_tier(tier: str, *avoid: str) -> str:
    return next(t for t in ("hot", "warm", "cold") if t != tier and t not in avoid)


def _drift(app: App, sync: str) -> dict[str, Any]:
    config = app.project.sync(sync)
    destination = app.open_destination(config)
    assert destination is not None
    try:
        return find_drift(config, app.store, destination).as_dict()
    finally:
        destination.close()


def test_hubspot_keeps_a_humans_edit_writes_the_rest_and_drift_names_it(project: App, sandbox: Sandbox) -> None:
    _run(project, "companies")
    (edited, edited_tier), (control, control_tier), (emptied, _) = _warehouse(
        project, "SELECT account_id, pql_tier FROM scored_accounts WHERE pql_reason <> '' ORDER BY account_id LIMIT 3"
    )
    companies = {
        c["properties"]["product_account_id"]: c
        for c in sandbox.hubspot.records("companies")
        if c["properties"].get("product_account_id")
    }
    human_tier = _other_tier(edited_tier)
    client = HubSpotClient(project.project.connectors["hubspot"], "companies")  # type: ignore[arg-type]
    try:  # a rep edits two companies in HubSpot
        basic = client.sdk.crm.companies.basic_api
        basic.update(companies[edited]["id"], {"properties": {"pql_tier": human_tier}})
        basic.update(companies[emptied]["id"], {"properties": {"pql_reason": ""}})
    finally:
        client.close()

    report = _drift(project, "companies")
    tier = next(f for f in report["fields"] if f["field"] == "pql_tier")
    assert tier["keys"] == 1 and tier["overwrite"] == "unless_changed_in_crm"
    assert tier["examples"][0]["key"] == edited and tier["examples"][0]["crm"] == human_tier
    assert tier["examples"][0]["confirmed"] == edited_tier
    reason = next(f for f in report["fields"] if f["field"] == "pql_reason")
    assert [e["key"] for e in reason["examples"]] == [emptied] and reason["examples"][0]["crm"] is None

    # The warehouse changes the tier of both the edited and the control account, and three reasons.
    new_edited, new_control = _other_tier(edited_tier, human_tier), _other_tier(control_tier)
    _warehouse(project, "UPDATE scored_accounts SET pql_tier = ? WHERE account_id = ?", new_edited, edited)
    _warehouse(project, "UPDATE scored_accounts SET pql_tier = ? WHERE account_id = ?", new_control, control)
    _warehouse(
        project,
        "UPDATE scored_accounts SET pql_reason = 'new reason' WHERE account_id IN (?, ?, ?)",
        edited,
        control,
        emptied,
    )
    outcome = _run(project, "companies")
    kept = outcome.summary()["kept_in_crm"]
    assert kept["pql_tier"] == {"keys": 1, "examples": [edited]}
    assert kept["pql_reason"] == {"keys": 2, "examples": sorted([edited, control])}

    after = {
        c["properties"]["product_account_id"]: c["properties"]
        for c in sandbox.hubspot.records("companies")
        if c["properties"].get("product_account_id")
    }
    assert after[edited]["pql_tier"] == human_tier  # the rep's value survived
    assert after[control]["pql_tier"] == new_control  # an untouched record follows the warehouse
    assert after[emptied]["pql_reason"] == "new reason"  # empty in the CRM: if_empty writes it
    assert after[control]["pql_reason"] != "new reason"  # not empty: if_empty leaves it
    # The snapshot still holds what syncer last wrote, so drift still names the edit, and a run with no new change
    # sends nothing.
    tier = next(f for f in _drift(project, "companies")["fields"] if f["field"] == "pql_tier")
    assert tier["keys"] == 1 and tier["examples"][0]["confirmed"] == edited_tier
    again = _run(project, "companies")
    assert again.delivery is not None and again.delivery.sent == 0

    project.close()  # the command opens the project's state itself
    shown = CliRunner().invoke(cli, ["drift", "companies", "-p", str(project.root)], env=ENV)
    assert shown.exit_code == 0, shown.output
    assert "pql_tier: 1 record(s) differ (overwrite: unless_changed_in_crm)" in shown.output
    assert f"{edited} (" in shown.output and f"CRM '{human_tier}', syncer last wrote '{edited_tier}'" in shown.output
    as_json = CliRunner().invoke(cli, ["drift", "companies", "-p", str(project.root), "--json"], env=ENV)
    assert as_json.exit_code == 0 and json.loads(as_json.output)["records"] == ACCOUNTS


def test_salesforce_keeps_a_humans_edit_and_drift_names_it(project: App, sandbox: Sandbox) -> None:
    _run(project, "accounts")
    rows = _warehouse(
        project, "SELECT account_id, pql_tier, pql_score FROM scored_accounts ORDER BY account_id LIMIT 2"
    )
    (edited, edited_tier, _), (control, control_tier, control_score) = rows
    ids = {
        str(a["Product_Account_Id__c"]): str(a["Id"])
        for a in sandbox.salesforce.state()["objects"]["Account"]
        if a.get("Product_Account_Id__c")
    }
    human_tier = _other_tier(edited_tier)
    destination = project.open_destination(project.project.sync("accounts"))
    assert isinstance(destination, SalesforceDestination)
    try:  # an admin edits one Account in Salesforce
        destination.client.call(
            "edit", lambda sf: cast(Any, sf).Account.update(ids[edited], {"PQL_Tier__c": human_tier})
        )
    finally:
        destination.close()

    tier = next(f for f in _drift(project, "accounts")["fields"] if f["field"] == "PQL_Tier__c")
    assert (tier["keys"], tier["examples"][0]["key"], tier["examples"][0]["crm"]) == (1, edited, human_tier)
    score = next(f for f in _drift(project, "accounts")["fields"] if f["field"] == "PQL_Score__c")
    assert score["keys"] == 0  # Salesforce answers 42.0 for 42: compared as numbers

    _warehouse(
        project,
        "UPDATE scored_accounts SET pql_tier = ? WHERE account_id = ?",
        _other_tier(edited_tier, human_tier),
        edited,
    )
    _warehouse(
        project,
        "UPDATE scored_accounts SET pql_tier = ?, pql_score = ? WHERE account_id = ?",
        _other_tier(control_tier),
        float(control_score) + 1,
        control,
    )
    outcome = _run(project, "accounts")
    assert outcome.summary()["kept_in_crm"] == {"PQL_Tier__c": {"keys": 1, "examples": [edited]}}
    accounts = {
        str(a["Product_Account_Id__c"]): a
        for a in sandbox.salesforce.state()["objects"]["Account"]
        if a.get("Product_Account_Id__c")
    }
    assert accounts[edited]["PQL_Tier__c"] == human_tier
    assert accounts[control]["PQL_Tier__c"] == _other_tier(control_tier)
    assert float(accounts[control]["PQL_Score__c"]) == pytest.approx(round(float(control_score) + 1, 1))


def test_a_write_policy_on_a_destination_that_cannot_read_records_is_a_validate_error(tmp_path: Path) -> None:
    make_project(
        tmp_path,
        MAPPING_YAML.replace("connector: hubspot", "connector: hook").replace(
            "  pql_tier: pql_tier\n", "  pql_tier:\n    source: pql_tier\n    overwrite: if_empty\n"
        ),
    )
    with (tmp_path / "syncer.yaml").open("a") as config:
        config.write("  hook:\n    type: webhook\n    url: https://example.com/hook\n")
    with pytest.raises(ConfigError) as caught:
        load_project(tmp_path, REGISTRY, ENVIRONMENT)
    assert [str(p) for p in caught.value.problems] == [
        "mappings/companies.yaml:17: fields.pql_tier.overwrite: overwrite: if_empty reads the destination's current "
        "values, which a webhook destination cannot read (use overwrite: always)"
    ]
    # The same mapping on HubSpot, whose destination reads records, is valid.
    make_project(
        tmp_path,
        MAPPING_YAML.replace("  pql_tier: pql_tier\n", "  pql_tier:\n    source: pql_tier\n    overwrite: if_empty\n"),
    )
    assert (
        load_project(tmp_path, REGISTRY, ENVIRONMENT).sync("companies").fields["pql_tier"].overwrite.value == "if_empty"
    )


@pytest.mark.parametrize(
    ("crm", "confirmed", "same"),
    [
        (None, None, True),
        ("", None, True),
        (None, "x", False),
        ("x", None, False),
        ("42.0", "42", True),
        ("42.5", "42", False),
        ("true", "True", True),
        ("true", "false", False),
        ("Hot", "hot", False),  # a picklist compares case and all
    ],
)
def test_values_compare_as_the_crm_answers_them(crm: str | None, confirmed: str | None, *, same: bool) -> None:
    assert same_value(crm, confirmed) is same
