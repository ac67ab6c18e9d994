"""Row errors RevOps can act on, end to end: runs record plan rejections per key, ``syncer errors`` lists them,
``syncer retry`` re-queues parked deliveries; on both state backends."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from connectors.sandbox import Sandbox
from syncer.state import RowErrorInput, open_state
from syncer.state.base import ErrorStage
from tests.helpers import NOW
from tests.project import ENVIRONMENT, MAPPING_YAML, make_project

runner = CliRunner()
DUPLICATED = MAPPING_YAML.replace(
    "table: scored_accounts",
    "sql: SELECT * FROM scored_accounts UNION ALL (SELECT * FROM scored_accounts ORDER BY account_id LIMIT 2)",
)
FIELDS = {"sync", "key", "code", "message", "stage", "attempts", "first_seen", "last_seen", "last_run_id", "parked"}


def invoke(*args: str) -> Result:
    from syncer.cli import cli

    result = runner.invoke(cli, list(args), env=ENVIRONMENT, catch_exceptions=False)
    for secret in ENVIRONMENT.values():
        assert secret not in result.output
    return result


@pytest.fixture(params=["duckdb", "postgres"])
def project(request: pytest.FixtureRequest, tmp_path: Path, sandbox: Sandbox) -> Path:
    url = "duckdb:///.syncer/state.duckdb" if request.param == "duckdb" else str(request.getfixturevalue("pg_url"))
    return make_project(tmp_path, DUPLICATED, state_url=url, accounts=30, hubspot_url=sandbox.urls["hubspot"])


def _errors(project: Path, *flags: str) -> list[dict[str, object]]:
    result = invoke("errors", "companies", "-p", str(project), "--json", *flags)
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    rows: list[dict[str, object]] = document["errors"]
    assert document["sync"] == "companies" and document["shown"] == len(rows) and document["total"] >= len(rows)
    return rows


def _note_refusals(project: Path, refusals: list[RowErrorInput]) -> None:
    """Record ``refusals`` as one run's delivery errors of ``companies`` in the project's state."""
    config = (project / "syncer.yaml").read_text()
    store = open_state(config.split("state:\n  url: ", 1)[1].splitlines()[0], project)
    try:
        run_id = store.runs.start("companies", dry_run=False, now=NOW)
        store.row_errors.note(run_id, "companies", refusals, NOW, store.park_after)
    finally:
        store.close()


def test_plan_rejections_are_counted_per_key_across_runs_and_settle_when_fixed(project: Path) -> None:
    assert invoke("run", "companies", "-p", str(project)).exit_code == 0
    first = _errors(project)
    assert len(first) == 2
    assert all(set(row) == FIELDS for row in first)
    assert {(row["code"], row["stage"], row["attempts"], row["parked"]) for row in first} == {
        ("duplicate_key", "plan", 1, False)
    }
    assert all(str(row["message"]).startswith("duplicate key (2 rows)") for row in first)
    assert invoke("run", "companies", "-p", str(project)).exit_code == 0
    second = _errors(project)
    assert [row["attempts"] for row in second] == [2, 2]
    assert [row["first_seen"] for row in second] == [row["first_seen"] for row in first]
    status = json.loads(invoke("status", "-p", str(project), "--json").output)
    assert sorted(e["key"] for e in status[0]["row_errors"]) == sorted(str(row["key"]) for row in second)
    (project / "mappings" / "companies.yaml").write_text(MAPPING_YAML)  # the model is fixed
    assert invoke("run", "companies", "-p", str(project)).exit_code == 0
    assert _errors(project) == []
    assert "no row errors for companies" in invoke("errors", "companies", "-p", str(project)).output


def test_parked_deliveries_are_listed_and_retry_requeues_them(project: Path) -> None:
    invoke("run", "companies", "-p", str(project))
    config = (project / "syncer.yaml").read_text()
    url = config.split("state:\n  url: ", 1)[1].splitlines()[0]
    store = open_state(url, project)
    try:
        refused = [
            RowErrorInput(key, "INVALID_EMAIL", f"Email {key}@ is invalid", ErrorStage.DELIVER)
            for key in ("acc_a", "acc_b")
        ]
        for i in range(5):  # park_after defaults to 5
            run_id = store.runs.start("companies", dry_run=False, now=NOW + timedelta(hours=i))
            store.row_errors.note(
                run_id, "companies", refused[: 2 if i < 4 else 1], NOW + timedelta(hours=i), store.park_after
            )
    finally:
        store.close()
    parked = _errors(project, "--parked")
    assert [(row["key"], row["code"], row["attempts"], row["parked"]) for row in parked] == [
        ("acc_a", "INVALID_EMAIL", 5, True)
    ]
    table = invoke("errors", "companies", "-p", str(project), "--parked").output
    assert table.splitlines()[1:] == [
        "acc_a  deliver  INVALID_EMAIL  attempts 5  PARKED  first 2026-11-22 12:00  last 2026-11-22 16:00",
        "    Email acc_a@ is invalid",
    ]
    assert invoke("retry", "companies", "-p", str(project), "--key", "acc_b").output.strip() == (
        "re-queued 0 parked row(s) of companies"
    )
    assert invoke("retry", "companies", "-p", str(project)).output.strip() == "re-queued 1 parked row(s) of companies"
    assert _errors(project, "--parked") == []
    assert {row["key"]: row["attempts"] for row in _errors(project)}["acc_a"] == 0


def test_errors_of_an_unknown_sync_is_bad_input(project: Path) -> None:
    assert invoke("errors", "nope", "-p", str(project)).exit_code == 2
    assert invoke("retry", "nope", "-p", str(project)).exit_code == 2


def test_errors_always_shows_the_total_and_groups_identical_reasons_with_counts_and_example_keys(project: Path) -> None:
    invoke("run", "companies", "-p", str(project))  # 2 duplicate keys rejected by the plan
    missing = [
        RowErrorInput(f"k{i:04d}", "PROPERTY_DOESNT_EXIST", "Property 'pql_tierr' does not exist", ErrorStage.DELIVER)
        for i in range(240)
    ]
    invalid = [RowErrorInput(f"m{i:04d}", "INVALID_EMAIL", "Email is invalid", ErrorStage.DELIVER) for i in range(8)]
    _note_refusals(project, missing + invalid)
    listing = invoke("errors", "companies", "-p", str(project)).output.splitlines()
    assert listing[0] == (
        "100 of 250 failing key(s) of companies, most recently seen first ('errors companies --by reason' groups them):"
    )
    document = json.loads(invoke("errors", "companies", "-p", str(project), "--json", "--limit", "10").output)
    assert (document["total"], document["shown"], len(document["errors"])) == (250, 10, 10)

    grouped = invoke("errors", "companies", "-p", str(project), "--by", "reason").output.splitlines()
    assert grouped[0] == "250 failing key(s) of companies in 3 reason(s), the largest first:"
    assert grouped[1:4] == [
        "240  deliver  PROPERTY_DOESNT_EXIST",
        "    Property 'pql_tierr' does not exist",
        "    e.g. k0000, k0001, k0002, ...",
    ]
    assert grouped[4:6] == ["8  deliver  INVALID_EMAIL", "    Email is invalid"]
    as_json = json.loads(
        invoke("errors", "companies", "-p", str(project), "--by", "reason", "--json", "--examples", "2").output
    )
    assert as_json["total"] == 250
    assert [(g["count"], g["code"], g["stage"], g["parked"]) for g in as_json["groups"]] == [
        (240, "PROPERTY_DOESNT_EXIST", "deliver", 0),
        (8, "INVALID_EMAIL", "deliver", 0),
        (2, "duplicate_key", "plan", 0),
    ]
    assert as_json["groups"][0]["example_keys"] == ["k0000", "k0001"]
    assert len(as_json["groups"][2]["example_keys"]) == 2
    # Only the groups asked for, and the total is still the whole count.
    top = json.loads(
        invoke("errors", "companies", "-p", str(project), "--by", "reason", "--json", "--limit", "1").output
    )
    assert top["total"] == 250 and [g["count"] for g in top["groups"]] == [240]
    assert invoke("errors", "companies", "-p", str(project), "--by", "owner").exit_code == 2
