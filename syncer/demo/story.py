"""The demo's story, stage by stage: a first sync, a simulated day of product usage, a second sync, and what it did.

The demo runs on a simulated clock so that it tells the same story whenever it is run: the first sync is "the day
before yesterday" and the second "yesterday", both at 16:30 UTC, when every sample rep (New York to Berlin) is
outside quiet hours. Both lie in the past, so the Slack sandbox's message times (real time) come after them.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from syncer import output
from syncer.app import App
from syncer.contract import clock
from syncer.demo.command import prepare_demo
from syncer.demo.sandbox_link import SandboxLink
from syncer.effects.summary import alert_summary
from syncer.runner import RunOutcome
from syncer.state.base import RunStatus

DEMO_HOUR = 16, 30


def demo_clock(days_ago: int) -> datetime:
    """``days_ago`` days before today, at 16:30 UTC (naive UTC, as the runner's clock gives it)."""
    today = clock.now().date() - timedelta(days=days_ago)
    return datetime(today.year, today.month, today.day, *DEMO_HOUR, tzinfo=UTC).replace(tzinfo=None)


def tell(app: App, link: SandboxLink, accounts: int, day: int) -> bool:
    """Run the story; False when a sync failed or was blocked (the outcomes say why)."""
    if link.started:  # a new sandbox holds nothing yet: forget what an earlier demo's sandbox confirmed and got
        for name in app.project.syncs:
            app.store.snapshot.reset(name)
        app.store.clear_effects()
    _prepare_tasks(app)
    output.console.rule(
        f"1. first sync (simulated day {day}): hot and warm accounts get a record (cold ones never create one); "
        "alerts and tasks are held back"
    )
    first = _run_all(app, demo_clock(2))
    output.console.rule(f"2. a simulated day of product usage (day {day + 1})")
    prepare_demo(app, accounts, day + 1, rebuild=True)
    output.console.print(
        "a few percent of accounts were busier today; a campaign in Dana Kim's territory made a fifth of hers heat up"
    )
    output.console.rule(
        "3. second sync: only what changed is sent, accounts that warmed up get a record; tasks created; "
        "alerts under the per-rep caps"
    )
    second = _run_all(app, demo_clock(1))
    _summary(app, link, second, since=demo_clock(1).replace(tzinfo=UTC) - timedelta(hours=1))
    return all(o.status not in (RunStatus.FAILED, RunStatus.BLOCKED) for o in [*first, *second])


def _prepare_tasks(app: App) -> None:
    """The HubSpot task property syncer keys tasks by (``syncer setup`` does the same)."""
    connectors = {
        s.config.destination.connector
        for s in app.project.syncs.values()
        if s.config.destination is not None and any(t.task for t in s.config.triggers)
    }
    for name in sorted(connectors):
        tasks = app.open_task_destination(name)
        try:
            tasks.setup()
        finally:
            tasks.close()


def _run_all(app: App, at: datetime) -> list[RunOutcome]:
    options = app.run_options()
    outcomes = [app.run(loaded.config, options, now=lambda: at) for loaded in app.project.syncs.values()]
    output.show_outcomes([outcome.summary() for outcome in outcomes])
    return outcomes


def _summary(app: App, link: SandboxLink, outcomes: list[RunOutcome], since: datetime) -> None:
    output.console.rule("4. what the second sync did")
    for o in outcomes:
        planned = o.plan.counts if o.plan else None
        sent = o.delivery.sent if o.delivery else 0
        calls = o.delivery.api_calls if o.delivery else 0
        unchanged = planned.unchanged if planned else 0
        tasks = Counter(o.effects.tasks if o.effects else {})
        line = f"{o.sync}: {sent} row(s) sent, {unchanged} unchanged, {calls} API call(s)"
        if tasks:
            line += f"; tasks created: {tasks['created']}"
        output.console.print(line, markup=False, highlight=False)
    output.show_alert_summary(alert_summary(app.store, since), since)
    reasons = [r for r in app.store.ledger.log_rows() if r["outcome"] not in ("send",) and r["decided_at"] >= since][:3]
    for row in reasons:
        output.console.print(f"  e.g. {row['key']}: {row['outcome']}: {row['reason']}", markup=False, highlight=False)
    slack = link.state("slack")
    posted = sum(
        1
        for messages in slack["messages"].values()
        for m in messages
        if (m.get("metadata") or {}).get("event_type") == "syncer_alert"
    )
    output.console.print(
        f"Slack received {posted} alert message(s); the alert log is in the warehouse table syncer_alert_log",
        markup=False,
        highlight=False,
    )
