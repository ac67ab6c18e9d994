"""Configuration errors: every problem at once, each with file, line and key path; secrets stay secret."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors import REGISTRY
from syncer.config.errors import ConfigError, redact, redact_data
from syncer.config.loader import load_project
from syncer.config.schedule import parse_schedule
from syncer.config.yamlsource import MAX_DEPTH, load_yaml
from tests.project import ENVIRONMENT, MAPPING_YAML, make_project


def _problems(root: Path, environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_project(root, REGISTRY, ENVIRONMENT if environ is None else environ)
    return [str(problem) for problem in caught.value.problems]


def test_the_shipped_project_is_valid() -> None:
    secrets = {
        "HUBSPOT_ACCESS_TOKEN": "t",
        "SALESFORCE_CLIENT_ID": "i",
        "SALESFORCE_CLIENT_SECRET": "s",
        "SLACK_BOT_TOKEN": "x",
    }
    project = load_project(Path(__file__).parents[1], REGISTRY, secrets)
    assert sorted(project.syncs) == ["hubspot_companies", "salesforce_accounts", "slack_pql_alerts"]


def test_unknown_key_is_named_with_file_line_and_path(tmp_path: Path) -> None:
    make_project(
        tmp_path,
        MAPPING_YAML.replace(
            "  pql_tier: pql_tier\n", "  pql_tier: pql_tier\n  pql_x:\n    source: a\n    rounding: 2\n"
        ),
    )
    assert _problems(tmp_path) == ["mappings/companies.yaml:18: fields.pql_x.rounding: unknown key"]


def test_every_problem_in_every_file_is_reported_at_once(tmp_path: Path) -> None:
    broken = (
        MAPPING_YAML.replace("connector: hubspot", "connector: hubspt")
        .replace("schedule: every 10m", "schedule: '61 * * * *'")
        .replace("key: account_id\n", "key: account_id\nmystery: 1\n")
    )
    make_project(tmp_path, broken)
    (tmp_path / "mappings" / "second.yaml").write_text("name: second\nmodel: {table: t}\n")
    problems = _problems(tmp_path)
    assert "mappings/companies.yaml:5: mystery: unknown key" in problems
    assert "mappings/second.yaml:1: key: required key is missing" in problems
    assert "mappings/second.yaml:1: fields: required key is missing" in problems
    assert len(problems) == 3  # the unknown key stops model validation of that file before cross-checks


def test_cross_file_problems_name_the_line(tmp_path: Path) -> None:
    make_project(
        tmp_path,
        MAPPING_YAML.replace("connector: hubspot", "connector: hubspt").replace(
            "schedule: every 10m", "schedule: '61 * * * *'"
        ),
    )
    problems = _problems(tmp_path)
    assert problems[0] == (
        "mappings/companies.yaml:6: destination.connector: unknown connector 'hubspt' (known: hubspot, slack)"
    )
    assert problems[1].startswith("mappings/companies.yaml:16: schedule: bad cron expression '61 * * * *'")


def test_bad_yaml_names_the_line(tmp_path: Path) -> None:
    make_project(tmp_path, MAPPING_YAML.replace("  pql_tier: pql_tier", "  pql_tier: [unclosed"))
    (problem,) = _problems(tmp_path)
    assert problem == (
        "mappings/companies.yaml:16: invalid YAML: expected ',' or ']', but got ':' "
        "(while parsing a flow sequence at line 15)"
    )


def test_a_missing_connector_secret_is_returned_not_raised(tmp_path: Path) -> None:
    make_project(tmp_path)
    loaded = load_project(tmp_path, REGISTRY, {"TEST_HUBSPOT_TOKEN": ENVIRONMENT["TEST_HUBSPOT_TOKEN"]})
    (missing,) = loaded.missing_secrets
    assert (missing.name, missing.path) == ("TEST_SLACK_TOKEN", ("connectors", "slack", "token"))
    assert str(missing.problem) == (
        "syncer.yaml:12: connectors.slack.token: environment variable TEST_SLACK_TOKEN is not set"
    )
    assert loaded.missing_under(("connectors", "hubspot")) == []
    assert loaded.missing_under(("connectors", "slack")) == [missing]
    # the reference stands in for the value, so the settings still validated
    assert loaded.connectors["slack"].token.get_secret_value() == "${TEST_SLACK_TOKEN}"  # type: ignore[attr-defined]


def test_secrets_stay_secret_in_the_loaded_project(tmp_path: Path) -> None:
    make_project(tmp_path)
    loaded = load_project(tmp_path, REGISTRY, ENVIRONMENT)
    project_text = repr(loaded.config) + repr(loaded.connectors)
    assert ENVIRONMENT["TEST_HUBSPOT_TOKEN"] not in project_text
    assert "**********" in project_text


def test_values_read_from_the_environment_are_redacted_from_messages(tmp_path: Path) -> None:
    make_project(tmp_path, MAPPING_YAML.replace("table: scored_accounts", "table: ${TABLE_FROM_ENV}"))
    problems = _problems(tmp_path, {**ENVIRONMENT, "TABLE_FROM_ENV": "not a-name-4411"})
    assert problems == ["mappings/companies.yaml:2: model: '***' is not a table name (use 'sql' for a query)"]
    assert redact("token pat-na1-secret-token-value, short ab") == "token ***, short ab"
    assert redact_data({"k": ["x not a-name-4411 y", 3]}) == {"k": ["x *** y", 3]}


def test_an_empty_variable_is_refused_by_name(tmp_path: Path) -> None:
    make_project(tmp_path)
    problems = _problems(tmp_path, {**ENVIRONMENT, "TEST_SLACK_TOKEN": ""})
    assert problems == [
        "syncer.yaml:12: connectors.slack.token: environment variable TEST_SLACK_TOKEN is set but empty"
    ]


def test_a_missing_variable_outside_the_deferred_sections_is_an_error(tmp_path: Path) -> None:
    make_project(tmp_path)
    with (tmp_path / "syncer.yaml").open("a") as out:
        out.write("defaults:\n  schedule: ${SCHEDULE}\n")
    problems = _problems(tmp_path)
    assert "syncer.yaml:14: defaults.schedule: environment variable SCHEDULE is not set" in problems


def test_an_invalid_project_file_does_not_cascade_into_the_mappings(tmp_path: Path) -> None:
    make_project(tmp_path, MAPPING_YAML.replace("every 10m", "every fortnight"))
    (tmp_path / "syncer.yaml").write_text("warehouse: {batch_size: 0}\nconnectors: {hubspot: {type: hubspot}}\n")
    problems = _problems(tmp_path)
    assert problems == [
        "mappings/companies.yaml:16: schedule: 'every fortnight' is neither 'every <n>s|m|h|d' nor "
        "a five-field cron expression",
        "syncer.yaml:1: warehouse.batch_size: Input should be greater than 0",
    ]


def test_an_alias_bomb_stops_after_a_bounded_number_of_expansions(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(
        'a0: &a0 "lol"\n' + "".join(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 30))
    )
    doc, problems = load_yaml(path, {})
    assert doc is None
    (problem,) = problems
    assert problem.message == "aliases expand more than 10000 times (a YAML alias bomb?)"


def test_a_wide_anchor_expanded_a_few_thousand_times_is_stopped_too(tmp_path: Path) -> None:
    path = tmp_path / "wide.yaml"
    path.write_text("wide: &w [" + ", ".join(["1"] * 2_000) + "]\nrefs: [" + ", ".join(["*w"] * 5_000) + "]\n")
    doc, problems = load_yaml(path, {}, "wide.yaml")
    assert doc is None
    (problem,) = problems
    assert problem.message == "aliases expand more than 10000 times (a YAML alias bomb?)"


def test_nesting_is_bounded_while_composing(tmp_path: Path) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text("a: " + "{b: " * (MAX_DEPTH + 5) + "1" + "}" * (MAX_DEPTH + 5) + "\n")
    doc, problems = load_yaml(path, {}, "deep.yaml")
    assert doc is None
    assert [str(p) for p in problems] == [f"deep.yaml:1: invalid YAML: nested deeper than {MAX_DEPTH} levels"]
    path.write_text("a: " + "{b: " * (MAX_DEPTH - 2) + "1" + "}" * (MAX_DEPTH - 2) + "\n")
    doc, problems = load_yaml(path, {}, "deep.yaml")
    assert doc is not None and problems == []


def test_a_field_needs_exactly_one_source(tmp_path: Path) -> None:
    make_project(tmp_path, MAPPING_YAML.replace("  pql_tier: pql_tier", "  pql_tier:\n    source: a\n    value: b"))
    assert _problems(tmp_path) == [
        "mappings/companies.yaml:15: fields.pql_tier: give exactly one of 'source', 'template' or 'value'"
    ]


def test_mirror_mode_cannot_ignore_removals(tmp_path: Path) -> None:
    make_project(
        tmp_path,
        MAPPING_YAML.replace("  object: companies", "  object: companies\n  mode: mirror") + "on_remove: ignore\n",
    )
    (problem,) = _problems(tmp_path)
    assert "'on_remove: ignore' contradicts it" in problem


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("every 15m", True),
        ("every 2h", True),
        ("*/5 * * * *", True),
        ("every 0m", False),
        ("every fortnight", False),
        ("* * *", False),
        ("0 25 * * *", False),
    ],
)
def test_schedules(text: str, *, ok: bool) -> None:
    if ok:
        parse_schedule(text)
    else:
        with pytest.raises(ValueError, match=r"."):
            parse_schedule(text)


_PIECES = [
    "",
    " ",
    "-",
    ":",
    "[",
    "]",
    "{",
    "}",
    "&a",
    "*a",
    "!!str",
    "!x",
    "~",
    "0",
    "-1",
    "'",
    '"',
    "#",
    "|",
    "\t",
    "${X}",
    "${TEST_HUBSPOT_TOKEN}",
    "? ",
    "2026-13-45",
    "\x00",
    "\ufeff",
    "99999999999999999999",
    "every 0m",
]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    edits=st.lists(
        st.tuples(st.integers(0, 40), st.integers(0, 60), st.integers(0, 6), st.sampled_from(_PIECES)),
        min_size=1,
        max_size=4,
    ),
    in_project_file=st.booleans(),
)
def test_any_edit_of_a_valid_project_loads_or_is_a_config_error(
    tmp_path: Path, edits: list[tuple[int, int, int, str]], *, in_project_file: bool
) -> None:
    """Whatever the edit, loading returns a project or raises ConfigError, and no message holds a secret."""
    if not (tmp_path / "syncer.yaml").exists():  # one project for every example; each restores what it edits
        make_project(tmp_path, accounts=1)
    path = tmp_path / ("syncer.yaml" if in_project_file else "mappings/companies.yaml")
    original = path.read_text()
    lines = original.splitlines()
    for line, column, width, piece in edits:
        row = lines[line % len(lines)]
        lines[line % len(lines)] = row[:column] + piece + row[column + width :]
    path.write_text("\n".join(lines) + "\n")
    try:
        load_project(tmp_path, REGISTRY, ENVIRONMENT)
    except ConfigError as exc:
        assert ENVIRONMENT["TEST_HUBSPOT_TOKEN"] not in str(exc)
    finally:
        path.write_text(original)
