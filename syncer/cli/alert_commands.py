"""``syncer alerts``: what each rep was sent, what was held back and why, and what they answered."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from syncer import output
from syncer.cli.base import EXIT_BAD_INPUT, JsonOption, ProjectOption, cli, open_app
from syncer.contract import clock

_SPAN = re.compile(r"^\s*(\d+)\s*([dhw])\s*$")


def parse_since(text: str, now: datetime) -> datetime:
    """``7d``, ``24h``, ``2w`` back from ``now``, or an ISO date/time (UTC when it has no offset)."""
    span = _SPAN.match(text)
    if span:
        amount, unit = int(span.group(1)), span.group(2)
        return now - {"d": timedelta(days=amount), "h": timedelta(hours=amount), "w": timedelta(weeks=amount)}[unit]
    moment = datetime.fromisoformat(text.strip())
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@cli.command()
def alerts(
    project: ProjectOption = Path("."),
    *,
    as_json: JsonOption = False,
    since: Annotated[str, typer.Option(help="How far back: 7d, 24h, 2w, or a date (2026-11-01).")] = "7d",
) -> None:
    """Per rep: alerts sent, held back by reason (caps, cooldown, snooze, first run), digests, feedback, tasks."""
    from syncer.effects.summary import alert_summary

    now = clock.now()
    try:
        start = parse_since(since, now)
    except ValueError:
        output.show_error(f"--since: '{since}' is neither a span (7d, 24h, 2w) nor a date (2026-11-01)")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    with open_app(project) as app:
        summaries = alert_summary(app.store, start)
        if as_json:
            output.print_json({"since": start.isoformat(), "reps": [s.as_dict() for s in summaries]})
        else:
            output.show_alert_summary(summaries, start)
