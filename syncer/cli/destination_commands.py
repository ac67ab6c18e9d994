"""Commands that talk to destinations without syncing: check (credentials and fields) and setup (create fields)."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Protocol, runtime_checkable

import typer

from syncer import output
from syncer.cli.base import EXIT_FAILED, JsonOption, ProjectOption, cli, open_app
from syncer.config.sync import SyncConfig
from syncer.contract.destination import FieldCheck
from syncer.contract.enums import FieldType
from syncer.contract.errors import DeliveryError

if TYPE_CHECKING:
    from syncer.app import App
    from syncer.config.sync import SyncConfig


def field_types(app: App, sync: SyncConfig) -> dict[str, FieldType]:
    """Each mapped field's type: declared, else inferred from the model column it reads (as planning does)."""
    from syncer.core.fields import infer_type
    from syncer.planning.planner import model_columns
    from syncer.warehouse.base import WarehouseError

    con = app.store.workspace()
    try:
        columns = model_columns(con, app.warehouse.stage(con, sync.model.query, app.batch_size))
    except WarehouseError:
        columns = {}  # `syncer validate` reports the model; check still checks what it can
    finally:
        app.warehouse.release(con)
    return {
        name: spec.type or (infer_type(columns[spec.source]) if spec.source in columns else FieldType.STRING)
        for name, spec in sync.fields.items()
    }


@cli.command()
def check(
    sync: Annotated[str | None, typer.Argument(help="The sync to check (default: every enabled sync).")] = None,
    project: ProjectOption = Path("."),
    *,
    as_json: JsonOption = False,
) -> None:
    """Verify each destination's credentials and that every mapped field exists there with a compatible type."""
    with open_app(project) as app:
        configs = (
            [app.project.sync(sync)] if sync else [s.config for s in app.project.syncs.values() if s.config.enabled]
        )
        app.require_destinations(configs)
        results: list[dict[str, Any]] = []
        for config in configs:
            results.append(_check_one(app, config))
        if as_json:
            output.print_json(results)
        else:
            for result in results:
                if result["error"]:
                    output.show_error(result["error"], prefix=f"{result['sync']}: ")
                elif not result["fields"]:
                    output.console.print(f"[green]ok[/]: {result['sync']}: {result['detail']}")
                for finding in result["fields"]:
                    hint = " (syncer setup can create it)" if finding["fixable"] else ""
                    output.show_error(f"{finding['field']}: {finding['problem']}{hint}", prefix=f"{result['sync']}: ")
        if any(result["error"] or result["fields"] for result in results):
            raise typer.Exit(EXIT_FAILED)


def _check_one(app: App, config: SyncConfig) -> dict[str, Any]:
    connector = config.destination.connector if config.destination is not None else None
    result: dict[str, Any] = {"sync": config.name, "destination": connector, "error": None, "fields": [], "detail": ""}
    try:
        destination = app.open_destination(config, field_types(app, config))
    except DeliveryError as exc:
        result["error"] = str(exc)
        return result
    if destination is None:
        result["detail"] = (
            "a watch: it writes no fields (alerts only)"
            if connector is None
            else "this connector takes no field writes (alerts only)"
        )
        return result
    try:
        findings = destination.check() + _check_tasks(app, config)
        result["fields"] = [{"field": f.field, "problem": f.problem, "fixable": f.fixable} for f in findings]
        result["detail"] = f"credentials work; {len(config.fields)} field(s) exist with compatible types" + (
            " and the values the mapping names are options of theirs" if _names_values(config) else ""
        )
    except DeliveryError as exc:
        result["error"] = str(exc)
    finally:
        destination.close()
    return result


@runtime_checkable
class _TaskChecker(Protocol):
    def check(self, priorities: Collection[str]) -> list[FieldCheck]: ...


def _check_tasks(app: App, config: SyncConfig) -> list[FieldCheck]:
    """The task priorities of ``config``'s triggers (and the status syncer sets) against the CRM's options."""
    priorities = {t.task.priority for t in config.triggers if t.task is not None}
    if config.destination is None or not priorities:
        return []
    tasks = app.open_task_destination(config.destination.connector)
    try:
        return tasks.check(priorities) if isinstance(tasks, _TaskChecker) else []
    finally:
        tasks.close()


def _names_values(config: SyncConfig) -> bool:
    return any(spec.known_values() for spec in config.fields.values()) or any(t.task for t in config.triggers)


@cli.command()
def setup(
    sync: Annotated[str, typer.Argument(help="The sync whose destination fields to create.")],
    project: ProjectOption = Path("."),
) -> None:
    """Create the destination fields SYNC maps that are missing (HubSpot), and what its tasks need (the dedupe key
    property); print what to create where syncer cannot."""
    with open_app(project) as app:
        config = app.project.sync(sync)
        app.require_destinations([config])
        try:
            lines = _setup_fields(app, config) + _setup_tasks(app, config)
        except DeliveryError as exc:
            output.show_error(str(exc), prefix=f"{sync}: ")
            raise typer.Exit(EXIT_FAILED) from None
        for line in lines or ["every mapped field already exists"]:
            output.console.print(f"{sync}: {line}", markup=False, highlight=False)


def _setup_fields(app: App, config: SyncConfig) -> list[str]:
    destination = app.open_destination(config, field_types(app, config))
    if destination is None:
        return ["no fields to set up (a watch, or a connector that takes no field writes)"]
    try:
        return destination.setup()
    finally:
        destination.close()


def _setup_tasks(app: App, config: SyncConfig) -> list[str]:
    if config.destination is None or not any(t.task is not None for t in config.triggers):
        return []
    tasks = app.open_task_destination(config.destination.connector)
    try:
        return [f"tasks: {line}" for line in tasks.setup()]
    finally:
        tasks.close()
