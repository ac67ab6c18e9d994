"""`syncer check` and `syncer setup` against the sandbox: credentials, missing fields named, created, then clean."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner, Result

from connectors.sandbox import Sandbox
from syncer.cli import cli
from tests.project import ENVIRONMENT, MAPPING_YAML, make_project

runner = CliRunner()
WITH_NEW_FIELD = MAPPING_YAML.replace("  pql_tier: pql_tier\n", "  pql_tier: pql_tier\n  pql_next_step: pql_reason\n")


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    result = runner.invoke(cli, list(args), env=env or ENVIRONMENT)
    assert "Traceback" not in result.output
    for secret in ENVIRONMENT.values():
        assert secret not in result.output
    return result


def test_check_passes_when_every_field_exists_with_a_compatible_type(tmp_path: Path, sandbox: Sandbox) -> None:
    make_project(tmp_path, hubspot_url=sandbox.urls["hubspot"], accounts=5)
    result = invoke("check", "companies", "-p", str(tmp_path), "--json")
    assert result.exit_code == 0, result.output
    (report,) = json.loads(result.output)
    assert (report["sync"], report["error"], report["fields"]) == ("companies", None, [])


def test_check_names_a_missing_field_setup_creates_it_and_check_is_then_clean(tmp_path: Path, sandbox: Sandbox) -> None:
    make_project(tmp_path, WITH_NEW_FIELD, hubspot_url=sandbox.urls["hubspot"], accounts=5)
    checked = invoke("check", "companies", "-p", str(tmp_path))
    assert checked.exit_code == 1
    assert "pql_next_step" in checked.output and "syncer setup can create it" in checked.output
    assert "pql_next_step" not in sandbox.hubspot.state()["custom_properties"]["companies"]
    created = invoke("setup", "companies", "-p", str(tmp_path))
    assert created.exit_code == 0, created.output
    assert "pql_next_step" in created.output
    assert "pql_next_step" in sandbox.hubspot.state()["custom_properties"]["companies"]
    assert invoke("check", "companies", "-p", str(tmp_path)).exit_code == 0


def test_check_with_a_refused_token_is_one_clear_failure(tmp_path: Path, sandbox: Sandbox) -> None:
    make_project(tmp_path, hubspot_url=sandbox.urls["hubspot"], accounts=5)
    sandbox.hubspot.accept_tokens(frozenset({"another-token"}))
    try:
        result = invoke("check", "companies", "-p", str(tmp_path), "--json")
    finally:
        sandbox.hubspot.accept_tokens(None)
    assert result.exit_code == 1
    (report,) = json.loads(result.output)
    problems = json.dumps(report)
    assert "access_token" in problems


def test_check_without_the_destination_secret_names_the_variable(tmp_path: Path, sandbox: Sandbox) -> None:
    make_project(tmp_path, hubspot_url=sandbox.urls["hubspot"], accounts=5)
    result = invoke(
        "check", "companies", "-p", str(tmp_path), env={"TEST_SLACK_TOKEN": ENVIRONMENT["TEST_SLACK_TOKEN"]}
    )
    assert result.exit_code == 2
    assert "TEST_HUBSPOT_TOKEN" in result.output
