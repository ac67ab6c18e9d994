"""Commands about rows that fail: ``errors`` lists them per key, ``retry`` re-queues the parked ones."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from syncer import output
from syncer.cli.base import JsonOption, ProjectOption, cli, open_app
from syncer.state.base import RowErrorRecord

SyncArgument = Annotated[str, typer.Argument(help="The sync whose row errors to act on.")]


@cli.command()
def errors(sync: SyncArgument, project: ProjectOption = Path("."), *, as_json: JsonOption = False,
           parked: Annotated[bool, typer.Option("--parked", help="Only the keys whose delivery is parked.")] = False,
           limit: Annotated[int, typer.Option(help="At most this many keys, most recently seen first.")] = 100
           ) -> None:
    """The keys of SYNC that fail now: stage, code, the vendor's (or planner's) message, attempts, parked."""
    with open_app(project) as app:
        app.project.sync(sync)
        records = app.store.row_errors.records(sync, limit, parked=True if parked else None)
        if as_json:
            output.print_json([record.as_dict() for record in records])
        elif not records:
            output.console.print(f"no {'parked ' if parked else ''}row errors for {sync}")
        else:
            _show(sync, records)


def _show(sync: str, records: list[RowErrorRecord]) -> None:
    """Two lines per key: what identifies it (never wrapped, so it can be copied), then the message in full."""
    output.console.print(f"{len(records)} failing key(s) of {sync}, most recently seen first:", markup=False)
    for r in records:
        key = r.key if r.key is not None else "(null key)"
        parked = "  PARKED" if r.parked else ""
        output.console.print(f"{key}  {r.stage}  {r.code}  attempts {r.attempts}{parked}  "
                             f"first {r.first_seen:%Y-%m-%d %H:%M}  last {r.last_seen:%Y-%m-%d %H:%M}",
                             markup=False, highlight=False, soft_wrap=True)
        output.console.print(f"    {r.message}", markup=False, highlight=False, soft_wrap=True)


@cli.command()
def retry(sync: SyncArgument, project: ProjectOption = Path("."),
          keys: Annotated[list[str] | None, typer.Option("--key", help="Only this key (repeatable).")] = None
          ) -> None:
    """Re-queue the parked keys of SYNC (or only --key ones): the next run tries them again, attempts from 0."""
    with open_app(project) as app:
        app.project.sync(sync)
        count = app.store.row_errors.requeue(sync, keys or None)
        output.console.print(f"re-queued {count} parked row(s) of {sync}")
