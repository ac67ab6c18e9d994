"""Bad input, end to end through the real command line: every case ends with its exit code and a clear message,
never a traceback, and never echoes a value that came from a secret environment variable.

Each case edits a copy of one small valid project (``tests/project.py``), runs one command and checks: the exit code
(0 ok, 1 a sync or the environment failed, 2 bad input), a fragment of the message, what must not appear, that no
``Traceback`` was printed and that neither fake secret appears anywhere in the output. Most run in-process through
typer's runner; those about bytes and resources run ``syncer`` in a subprocess under a memory cap.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from syncer.cli import cli
from tests.project import make_project

SECRETS = {"TEST_HUBSPOT_TOKEN": "FAKE-SECRET-8c1f", "TEST_SLACK_TOKEN": "FAKE-SECRET-5a0e"}
MAPPING = "mappings/companies.yaml"
MEMORY_CAP = 2 * 1024**3  # bytes of address space for the subprocess cases: a bomb that expanded would exceed it

Edit = Callable[[Path], object]  # what an edit returns is ignored


def replace(file: str, old: str, new: str) -> Edit:
    def edit(root: Path) -> None:
        path = root / file
        text = path.read_text()
        assert old in text, f"{old!r} is not in {file}: the case would test nothing"
        path.write_text(text.replace(old, new, 1))

    return edit


def mapping(old: str, new: str) -> Edit:
    return replace(MAPPING, old, new)


def project(old: str, new: str) -> Edit:
    return replace("syncer.yaml", old, new)


def write(file: str, content: str | bytes) -> Edit:
    def edit(root: Path) -> None:
        path = root / file
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)

    return edit


def append(file: str, text: str) -> Edit:
    def edit(root: Path) -> None:
        with (root / file).open("a") as out:
            out.write(text.replace("{root}", str(root)))

    return edit


def remove(file: str) -> Edit:
    def edit(root: Path) -> None:
        target = root / file
        shutil.rmtree(target) if target.is_dir() else target.unlink()

    return edit


def mkdir(file: str) -> Edit:
    return lambda root: (root / file).mkdir(parents=True)


@dataclass(frozen=True)
class Case:
    """``args`` may hold ``{root}``; without it, ``-p {root}`` is appended. ``env``: overrides, ``None`` unsets."""

    edits: tuple[Edit, ...]
    args: tuple[str, ...]
    exit_code: int
    fragment: str
    absent: tuple[str, ...] = ()
    env: tuple[tuple[str, str | None], ...] = ()
    in_subprocess: bool = False


def case(
    name: str,
    edits: Edit | tuple[Edit, ...],
    args: str,
    exit_code: int,
    fragment: str,
    *,
    absent: tuple[str, ...] = (),
    env: dict[str, str | None] | None = None,
    in_subprocess: bool = False,
    xfail: str | None = None,
) -> Any:
    marks = [pytest.mark.xfail(strict=True, reason=xfail)] if xfail else []
    return pytest.param(
        Case(
            edits if isinstance(edits, tuple) else (edits,),
            tuple(args.split()),
            exit_code,
            fragment,
            absent,
            tuple((env or {}).items()),
            in_subprocess,
        ),
        id=name,
        marks=marks,
    )


def latin1_description(root: Path) -> None:
    """A description with a Latin-1 'é' on line 5: bytes that are not UTF-8."""
    path = root / MAPPING
    path.write_bytes(path.read_bytes().replace(b"key: account_id\n", b"key: account_id\ndescription: caf\xe9\n"))


def billion_laughs(levels: int = 12) -> str:
    lines = ['name: &a0 "lol"']
    lines += [f"k{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def nested_mapping(depth: int) -> str:
    return "".join(f"{'  ' * i}k{i}:\n" for i in range(depth)) + f"{'  ' * depth}leaf: 1\n"


TRIGGER = "triggers:\n  - name: hot\n    when: new.pql_score > 90\n    task: {subject: hi}\n"
ALERT = "triggers:\n  - name: hot\n    when: new.pql_score > 90\n    alert: {connector: hubspot, template: hi}\n"
FIELDS = "fields:\n  pql_score:\n    source: pql_score\n    type: number\n  pql_tier: pql_tier\n"
STATE_URL, WAREHOUSE_URL = "duckdb:///.syncer/state.duckdb", "duckdb:///warehouse.duckdb"
NO_CASCADE = ("unknown connector",)

CASES = [
    # YAML syntax and what PyYAML would accept but syncer must refuse
    case(
        "yaml_unclosed_flow",
        mapping("  pql_tier: pql_tier", "  pql_tier: [unclosed"),
        "validate",
        2,
        f"{MAPPING}:16: invalid YAML: expected ',' or ']'",
    ),
    case(
        "yaml_bad_indentation",
        project("    type: hubspot", "   type: hubspot"),
        "validate",
        2,
        "syncer.yaml:8: invalid YAML: mapping values are not allowed here",
        absent=NO_CASCADE,
    ),
    case(
        "yaml_tab_indentation",
        mapping("  pql_tier: pql_tier", "\tpql_tier: pql_tier"),
        "validate",
        2,
        f"{MAPPING}:15: invalid YAML: found character '\\t' that cannot start any token",
    ),
    case(
        "yaml_unclosed_quote",
        mapping("key: account_id", 'key: "account_id'),
        "validate",
        2,
        f"{MAPPING}:17: invalid YAML: found unexpected end of stream (while scanning a quoted scalar at line 4)",
    ),
    case(
        "yaml_duplicate_key",
        mapping("key: account_id", "key: account_id\nkey: other"),
        "validate",
        2,
        f"{MAPPING}:5: key: duplicate key",
    ),
    case(
        "yaml_two_documents",
        append(MAPPING, "---\nname: other\n"),
        "validate",
        2,
        "expected a single document in the stream",
    ),
    case(
        "yaml_control_character",
        mapping("key: account_id", "key: account\x07id"),
        "validate",
        2,
        f"{MAPPING}:4: invalid YAML: control character #x0007 is not allowed",
    ),
    case(
        "yaml_python_tag",
        mapping("key: account_id", "key: !!python/object/apply:os.system [echo]"),
        "validate",
        2,
        f"{MAPPING}:4: key: YAML tag 'tag:yaml.org,2002:python/object/apply:os.system' is not supported",
    ),
    case(
        "yaml_custom_tag",
        mapping("key: account_id", "key: !Ref account_id"),
        "validate",
        2,
        f"{MAPPING}:4: key: YAML tag '!Ref' is not supported",
    ),
    case(
        "yaml_impossible_date",
        append(MAPPING, "description: 2026-13-45\n"),
        "validate",
        2,
        f"{MAPPING}:17: description: '2026-13-45' is not a valid timestamp (quote it if it is text)",
    ),
    case(
        "yaml_complex_key", append(MAPPING, "? [a, b]\n: c\n"), "validate", 2, f"{MAPPING}:17: a key must be plain text"
    ),
    case(
        "yaml_undefined_alias",
        mapping("key: account_id", "key: *nope"),
        "validate",
        2,
        f"{MAPPING}:4: invalid YAML: found undefined alias 'nope'",
    ),
    case(
        "yaml_deep_flow_nesting",
        append(MAPPING, "deep: " + "[" * 50_000 + "]" * 50_000 + "\n"),
        "validate",
        2,
        f"{MAPPING}:17: invalid YAML: nested deeper than 64 levels",
    ),
    case(
        "yaml_deep_block_nesting",
        append(MAPPING, nested_mapping(300)),
        "validate",
        2,
        "invalid YAML: nested deeper than 64 levels",
    ),
    case(
        "yaml_recursive_alias",
        append(MAPPING, "loop: &loop [*loop]\n"),
        "validate",
        2,
        f"{MAPPING}:17: loop: nested deeper than 64 levels (through aliases)",
    ),
    case(
        "yaml_alias_bomb",
        write(MAPPING, billion_laughs()),
        "validate",
        2,
        "aliases expand more than 10000 times (a YAML alias bomb?)",
        in_subprocess=True,
    ),
    case(
        "not_utf8",
        latin1_description,
        "validate",
        2,
        f"{MAPPING}:5: not UTF-8 text (byte 0xe9 on this line): save the file as UTF-8",
        in_subprocess=True,
    ),
    case(
        "utf8_byte_order_mark",
        lambda root: (root / MAPPING).write_bytes(b"\xef\xbb\xbf" + (root / MAPPING).read_bytes()),
        "validate",
        0,
        "1 sync(s) valid: companies",
    ),
    case(
        "windows_line_endings",
        lambda root: (root / MAPPING).write_bytes((root / MAPPING).read_bytes().replace(b"\n", b"\r\n")),
        "validate",
        0,
        "1 sync(s) valid: companies",
    ),
    # the shape of a file
    case(
        "mapping_top_level_list",
        write(MAPPING, "- name: companies\n"),
        "validate",
        2,
        f"{MAPPING}:1: expected a mapping of keys to values at the top level",
    ),
    case(
        "project_top_level_list",
        write("syncer.yaml", "- hubspot\n- slack\n"),
        "validate",
        2,
        "syncer.yaml:1: expected a mapping of keys to values at the top level",
        absent=NO_CASCADE,
    ),
    case(
        "mapping_top_level_scalar",
        write(MAPPING, "just some text\n"),
        "validate",
        2,
        f"{MAPPING}:1: expected a mapping",
    ),
    case("mapping_empty", write(MAPPING, ""), "validate", 2, f"{MAPPING}:1: the file is empty"),
    case("mapping_only_comments", write(MAPPING, "# to do\n"), "validate", 2, f"{MAPPING}:1: the file is empty"),
    case(
        "project_file_empty",
        write("syncer.yaml", ""),
        "validate",
        2,
        "destination.connector: unknown connector 'hubspot' (known: none configured in syncer.yaml)",
    ),
    case(
        "project_file_missing", remove("syncer.yaml"), "validate", 2, "syncer.yaml: not found in", absent=("mappings/",)
    ),
    case("project_directory_missing", (), "validate -p {root}/nowhere", 2, "the project directory does not exist"),
    case(
        "project_directory_is_a_file", (), "status -p {root}/syncer.yaml", 2, "the project directory is not a directory"
    ),
    case("mappings_directory_missing", remove("mappings"), "validate", 2, "mappings: no such directory in the project"),
    case(
        "mappings_directory_is_a_file",
        (remove("mappings"), write("mappings", "x")),
        "validate",
        2,
        "mappings: not a directory",
    ),
    case(
        "mappings_directory_configured_missing",
        append("syncer.yaml", "mappings_dir: syncs\n"),
        "validate",
        2,
        "syncs: no such directory",
    ),
    case(
        "mappings_directory_outside_the_project",
        (
            append("syncer.yaml", "mappings_dir: {root}-mappings\n"),
            lambda root: shutil.copytree(root / "mappings", f"{root}-mappings"),
        ),
        "validate",
        0,
        "1 sync(s) valid: companies",
    ),
    case("mappings_directory_empty", remove(MAPPING), "validate", 2, "mappings: no sync definitions"),
    case(
        "mapping_file_is_a_directory",
        mkdir("mappings/extra.yaml"),
        "validate",
        2,
        "mappings/extra.yaml: cannot read file",
    ),
    case(
        "project_error_does_not_cascade",
        project("  url: duckdb:///warehouse.duckdb", "  url: duckdb:///warehouse.duckdb\n  batch_size: -5"),
        "validate",
        2,
        "syncer.yaml:3: warehouse.batch_size: Input should be greater than 0",
        absent=NO_CASCADE,
    ),
    # unknown keys
    case(
        "unknown_key_top",
        mapping("key: account_id", "key: account_id\nkeys: 1"),
        "validate",
        2,
        f"{MAPPING}:5: keys: unknown key",
    ),
    case(
        "unknown_key_field",
        mapping("    type: number", "    type: number\n    rounding: 2"),
        "validate",
        2,
        f"{MAPPING}:15: fields.pql_score.rounding: unknown key",
    ),
    case(
        "unknown_key_destination",
        mapping("  object: companies", "  object: companies\n  objekt: x"),
        "validate",
        2,
        f"{MAPPING}:8: destination.objekt: unknown key",
    ),
    case(
        "unknown_key_project",
        append("syncer.yaml", "warehous: {}\n"),
        "validate",
        2,
        "syncer.yaml:13: warehous: unknown key",
        absent=NO_CASCADE,
    ),
    case(
        "unknown_key_connector",
        project("    type: hubspot", "    type: hubspot\n    acess_token: x"),
        "validate",
        2,
        "syncer.yaml:8: connectors.hubspot.acess_token: unknown key",
        absent=NO_CASCADE,
    ),
    # wrong types
    case(
        "key_is_a_list",
        mapping("key: account_id", "key: [account_id]"),
        "validate",
        2,
        f"{MAPPING}:4: key: Input should be a valid string",
    ),
    case(
        "batch_size_text",
        project("  url: duckdb:///warehouse.duckdb", "  url: x\n  batch_size: lots"),
        "validate",
        2,
        "syncer.yaml:3: warehouse.batch_size: Input should be a valid integer",
        absent=NO_CASCADE,
    ),
    case(
        "round_text",
        mapping("    type: number", "    type: number\n    round: two"),
        "validate",
        2,
        f"{MAPPING}:15: fields.pql_score.round: Input should be a valid integer",
    ),
    case(
        "enabled_maybe",
        append(MAPPING, "enabled: maybe\n"),
        "validate",
        2,
        f"{MAPPING}:17: enabled: Input should be a valid boolean",
    ),
    case(
        "triggers_mapping",
        append(MAPPING, "triggers: {a: 1}\n"),
        "validate",
        2,
        f"{MAPPING}:17: triggers: Input should be a valid list",
    ),
    case(
        "name_upper_case",
        mapping("name: companies", "name: Companies"),
        "validate",
        2,
        f"{MAPPING}:1: name: use lower-case letters",
    ),
    case(
        "fields_empty",
        mapping(FIELDS, "fields: {}\n"),
        "validate",
        2,
        f"{MAPPING}:11: fields: Dictionary should have at least 1 item",
    ),
    case(
        "connectors_list",
        project("connectors:\n  hubspot:", "connectors: [hubspot]\nold:\n  hubspot:"),
        "validate",
        2,
        "syncer.yaml:5: connectors: Input should be a valid dictionary",
        absent=NO_CASCADE,
    ),
    case(
        "batch_size_huge",
        project(
            "  url: duckdb:///warehouse.duckdb", "  url: duckdb:///warehouse.duckdb\n  batch_size: 99999999999999999999"
        ),
        "validate",
        2,
        "syncer.yaml:3: warehouse.batch_size: Input should be less than or equal to 10000000",
    ),
    case(
        "field_without_a_name",
        mapping("  pql_tier: pql_tier", "  '': pql_tier"),
        "validate",
        2,
        f"{MAPPING}:15: fields: a destination field needs a name (found '')",
    ),
    case(
        "max_length_zero",
        mapping("    type: number", "    type: number\n    max_length: 0"),
        "validate",
        2,
        f"{MAPPING}:15: fields.pql_score.max_length: Input should be greater than 0",
    ),
    # missing required keys
    case(
        "missing_name", mapping("name: companies\n", ""), "validate", 2, f"{MAPPING}:1: name: required key is missing"
    ),
    case(
        "missing_match",
        mapping("  match:\n    column: account_id\n    field: product_account_id\n", ""),
        "validate",
        2,
        f"{MAPPING}:5: destination.match: required key is missing",
    ),
    case(
        "missing_connector_type",
        project("    type: slack\n", ""),
        "validate",
        2,
        "syncer.yaml:10: connectors.slack.type: required key is missing",
    ),
    case(
        "model_sql_and_table",
        mapping("  table: scored_accounts", "  table: scored_accounts\n  sql: SELECT 1"),
        "validate",
        2,
        f"{MAPPING}:2: model: give exactly one of 'sql' or 'table'",
    ),
    case(
        "model_table_not_a_name",
        mapping("table: scored_accounts", "table: scored accounts"),
        "validate",
        2,
        "'scored accounts' is not a table name",
    ),
    case(
        "trigger_does_nothing",
        append(MAPPING, "triggers:\n  - {name: t, when: 'true'}\n"),
        "validate",
        2,
        f"{MAPPING}:18: triggers[0]: a trigger needs a 'task', an 'alert' or both",
    ),
    # enums
    case(
        "bad_mode",
        mapping("  object: companies", "  object: companies\n  mode: sideways"),
        "validate",
        2,
        f"{MAPPING}:8: destination.mode: Input should be 'update', 'upsert' or 'mirror'",
    ),
    case(
        "bad_on_remove",
        append(MAPPING, "on_remove: delete\n"),
        "validate",
        2,
        f"{MAPPING}:17: on_remove: Input should be 'clear' or 'ignore'",
    ),
    case(
        "bad_field_type",
        mapping("type: number", "type: float"),
        "validate",
        2,
        f"{MAPPING}:14: fields.pql_score.type: Input should be 'string', 'integer'",
    ),
    case("upsert_may_ignore_removals", append(MAPPING, "on_remove: ignore\n"), "validate", 0, "1 sync(s) valid"),
    case(
        "mirror_cannot_ignore_removals",
        (mapping("  object: companies", "  object: companies\n  mode: mirror"), append(MAPPING, "on_remove: ignore\n")),
        "validate",
        2,
        "'on_remove: ignore' contradicts it",
    ),
    # schedules
    case(
        "schedule_words",
        mapping("every 10m", "every fortnight"),
        "validate",
        2,
        f"{MAPPING}:16: schedule: 'every fortnight' is neither",
    ),
    case(
        "schedule_bad_cron",
        mapping("every 10m", "'61 * * * *'"),
        "validate",
        2,
        f"{MAPPING}:16: schedule: bad cron expression '61 * * * *'",
    ),
    case(
        "schedule_zero_interval",
        mapping("every 10m", "every 0m"),
        "validate",
        2,
        f"{MAPPING}:16: schedule: an interval must be positive",
    ),
    case(
        "schedule_overflow",
        mapping("every 10m", "every 99999999999999999999d"),
        "validate",
        2,
        f"{MAPPING}:16: schedule: 'every 99999999999999999999d' is longer than any interval can be",
    ),
    case(
        "schedule_number",
        mapping("every 10m", "5"),
        "validate",
        2,
        f"{MAPPING}:16: schedule: Input should be a valid string",
    ),
    case(
        "default_schedule_bad",
        (append("syncer.yaml", "defaults:\n  schedule: sometimes\n"), mapping("schedule: every 10m\n", "")),
        "validate",
        2,
        "syncer.yaml:14: defaults.schedule: 'sometimes' is neither",
        absent=(MAPPING,),
    ),
    # across files
    case(
        "duplicate_sync_names",
        lambda root: shutil.copy(root / MAPPING, root / "mappings" / "second.yaml"),
        "validate",
        2,
        "mappings/second.yaml:1: name: sync name 'companies' is already used by " + MAPPING,
    ),
    case(
        "unknown_connector",
        mapping("connector: hubspot", "connector: marketo"),
        "validate",
        2,
        f"{MAPPING}:6: destination.connector: unknown connector 'marketo' (known: hubspot, slack)",
    ),
    case(
        "unknown_connector_type",
        project("type: slack", "type: discord"),
        "validate",
        2,
        "syncer.yaml:11: connectors.slack.type: unknown connector type 'discord' (known: hubspot, salesforce",
        absent=("destination.connector",),
    ),
    case(
        "unsupported_object",
        mapping("object: companies", "object: tickets"),
        "validate",
        2,
        f"{MAPPING}:7: destination.object: a hubspot destination's object must be one of companies",
    ),
    case(
        "alert_through_a_crm",
        append(MAPPING, ALERT),
        "validate",
        2,
        f"{MAPPING}:20: triggers[0].alert.connector: 'hubspot' is not a connector that posts alerts",
    ),
    # the state's memory limit
    case(
        "memory_limit_text",
        project(f"  url: {STATE_URL}", f"  url: {STATE_URL}\n  memory_limit: lots"),
        "status",
        2,
        "syncer.yaml:5: state.memory_limit: 'lots' is not a memory size",
    ),
    case(
        "memory_limit_tiny",
        project(f"  url: {STATE_URL}", f"  url: {STATE_URL}\n  memory_limit: 2KB"),
        "status",
        2,
        "state.memory_limit: give DuckDB at least 64MB",
    ),
    case(
        "memory_limit_share",
        project(f"  url: {STATE_URL}", f"  url: {STATE_URL}\n  memory_limit: 150%"),
        "status",
        2,
        "state.memory_limit: a share of memory must be above 0% and at most 100%",
    ),
    case(
        "memory_limit_binary_units",
        project(f"  url: {STATE_URL}", f"  url: {STATE_URL}\n  memory_limit: 512MiB"),
        "status",
        0,
        "companies",
    ),
    # model SQL
    case(
        "sql_trailing_semicolon",
        mapping("table: scored_accounts", "sql: SELECT * FROM scored_accounts;"),
        "plan companies",
        0,
        "plan for companies (200 model rows",
    ),
    case(
        "sql_closing_comment",
        mapping("table: scored_accounts", "sql: SELECT * FROM scored_accounts -- all"),
        "plan companies",
        0,
        "plan for companies (200 model rows",
    ),
    case(
        "sql_two_statements",
        mapping("table: scored_accounts", "sql: SELECT 1; SELECT 2"),
        "validate",
        2,
        f"{MAPPING}:2: model: the warehouse cannot run the model",
    ),
    case(
        "sql_empty",
        mapping("table: scored_accounts", "sql: ' ;'"),
        "validate",
        2,
        f"{MAPPING}:3: model.sql: the query is empty",
    ),
    case(
        "sql_missing_table_when_run",
        mapping("table: scored_accounts", "sql: SELECT * FROM gone"),
        "run companies",
        1,
        "the warehouse could not run the model",
    ),
    case(
        "missing_column",
        mapping("source: pql_score", "source: pql_scor"),
        "validate",
        2,
        f"{MAPPING}:13: fields.pql_score.source: column 'pql_scor' is not a column of the model",
    ),
    case(
        "template_syntax_error",
        mapping("  pql_tier: pql_tier", "  pql_tier: {template: '{{ pql_tier '}"),
        "validate",
        2,
        f"{MAPPING}:15: fields.pql_tier.template: template syntax error",
    ),
    case(
        "trigger_does_not_bind",
        append(MAPPING, TRIGGER.replace("pql_score", "no_such")),
        "validate",
        2,
        f"{MAPPING}:19: triggers[0].when: the condition does not bind",
    ),
    # arguments
    case("limit_zero", (), "plan companies --limit 0", 2, "Invalid value for '--limit'"),
    case("limit_negative", (), "plan companies --limit -3", 2, "Invalid value for '--limit'"),
    case("limit_text", (), "plan companies --limit many", 2, "Invalid value for '--limit'"),
    case("reset_needs_yes_without_a_terminal", (), "reset companies", 2, "pass --yes to confirm"),
    case("reset_unknown_sync", (), "reset nope --yes", 2, "no sync named 'nope' (known: companies)"),
    case("plan_unknown_sync", (), "plan nope", 2, "no sync named 'nope' (known: companies)"),
    case("run_unknown_sync", (), "run nope", 2, "no sync named 'nope' (known: companies)"),
    case("run_sync_and_all", (), "run companies --all", 2, "give a sync name or --all (not both)"),
    case("run_neither_sync_nor_all", (), "run", 2, "give a sync name or --all (not both)"),
    case("schema_out_is_a_file", (), "schema --out {root}/syncer.yaml", 2, "cannot write the schemas into"),
    case(
        "validate_json_reports_configuration_problems",
        mapping("key: account_id", "key: [a]"),
        "validate --json",
        2,
        '"path": "key",\n      "message": "Input should be a valid string"',
    ),
    case("unknown_command", (), "synchronise", 2, "No such command 'synchronise'"),
    case("unknown_option", (), "status --colour", 2, "No such option: --colour"),
    # secrets: missing ones stop only what talks to destinations; values are never echoed
    case(
        "missing_secret_validate",
        (),
        "validate",
        0,
        "warning: syncer.yaml:8: connectors.hubspot.access_token: environment variable TEST_HUBSPOT_TOKEN is not set",
        env={"TEST_HUBSPOT_TOKEN": None},
    ),
    case(
        "missing_secret_plan",
        (),
        "plan companies",
        0,
        "warning: syncer.yaml:8: connectors.hubspot.access_token: environment variable TEST_HUBSPOT_TOKEN",
        env={"TEST_HUBSPOT_TOKEN": None},
    ),
    case(
        "missing_secret_run",
        (),
        "run companies",
        2,
        "syncer.yaml:8: connectors.hubspot.access_token: environment variable TEST_HUBSPOT_TOKEN is not set",
        env={"TEST_HUBSPOT_TOKEN": None},
    ),
    case(
        "missing_unused_secret_run",
        (),
        "run companies",
        0,
        "plan for companies",
        absent=("TEST_SLACK_TOKEN",),
        env={"TEST_SLACK_TOKEN": None},
    ),
    case(
        "missing_warehouse_secret_status",
        project(WAREHOUSE_URL, "duckdb:///${WAREHOUSE_FILE}"),
        "status",
        0,
        "companies",
    ),
    case(
        "missing_warehouse_secret_validate",
        project(WAREHOUSE_URL, "duckdb:///${WAREHOUSE_FILE}"),
        "validate",
        2,
        "syncer.yaml:2: warehouse.url: environment variable WAREHOUSE_FILE is not set",
    ),
    case(
        "missing_variable_in_mapping",
        mapping("every 10m", "${SCHEDULE}"),
        "validate",
        2,
        f"{MAPPING}:16: schedule: environment variable SCHEDULE is not set",
    ),
    case(
        "empty_secret",
        (),
        "validate",
        2,
        "syncer.yaml:8: connectors.hubspot.access_token: environment variable TEST_HUBSPOT_TOKEN is set but empty",
        env={"TEST_HUBSPOT_TOKEN": ""},
    ),
    case(
        "empty_variable_takes_the_default",
        project(WAREHOUSE_URL, "${WAREHOUSE_URL:-duckdb:///warehouse.duckdb}"),
        "validate",
        0,
        "1 sync(s) valid",
        env={"WAREHOUSE_URL": ""},
    ),
    case(
        "secret_as_connector_type",
        project("type: slack", "type: ${TEST_SLACK_TOKEN}"),
        "validate",
        2,
        "connectors.slack.type: unknown connector type '***'",
    ),
    case(
        "secret_in_warehouse_path",
        project(WAREHOUSE_URL, "duckdb:///${TEST_HUBSPOT_TOKEN}/warehouse.duckdb"),
        "validate",
        2,
        "***/warehouse.duckdb does not exist",
    ),
    case(
        "secret_in_base_url_and_table",
        (
            project(
                "    type: hubspot", "    type: hubspot\n    base_url: https://x:${TEST_HUBSPOT_TOKEN}@example.test"
            ),
            mapping("table: scored_accounts", "table: ${TEST_HUBSPOT_TOKEN}"),
        ),
        "validate",
        2,
        "'***' is not a table name",
    ),
    case(
        "secret_in_schedule",
        mapping("every 10m", "every ${TEST_SLACK_TOKEN}"),
        "plan companies",
        2,
        "schedule: 'every ***' is neither",
    ),
    # URLs and paths
    case(
        "state_path_is_a_directory",
        (project(STATE_URL, "duckdb:///somewhere"), mkdir("somewhere")),
        "status",
        2,
        "directory",
        absent=("in use by another process",),
    ),
    case(
        "warehouse_path_is_a_directory",
        (project(WAREHOUSE_URL, "duckdb:///wh"), mkdir("wh")),
        "validate",
        2,
        "directory",
    ),
    case("state_url_unsupported_scheme", project(STATE_URL, "mysql://u@localhost/db"), "status", 2, "mysql"),
    case("warehouse_url_without_driver", project(WAREHOUSE_URL, "mysql://u@localhost/db"), "validate", 2, "mysql"),
    case(
        "warehouse_url_without_scheme",
        project(WAREHOUSE_URL, "warehouse.duckdb"),
        "validate",
        2,
        "warehouse.url: not a database URL",
    ),
    case(
        "warehouse_url_port_not_a_number",
        project(WAREHOUSE_URL, "postgresql+psycopg://u@localhost:abc/db"),
        "validate",
        2,
        "port",
    ),
]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_project(tmp_path_factory.mktemp("template") / "project")


def _run_in_process(args: list[str], env: dict[str, str | None]) -> tuple[int, str]:
    result = CliRunner().invoke(cli, args, env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        assert result.exc_info is not None
        pytest.fail("".join(traceback.format_exception(*result.exc_info)))
    return result.exit_code, result.output


def _cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def _run_in_subprocess(args: list[str], env: dict[str, str | None], cwd: Path) -> tuple[int, str]:
    environ = {k: v for k, v in {**os.environ, **env}.items() if v is not None}
    done = subprocess.run(
        [sys.executable, "-c", "from syncer.cli import main; main()", *args],
        env=environ,
        cwd=cwd,
        capture_output=True,
        text=True,
        preexec_fn=_cap_memory,
        check=False,
    )
    return done.returncode, done.stdout + done.stderr


@pytest.mark.parametrize("bad", CASES)
def test_bad_input_is_refused_clearly(bad: Case, template: Path, tmp_path: Path) -> None:
    root = tmp_path / "project"
    shutil.copytree(template, root)
    for edit in bad.edits:
        edit(root)
    args = [arg.replace("{root}", str(root)) for arg in bad.args]
    if not any("{root}" in arg for arg in bad.args):
        args += ["-p", str(root)]
    env: dict[str, str | None] = {**SECRETS, **dict(bad.env)}
    code, output = _run_in_subprocess(args, env, tmp_path) if bad.in_subprocess else _run_in_process(args, env)
    assert "Traceback" not in output, output
    for secret in SECRETS.values():
        assert secret not in output, output
    assert bad.fragment in output, output
    for text in bad.absent:
        assert text not in output, output
    assert code == bad.exit_code, output


def test_the_corpus_has_at_least_60_distinct_cases() -> None:
    assert len(CASES) >= 60
    assert len({c.id for c in CASES}) == len(CASES)
