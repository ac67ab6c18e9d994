"""Commands about rows that fail: ``errors`` lists them per key, ``retry`` re-queues the parked ones."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from syncer import output
from syncer.cli.base import JsonOption, ProjectOption, cli, open_app

if TYPE_CHECKING:
    from syncer.state.records import ReasonGroup, RowErrorRecord

SyncArgument = Annotated[str, typer.Argument(help="The sync whose row errors to act on.")]


class GroupBy(StrEnum):
    """What ``errors --by`` groups the failing keys by."""

    REASON = "reason"


@cli.command()
def errors(
    sync: SyncArgument,
    project: ProjectOption = Path("."),
    *,
    as_json: JsonOption = False,
    parked: Annotated[bool, typer.Option("--parked", help="Only the keys whose delivery is parked.")] = False,
    limit: Annotated[
        int,
        typer.Option(
            min=1, help="At most this many keys (or groups with --by), most recently seen (or largest) first."
        ),
    ] = 100,
    by: Annotated[
        GroupBy | None,
        typer.Option(
            "--by",
            help="Group the failing keys: 'reason' gives one line per stage, code and message, with its "
            "count and a few example keys.",
        ),
    ] = None,
    examples: Annotated[int, typer.Option(min=1, help="Example keys per group (with --by).")] = 3,
) -> None:
    """The keys of SYNC that fail now: stage, code, the vendor's (or planner's) message, attempts, parked.

    The total is always shown ("100 of 2000 failing keys"); --by reason groups thousands of identical reasons.
    """
    with open_app(project) as app:
        app.project.sync(sync)
        only = True if parked else None
        total = app.store.row_errors.count(sync, parked=only)
        what = "parked key(s)" if parked else "failing key(s)"
        if by is GroupBy.REASON:
            groups = app.store.row_errors.by_reason(sync, examples, parked=only, limit=limit)
            if as_json:
                output.print_json({"sync": sync, "total": total, "groups": [group.as_dict() for group in groups]})
            elif not groups:
                output.console.print(f"no {'parked ' if parked else ''}row errors for {sync}")
            else:
                _show_groups(sync, total, what, groups)
            return
        records = app.store.row_errors.records(sync, limit, parked=only)
        if as_json:
            output.print_json(
                {
                    "sync": sync,
                    "total": total,
                    "shown": len(records),
                    "errors": [record.as_dict() for record in records],
                }
            )
        elif not records:
            output.console.print(f"no {'parked ' if parked else ''}row errors for {sync}")
        else:
            _show(sync, total, what, records)


def _show(sync: str, total: int, what: str, records: list[RowErrorRecord]) -> None:
    """Two lines per key: what identifies it (never wrapped, so it can be copied), then the message in full."""
    shown = f"{len(records)} of {total:,}" if len(records) < total else f"{total:,}"
    more = f" ('errors {sync} --by reason' groups them)" if len(records) < total else ""
    output.console.print(
        f"{shown} {what} of {sync}, most recently seen first{more}:", markup=False, highlight=False, soft_wrap=True
    )
    for r in records:
        key = r.key if r.key is not None else "(null key)"
        parked = "  PARKED" if r.parked else ""
        output.console.print(
            f"{key}  {r.stage}  {r.code}  attempts {r.attempts}{parked}  "
            f"first {r.first_seen:%Y-%m-%d %H:%M}  last {r.last_seen:%Y-%m-%d %H:%M}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        output.console.print(f"    {r.message}", markup=False, highlight=False, soft_wrap=True)


def _show_groups(sync: str, total: int, what: str, groups: list[ReasonGroup]) -> None:
    """Per reason: its count (and parked share), stage and code, the message in full, then example keys."""
    covered = sum(group.count for group in groups)
    rest = f"; {total - covered:,} more in smaller groups" if covered < total else ""
    output.console.print(
        f"{total:,} {what} of {sync} in {len(groups)} reason(s), the largest first{rest}:",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    for group in groups:
        parked = f" ({group.parked:,} parked)" if group.parked else ""
        keys = ", ".join(key if key is not None else "(null key)" for key in group.examples)
        more = ", ..." if group.count > len(group.examples) else ""
        output.console.print(
            f"{group.count:,}{parked}  {group.stage}  {group.code}", markup=False, highlight=False, soft_wrap=True
        )
        output.console.print(f"    {group.message}", markup=False, highlight=False, soft_wrap=True)
        output.console.print(f"    e.g. {keys}{more}", markup=False, highlight=False, soft_wrap=True)


@cli.command()
def retry(
    sync: SyncArgument,
    project: ProjectOption = Path("."),
    keys: Annotated[list[str] | None, typer.Option("--key", help="Only this key (repeatable).")] = None,
) -> None:
    """Re-queue the parked keys of SYNC (or only --key ones): the next run tries them again, attempts from 0."""
    with open_app(project) as app:
        app.project.sync(sync)
        count = app.store.row_errors.requeue(sync, keys or None)
        output.console.print(f"re-queued {count} parked row(s) of {sync}")
