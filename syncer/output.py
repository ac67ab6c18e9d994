"""How the CLI shows things: rich tables on a terminal, JSON with ``--json``.

Every error, problem, warning and JSON document passes through :func:`syncer.config.errors.redact`, so a value read
from a secret environment variable is never echoed, wherever it ended up.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from syncer.config.errors import Problem, redact, redact_data

if TYPE_CHECKING:  # types only: `syncer --help` must not pay for the planner, pyarrow and the effects engine
    from syncer.core.plan import Plan
    from syncer.effects.preview import EffectPreview
    from syncer.effects.summary import RepSummary
    from syncer.state.base import RunRecord

console = Console()
errors = Console(stderr=True, soft_wrap=True)  # errors stay one greppable line each


def print_json(data: Any) -> None:
    # Plain print: rich would wrap long lines and break the JSON for machines.
    print(json.dumps(redact_data(json.loads(json.dumps(data, default=str))), indent=2))


def show_error(message: str, prefix: str = "") -> None:
    """One error line; the message is data (it may hold brackets), never markup."""
    message, prefix = redact(message), redact(prefix)
    errors.print(
        f"[red]{escape(prefix)}[/]{escape(message)}" if prefix else f"[red]{escape(message)}[/]", highlight=False
    )


def show_problems(problems: list[Problem]) -> None:
    errors.print(f"[bold red]{len(problems)} problem(s) in the configuration:[/]")
    for problem in problems:
        errors.print(f"  {redact(str(problem))}", markup=False, highlight=False)


def show_warnings(problems: list[Problem]) -> None:
    """Problems that do not stop this command (a secret only ``run`` needs), one line each on stderr."""
    for problem in problems:
        errors.print(f"[yellow]warning:[/] {escape(redact(str(problem)))}", highlight=False)


def _show_adoption(adoption: object) -> None:
    """The creates a run would reject as ambiguous (with the candidates), or why adoption was not previewed."""
    if isinstance(adoption, str):
        console.print(f"adoption could not be previewed: {escape(adoption)}; every new key is counted as a create.")
    elif isinstance(adoption, dict):
        for row in adoption["ambiguous"][:10]:
            console.print(f"ambiguous: {escape(row['key'])} would be rejected between {escape(', '.join(row['ids']))}")


def show_plan(plan: Plan, sample: int) -> None:
    from syncer.core.guards import allow_hint
    from syncer.core.plan import CHANGE_OPS

    counts = plan.change_counts()
    creates = ["create", "adopt", "ambiguous"] if "adopt" in counts else ["create"]
    columns = [*creates, "update", "clear", "unchanged"]
    table = Table(title=f"plan for {plan.sync} ({plan.model_rows} model rows, {plan.meta.get('seconds', 0)} s)")
    for column in (*columns, "rejected"):
        table.add_column(column, justify="right")
    table.add_row(*(str(counts[k]) for k in columns), str(plan.rejected_total))
    console.print(table)
    _show_adoption(plan.meta.get("adoption"))
    if plan.counts.removed:
        console.print(f"{plan.counts.removed} key(s) left the model; this sync ignores removals.")
    if plan.counts.skipped:
        console.print(f"{plan.counts.skipped} new key(s) skipped: their rows fail the destination's create_when.")
    _show_unresolved_owners(plan.meta.get("owners"))
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


def show_effects(effects: list[EffectPreview], sample: int) -> None:
    """The tasks and alerts a plan would cause, counted by outcome, then a sample of each outcome with its reason."""
    if not effects:
        return
    table = Table(title="tasks and alerts this run would cause (after the alert policy)")
    for column in ("kind", "outcome", "count", "for example"):
        table.add_column(column)
    groups: dict[tuple[str, str], list[EffectPreview]] = {}
    for effect in effects:
        groups.setdefault((effect.kind, effect.outcome), []).append(effect)
    for (kind, outcome), members in sorted(groups.items()):
        for i, effect in enumerate(members[:sample]):
            example = f"{effect.account} ({effect.owner or 'no owner'}): {effect.reason}"
            table.add_row(
                kind if i == 0 else "", outcome if i == 0 else "", str(len(members)) if i == 0 else "", escape(example)
            )
    console.print(table)


def show_alert_summary(summaries: list[RepSummary], since: datetime) -> None:
    """One row per rep: sent, digested, deferred, no owner, held back by reason, feedback, tasks."""
    if not summaries:
        console.print(f"no alert decisions since {since:%Y-%m-%d %H:%M} UTC")
        return
    table = Table(title=f"alerts per rep since {since:%Y-%m-%d %H:%M} UTC")
    for column in ("rep", "sent", "digested", "deferred", "held back (reason: count)", "feedback", "tasks"):
        table.add_column(
            column, justify="left" if column in ("rep", "held back (reason: count)", "feedback") else "right"
        )
    for s in summaries:
        held = ", ".join(f"{reason}: {n}" for reason, n in sorted(s.suppressed.items())) or "-"
        if s.no_owner:
            held = f"{held}, no owner: {s.no_owner}" if held != "-" else f"no owner: {s.no_owner}"
        feedback = ", ".join(f"{answer}: {n}" for answer, n in sorted(s.feedback.items())) or "-"
        tasks_held = sum(s.tasks_held.values())
        table.add_row(
            escape(s.rep),
            str(s.sent),
            str(s.digested),
            str(s.deferred),
            escape(held),
            escape(feedback),
            str(s.tasks) + (f" ({tasks_held} held)" if tasks_held else ""),
        )
    console.print(table)
    for s in summaries:  # a task is never created unassigned: say why each held one waits
        for reason, n in sorted(s.tasks_held.items()):
            console.print(escape(f"{n} task(s) held for {s.rep}: {reason}"))


def show_status(rows: list[dict[str, Any]], reasons_per_sync: int = 3) -> None:
    """The syncs table, then for each sync with row errors the first ``reasons_per_sync`` of them: key and reason."""
    table = Table(title="syncs")
    for column in ("sync", "destination", "schedule", "snapshot", "last run", "status", "changes", "rejected"):
        # Names must stay whole to be found, and "succeeded, 3 parked" read as one.
        table.add_column(column, no_wrap=column in ("sync", "destination", "status"))
    for row in rows:
        last: RunRecord | None = row["last_run"]
        changes = f"+{last.creates} ~{last.updates} -{last.clears}" if last and last.creates is not None else ""
        table.add_row(
            escape(row["sync"]),
            escape(row["destination"]),
            escape(row["schedule"]),
            str(row["snapshot"]),
            last.started_at.strftime("%Y-%m-%d %H:%M:%S") if last else "never",
            last.outcome if last else "",
            changes,
            str(last.rejected) if last and last.rejected else "",
        )
    console.print(table)
    for row in rows:
        row_errors = row["row_errors"]
        if not row_errors:
            continue
        more = f" (first {reasons_per_sync}; status --json lists more)" if len(row_errors) > reasons_per_sync else ""
        console.print(
            f"{escape(row['sync'])}: rows rejected, kept pending and tried again next run{more}:",
            highlight=False,
            soft_wrap=True,
        )
        for error in row_errors[:reasons_per_sync]:
            key = error["key"] if error["key"] is not None else "(null key)"
            console.print(
                f"  {escape(redact(key))}: {escape(redact(error['reason']))}", highlight=False, soft_wrap=True
            )


@contextmanager
def delivery_progress(sync: str, *, enabled: bool = True) -> Iterator[Callable[[int], None] | None]:
    """A progress callback (rows settled by each reply) drawing a bar on a terminal; ``None`` elsewhere."""
    if not enabled or not console.is_terminal:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn(f"delivering {escape(sync)}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("rows", total=None)
        yield lambda settled: bar.update(task, advance=settled)


def _effects_cells(effects: dict[str, Any] | None) -> tuple[str, str]:
    """``tasks created`` and ``alerts sent (held back)`` for the runs table; '-' where the sync has no triggers."""
    if not effects or not (effects["staged"] or effects["tasks"] or effects["decisions"] or effects["alerts"]):
        return "-", "-"
    tasks = str(effects["tasks"].get("created", 0) + effects["tasks"].get("existed", 0))
    sent = effects["alerts"].get("sent", 0) + effects["alerts"].get("found_posted", 0)
    held = sum(n for outcome, n in effects["decisions"].items() if outcome != "send")
    return tasks, f"{sent} sent, {held} held" if held else f"{sent} sent"


def _show_unresolved_owners(owners: Any, prefix: str = "") -> None:
    """How many rows' owners resolved to no active user, and why (the reasons name the e-mails)."""
    if not isinstance(owners, dict) or not owners.get("unresolved"):
        return
    console.print(
        escape(
            f"{prefix}{owners['unresolved']} row(s) without an owner ({owners.get('field')} left unset "
            "or the row rejected):"
        )
    )
    for item in owners.get("reasons", [])[:10]:
        console.print(escape(f"  {item['rows']} x {item['reason']}"))


