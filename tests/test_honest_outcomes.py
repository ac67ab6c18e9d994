"""Runs are honest about what they wrote: a run whose every row is rejected or parked fails (exit 1), a run past
``max_reject_percent`` fails after delivery, and parked rows show in the run record, ``status``, ``run --json`` and
``/metrics``; end to end against the HubSpot sandbox."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner, Result

from connectors.sandbox import Sandbox
from syncer.daemon.metrics import Metrics
from syncer.state import RowErrorInput, open_state
from syncer.state.base import ErrorStage
from tests.helpers import NOW
from tests.project import ENVIRONMENT, MAPPING_YAML, make_project

runner = CliRunner()
STATE = "duckdb:///.syncer/state.duckdb"


def invoke(*args: str) -> Result:
    from syncer.cli import cli

    return runner.invoke(cli, list(args), env=ENVIRONMENT, catch_exceptions=False)


def run_json(project: Path) -> tuple[int, dict[str, object]]:
    result = invoke("run", "companies", "-p", str(project), "--json")
    [summary] = json.loads(result.output)
    return result.exit_code, summary


def last_run(project: Path) -> dict[str, object]:
    [row] = json.loads(invoke("status", "-p", str(project), "--json").output)
    record: dict[str, object] = row["last_run"]
    return record


def park(project: Path, keys: list[str]) -> None:
    """Park ``keys`` as if the destination had refused them (park_after is 1 in these projects)."""
    store = open_state(STATE, project)
    try:
        run_id = store.runs.start("companies", dry_run=False, now=NOW)
        store.row_errors.note(
            run_id, "companies", [RowErrorInput(key, "INVALID", "refused", ErrorStage.DELIVER) for key in keys], NOW, 1
        )
    finally:
        store.close()


def project_with(tmp_path: Path, sandbox: Sandbox, mapping: str, park_after: int = 5) -> Path:
    project = make_project(tmp_path, mapping, state_url=STATE, accounts=30, hubspot_url=sandbox.urls["hubspot"])
    config = project / "syncer.yaml"
    config.write_text(
        config.read_text().replace("state:\n", f"state:\n  row_errors:\n    park_after: {park_after}\n", 1)
    )
    return project


def test_a_field_typed_so_that_every_row_is_rejected_fails_the_run(tmp_path: Path, sandbox: Sandbox) -> None:
    mapping = MAPPING_YAML.replace("  pql_tier: pql_tier\n", "  pql_tier:\n    source: pql_tier\n    type: integer\n")
    project = project_with(tmp_path, sandbox, mapping)
    code, summary = run_json(project)
    assert code == 1 and summary["status"] == "failed" and summary["rejected_in_plan"] == 30
    assert (
        "wrote nothing: every one of the 30 rows of the model was rejected or parked (30 rejected by the plan)"
        in str(summary["error"])
    )
    record = last_run(project)
    assert record["status"] == "failed" and record["rejected"] == 30 and "companies --by reason" in str(record["error"])
    # The same model again: still every row rejected, still failed (not "succeeded" once nothing changes).
    assert run_json(project)[0] == 1 and last_run(project)["status"] == "failed"


def test_a_field_the_portal_lacks_blocks_the_run_before_anything_is_sent(tmp_path: Path, sandbox: Sandbox) -> None:
    # The run-time preflight checks the destination's schema as `syncer check` does: nothing is sent, every run,
    # until the mapping or the portal is fixed (before the preflight, 30 rows were refused one by one).
    mapping = MAPPING_YAML.replace("  pql_tier: pql_tier\n", "  pql_tier: pql_tier\n  pql_tier_typo: pql_tier\n")
    project = project_with(tmp_path, sandbox, mapping, park_after=1)
    for _ in range(2):
        code, summary = run_json(project)
        assert code == 1 and summary["status"] == "blocked" and summary["sent"] == 0 and summary["confirmed"] == 0
        assert "pql_tier_typo" in str(summary["error"])
    assert last_run(project)["status"] == "blocked"


def test_a_run_whose_every_row_is_parked_fails_and_counts_them(tmp_path: Path, sandbox: Sandbox) -> None:
    project = project_with(tmp_path, sandbox, MAPPING_YAML, park_after=1)
    keys = sorted(
        json.loads(invoke("plan", "companies", "-p", str(project), "--json", "--limit", "100").output)["samples"][
            "create"
        ],
        key=lambda row: row["key"],
    )
    assert len(keys) == 30
    park(project, [row["key"] for row in keys])
    code, summary = run_json(project)  # every row parked: skipped, and the run says so
    assert code == 1 and summary["status"] == "failed" and summary["parked"] == 30 and summary["sent"] == 0
    assert "(30 parked)" in str(summary["error"])
    record = last_run(project)
    assert (record["status"], record["parked"]) == ("failed", 30)
    assert "failed, 30 parked" in invoke("status", "-p", str(project)).output


def test_a_run_past_max_reject_percent_fails_after_delivery_and_the_limit_is_configurable(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    # A strict value map naming one tier: the rows of the other tiers are rejected by the plan.
    strict = MAPPING_YAML.replace(
        "  pql_tier: pql_tier\n", "  pql_tier:\n    source: pql_tier\n    map:\n      hot: hot\n    strict: true\n"
    )
    project = project_with(tmp_path, sandbox, strict)
    code, summary = run_json(project)
    rejected = int(str(summary["rejected_in_plan"]))
    assert 15 < rejected < 30  # most rows, not all (the sample warehouse has some hot accounts)
    assert code == 1 and summary["status"] == "failed" and summary["confirmed"] == 30 - rejected
    assert f"rejected or parked {rejected} of the 30 rows it attempted" in str(summary["error"])
    assert "more than max_reject_percent 50" in str(summary["error"])
    assert "max_reject_percent" in str(last_run(project)["error"])
    (project / "mappings" / "companies.yaml").write_text(strict + "guards:\n  max_reject_percent: 99\n")
    code, summary = run_json(project)
    assert code == 0 and summary["status"] == "succeeded" and summary["error"] is None, summary


def test_parked_rows_show_on_a_succeeded_run_in_the_record_status_json_and_metrics(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    project = project_with(tmp_path, sandbox, MAPPING_YAML)
    keys = sorted(
        json.loads(invoke("plan", "companies", "-p", str(project), "--json", "--limit", "3").output)["samples"][
            "create"
        ],
        key=lambda row: row["key"],
    )
    park(project, [row["key"] for row in keys])
    code, summary = run_json(project)
    assert code == 0 and summary["status"] == "succeeded" and summary["parked"] == 3
    assert summary["confirmed"] == 27
    record = last_run(project)
    assert (record["status"], record["parked"]) == ("succeeded", 3)
    status = invoke("status", "-p", str(project)).output
    assert "succeeded, 3 parked" in status
    metrics = Metrics(lambda: [], lambda: 0)
    metrics.observe(summary, "hubspot")
    assert 'syncer_rows_parked{sync="companies"} 3.0' in metrics.render().decode()
    assert invoke("run", "companies", "-p", str(project)).exit_code == 0  # nothing new: the 3 are skipped again
    assert (last_run(project)["status"], last_run(project)["parked"]) == ("succeeded", 3)
