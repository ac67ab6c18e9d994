"""Commands about the project as a whole: validate, status, reset, schema."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from syncer import output
from syncer.cli.base import EXIT_BAD_INPUT, JsonOption, ProjectOption, cli, missing_secrets, open_app, validate_models
from syncer.config.errors import ConfigError

if TYPE_CHECKING:
    from syncer.app import App


@cli.command()
def validate(
    project: ProjectOption = Path("."),
    *,
    as_json: JsonOption = False,
    sample: Annotated[
        int | None,
        typer.Option(
            "--sample",
            min=1,
            max=100_000,
            metavar="ROWS",
            help="Try every mapping on this many model rows (default: defaults.validate.sample_rows, 300).",
        ),
    ] = None,
) -> None:
    """Check syncer.yaml and every mapping, including each model's columns against the warehouse, and try each
    mapping on a sample of its rows: fields past defaults.validate.max_reject_percent of rejected rows are errors."""
    with open_app(project) as app:
        if as_json:
            _problems_as_json(app)
        # Secrets only destinations need may be absent (a CI job checking mappings): warned about, not refused.
        warnings = missing_secrets(app)
        problems = validate_models(app, sample, warnings)
        if as_json:
            output.print_json(
                {
                    "ok": not problems,
                    "syncs": sorted(app.project.syncs),
                    "problems": [problem.as_dict() for problem in problems],
                    "warnings": [warning.as_dict() for warning in warnings],
                }
            )
        else:
            output.show_warnings(warnings)
        if problems:
            if not as_json:
                output.show_problems(problems)
            raise typer.Exit(EXIT_BAD_INPUT)
        if not as_json:
            output.console.print(
                f"[green]ok[/]: {len(app.project.syncs)} sync(s) valid: {', '.join(sorted(app.project.syncs))}"
            )


def _problems_as_json(app: App) -> None:
    """With ``--json``, configuration problems are a JSON report too (on stdout, exit 2), for CI to read."""
    try:
        app.project  # noqa: B018 (loads and validates)
    except ConfigError as exc:
        output.print_json(
            {"ok": False, "syncs": [], "problems": [problem.as_dict() for problem in exc.problems], "warnings": []}
        )
        raise typer.Exit(EXIT_BAD_INPUT) from None


@cli.command()
def status(project: ProjectOption = Path("."), *, as_json: JsonOption = False) -> None:
    """Each sync's last run, snapshot size and row errors (the first few with their keys and reasons)."""
    with open_app(project) as app:
        rows: list[dict[str, Any]] = []
        for name, loaded in sorted(app.project.syncs.items()):
            config = loaded.config
            runs = app.store.runs.recent(name, limit=1)
            dest = config.destination
            rows.append(
                {
                    "sync": name,
                    "destination": f"{dest.connector}:{dest.object}" if dest else "watch",
                    "schedule": config.schedule or app.project.config.defaults.schedule,
                    "snapshot": app.store.snapshot.size(name),
                    "last_run": runs[0] if runs else None,
                    "row_errors": [{"key": k, "reason": r} for k, r, _ in app.store.row_errors.latest_run(name, 20)],
                }
            )
        if as_json:
            output.print_json(
                [{**row, "last_run": row["last_run"].as_dict() if row["last_run"] else None} for row in rows]
            )
        else:
            output.show_status(rows)


@cli.command()
def reset(
    sync: Annotated[str, typer.Argument(help="The sync whose snapshot to forget.")],
    project: ProjectOption = Path("."),
    *,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Forget what SYNC last confirmed, so its next run sends every row again."""
    with open_app(project) as app:
        app.project.sync(sync)
        if not yes and not sys.stdin.isatty():
            output.show_error(
                f"reset asks before forgetting the snapshot of {sync}, and there is no terminal to ask "
                "on: pass --yes to confirm"
            )
            raise typer.Exit(EXIT_BAD_INPUT)
        if not yes and not typer.confirm(f"Forget the snapshot of {sync}? Its next run re-sends every row."):
            raise typer.Exit(EXIT_BAD_INPUT)
        forgotten = app.store.snapshot.reset(sync)
        output.console.print(f"forgot {forgotten} snapshot row(s) of {sync}")


@cli.command()
def schema(
    out: Annotated[Path, typer.Option(help="Directory to write the JSON Schemas into.")] = Path("schemas"),
) -> None:
    """Write JSON Schemas for syncer.yaml and mapping files, for editor completion and checking."""
    from connectors import REGISTRY
    from syncer.config.schema import json_schemas

    written = []
    try:
        out.mkdir(parents=True, exist_ok=True)
        for filename, document in json_schemas(REGISTRY).items():
            path = out / filename
            path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
            written.append(path)
    except OSError as exc:
        output.show_error(f"cannot write the schemas into {out}: {exc.strerror or exc}")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    output.console.print("wrote " + ", ".join(str(p) for p in written))
