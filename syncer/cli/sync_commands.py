"""Commands about one sync: plan (a dry run) and run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from syncer import output
from syncer.app import utc_now
from syncer.cli.base import EXIT_BAD_INPUT, EXIT_FAILED, JsonOption, ProjectOption, cli, open_app
from syncer.planner import plan_sync
from syncer.runner import run_sync
from syncer.state.base import RunStatus


@cli.command()
def plan(sync: Annotated[str, typer.Argument(help="The sync to plan.")], project: ProjectOption = Path("."),
         as_json: JsonOption = False,
         limit: Annotated[int, typer.Option(help="Sample rows shown per change type.")] = 5) -> None:
    """Dry run: show what a run of SYNC would send, without sending or recording anything."""
    with open_app(project) as app:
        config = app.project.sync(sync)
        result = plan_sync(config, app.store, app.warehouse, app.batch_size, app.project.config.defaults.guards)
        if as_json:
            output.print_json(result.summary(sample=limit))
        else:
            output.show_plan(result, limit)


@cli.command()
def run(sync: Annotated[str | None, typer.Argument(help="The sync to run.")] = None,
        run_all: Annotated[bool, typer.Option("--all", help="Run every enabled sync.")] = False,
        project: ProjectOption = Path("."), as_json: JsonOption = False,
        allow_mass_change: Annotated[bool, typer.Option(
            "--allow-mass-change", help="Carry out a plan that goes past the mapping's guards, this once.")] = False,
        ) -> None:
    """Run SYNC (or --all) once: plan, deliver what changed, record the run.

    A run whose plan goes past a mass-change guard sends nothing, is recorded as blocked and exits 1.
    """
    if (sync is None) == (not run_all):
        output.show_error("give a sync name or --all (not both)")
        raise typer.Exit(EXIT_BAD_INPUT)
    with open_app(project) as app:
        syncs = [app.project.sync(sync)] if sync else [s.config for s in app.project.syncs.values() if s.config.enabled]
        guards = app.project.config.defaults.guards
        outcomes = [run_sync(config, app.store, app.warehouse, utc_now, app.batch_size, guards=guards,
                             allow_mass_change=allow_mass_change) for config in syncs]
        if as_json:
            output.print_json([{"run_id": o.run_id, "sync": o.sync, "status": o.status, "error": o.error,
                                "plan": o.plan.summary(sample=0) if o.plan else None} for o in outcomes])
        for outcome in outcomes:
            if not as_json and outcome.plan is not None:
                output.show_plan(outcome.plan, 3)
            if not as_json and outcome.status is RunStatus.BLOCKED:
                output.show_error(outcome.error or "", prefix="blocked, nothing sent: ")
            elif not as_json and outcome.error:
                output.show_error(outcome.error, prefix=f"{outcome.sync} failed: ")
        if any(o.status in (RunStatus.FAILED, RunStatus.BLOCKED) for o in outcomes):
            raise typer.Exit(EXIT_FAILED)
