"""The command line, end to end on a real project directory: exit codes, JSON shapes, run history."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from connectors.sandbox import Sandbox
from syncer.cli import cli
from tests.project import ENVIRONMENT, MAPPING_YAML, make_project

runner = CliRunner()


def invoke(*args: str) -> Result:
    result = runner.invoke(cli, list(args), env=ENVIRONMENT, catch_exceptions=False)
    for secret in ENVIRONMENT.values():
        assert secret not in result.output
    return result


def test_validate_accepts_a_good_project(tmp_path: Path) -> None:
    make_project(tmp_path)
    result = invoke("validate", "-p", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert "1 sync(s) valid: companies" in result.output


def test_validate_names_file_line_and_key_of_a_missing_column(tmp_path: Path) -> None:
    make_project(tmp_path, MAPPING_YAML.replace("source: pql_score", "source: pql_scor"))
    result = invoke("validate", "-p", str(tmp_path), "--json")
    assert result.exit_code == 2
    (problem,) = json.loads(result.output)["problems"]
    assert (problem["file"], problem["line"], problem["path"]) == (
        "mappings/companies.yaml",
        13,
        "fields.pql_score.source",
    )
    assert problem["message"].startswith("column 'pql_scor' is not a column of the model (it has: account_id")


def test_validate_rejects_a_trigger_that_does_not_bind(tmp_path: Path) -> None:
    make_project(
        tmp_path, MAPPING_YAML + "triggers:\n  - name: t\n    when: new.no_such_column > 1\n    task: {subject: hi}\n"
    )
    result = invoke("validate", "-p", str(tmp_path))
    assert result.exit_code == 2
    assert "mappings/companies.yaml:19: triggers[0].when: the condition does not bind" in result.output


def test_validate_reports_a_model_the_warehouse_cannot_run(tmp_path: Path) -> None:
    make_project(tmp_path, MAPPING_YAML.replace("table: scored_accounts", "table: no_such_table"))
    result = invoke("validate", "-p", str(tmp_path))
    assert result.exit_code == 2
    assert "mappings/companies.yaml:2: model: the warehouse cannot run the model" in result.output


def test_bad_configuration_exits_2_for_every_command(tmp_path: Path) -> None:
    make_project(tmp_path, MAPPING_YAML.replace("connector: hubspot", "connector: nope"))
    for command in (["validate"], ["plan", "companies"], ["run", "companies"], ["status"]):
        result = invoke(*command, "-p", str(tmp_path))
        assert result.exit_code == 2, command
        assert "mappings/companies.yaml:6: destination.connector: unknown connector 'nope'" in result.output


def test_plan_json_is_a_dry_run(tmp_path: Path) -> None:
    make_project(tmp_path, accounts=300)
    result = invoke("plan", "companies", "-p", str(tmp_path), "--json", "--limit", "2")
    assert result.exit_code == 0
    plan = json.loads(result.output)
    assert plan["sync"] == "companies"
    assert plan["model_rows"] == 300
    assert plan["changes"] == {"create": 300, "update": 0, "clear": 0, "unchanged": 0}
    assert plan["rejected"] == 0
    assert len(plan["samples"]["create"]) == 2
    status = json.loads(invoke("status", "-p", str(tmp_path), "--json").output)
    assert status[0]["last_run"] is None  # planning records nothing


def test_unknown_sync_exits_2(tmp_path: Path) -> None:
    make_project(tmp_path)
    result = invoke("plan", "nope", "-p", str(tmp_path))
    assert result.exit_code == 2
    assert "no sync named 'nope' (known: companies)" in result.output


def test_run_delivers_records_history_and_status_shows_it(tmp_path: Path, sandbox: Sandbox) -> None:
    make_project(tmp_path, accounts=120, hubspot_url=sandbox.urls["hubspot"])
    result = invoke("run", "--all", "-p", str(tmp_path), "--json")
    assert result.exit_code == 0
    (summary,) = json.loads(result.output)
    assert {
        k: summary[k] for k in ("sync", "status", "sent", "confirmed", "rejected", "api_calls", "rate_limited")
    } == {
        "sync": "companies",
        "status": "succeeded",
        "sent": 120,
        "confirmed": 120,
        "rejected": 0,
        "api_calls": 3,
        "rate_limited": 0,
    }  # two batch upserts and the properties read
    assert summary["duration_s"] > 0
    assert sandbox.hubspot.log.count("/batch/upsert") == 2
    assert len([c for c in sandbox.hubspot.records("companies") if c["properties"].get("pql_tier")]) >= 120
    status = json.loads(invoke("status", "-p", str(tmp_path), "--json").output)
    (row,) = status
    assert row["sync"] == "companies"
    assert row["schedule"] == "every 10m"
    assert row["last_run"]["status"] == "succeeded"
    assert (row["last_run"]["model_rows"], row["last_run"]["creates"]) == (120, 120)


def test_run_of_a_failing_model_exits_1_and_is_recorded(tmp_path: Path) -> None:
    make_project(tmp_path, MAPPING_YAML.replace("table: scored_accounts", "sql: SELECT * FROM gone"))
    result = invoke("run", "companies", "-p", str(tmp_path))
    assert result.exit_code == 1
    assert "the warehouse could not run the model" in result.output
    status = json.loads(invoke("status", "-p", str(tmp_path), "--json").output)
    assert status[0]["last_run"]["status"] == "failed"


def test_run_needs_a_sync_or_all(tmp_path: Path) -> None:
    make_project(tmp_path)
    assert invoke("run", "-p", str(tmp_path)).exit_code == 2


def test_reset_forgets_the_snapshot(tmp_path: Path) -> None:
    make_project(tmp_path)
    result = invoke("reset", "companies", "-p", str(tmp_path), "--yes")
    assert result.exit_code == 0
    assert "forgot 0 snapshot row(s) of companies" in result.output


def test_schema_writes_json_schemas(tmp_path: Path) -> None:
    result = invoke("schema", "--out", str(tmp_path))
    assert result.exit_code == 0
    mapping = json.loads((tmp_path / "mapping.schema.json").read_text())
    project = json.loads((tmp_path / "syncer.schema.json").read_text())
    assert {"name", "model", "key", "fields"} <= set(mapping["required"])
    assert "destination" in mapping["properties"] and "destination" not in mapping["required"]  # a watch has none
    assert mapping["additionalProperties"] is False
    assert "connectors" in project["properties"]


def test_run_with_postgres_state(tmp_path: Path, pg_url: str, sandbox: Sandbox) -> None:
    make_project(tmp_path, state_url=pg_url, accounts=50, hubspot_url=sandbox.urls["hubspot"])
    assert invoke("run", "companies", "-p", str(tmp_path)).exit_code == 0
    status = json.loads(invoke("status", "-p", str(tmp_path), "--json").output)
    assert status[0]["last_run"]["creates"] == 50


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("  pql_tier: pql_tier", "  pql_tier: [unclosed"), "mappings/companies.yaml:16: invalid YAML"),
        (("key: account_id", "key: account_id\nkeys: 1"), "mappings/companies.yaml:5: keys: unknown key"),
        (("source: pql_score", "source: score"), "mappings/companies.yaml:13: fields.pql_score.source: column 'score'"),
        (("every 10m", "'0 0 31 2 * *'"), "mappings/companies.yaml:16: schedule: '0 0 31 2 * *' is neither"),
        (("connector: hubspot", "connector: marketo"), "mappings/companies.yaml:6: destination.connector: unknown"),
    ],
)
def test_a_broken_mapping_exits_2_naming_file_and_line(tmp_path: Path, change: tuple[str, str], expected: str) -> None:
    make_project(tmp_path, MAPPING_YAML.replace(*change))
    result = invoke("validate", "-p", str(tmp_path))
    assert result.exit_code == 2
    assert expected in result.output


def test_data_that_looks_like_markup_is_shown_as_it_is(tmp_path: Path) -> None:
    make_project(
        tmp_path,
        MAPPING_YAML.replace(
            "table: scored_accounts", "sql: SELECT *, '[bold]x[/bold]' AS t FROM scored_accounts"
        ).replace("  pql_tier: pql_tier", "  pql_tier: t"),
        accounts=3,
    )
    result = invoke("plan", "companies", "-p", str(tmp_path), "--limit", "1")
    assert result.exit_code == 0
    assert "pql_tier='[bold]x[/bold]'" in result.output


def test_a_state_file_locked_by_another_process_is_a_clear_failure(tmp_path: Path) -> None:
    make_project(tmp_path)
    assert invoke("status", "-p", str(tmp_path)).exit_code == 0  # creates the state file
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; "
            f"c = duckdb.connect({str(tmp_path / '.syncer' / 'state.duckdb')!r}); "
            "print('locked', flush=True); time.sleep(30)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        result = invoke("status", "-p", str(tmp_path))
    finally:
        holder.kill()
        holder.communicate()  # waits, and closes its pipe
    assert result.exit_code == 1
    assert "is in use by another process" in result.output


def test_a_database_password_in_the_warehouse_url_is_never_shown(tmp_path: Path) -> None:
    make_project(tmp_path)
    (tmp_path / "syncer.yaml").write_text(
        (tmp_path / "syncer.yaml")
        .read_text()
        .replace("duckdb:///warehouse.duckdb", "postgresql+psycopg://syncer:${TEST_HUBSPOT_TOKEN}@127.0.0.1:9/nowhere")
    )
    result = invoke("demo", "-p", str(tmp_path))
    assert "postgresql+psycopg://syncer:***@127.0.0.1:9/nowhere" in result.output
    assert result.exit_code == 2  # the warehouse cannot run the models: reported per mapping


def test_status_shows_row_error_reasons_with_their_keys(tmp_path: Path, sandbox: Sandbox) -> None:
    duplicated = (
        "sql: SELECT * FROM scored_accounts UNION ALL "
        "SELECT * FROM scored_accounts WHERE account_id IN ('acc_0000001', 'acc_0000002', 'acc_0000003', "
        "'acc_0000004')"
    )
    make_project(
        tmp_path,
        MAPPING_YAML.replace("table: scored_accounts", duplicated),
        accounts=20,
        hubspot_url=sandbox.urls["hubspot"],
    )
    assert invoke("run", "companies", "-p", str(tmp_path)).exit_code == 0
    result = invoke("status", "-p", str(tmp_path))
    assert result.exit_code == 0
    lines = result.output.splitlines()
    start = lines.index(
        "companies: rows rejected, kept pending and tried again next run (first 3; status --json lists more):"
    )
    shown = lines[start + 1 : start + 4]
    assert [line.split(":")[0].strip() for line in shown] == ["acc_0000001", "acc_0000002", "acc_0000003"]
    assert all("duplicate" in line for line in shown), shown
    status = json.loads(invoke("status", "-p", str(tmp_path), "--json").output)
    assert [error["key"] for error in status[0]["row_errors"]] == [f"acc_000000{i}" for i in range(1, 5)]


def test_validate_json_lists_missing_secrets_as_warnings(tmp_path: Path) -> None:
    make_project(tmp_path)
    result = runner.invoke(
        cli,
        ["validate", "-p", str(tmp_path), "--json"],
        env={**ENVIRONMENT, "TEST_SLACK_TOKEN": None},
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["ok"] is True
    assert report["warnings"] == [
        {
            "file": "syncer.yaml",
            "line": 12,
            "path": "connectors.slack.token",
            "message": "environment variable TEST_SLACK_TOKEN is not set",
        }
    ]


def test_run_names_every_missing_secret_its_syncs_need(tmp_path: Path) -> None:
    make_project(
        tmp_path,
        MAPPING_YAML + "triggers:\n  - name: hot\n    when: new.pql_score > 90\n"
        "    alert: {connector: slack, template: hi}\n",
    )
    result = runner.invoke(cli, ["run", "--all", "-p", str(tmp_path)], env={}, catch_exceptions=False)
    assert result.exit_code == 2
    assert (
        "syncer.yaml:8: connectors.hubspot.access_token: environment variable TEST_HUBSPOT_TOKEN is not set"
        in result.output
    )
    assert "syncer.yaml:12: connectors.slack.token: environment variable TEST_SLACK_TOKEN is not set" in result.output
    status = json.loads(invoke("status", "-p", str(tmp_path), "--json").output)
    assert status[0]["last_run"] is None  # refused before anything ran
