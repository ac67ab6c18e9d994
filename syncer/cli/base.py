"""What every command shares: the typer app, common options and the error-to-exit-code mapping."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from syncer import output
from syncer.config.errors import ConfigError, Problem
from syncer.contract import clock

if TYPE_CHECKING:  # the app, planner and state load inside the commands that use them: `--help` stays fast
    from syncer.app import App
    from syncer.config.sync import SyncConfig

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2

cli = typer.Typer(
    help="syncer: warehouse PQL scores to Salesforce, HubSpot and Slack, sending only what changed.",
    epilog=f"Set {clock.FAKE_NOW_VARIABLE}=2026-12-07T07:30:00Z (ISO 8601) to run any command as if it "
    "were that time (the clock starts there and runs on); `syncer plan --now` does it for one "
    "plan.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
ProjectOption = Annotated[Path, typer.Option("--project", "-p", help="Project directory (holds syncer.yaml).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


@cli.callback()
def use_process_clock(ctx: typer.Context) -> None:
    """Before any command: the clock ``SYNCER_FAKE_NOW`` asks for (see :mod:`syncer.contract.clock`), put back
    when the command ends; a malformed value is refused in one line (exit 2)."""
    try:
        chosen = clock.from_environment()
    except clock.ClockError as exc:
        output.show_error(str(exc))
        raise typer.Exit(EXIT_BAD_INPUT) from None
    previous = clock.install(chosen)
    ctx.call_on_close(lambda: clock.install(previous))


def parse_now_option(value: str | None) -> clock.Clock | None:
    """The clock a ``--now`` option asks for (None when not given); a malformed value exits 2 with one line."""
    if value is None:
        return None
    try:
        return clock.Clock.starting_at(clock.parse_instant(value, "--now"))
    except clock.ClockError as exc:
        output.show_error(str(exc))
        raise typer.Exit(EXIT_BAD_INPUT) from None


@contextmanager
def open_app(root: Path, environ: dict[str, str] | None = None) -> Iterator[App]:
    """Open the project; turn configuration problems into exit code 2 and sync failures into 1."""
    from syncer.app import App
    from syncer.config.loader import UnknownSyncError
    from syncer.state import StateUnavailableError

    app = App(root, environ)
    try:
        yield app
    except ConfigError as exc:
        output.show_problems(exc.problems)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    except UnknownSyncError as exc:
        output.show_error(str(exc))
        raise typer.Exit(EXIT_BAD_INPUT) from None
    except (_plan_error(), StateUnavailableError) as exc:
        output.show_error(str(exc))
        raise typer.Exit(EXIT_FAILED) from None
    finally:
        app.close()


class _NeverRaisedError(Exception):
    pass


def _plan_error() -> type[Exception]:
    """The planner's ``PlanError`` once a command has loaded the planner, which alone raises it (importing it
    up front would load the planner for every command, ``--help`` included)."""
    planner = sys.modules.get("syncer.planning.planner")
    return planner.PlanError if planner is not None else _NeverRaisedError


def validate_models(app: App, sample_rows: int | None = None, warnings: list[Problem] | None = None) -> list[Problem]:
    """Problems each sync's model shows; with ``warnings`` (appended to), each sync without one is also tried on
    ``sample_rows`` rows of its data (default: ``defaults.validate.sample_rows``)."""
    from syncer.planning.validate import check_against_model, try_against_data

    problems: list[Problem] = []
    settings = app.project.config.defaults.validate_
    for loaded in app.project.syncs.values():
        found = check_against_model(loaded, app.warehouse)
        if not found and warnings is not None:
            report = try_against_data(
                loaded, app.warehouse, sample_rows or settings.sample_rows, settings.max_reject_percent
            )
            found = report.errors
            warnings.extend(report.warnings)
        problems += found
    return problems


def missing_secrets(app: App, syncs: list[SyncConfig] | None = None) -> list[Problem]:
    """Where unset variables are referenced by the connectors of ``syncs`` (default: every connector)."""
    names = app.project.connectors_of(syncs) if syncs is not None else list(app.project.config.connectors)
    return [variable.problem for variable in app.project.missing_under(*(("connectors", name) for name in names))]


def warn_missing_secrets(app: App, syncs: list[SyncConfig] | None = None) -> None:
    """Warn about :func:`missing_secrets`: for commands that check or plan without talking to destinations.

    Commands that do talk to destinations call ``app.require_destinations`` instead, which refuses.
    """
    output.show_warnings(missing_secrets(app, syncs))