def show_outcomes(summaries: list[dict[str, Any]]) -> None:
    """One table row per run that got as far as a plan; then one error line per run that did not end well."""
    planned = [row for row in summaries if row["planned"] is not None]
    if planned:
        table = Table(title="runs")
        for column in (
            "sync",
            "status",
            "sent",
            "confirmed",
            "rejected",
            "parked",
            "pending",
            "api calls",
            "429s",
            "seconds",
            "tasks",
            "alerts",
        ):
            table.add_column(column, justify="left" if column in ("sync", "status", "alerts") else "right")
        for row in planned:
            # Rows the plan rejected count with the destination's: "rejected" is every row that could not be sent.
            rejected = int(row["rejected"]) + int(row.get("rejected_in_plan") or 0)
            table.add_row(
                escape(row["sync"]),
                row["status"],
                str(row["sent"]),
                str(row["confirmed"]),
                str(rejected),
                str(row.get("parked") or 0),
                *(str(row[k]) for k in ("pending", "api_calls", "rate_limited")),
                f"{row['duration_s']:.2f}",
                *_effects_cells(row.get("effects")),
            )
        console.print(table)
    for row in planned:
        if row.get("adopted") or row.get("created"):
            console.print(
                f"{escape(row['sync'])}: created {row.get('created', 0)}, adopted {row.get('adopted', 0)} "
                "existing record(s)"
            )
        if row.get("skipped_create_when"):
            console.print(f"{escape(row['sync'])}: {row['skipped_create_when']} new key(s) skipped by create_when")
        _show_unresolved_owners(row.get("owners"), f"{row['sync']}: ")
    for row in summaries:
        for name, kept in (row.get("kept_in_crm") or {}).items():  # a write policy kept what a human typed
            console.print(
                f"{row['sync']}: {name}: kept the CRM's value on {kept['keys']} record(s) changed there "
                f"since syncer wrote them (e.g. {', '.join(kept['examples'])}); see syncer drift "
                f"{row['sync']}",
                markup=False,
                highlight=False,
            )
        if row["error"]:
            # Planning and guard messages already start with the sync's name.
            named = row["error"].startswith(f"{row['sync']}: ")
            if row["status"] == "blocked":
                show_error(row["error"], prefix="blocked, nothing sent: ")
            else:
                show_error(row["error"], prefix="" if named else f"{row['sync']} {row['status']}: ")
