"""The ``syncer`` command line. Exit codes: 0 ok, 1 a sync failed, 2 bad input (configuration, arguments)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from syncer import output
from syncer.app import App, utc_now
from syncer.config.errors import ConfigError, Problem
from syncer.config.project import ProjectConfig
from syncer.config.sync import SyncConfig
from syncer.planner import PlanError, plan_sync
from syncer.runner import run_sync
from syncer.state import StateUnavailableError
from syncer.validate import check_against_model

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2

cli = typer.Typer(help="syncer: warehouse PQL scores to Salesforce, HubSpot and Slack, sending only what changed.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
ProjectOption = Annotated[Path, typer.Option("--project", "-p", help="Project directory (holds syncer.yaml).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


@contextmanager
def _app(root: Path, environ: dict[str, str] | None = None) -> Iterator[App]:
    """Open the project; turn configuration problems into exit code 2 and sync failures into 1."""
    app = App(root, environ)
    try:
        yield app
    except ConfigError as exc:
        output.show_problems(exc.problems)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    except KeyError as exc:
        output.show_error(str(exc.args[0]))
        raise typer.Exit(EXIT_BAD_INPUT) from None
    except (PlanError, StateUnavailableError) as exc:
        output.show_error(str(exc))
        raise typer.Exit(EXIT_FAILED) from None
    finally:
        app.close()


def _validate_models(app: App) -> list[Problem]:
    problems: list[Problem] = []
    for loaded in app.project.syncs.values():
        problems += check_against_model(loaded, app.store.workspace(), app.warehouse, app.batch_size)
    return problems


@cli.command()
def validate(project: ProjectOption = Path("."), as_json: JsonOption = False) -> None:
    """Check syncer.yaml and every mapping, including each model's columns against the warehouse."""
    with _app(project) as app:
        problems = _validate_models(app)
        if as_json:
            output.print_json({"ok": not problems, "syncs": sorted(app.project.syncs),
                               "problems": [problem.__dict__ for problem in problems]})
        if problems:
            if not as_json:
                output.show_problems(problems)
            raise typer.Exit(EXIT_BAD_INPUT)
        if not as_json:
            output.console.print(f"[green]ok[/]: {len(app.project.syncs)} sync(s) valid: "
                                 f"{', '.join(sorted(app.project.syncs))}")


@cli.command()
def plan(sync: Annotated[str, typer.Argument(help="The sync to plan.")], project: ProjectOption = Path("."),
         as_json: JsonOption = False,
         limit: Annotated[int, typer.Option(help="Sample rows shown per change type.")] = 5) -> None:
    """Dry run: show what a run of SYNC would send, without sending or recording anything."""
    with _app(project) as app:
        config = app.project.sync(sync)
        result = plan_sync(config, app.store, app.warehouse, app.batch_size)
        if as_json:
            output.print_json(result.summary(sample=limit))
        else:
            output.show_plan(result, limit)


@cli.command()
def run(sync: Annotated[str | None, typer.Argument(help="The sync to run.")] = None,
        run_all: Annotated[bool, typer.Option("--all", help="Run every enabled sync.")] = False,
        project: ProjectOption = Path("."), as_json: JsonOption = False) -> None:
    """Run SYNC (or --all) once: plan, deliver what changed, record the run."""
    if (sync is None) == (not run_all):
        output.show_error("give a sync name or --all (not both)")
        raise typer.Exit(EXIT_BAD_INPUT)
    with _app(project) as app:
        syncs = [app.project.sync(sync)] if sync else [s.config for s in app.project.syncs.values() if s.config.enabled]
        outcomes = [run_sync(config, app.store, app.warehouse, utc_now, app.batch_size) for config in syncs]
        if as_json:
            output.print_json([{"run_id": o.run_id, "sync": o.sync, "status": o.status, "error": o.error,
                                "plan": o.plan.summary(sample=0) if o.plan else None} for o in outcomes])
        for outcome in outcomes:
            if not as_json and outcome.plan is not None:
                output.show_plan(outcome.plan, 3)
            if not as_json and outcome.error:
                output.show_error(outcome.error, prefix=f"{outcome.sync} failed: ")
        if any(o.status == "failed" for o in outcomes):
            raise typer.Exit(EXIT_FAILED)


