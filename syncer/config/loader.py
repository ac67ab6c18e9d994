"""Load ``syncer.yaml`` and every ``mappings/*.yaml``, validate them and report every problem at once.

Checks, in order: YAML syntax, the pydantic models (``extra="forbid"``: an unknown key is an error), then what crosses
files: connectors named by syncs exist and fit the destination, schedules parse, sync names are unique. What needs the
warehouse (columns a mapping names but the model lacks) is :func:`syncer.config.columns.check_columns`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from syncer.config.errors import ConfigError, Problem
from syncer.config.project import ProjectConfig
from syncer.config.schedule import parse_schedule
from syncer.config.sync import SyncConfig
from syncer.config.yamlsource import YamlDocument, load_yaml
from syncer.delivery.registry import Registry

PROJECT_FILE = "syncer.yaml"
ALERT_CONNECTOR_TYPES = ("slack",)


@dataclass(frozen=True)
class LoadedSync:
    """A validated sync and the document it came from (for line numbers in later checks)."""

    config: SyncConfig
    document: YamlDocument


@dataclass(frozen=True)
class Project:
    """The validated project: ``syncer.yaml`` plus its syncs, keyed by name. Paths are resolved against ``root``."""

    root: Path
    config: ProjectConfig
    syncs: dict[str, LoadedSync] = field(default_factory=dict)
    connectors: dict[str, BaseModel] = field(default_factory=dict)  # name -> the validated settings of its type

    def sync(self, name: str) -> SyncConfig:
        if name not in self.syncs:
            raise UnknownSyncError(name, sorted(self.syncs))
        return self.syncs[name].config


class UnknownSyncError(Exception):
    """A command named a sync that no mapping defines."""

    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(f"no sync named '{name}' (known: {', '.join(known) or 'none'})")


def load_project(root: Path, registry: Registry, environ: Mapping[str, str] | None = None) -> Project:
    """Load and validate the project in ``root``; raise :class:`ConfigError` listing every problem.

    ``registry`` (``connectors.REGISTRY``) says which connector types exist and validates their settings.
    """
    problems: list[Problem] = []
    project_file = root / PROJECT_FILE
    config = ProjectConfig()
    connectors: dict[str, BaseModel] = {}
    if project_file.exists():
        doc, found = load_yaml(project_file, environ, PROJECT_FILE)
        problems += found
        if doc is not None:
            parsed = _validate(ProjectConfig, doc, problems)
            config = parsed if isinstance(parsed, ProjectConfig) else config
            connectors = _connector_settings(config, doc, registry, problems)
    syncs: dict[str, LoadedSync] = {}
    mappings = root / config.mappings_dir
    files = sorted(mappings.glob("*.yaml")) + sorted(mappings.glob("*.yml"))
    if not files:
        problems.append(Problem(config.mappings_dir, 0, "", "no sync definitions (*.yaml) found"))
    for path in files:
        doc, found = load_yaml(path, environ, str(path.relative_to(root)))
        problems += found
        if doc is None:
            continue
        sync = _validate(SyncConfig, doc, problems)
        if not isinstance(sync, SyncConfig):
            continue
        if sync.name in syncs:
            other = syncs[sync.name].document.file
            problems.append(doc.problem(("name",), f"sync name '{sync.name}' is already used by {other}"))
            continue
        problems += _cross_check(sync, doc, config, connectors, registry)
        syncs[sync.name] = LoadedSync(sync, doc)
    if problems:
        raise ConfigError(problems)
    return Project(root, config, syncs, connectors)


def _connector_settings(config: ProjectConfig, doc: YamlDocument, registry: Registry,
                        problems: list[Problem]) -> dict[str, BaseModel]:
    """Validate each connector entry against the settings model of its type."""
    settings: dict[str, BaseModel] = {}
    for name, entry in config.connectors.items():
        kind = registry.get(entry.type)
        if kind is None:
            message = f"unknown connector type '{entry.type}' (known: {', '.join(sorted(registry))})"
            problems.append(doc.problem(("connectors", name, "type"), message))
            continue
        try:
            # The raw entry, not ``entry``: a ConnectorEntry keeps only ``type``, so secrets never sit in it untyped.
            settings[name] = kind.settings.model_validate(doc.data["connectors"][name])
        except ValidationError as exc:
            for error in exc.errors(include_input=False, include_url=False):
                problems.append(doc.problem(("connectors", name, *_clean_location(error["loc"])), _message(error)))
    return settings


def _validate(model: type[BaseModel], doc: YamlDocument, problems: list[Problem]) -> BaseModel | None:
    if not isinstance(doc.data, dict):
        problems.append(doc.problem((), "expected a mapping of keys to values at the top level"))
        return None
    try:
        return model.model_validate(doc.data)
    except ValidationError as exc:
        for error in exc.errors(include_input=False, include_url=False):
            path = _clean_location(error["loc"])
            problems.append(doc.problem(path, _message(error)))
        return None


def _clean_location(loc: tuple[Any, ...]) -> tuple[str | int, ...]:
    # pydantic adds union-member tags such as 'hubspot' or 'function-before[...]' to locations; the YAML has neither.
    return tuple(part for part in loc if isinstance(part, int) or not str(part).startswith(("function-", "tagged-")))


def _message(error: Any) -> str:
    kind, message = error["type"], str(error["msg"])
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required key is missing"
    return message.removeprefix("Value error, ")


def _cross_check(sync: SyncConfig, doc: YamlDocument, config: ProjectConfig, connectors: dict[str, BaseModel],
                 registry: Registry) -> list[Problem]:
    problems: list[Problem] = []
    dest = sync.destination
    known = ", ".join(sorted(config.connectors)) or "none configured in syncer.yaml"
    entry = config.connectors.get(dest.connector)
    if entry is None:
        message = f"unknown connector '{dest.connector}' (known: {known})"
        problems.append(doc.problem(("destination", "connector"), message))
    elif dest.connector in connectors:  # an entry that failed its own validation is reported there, once
        for key, message in registry[entry.type].target_problems(dest.object, dest.mode):
            problems.append(doc.problem(("destination", key), message))
    for i, trigger in enumerate(sync.triggers):
        if trigger.alert is None:
            continue
        alert_entry = config.connectors.get(trigger.alert.connector)
        if alert_entry is None or alert_entry.type not in ALERT_CONNECTOR_TYPES:
            problems.append(doc.problem(("triggers", i, "alert", "connector"),
                                        f"'{trigger.alert.connector}' is not a Slack connector (known: {known})"))
    try:
        parse_schedule(sync.schedule or config.defaults.schedule)
    except ValueError as exc:
        problems.append(doc.problem(("schedule",), str(exc)))
    return problems
