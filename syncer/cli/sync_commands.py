"""Commands about one sync: plan (a dry run) and run."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from syncer import output
from syncer.cli.base import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    JsonOption,
    ProjectOption,
    cli,
    open_app,
    parse_now_option,
    warn_missing_secrets,
)
from syncer.contract import clock


@cli.command()
def plan(
    sync: Annotated[str, typer.Argument(help="The sync to plan.")],
    project: ProjectOption = Path("."),
    *,
    as_json: JsonOption = False,
    limit: Annotated[int, typer.Option(min=1, help="Sample rows shown per change type.")] = 5,
    now: Annotated[
        str | None,
        typer.Option(
            "--now",
            metavar="ISO",
            help="Plan as if it were this time (ISO 8601, e.g. 2026-12-07T07:30:00Z; no "
            "offset means UTC): preview tomorrow's quiet hours and digests. Overrides SYNCER_FAKE_NOW.",
        ),
    ] = None,
) -> None:
    """Dry run: show what a run of SYNC would send, without sending or recording anything.

    Exits 1 when the plan goes past a mass-change guard (a run of it would be blocked).
    """
    from syncer.effects.preview import effect_counts
    from syncer.planning.planner import plan_sync

    at = parse_now_option(now)
    with clock.using(at or clock.current()), open_app(project) as app:
        config = app.project.sync(sync)
        warn_missing_secrets(app, [config])  # a dry run talks to no destination: it needs none of their secrets
        result = plan_sync(
            config,
            app.store,
            app.warehouse,
            app.batch_size,
            app.project.config.defaults.guards,
            app.project.config.alerts,
            app.owner_lookup(config),
        )
        if (adoption := app.preview_adoption(config, result)) is not None:
            result = replace(result, meta={**result.meta, "adoption": adoption})
        effects = app.preview_effects(config, result)
        if as_json:
            output.print_json(
                {
                    **result.summary(sample=limit),
                    "effects": effect_counts(effects),
                    "effect_samples": [e.as_dict() for e in effects[: limit * 10]],
                }
            )
        else:
            output.show_plan(result, limit)
            output.show_effects(effects, limit)
        if result.blocked:  # the trips are shown above (and in --json): a script or CI job must not miss them
            raise typer.Exit(EXIT_FAILED)


@cli.command()
def run(
    sync: Annotated[str | None, typer.Argument(help="The sync to run.")] = None,
    *,
    run_all: Annotated[bool, typer.Option("--all", help="Run every enabled sync.")] = False,
    project: ProjectOption = Path("."),
    as_json: JsonOption = False,
    allow_mass_change: Annotated[
        bool,
        typer.Option("--allow-mass-change", help="Carry out a plan that goes past the mapping's guards, this once."),
    ] = False,
) -> None:
    """Run SYNC (or --all) once: plan, deliver what changed, commit what the destination confirmed.

    A run whose plan goes past a mass-change guard sends nothing, is recorded as blocked and exits 1.
    """
    from syncer.state.base import RunStatus

    if (sync is None) == (not run_all):
        output.show_error("give a sync name or --all (not both)")
        raise typer.Exit(EXIT_BAD_INPUT)
    with open_app(project) as app:
        syncs = [app.project.sync(sync)] if sync else [s.config for s in app.project.syncs.values() if s.config.enabled]
        app.require_destinations(syncs)
        options = app.run_options(allow_mass_change=allow_mass_change)
        outcomes = []
        for config in syncs:
            with output.delivery_progress(config.name, enabled=not as_json) as progress:
                outcomes.append(app.run(config, options, progress))
        if as_json:
            output.print_json([outcome.summary() for outcome in outcomes])
        else:
            for outcome in outcomes:
                if outcome.plan is not None:
                    output.show_plan(outcome.plan, 3)
            output.show_outcomes([outcome.summary() for outcome in outcomes])
        if any(o.status in (RunStatus.FAILED, RunStatus.BLOCKED) for o in outcomes):
            raise typer.Exit(EXIT_FAILED)
