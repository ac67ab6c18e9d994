"""Bad URLs and paths, a locked warehouse, a forbidden model, a malformed trigger: one clear line, the right exit
code, no traceback; a run that failed is recorded, and the next run tries again."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from connectors.sandbox import Sandbox
from syncer.cli import cli
from syncer.state import RunStatus, open_state
from tests.project import ENVIRONMENT, MAPPING_YAML, PROJECT_YAML, make_project

runner = CliRunner()


def invoke(*args: str) -> Result:
    result = runner.invoke(cli, list(args), env=ENVIRONMENT)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    for secret in ENVIRONMENT.values():
        assert secret not in result.output
    return result


def _set_urls(root: Path, warehouse: str | None = None, state: str | None = None) -> None:
    text = PROJECT_YAML.format(state_url=state or "duckdb:///.syncer/state.duckdb", hubspot_url="http://127.0.0.1:9")
    if warehouse is not None:
        text = text.replace("duckdb:///warehouse.duckdb", warehouse)
    (root / "syncer.yaml").write_text(text)


BAD_STATE = [
    ("no-scheme-at-all", "state.url: must start with duckdb:// or postgresql:// (got no scheme)"),
    ("mysql://u:hunter2@db/state", "state.url: must start with duckdb:// or postgresql:// (got 'mysql://')"),
    ("postgresql://u:hunter2@db:port/state", "state.url: the port is not a number"),
    ("duckdb:///mappings", "is a directory; name the state file inside it"),
    ("duckdb:///syncer.yaml/state.duckdb", "syncer.yaml is a file, so the state file cannot be created below it"),
]


@pytest.mark.parametrize(("url", "message"), BAD_STATE)
def test_a_bad_state_url_or_path_is_one_config_line(tmp_path: Path, url: str, message: str) -> None:
    make_project(tmp_path, accounts=20)
    _set_urls(tmp_path, state=url)
    result = invoke("run", "companies", "-p", str(tmp_path))
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "hunter2" not in result.output
    assert "Traceback" not in result.output


BAD_WAREHOUSE = [
    ("not a url", "warehouse.url: not a database URL"),
    ("snowflake://u:hunter2@account/db", "unsupported database 'snowflake' (install the snowflake-sqlalchemy extra)"),
    ("nosuchdb://u:hunter2@host/db", "unsupported database 'nosuchdb'"),
    ("mysql://u:hunter2@host/db", "the driver for 'mysql' is not installed (MySQLdb)"),
    ("postgresql://u:hunter2@host:port/db", "warehouse.url: the port is not a number"),
    ("duckdb:///mappings", "mappings is a directory, not a DuckDB file"),
]


@pytest.mark.parametrize(("url", "message"), BAD_WAREHOUSE)
def test_a_bad_warehouse_url_or_path_is_one_config_line(tmp_path: Path, url: str, message: str) -> None:
    make_project(tmp_path, accounts=20)
    _set_urls(tmp_path, warehouse=url)
    result = invoke("validate", "-p", str(tmp_path))
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "hunter2" not in result.output
    assert "Traceback" not in result.output


def test_an_unreachable_postgres_state_is_one_line_and_exit_1(tmp_path: Path) -> None:
    make_project(tmp_path, accounts=20)
    _set_urls(tmp_path, state="postgresql://u:hunter2@127.0.0.1:1/state")
    result = invoke("run", "companies", "-p", str(tmp_path))
    assert result.exit_code == 1
    assert result.output.startswith("cannot reach the PostgreSQL state store")
    assert len(result.output.strip().splitlines()) == 1
    assert "hunter2" not in result.output


def test_a_warehouse_locked_by_a_build_fails_the_run_and_the_next_run_succeeds(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    make_project(tmp_path, accounts=50, hubspot_url=sandbox.urls["hubspot"])
    build = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time\n"
            f"con = duckdb.connect({str(tmp_path / 'warehouse.duckdb')!r})\n"
            "con.execute('CREATE TABLE building AS SELECT 1 AS x')\n"
            "print('ready', flush=True)\ntime.sleep(120)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert build.stdout is not None and build.stdout.readline().strip() == "ready"
        locked = invoke("run", "companies", "-p", str(tmp_path))
    finally:
        build.kill()
        build.communicate()  # waits, and closes its pipe
    assert locked.exit_code == 1
    (line,) = locked.output.strip().splitlines()
    assert f"is locked by another process (PID {build.pid}), probably a build writing it" in line
    again = invoke("run", "companies", "-p", str(tmp_path), "--json")
    assert again.exit_code == 0, again.output
    assert json.loads(again.output)[0]["status"] == RunStatus.SUCCEEDED
    store = open_state("duckdb:///.syncer/state.duckdb", tmp_path)
    try:
        assert [r.status for r in store.runs.recent("companies")] == [RunStatus.SUCCEEDED, RunStatus.FAILED]
    finally:
        store.close()


def test_a_model_that_writes_is_refused_and_the_run_recorded_failed(tmp_path: Path) -> None:
    make_project(tmp_path, MAPPING_YAML.replace("table: scored_accounts", "sql: DELETE FROM snapshot"), accounts=20)
    result = invoke("validate", "-p", str(tmp_path))
    assert result.exit_code == 2
    assert "model: the warehouse cannot run the model: the model must be a query" in result.output
    run = invoke("run", "companies", "-p", str(tmp_path))
    assert run.exit_code == 1
    assert "not a DELETE statement" in run.output


WHENS = [
    ("new.pql_score > 1; DROP TABLE snapshot", "not an SQL expression: Parser Error: syntax error at or near"),
    ("true); DROP TABLE snapshot; SELECT (true", "must be one condition, not several statements"),
    ("new.pql_score > 1) FROM snapshot WHERE (true", "must be one condition (an expression), not a query"),
    ("new.pql_score + 1", "must be true or false, but it gives a DECIMAL"),
    ("(SELECT count(*) > 0 FROM snapshot)", "the condition does not bind"),
]


@pytest.mark.parametrize(("when", "message"), WHENS)
def test_a_trigger_condition_is_exactly_one_boolean_expression(tmp_path: Path, when: str, message: str) -> None:
    trigger = f'triggers:\n  - name: t\n    when: "{when}"\n    task: {{subject: hi}}\n'
    make_project(tmp_path, MAPPING_YAML + trigger, accounts=20)
    result = invoke("validate", "-p", str(tmp_path))
    assert result.exit_code == 2, result.output
    assert f"mappings/companies.yaml:19: triggers[0].when: {message}" in result.output


def test_a_run_of_a_sync_already_running_on_postgres_exits_1_naming_it(
    tmp_path: Path, pg_url: str, sandbox: Sandbox
) -> None:
    make_project(tmp_path, state_url=pg_url, accounts=20, hubspot_url=sandbox.urls["hubspot"])
    other = open_state(pg_url, tmp_path)  # another replica, mid-run
    try:
        with other.runs.lock("companies", 0):
            result = invoke("run", "companies", "-p", str(tmp_path))
        assert result.exit_code == 1
        (line,) = result.output.strip().splitlines()
        assert line.startswith("sync 'companies' is already running (another syncer process or replica")
        assert other.runs.recent("companies") == []  # the refused run did not start
        assert invoke("run", "companies", "-p", str(tmp_path)).exit_code == 0
        assert [r.status for r in other.runs.recent("companies")] == [RunStatus.SUCCEEDED]
    finally:
        other.close()