@cli.command()
def status(project: ProjectOption = Path("."), as_json: JsonOption = False) -> None:
    """Each sync's last run, snapshot size and row errors."""
    with _app(project) as app:
        rows: list[dict[str, Any]] = []
        for name, loaded in sorted(app.project.syncs.items()):
            config = loaded.config
            runs = app.store.runs(name, limit=1)
            rows.append({"sync": name, "destination": f"{config.destination.connector}:{config.destination.object}",
                         "schedule": config.schedule or app.project.config.defaults.schedule,
                         "snapshot": app.store.snapshot_size(name), "last_run": runs[0] if runs else None,
                         "row_errors": [{"key": k, "reason": r} for k, r, _ in app.store.row_errors(name, 20)]})
        if as_json:
            output.print_json([{**row, "last_run": row["last_run"].as_dict() if row["last_run"] else None}
                               for row in rows])
        else:
            output.show_status(rows)


@cli.command()
def reset(sync: Annotated[str, typer.Argument(help="The sync whose snapshot to forget.")],
          project: ProjectOption = Path("."),
          yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False) -> None:
    """Forget what SYNC last confirmed, so its next run sends every row again."""
    with _app(project) as app:
        app.project.sync(sync)
        if not yes and not typer.confirm(f"Forget the snapshot of {sync}? Its next run re-sends every row."):
            raise typer.Exit(EXIT_BAD_INPUT)
        forgotten = app.store.reset(sync)
        output.console.print(f"forgot {forgotten} snapshot row(s) of {sync}")


@cli.command()
def schema(out: Annotated[Path, typer.Option(help="Directory to write the JSON Schemas into.")] = Path("schemas")
           ) -> None:
    """Write JSON Schemas for syncer.yaml and mapping files, for editor completion and checking."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for filename, model in (("syncer.schema.json", ProjectConfig), ("mapping.schema.json", SyncConfig)):
        path = out / filename
        path.write_text(json.dumps(model.model_json_schema(), indent=2) + "\n", encoding="utf-8")
        written.append(path)
    output.console.print("wrote " + ", ".join(str(p) for p in written))


@cli.command()
def demo(project: ProjectOption = Path("."),
         accounts: Annotated[int, typer.Option(help="Accounts in the sample warehouse.")] = 5_000,
         day: Annotated[int, typer.Option(help="Simulated day: each day some accounts heat up.")] = 0,
         rebuild: Annotated[bool, typer.Option(help="Rebuild the sample warehouse even if it exists.")] = False
         ) -> None:
    """Build the sample warehouse, validate the shipped mappings and run every sync on the embedded default."""
    from syncer.demo.command import DEMO_ENVIRONMENT, prepare_demo

    environ = {**DEMO_ENVIRONMENT, **os.environ}
    with _app(project, environ) as app:
        prepare_demo(app, accounts, day, rebuild)
        problems = _validate_models(app)
        if problems:
            output.show_problems(problems)
            raise typer.Exit(EXIT_BAD_INPUT)
        output.console.print(f"[green]ok[/]: {len(app.project.syncs)} mapping(s) valid")
        for loaded in app.project.syncs.values():
            outcome = run_sync(loaded.config, app.store, app.warehouse, utc_now, app.batch_size)
            if outcome.plan is not None:
                output.show_plan(outcome.plan, 3)
            if outcome.error:
                output.show_error(outcome.error, prefix=f"{outcome.sync} failed: ")
                raise typer.Exit(EXIT_FAILED)


@cli.command()
def sandbox(directory: Annotated[Path, typer.Option(help="Where TLS files go.")] = Path(".syncer/sandbox"),
            hubspot_port: int = 8701, salesforce_port: int = 8702, slack_port: int = 8703) -> None:
    """Serve the local HubSpot, Salesforce and Slack emulators on 127.0.0.1 until interrupted."""
    import time

    from syncer.sandbox import Sandbox

    ports = {"hubspot": hubspot_port, "salesforce": salesforce_port, "slack": slack_port}
    with Sandbox.start(directory, ports) as served:
        for name, url in served.urls.items():
            output.console.print(f"{name:<11} {url}")
        output.console.print(f"Salesforce clients trust the CA in {served.ca_file}; inspect any of them under "
                             "/_sandbox/ (state, requests, requests/counts, reset, faults). Ctrl-C stops.")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            output.console.print("sandbox stopped")


def main() -> None:
    cli()
