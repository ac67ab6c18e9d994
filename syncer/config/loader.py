"""Load ``syncer.yaml`` and every ``mappings/*.yaml``, validate them and report every problem at once.

Checks, in order: YAML syntax, the pydantic models (``extra="forbid"``: an unknown key is an error), then what crosses
files: connectors named by syncs exist and fit the destination, schedules parse, sync names are unique. What needs the
warehouse (columns a mapping names but the model lacks) is :func:`syncer.planning.columns.check_columns`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr, ValidationError

from syncer.config.errors import ConfigError, Problem, keep_secret_values_only, remember_secrets
from syncer.config.project import ProjectConfig
from syncer.config.schedule import parse_schedule
from syncer.config.sync import SyncConfig
from syncer.config.yamlsource import YamlDocument, load_yaml
from syncer.contract.enums import Overwrite
from syncer.contract.registry import ConnectorType, Registry

PROJECT_FILE = "syncer.yaml"


@dataclass(frozen=True)
class LoadedSync:
    """A validated sync and the document it came from (for line numbers in later checks)."""

    config: SyncConfig
    document: YamlDocument


@dataclass(frozen=True)
class MissingVariable:
    """An environment variable ``syncer.yaml`` references, unset, in a setting only some commands need.

    The reference text stands in for it, so the rest of the project still validates (a CI job checks a pull request
    of mappings without the destinations' secrets); the commands that open what needs it refuse to run.
    """

    name: str
    path: tuple[str | int, ...]
    problem: Problem


@dataclass(frozen=True)
class Project:
    """The validated project: ``syncer.yaml`` plus its syncs, keyed by name. Paths are resolved against ``root``.

    ``missing_secrets``: variables the warehouse, state or connector settings reference but the environment lacks.
    """

    root: Path
    config: ProjectConfig
    syncs: dict[str, LoadedSync] = field(default_factory=dict)
    connectors: dict[str, BaseModel] = field(default_factory=dict)  # name -> the validated settings of its type
    missing_secrets: tuple[MissingVariable, ...] = ()

    def sync(self, name: str) -> SyncConfig:
        if name not in self.syncs:
            raise UnknownSyncError(name, sorted(self.syncs))
        return self.syncs[name].config

    def missing_under(self, *prefixes: tuple[str | int, ...]) -> list[MissingVariable]:
        """The missing variables referenced below any of ``prefixes`` (key paths in ``syncer.yaml``)."""
        return [m for m in self.missing_secrets if any(m.path[: len(p)] == p for p in prefixes)]

    def connectors_of(self, syncs: list[SyncConfig]) -> list[str]:
        """The connectors ``syncs`` write to or alert through, in order of first use."""
        names = [sync.destination.connector for sync in syncs if sync.destination is not None]
        names += [t.alert.connector for sync in syncs for t in sync.triggers if t.alert is not None]
        return list(dict.fromkeys(names))


class UnknownSyncError(Exception):
    """A command named a sync that no mapping defines."""

    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(f"no sync named '{name}' (known: {', '.join(known) or 'none'})")


def load_project(root: Path, registry: Registry, environ: Mapping[str, str] | None = None) -> Project:
    """Load and validate the project in ``root``; raise :class:`ConfigError` listing every problem.

    ``registry`` (``connectors.REGISTRY``) says which connector types exist and validates their settings. Every
    value read from the environment is remembered for redaction (:func:`syncer.config.errors.redact`) before any
    problem is raised. When ``syncer.yaml`` is missing or invalid, mappings are still checked on their own, but not
    against connectors the project failed to define (that would only repeat the project file's error in each).
    """
    if not root.is_dir():
        what = "is not a directory" if root.exists() else "does not exist"
        raise ConfigError([Problem(str(root), 0, "", f"the project directory {what}")])
    problems: list[Problem] = []
    project, connectors, missing = _load_project_file(root, registry, environ, problems)
    if project is None and not (root / PROJECT_FILE).is_file():
        raise ConfigError(problems)  # the wrong directory, most likely: the mappings would only add noise
    config = project or ProjectConfig()
    mappings_dir = config.mappings_dir if project else _raw_mappings_dir(root)
    syncs: dict[str, LoadedSync] = {}
    for path in _mapping_files(root, mappings_dir, problems):
        doc, found = load_yaml(path, environ, str(path.relative_to(root)) if path.is_relative_to(root) else None)
        problems += found
        if doc is None:
            continue
        remember_secrets(doc.environment.values())
        problems += [doc.problem(where, f"environment variable {name} is not set") for name, where in doc.missing]
        if doc.data is None:
            problems.append(doc.problem((), "the file is empty: expected a sync definition (name, model, key, ...)"))
            continue
        sync = _validate(SyncConfig, doc, problems)
        if not isinstance(sync, SyncConfig):
            continue
        if sync.name in syncs:
            other = syncs[sync.name].document.file
            problems.append(doc.problem(("name",), f"sync name '{sync.name}' is already used by {other}"))
            continue
        problems += _cross_check(sync, doc, project, connectors, registry)
        syncs[sync.name] = LoadedSync(sync, doc)
    if problems:
        raise ConfigError(problems)
    assert project is not None  # no problems means the project file validated
    keep_secret_values_only(secret_values([project, *connectors.values(), *(s.config for s in syncs.values())]))
    return Project(root, project, syncs, connectors, tuple(missing))


def secret_values(found: Any) -> list[str]:
    """The value of every ``SecretStr`` inside ``found`` (models, lists, tuples and dicts, walked in depth)."""
    if isinstance(found, SecretStr):
        return [found.get_secret_value()]
    if isinstance(found, BaseModel):
        return secret_values([getattr(found, name) for name in type(found).model_fields])
    if isinstance(found, dict):
        return secret_values(list(found.values()))
    if isinstance(found, list | tuple):
        return [value for item in found for value in secret_values(item)]
    return []


def _load_project_file(
    root: Path, registry: Registry, environ: Mapping[str, str] | None, problems: list[Problem]
) -> tuple[ProjectConfig | None, dict[str, BaseModel], list[MissingVariable]]:
    """``syncer.yaml`` validated (``None`` when it is missing or invalid), its connectors' settings, what is unset."""
    path = root / PROJECT_FILE
    if not path.is_file():
        what = "is a directory" if path.exists() else "not found"
        problems.append(Problem(PROJECT_FILE, 0, "", f"{what} in {root}: is --project the project directory?"))
        return None, {}, []
    doc, found = load_yaml(path, environ, PROJECT_FILE)
    problems += found
    if doc is None:
        return None, {}, []
    remember_secrets(doc.environment.values())
    missing = []
    for name, where in doc.missing:
        problem = doc.problem(where, f"environment variable {name} is not set")
        if where[:1] in _DEFERRED:
            missing.append(MissingVariable(name, where, problem))
        else:
            problems.append(problem)
    if doc.data is None:  # an empty project file: every default
        doc.data = {}
    config = _validate(ProjectConfig, doc, problems)
    if not isinstance(config, ProjectConfig):
        return None, {}, missing
    ops = config.daemon.ops_alerts
    if ops is not None and (
        ops.connector not in config.connectors
        or config.connectors[ops.connector].type not in registry
        or registry[config.connectors[ops.connector].type].alerts is None
    ):
        known = ", ".join(sorted(config.connectors)) or "none configured"
        problems.append(
            doc.problem(
                ("daemon", "ops_alerts", "connector"),
                f"'{ops.connector}' is not a connector that posts alerts (known: {known})",
            )
        )
    return config, _connector_settings(config, doc, registry, problems), missing


# Sections of syncer.yaml whose unset variables only the commands that open them need.
_DEFERRED = {("warehouse",), ("state",), ("connectors",), ("daemon",)}


def _raw_mappings_dir(root: Path) -> str:
    """``mappings_dir`` as written in a ``syncer.yaml`` that failed to validate, if it is usable text."""
    doc, _ = load_yaml(root / PROJECT_FILE, {}, PROJECT_FILE)
    data = doc.data if doc is not None else None
    written = data.get("mappings_dir") if isinstance(data, dict) else None
    return written if isinstance(written, str) and written else "mappings"


def _mapping_files(root: Path, mappings_dir: str, problems: list[Problem]) -> list[Path]:
    directory = root / mappings_dir
    if not directory.is_dir():
        what = "not a directory" if directory.exists() else "no such directory"
        problems.append(Problem(mappings_dir, 0, "", f"{what} in the project (the mappings_dir of syncer.yaml)"))
        return []
    files = sorted(directory.glob("*.yaml")) + sorted(directory.glob("*.yml"))
    if not files:
        problems.append(Problem(mappings_dir, 0, "", "no sync definitions (*.yaml) found"))
    return files


def _connector_settings(
    config: ProjectConfig, doc: YamlDocument, registry: Registry, problems: list[Problem]
) -> dict[str, BaseModel]:
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


def _cross_check(
    sync: SyncConfig,
    doc: YamlDocument,
    project: ProjectConfig | None,
    connectors: dict[str, BaseModel],
    registry: Registry,
) -> list[Problem]:
    """What one model cannot check: connectors the sync names (only against a valid ``project``), its schedule."""
    problems: list[Problem] = []
    if sync.model.sql is not None and not sync.model.query.strip():
        problems.append(doc.problem(("model", "sql"), "the query is empty"))
    for name in sync.fields:
        if not name.strip():
            line = doc.line_of(("fields", name))
            problems.append(Problem(doc.file, line, "fields", f"a destination field needs a name (found '{name}')"))
    if sync.schedule is not None:  # the default schedule is checked in syncer.yaml, once
        try:
            parse_schedule(sync.schedule)
        except ValueError as exc:
            problems.append(doc.problem(("schedule",), str(exc)))
    if project is None:
        return problems
    dest = sync.destination
    known = ", ".join(sorted(project.connectors)) or "none configured in syncer.yaml"
    entry = project.connectors.get(dest.connector) if dest is not None else None
    if dest is not None and entry is None:
        message = f"unknown connector '{dest.connector}' (known: {known})"
        problems.append(doc.problem(("destination", "connector"), message))
    elif dest is not None and entry is not None and dest.connector in connectors:  # a bad entry is reported once
        for key, message in registry[entry.type].target_problems(
            connectors[dest.connector],
            dest.object,
            dest.mode,
            adopt=dest.adopt_by is not None,
            owner=dest.owner is not None,
        ):
            problems.append(doc.problem(("destination", key), message))
        problems += _policy_problems(sync, doc, registry[entry.type], connectors[dest.connector])
    for i, trigger in enumerate(sync.triggers):
        if (
            trigger.task is not None
            and entry is not None
            and entry.type in registry
            and registry[entry.type].tasks is None
        ):
            problems.append(
                doc.problem(
                    ("triggers", i, "task"),
                    f"a {entry.type} destination takes no tasks (tasks go to a CRM: hubspot or salesforce)",
                )
            )
        if trigger.alert is None:
            continue
        alert_entry = project.connectors.get(trigger.alert.connector)
        if alert_entry is None or alert_entry.type not in registry or registry[alert_entry.type].alerts is None:
            problems.append(
                doc.problem(
                    ("triggers", i, "alert", "connector"),
                    f"'{trigger.alert.connector}' is not a connector that posts alerts (known: {known})",
                )
            )
    return problems


def _policy_problems(sync: SyncConfig, doc: YamlDocument, kind: ConnectorType[Any], settings: Any) -> list[Problem]:
    """A field write policy other than ``always`` reads the CRM's current values: the connector must read records."""
    if kind.capabilities(settings).reads_records:
        return []
    return [
        doc.problem(
            ("fields", name, "overwrite"),
            f"overwrite: {spec.overwrite.value} reads the destination's "
            f"current values, which a {kind.name} destination cannot read (use overwrite: always)",
        )
        for name, spec in sync.fields.items()
        if spec.overwrite is not Overwrite.ALWAYS
    ]
