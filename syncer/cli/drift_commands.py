"""``syncer drift SYNC``: per synced field, the records where the CRM differs from what syncer last confirmed."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from syncer import output
from syncer.cli.base import EXIT_FAILED, JsonOption, ProjectOption, cli, open_app
from syncer.contract.errors import DeliveryError

if TYPE_CHECKING:  # the planner loads inside the command: `--help` stays fast
    from syncer.planning.drift import DriftReport


@cli.command()
def drift(
    sync: Annotated[str, typer.Argument(help="The sync whose destination to compare with the snapshot.")],
    project: ProjectOption = Path("."),
    *,
    as_json: JsonOption = False,
) -> None:
    """Read the destination's current values of SYNC's fields (in batches) and report, per field, the records where
    the CRM differs from what syncer last confirmed: a human's edit that a write policy keeps, or that the next
    change would overwrite under `overwrite: always`. Writes nothing; exits 0 whether or not there is drift."""
    from syncer.planning.drift import RecordsUnreadableError, find_drift

    with open_app(project) as app:
        config = app.project.sync(sync)
        app.require_destinations([config])
        try:
            destination = app.open_destination(config)
        except DeliveryError as exc:
            output.show_error(str(exc), prefix=f"{sync}: ")
            raise typer.Exit(EXIT_FAILED) from None
        if destination is None:
            output.show_error(
                "writes no fields (a watch, or an alerts-only connector): nothing can drift", prefix=f"{sync}: "
            )
            raise typer.Exit(EXIT_FAILED)
        try:
            report = find_drift(config, app.store, destination)
        except (DeliveryError, RecordsUnreadableError) as exc:
            output.show_error(str(exc), prefix=f"{sync}: ")
            raise typer.Exit(EXIT_FAILED) from None
        finally:
            destination.close()
    if as_json:
        output.print_json(report.as_dict())
    else:
        for line in _lines(report):
            output.console.print(line, markup=False, highlight=False)


def _lines(report: DriftReport) -> list[str]:
    lines = [
        f"{report.sync}: compared {report.records} record(s) with what syncer last confirmed"
        + (f"; {report.missing} no longer exist in the destination" if report.missing else "")
    ]
    for drifted in report.fields.values():
        if not drifted.keys:
            lines.append(f"  {drifted.name}: no drift (overwrite: {drifted.policy})")
            continue
        lines.append(f"  {drifted.name}: {drifted.keys} record(s) differ (overwrite: {drifted.policy})")
        for example in drifted.examples:
            lines.append(
                f"    {example.key} ({example.record_id}): CRM {_shown(example.crm)}, syncer last wrote "
                f"{_shown(example.confirmed)}"
            )
    return lines


def _shown(value: str | None) -> str:
    return "(empty)" if value is None else repr(value)
