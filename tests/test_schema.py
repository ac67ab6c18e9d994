"""The JSON Schemas ``syncer schema`` writes agree with the loader: every shipped and documented file validates against
them, and on structural mistakes the schema and the loader give the same verdict."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator
from pydantic import BaseModel, ValidationError
from typer.testing import CliRunner

from connectors import REGISTRY
from syncer.cli import cli
from syncer.config.project import ProjectConfig
from syncer.config.sync import SyncConfig
from tests.project import MAPPING_YAML, PROJECT_YAML

REPO = Path(__file__).parents[1]
DOCUMENTS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


@pytest.fixture(scope="module")
def schemas(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Draft202012Validator]:
    out = tmp_path_factory.mktemp("schemas")
    result = CliRunner().invoke(cli, ["schema", "--out", str(out)])
    assert result.exit_code == 0, result.output
    validators = {}
    for kind in ("syncer", "mapping"):
        schema = json.loads((out / f"{kind}.schema.json").read_text())
        Draft202012Validator.check_schema(schema)
        validators[kind] = Draft202012Validator(schema)
    return validators


def _errors(validator: Draft202012Validator, data: Any) -> list[str]:
    return [f"{'.'.join(map(str, error.absolute_path))}: {error.message}" for error in validator.iter_errors(data)]


def documented_yaml() -> list[tuple[str, Any]]:
    """Every ```yaml block of the README and docs, as ``(where, data)``."""
    blocks = []
    for document in DOCUMENTS:
        for i, block in enumerate(re.findall(r"```yaml\n(.*?)```", document.read_text(), re.DOTALL)):
            blocks.append((f"{document.name} block {i + 1}", yaml.safe_load(block)))
    return blocks


def test_shipped_mappings_validate(schemas: dict[str, Draft202012Validator]) -> None:
    files = sorted((REPO / "mappings").glob("*.yaml"))
    assert len(files) >= 3
    for path in files:
        assert _errors(schemas["mapping"], yaml.safe_load(path.read_text())) == [], path.name


def test_shipped_project_file_validates(schemas: dict[str, Draft202012Validator]) -> None:
    data = yaml.safe_load((REPO / "syncer.yaml").read_text())
    assert "${HUBSPOT_ACCESS_TOKEN}" in json.dumps(data)  # secrets are references: strings the schema must take
    assert _errors(schemas["syncer"], data) == []


def test_documented_files_validate(schemas: dict[str, Draft202012Validator]) -> None:
    blocks = documented_yaml()
    mappings = [(where, data) for where, data in blocks if isinstance(data, dict) and "destination" in data]
    projects = [(where, data) for where, data in blocks if isinstance(data, dict) and "connectors" in data]
    assert mappings, "the README documents a mapping"
    for where, data in mappings:
        assert _errors(schemas["mapping"], data) == [], where
    for where, data in projects:
        assert _errors(schemas["syncer"], data) == [], where


def test_the_test_project_validates(schemas: dict[str, Draft202012Validator]) -> None:
    assert _errors(schemas["mapping"], yaml.safe_load(MAPPING_YAML)) == []
    assert (
        _errors(
            schemas["syncer"],
            yaml.safe_load(PROJECT_YAML.format(state_url="duckdb:///s.duckdb", hubspot_url="http://127.0.0.1:9")),
        )
        == []
    )


def test_defaults_are_shown_unmasked(schemas: dict[str, Draft202012Validator]) -> None:
    schema = schemas["syncer"].schema
    assert isinstance(schema, dict)
    warehouse = schema["$defs"]["WarehouseConfig"]["properties"]["url"]
    assert warehouse["default"] == "duckdb:///warehouse.duckdb"
    assert "**********" not in json.dumps(schema)


def _mapping(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(MAPPING_YAML)
    for dotted, value in changes.items():
        *parents, last = dotted.split("__")
        target = data
        for part in parents:
            target = target[part]
        target[last] = value
    return data


# (what, data, the verdict both must give): the structure a schema can express, both ways.
MAPPING_VERDICTS = [
    ("shorthand field", _mapping(fields__extra="some_column"), True),
    ("full field", _mapping(fields__extra={"source": "c", "type": "integer", "round": 0}), True),
    ("template field", _mapping(fields__extra={"template": "{{ a }}", "max_length": 10, "truncate": True}), True),
    ("constant field", _mapping(fields__extra={"value": 3}), True),
    ("sql model", _mapping(model={"sql": "SELECT 1"}), True),
    (
        "trigger with an alert",
        _mapping(triggers=[{"name": "t", "when": "true", "alert": {"connector": "slack", "template": "x"}}]),
        True,
    ),
    ("field as a number", _mapping(fields__extra=5), False),
    ("field as a list", _mapping(fields__extra=["a"]), False),
    ("unknown top-level key", _mapping(keys=1), False),
    ("unknown field key", _mapping(fields__extra={"source": "c", "rounding": 2}), False),
    ("bad mode", _mapping(destination__mode="sideways"), False),
    ("bad field type", _mapping(fields__extra={"source": "c", "type": "float"}), False),
    ("round out of range", _mapping(fields__extra={"source": "c", "round": 13}), False),
    ("no fields", _mapping(fields={}), False),
    ("key as a list", _mapping(key=["a"]), False),
    (
        "alert priority 9",
        _mapping(triggers=[{"name": "t", "when": "true", "alert": {"connector": "s", "template": "x", "priority": 9}}]),
        False,
    ),
]


@pytest.mark.parametrize(("what", "data", "valid"), MAPPING_VERDICTS, ids=[v[0] for v in MAPPING_VERDICTS])
def test_schema_and_loader_agree_on_mappings(
    schemas: dict[str, Draft202012Validator], what: str, data: dict[str, Any], *, valid: bool
) -> None:
    assert (_errors(schemas["mapping"], data) == []) is valid, _errors(schemas["mapping"], data)
    assert _loader_accepts(SyncConfig, data) is valid


PROJECT_VERDICTS = [
    ("secret references", {"connectors": {"h": {"type": "hubspot", "access_token": "${T}"}}}, True),
    (
        "every connector type",
        {
            "connectors": {
                "h": {"type": "hubspot", "access_token": "t", "base_url": "${U:-http://x}"},
                "s": {"type": "salesforce", "instance_url": "https://x", "client_id": "${I}", "client_secret": "${S}"},
                "k": {"type": "slack", "token": "${K}"},
                "w": {"type": "webhook", "url": "https://x", "signing_secret": "${W}"},
            }
        },
        True,
    ),
    ("an unknown connector type", {"connectors": {"h": {"type": "marketo"}}}, False),
    ("a connector without its secret", {"connectors": {"h": {"type": "hubspot"}}}, False),
    ("an unknown connector key", {"connectors": {"h": {"type": "slack", "token": "t", "tokn": "t"}}}, False),
    ("an unknown top-level key", {"warehous": {}}, False),
    ("batch size zero", {"warehouse": {"batch_size": 0}}, False),
]


@pytest.mark.parametrize(("what", "data", "valid"), PROJECT_VERDICTS, ids=[v[0] for v in PROJECT_VERDICTS])
def test_schema_and_loader_agree_on_project_files(
    schemas: dict[str, Draft202012Validator], what: str, data: dict[str, Any], *, valid: bool
) -> None:
    assert (_errors(schemas["syncer"], data) == []) is valid, _errors(schemas["syncer"], data)
    connectors_ok = all(
        entry.get("type") in REGISTRY and _loader_accepts(REGISTRY[entry["type"]].settings, entry)
        for entry in data.get("connectors", {}).values()
    )
    assert (_loader_accepts(ProjectConfig, data) and connectors_ok) is valid


def _loader_accepts(model: type[BaseModel], data: dict[str, Any]) -> bool:
    try:
        model.model_validate(data)
    except ValidationError:
        return False
    return True
