"""Commands about rows that fail: ``errors`` lists them per key, ``retry`` re-queues the parked ones."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from syncer import output
from syncer.cli.base import JsonOption, ProjectOption, cli, open_app
from syncer.state.base import RowErrorRecord

SyncArgument = Annotated[str, typer.Argument(help="The sync whose row errors to act on.")]


@cli.command()
def errors(sync: SyncArgument, project: ProjectOption = Path("."), as_json: JsonOption = False,
           parked: Annotated[bool, typer.Option("--parked", help="Only the keys whose delivery is parked.")] = False,
           limit: Annotated[int, typer.Option(help="At most this many keys, most recently seen first.")] = 100
           ) -> None:
    """The keys of SYNC that fail now: stage, code, the vendor's (or planner's) message, attempts, parked."""
    with open_app(project) as app:
        app.project.sync(sync)
        records = app.store.row_error_list(sync, limit, parked=True if parked else None)
        if as_json:
            output.print_json([record.as_dict() for record in records])
        elif not records:
            output.console.print(f"no {'parked ' if parked else ''}row errors for {sync}")
        else:
            output.console.print(_table(sync, records))


def _table(sync: str, records: list[RowErrorRecord]) -> Table:
    table = Table(title=f"row errors of {sync}")
    for column in ("key", "stage", "code", "message", "attempts", "first seen", "last seen", "parked"):
        table.add_column(column)
    for r in records:
        table.add_row(escape(r.key if r.key is not None else "(null key)"), r.stage, escape(r.code),
                      escape(r.message), str(r.attempts), f"{r.first_seen:%Y-%m-%d %H:%M}",
                      f"{r.last_seen:%Y-%m-%d %H:%M}", "yes" if r.parked else "")
    return table


@cli.command()
def retry(sync: SyncArgument, project: ProjectOption = Path("."),
          keys: Annotated[list[str] | None, typer.Option("--key", help="Only this key (repeatable).")] = None
          ) -> None:
    """Re-queue the parked keys of SYNC (or only --key ones): the next run tries them again, attempts from 0."""
    with open_app(project) as app:
        app.project.sync(sync)
        count = app.store.requeue_parked(sync, keys or None)
        output.console.print(f"re-queued {count} parked row(s) of {sync}")
