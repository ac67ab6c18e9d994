"""``syncer validate`` tries each mapping on a sample of the model's rows, with the planner's own SQL: a type that
does not fit the data, a strict map that rejects a share of rows, task templates failing on rows, and a typo in a JSON
key a template reads are caught at ``file:line``, as errors (exit 2) past the threshold and warnings below it."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner, Result

from syncer.cli import cli
from tests.project import ENVIRONMENT, MAPPING_YAML, make_project

runner = CliRunner()
INTEGER_TIER = MAPPING_YAML.replace("  pql_tier: pql_tier\n", "  pql_tier:\n    source: pql_tier\n    type: integer\n")


def validate(project: Path, *flags: str) -> tuple[int, dict[str, list[dict[str, object]]]]:
    result: Result = runner.invoke(
        cli, ["validate", "-p", str(project), "--json", *flags], env=ENVIRONMENT, catch_exceptions=False
    )
    return result.exit_code, json.loads(result.output)


def test_a_type_that_does_not_fit_the_data_is_an_error_at_the_field(tmp_path: Path) -> None:
    make_project(tmp_path, INTEGER_TIER, accounts=40)
    code, report = validate(tmp_path)
    assert code == 2
    [problem] = report["problems"]
    assert (problem["file"], problem["line"], problem["path"]) == ("mappings/companies.yaml", 15, "fields.pql_tier")
    message = str(problem["message"])
    assert message.startswith("40 of 40 sampled rows (100%) would be rejected, e.g. row acc_")
    assert "pql_tier:" in message and message.endswith("(more than 10%)")
    # The same words on a terminal, one line, and the sample size is the caller's.
    result = runner.invoke(cli, ["validate", "-p", str(tmp_path), "--sample", "7"], env=ENVIRONMENT)
    assert result.exit_code == 2
    assert "mappings/companies.yaml:15: fields.pql_tier: 7 of 7 sampled rows (100%) would be rejected" in result.output


def test_a_share_below_the_threshold_is_a_warning_and_the_threshold_is_the_projects(tmp_path: Path) -> None:
    # A strict value map without 'hot': the hot rows (a minority of the sample warehouse) would be rejected.
    strict = MAPPING_YAML.replace(
        "  pql_tier: pql_tier\n",
        "  pql_tier:\n    source: pql_tier\n    map:\n      warm: warm\n      cold: cold\n    strict: true\n",
    )
    make_project(tmp_path, strict, accounts=200)
    code, report = validate(tmp_path)
    assert code == 0 and report["ok"]
    [warning] = [w for w in report["warnings"] if w["path"] == "fields.pql_tier"]
    assert " sampled rows (" in str(warning["message"]) and "would be rejected, e.g. row" in str(warning["message"])
    share = float(str(warning["message"]).split("(", 1)[1].split("%", 1)[0])
    assert 0 < share <= 10
    config = tmp_path / "syncer.yaml"
    config.write_text(config.read_text() + "defaults:\n  validate:\n    max_reject_percent: 0.5\n")
    code, report = validate(tmp_path)
    assert code == 2 and [p["path"] for p in report["problems"]] == ["fields.pql_tier"]


def test_a_json_key_typo_in_a_template_names_the_nearest_key(tmp_path: Path) -> None:
    typo = MAPPING_YAML.replace(
        "schedule: every 10m\n",
        "triggers:\n  - name: went_hot\n"
        "    when: \"new.pql_tier = 'hot'\"\n    task:\n"
        '      subject: "{{ account_name }}: {{ signals.seets }} seats"\n'
        "schedule: every 10m\n",
    )
    make_project(tmp_path, typo, accounts=30)
    code, report = validate(tmp_path)
    assert code == 2
    [problem] = report["problems"]
    assert (problem["line"], problem["path"]) == (20, "triggers[0].task.subject")
    assert problem["message"] == (
        "'signals.seets': no sampled row's 'signals' has the key 'seets'; did you mean 'seats'?"
    )
    fixed = typo.replace("signals.seets", "signals.seats")
    (tmp_path / "mappings" / "companies.yaml").write_text(fixed)
    assert validate(tmp_path)[0] == 0


def test_a_task_template_that_fails_on_some_rows_is_reported_with_its_share(tmp_path: Path) -> None:
    # Fails on the accounts whose id ends in 7 only: not on the first row, so only the sample finds it.
    failing = MAPPING_YAML.replace(
        "schedule: every 10m\n",
        "triggers:\n  - name: went_hot\n"
        "    when: \"new.pql_tier = 'hot'\"\n    task:\n"
        "      subject: \"{{ account_name }}{% if account_id.endswith('7') %}"
        '{{ 1 // 0 }}{% endif %}"\n'
        "schedule: every 10m\n",
    )
    make_project(tmp_path, failing, accounts=40)
    code, report = validate(tmp_path)
    assert code == 0
    [warning] = [w for w in report["warnings"] if w["path"] == "triggers[0].task.subject"]
    assert str(warning["message"]).startswith("fails on 4 of 40 sampled rows (10%), e.g. row acc_")
    assert str(warning["message"]).endswith("acc_0000007: integer division or modulo by zero")
    code, report = validate(tmp_path, "--sample", "20")  # 2 of 20 is still 10%: a warning
    assert code == 0
    config = tmp_path / "syncer.yaml"
    config.write_text(config.read_text() + "defaults:\n  validate:\n    max_reject_percent: 5\n")
    code, report = validate(tmp_path)
    assert code == 2 and [p["path"] for p in report["problems"]] == ["triggers[0].task.subject"]
