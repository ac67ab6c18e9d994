"""`syncer check` against the destination's options and names, and the run-time preflight that refuses the same
mistakes before anything is sent, on the HubSpot and Salesforce sandboxes through the command line.

The mistakes are the ones a CRM admin makes: a value map producing ``Hot`` for options ``hot``, a property name
misspelt, a Salesforce match field that does not exist, a Salesforce task ``priority: HIGH`` (Salesforce says
``High``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from connectors.sandbox import Sandbox
from syncer.cli import cli
from syncer.demo.sample_warehouse import build_sample_warehouse
from tests.project import crm_project_yaml

ENV = {
    "HUBSPOT_ACCESS_TOKEN": "sandbox-hubspot-token",
    "SALESFORCE_CLIENT_ID": "sandbox-consumer-key",
    "SALESFORCE_CLIENT_SECRET": "sandbox-consumer-secret",
}

HUBSPOT = """\
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
"""

SALESFORCE = """\
name: accounts
model:
  table: scored_accounts
key: account_id
destination:
  connector: salesforce
  object: Account
  match: {column: account_id, field: MATCH}
fields:
  Name: account_name
"""

TIER_MAP = """\
  pql_tier:
    source: pql_tier
    map: {hot: Hot, warm: Warm, cold: cold}
"""


def project(root: Path, sandbox: Sandbox, mapping: str) -> Path:
    (root / "mappings").mkdir(parents=True)
    (root / "mappings" / "sync.yaml").write_text(mapping)
    (root / "syncer.yaml").write_text(crm_project_yaml(sandbox))
    build_sample_warehouse(root / "warehouse.duckdb", accounts=30)
    return root


def invoke(*args: str) -> Result:
    result = CliRunner().invoke(cli, list(args), env=ENV)
    assert "Traceback" not in result.output
    for secret in ENV.values():
        assert secret not in result.output
    return result


def problems(root: Path, sync: str) -> list[str]:
    result = invoke("check", sync, "-p", str(root), "--json")
    (report,) = json.loads(result.output)
    assert result.exit_code == (1 if report["fields"] or report["error"] else 0), result.output
    return [f"{f['field']}: {f['problem']}" for f in report["fields"]]


def writes(sandbox: Sandbox) -> int:
    return sum(
        1
        for emulator in (sandbox.hubspot, sandbox.salesforce)
        for entry in emulator.log.entries()
        if entry.method in ("POST", "PATCH", "DELETE") and ("/objects/" in entry.path or "sobjects" in entry.path)
    )


def refused_run(root: Path, sync: str, sandbox: Sandbox, *expected: str) -> None:
    """``syncer run`` blocks before sending: exit 1, status blocked, one line per problem, no write."""
    sandbox.hubspot.log.clear()
    sandbox.salesforce.log.clear()
    result = invoke("run", sync, "-p", str(root), "--json")
    assert result.exit_code == 1, result.output
    (outcome,) = json.loads(result.output)
    assert outcome["status"] == "blocked" and outcome["sent"] == 0
    lines = outcome["error"].splitlines()[1:]
    assert len(lines) == len(expected)
    for line, wanted in zip(lines, expected, strict=True):
        assert wanted in line
    assert writes(sandbox) == 0


def test_a_value_map_outside_the_enumeration_options_is_caught_and_blocks_the_run(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    root = project(tmp_path, sandbox, HUBSPOT + TIER_MAP)
    found = problems(root, "companies")
    assert len(found) == 2
    assert "companies.pql_tier has no option 'Hot' (did you mean 'hot'?)" in found[0]
    assert "no option 'Warm' (did you mean 'warm'?)" in found[1] and "its options: hot, warm, cold" in found[1]
    refused_run(root, "companies", sandbox, "'Hot'", "'Warm'")
    fixed = HUBSPOT + TIER_MAP.replace("Hot", "hot").replace("Warm", "warm")
    (root / "mappings" / "sync.yaml").write_text(fixed)
    assert problems(root, "companies") == []
    assert invoke("run", "companies", "-p", str(root)).exit_code == 0


def test_a_static_value_outside_the_options_and_a_misspelt_property_are_named(tmp_path: Path, sandbox: Sandbox) -> None:
    mapping = HUBSPOT + "  pql_tier: {value: HOT}\n  pql_scroe: {source: pql_score, type: number}\n"
    root = project(tmp_path, sandbox, mapping)
    found = problems(root, "companies")
    assert any("has no option 'HOT' (did you mean 'hot'?)" in p for p in found)
    assert any(
        p.startswith("pql_scroe: ") and "no property 'pql_scroe'" in p and "did you mean 'pql_score'?" in p
        for p in found
    )
    refused_run(root, "companies", sandbox, "'HOT'", "pql_scroe")


def test_a_salesforce_match_field_that_does_not_exist_is_named_and_blocks_the_run(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    root = project(tmp_path, sandbox, SALESFORCE.replace("MATCH", "Product_Acount_Id__c"))
    found = problems(root, "accounts")
    assert found == [
        "Product_Acount_Id__c: Account has no field Product_Acount_Id__c to match on (did you mean "
        "'Product_Account_Id__c'?)"
    ]
    refused_run(root, "accounts", sandbox, "Product_Acount_Id__c")


def test_a_salesforce_picklist_value_and_task_priority_in_hubspot_words_are_caught(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    mapping = (
        SALESFORCE.replace("MATCH", "Product_Account_Id__c")
        + TIER_MAP.replace("pql_tier:", "PQL_Tier__c:")
        + """\
triggers:
  - name: became_hot
    when: "new.PQL_Tier__c = 'hot'"
    task: {subject: "PQL {{ account_name }}", priority: HIGH}
"""
    )
    root = project(tmp_path, sandbox, mapping)
    found = problems(root, "accounts")
    assert any("Account.PQL_Tier__c has no picklist value 'Hot' (did you mean 'hot'?)" in p for p in found)
    assert any(
        p.startswith("task priority: Task.Priority has no picklist value 'HIGH' (did you mean 'High'?)") for p in found
    )


@pytest.mark.parametrize("priority", ["High", "HIGH"])
def test_hubspot_task_priority_is_checked_against_its_options(tmp_path: Path, sandbox: Sandbox, priority: str) -> None:
    mapping = (
        HUBSPOT
        + f"""\
triggers:
  - name: any
    when: "true"
    task: {{subject: "PQL", priority: {priority}}}
"""
    )
    found = problems(project(tmp_path, sandbox, mapping), "companies")
    if priority == "HIGH":
        assert found == []
    else:
        assert len(found) == 1 and "tasks.hs_task_priority has no option 'High' (did you mean 'HIGH'?)" in found[0]
