"""How the CLI shows things: rich tables on a terminal, JSON with ``--json``."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from syncer.config.errors import Problem
from syncer.core.guards import allow_hint
from syncer.core.plan import CHANGE_OPS, Plan
from syncer.state.base import RunRecord

console = Console()
errors = Console(stderr=True, soft_wrap=True)  # errors stay one greppable line each


def print_json(data: Any) -> None:
    # Plain print: rich would wrap long lines and break the JSON for machines.
    print(json.dumps(data, indent=2, default=str))


def show_error(message: str, prefix: str = "") -> None:
    """One error line; the message is data (it may hold brackets), never markup."""
    errors.print(f"[red]{escape(prefix)}[/]{escape(message)}" if prefix else f"[red]{escape(message)}[/]",
                 highlight=False)


def show_problems(problems: list[Problem]) -> None:
    errors.print(f"[bold red]{len(problems)} problem(s) in the configuration:[/]")
    for problem in problems:
        errors.print(f"  {problem}", markup=False, highlight=False)


def show_plan(plan: Plan, sample: int) -> None:
    counts = plan.counts.as_dict()
    table = Table(title=f"plan for {plan.sync} ({plan.model_rows} model rows, {plan.meta.get('seconds', 0)} s)")
    for column in ("create", "update", "clear", "unchanged", "rejected"):
        table.add_column(column, justify="right")
    table.add_row(*(str(counts[k]) for k in ("create", "update", "clear", "unchanged")), str(plan.rejected_total))
    console.print(table)
    if plan.counts.removed:
        console.print(f"{plan.counts.removed} key(s) left the model; this sync ignores removals.")
    for trip in plan.guard_trips:
        console.print(f"[bold red]guard {trip.guard.value} would stop a run:[/] {escape(trip.describe())}")
    if plan.guard_trips:
        console.print(escape(allow_hint(plan.sync)[0].upper() + allow_hint(plan.sync)[1:]) + ".")
    for op in CHANGE_OPS:
        rows = plan.rows(op, sample)
        if not rows:
            continue
        sample_table = Table(title=f"sample {op}s", show_lines=False)
        sample_table.add_column("key")
        sample_table.add_column("record")
        sample_table.add_column("fields to send")
        for row in rows:
            values = row["values"] or {}
            sent = ", ".join(f"{name}={values.get(name)!r}" for name in row["changed"])
            sample_table.add_row(escape(row["key"]), escape(row["record_id"] or row["match"] or ""), escape(sent))
        console.print(sample_table)
    if plan.rejected:
        rejected = Table(title=f"rejected rows ({plan.rejected_total})")
        rejected.add_column("key")
        rejected.add_column("reason")
        for bad in plan.rejected[: max(sample * 3, 10)]:
            rejected.add_row(escape(bad.key) if bad.key is not None else "(null)", escape(bad.reason))
        console.print(rejected)


def show_status(rows: list[dict[str, Any]]) -> None:
    table = Table(title="syncs")
    for column in ("sync", "destination", "schedule", "snapshot", "last run", "status", "changes", "rejected"):
        table.add_column(column)
    for row in rows:
        last: RunRecord | None = row["last_run"]
        changes = f"+{last.creates} ~{last.updates} -{last.clears}" if last and last.creates is not None else ""
        table.add_row(row["sync"], row["destination"], row["schedule"], str(row["snapshot"]),
                      last.started_at.strftime("%Y-%m-%d %H:%M:%S") if last else "never",
                      last.status if last else "", changes, str(last.rejected) if last and last.rejected else "")
    console.print(table)
