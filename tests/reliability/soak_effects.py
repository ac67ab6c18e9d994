"""The crash soak's tasks and alerts: what the soak adds to its project, and the invariants it checks after.

The soak's HubSpot sync gets a task trigger and a watch sync alerts the owner, both when an account's score crosses
80 (the soak moves a few percent of scores before every run, so some cross every round). Slack posts and HubSpot task
creates get the soak's latency too, so kills land while they are being sent.

Invariants, from the sandbox's own state and the control store, after the final clean run:

- **duplicated**: a task (by its ``syncer_dedupe_key``) or an alert (by the dedupe key in its metadata) that exists
  more than once;
- **lost**: an intent still waiting to be sent (``pending``/``sending``, or a deferral whose time has come), one
  marked ``failed``, or one marked done whose task or message the sandbox does not hold;
- **cap violations**: a rep who received more alerts in one local day than ``alerts.caps.per_day``.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from connectors.sandbox.people import sample_reps
from syncer.app import App
from syncer.state.outbox import EffectKind, OutboxStatus
from tests.reliability.harness import ENVIRONMENT

PER_DAY = 3
CROSSED = "new.pql_score >= 80 AND coalesce(CAST(old.pql_score AS DOUBLE), 0) < 80"
SLACK_TOKEN = "xoxb-sandbox-token"
ENVIRONMENT_WITH_SLACK = {**ENVIRONMENT, "SLACK_BOT_TOKEN": SLACK_TOKEN}

TASK_TRIGGER = f"""\
  - name: crossed_80
    when: "{CROSSED}"
    task:
      subject: "Call {{{{ account_name }}}}: score {{{{ pql_score }}}}"
      priority: HIGH
"""

WATCH = f"""\
name: soak_alerts
model:
  table: scored_accounts
key: account_id
fields:
  pql_score:
    source: pql_score
    type: number
triggers:
  - name: crossed_80
    when: "{CROSSED}"
    alert:
      connector: slack
      template: "*{{{{ account_name }}}}* crossed 80 ({{{{ pql_score }}}})"
schedule: every 2s
"""

PROJECT_ADDITIONS = """\
  slack:
    type: slack
    token: ${{SLACK_BOT_TOKEN}}
    base_url: {slack}/api/
alerts:
  caps: {{per_day: {per_day}, per_week: 15}}
  quiet_hours: null
  cooldown_days: 7
  overflow: drop
  first_run: skip
daemon:
  lease_s: 5
"""


def add_effects(project: Path, slack_url: str) -> None:
    """Add the task trigger, the alert watch, the Slack connector and the alert policy; schedule every sync every
    2 s so the soak's daemons have work the moment they start."""
    hubspot = project / "mappings" / "hubspot_companies.yaml"
    hubspot.write_text(hubspot.read_text().replace("triggers:\n", "triggers:\n" + TASK_TRIGGER, 1))
    (project / "mappings" / "soak_alerts.yaml").write_text(WATCH)
    for mapping in (project / "mappings").glob("*.yaml"):
        mapping.write_text(re.sub(r"(?m)^schedule: .*$", "schedule: every 2s", mapping.read_text()))
    with (project / "syncer.yaml").open("a") as config:
        config.write(PROJECT_ADDITIONS.format(slack=slack_url, per_day=PER_DAY))


def prepare(project: Path) -> None:
    """The HubSpot task property tasks are keyed by (what ``syncer setup`` creates)."""
    app = App(project, ENVIRONMENT_WITH_SLACK)
    try:
        tasks = app.open_task_destination("hubspot")
        tasks.setup()
        tasks.close()
    finally:
        app.close()


@dataclass
class EffectsTally:
    tasks: int = 0  # tasks the sandbox holds
    alerts: int = 0  # alert messages the sandbox holds
    duplicated: int = 0
    lost: int = 0
    cap_violations: int = 0
    examples: list[str] = field(default_factory=list)


def check_effects(project: Path, hubspot_state: dict[str, Any], slack_state: dict[str, Any]) -> EffectsTally:
    """The invariants of the module docstring; ``*_state``: the emulators' ``/_sandbox/state``."""
    tally = EffectsTally()
    tasks = Counter(
        str(t["properties"].get("syncer_dedupe_key"))
        for t in hubspot_state["objects"].get("tasks", [])
        if t["properties"].get("syncer_dedupe_key")
    )
    messages = [
        m
        for ms in slack_state["messages"].values()
        for m in ms
        if (m.get("metadata") or {}).get("event_type") == "syncer_alert"
    ]
    posted = Counter(str(m["metadata"]["event_payload"]["dedupe_key"]) for m in messages)
    tally.tasks, tally.alerts = sum(tasks.values()), sum(posted.values())
    for key, count in [*tasks.items(), *posted.items()]:
        if count > 1:
            tally.duplicated += count - 1
            tally.examples.append(f"{key} exists {count} times")
    app = App(project, ENVIRONMENT_WITH_SLACK)
    try:
        intents = app.store.outbox.all()
    finally:
        app.close()
    now = datetime.now(UTC)
    for intent in intents:
        held = {EffectKind.TASK: tasks, EffectKind.ALERT: posted}.get(intent.kind)
        waiting = intent.status in (OutboxStatus.PENDING, OutboxStatus.SENDING) or (
            intent.status is OutboxStatus.DEFERRED and (intent.not_before is None or intent.not_before <= now)
        )
        missing = intent.status is OutboxStatus.DONE and held is not None and intent.dedupe_key not in held
        if waiting or missing or intent.status is OutboxStatus.FAILED:
            tally.lost += 1
            tally.examples.append(f"{intent.kind.value} {intent.dedupe_key}: {intent.status.value} {intent.error}")
    zones = {rep.slack_id: ZoneInfo(rep.tz) for rep in sample_reps()}
    channels = {c["id"]: c for c in slack_state["conversations"]}
    per_rep_day: Counter[tuple[str, str]] = Counter()
    for message in messages:
        members = [m for m in channels.get(str(message.get("channel")), {}).get("members", []) if m in zones]
        rep = members[0] if members else "?"
        local = datetime.fromtimestamp(float(message["ts"]), tz=zones.get(rep, ZoneInfo("UTC"))).date()
        per_rep_day[(rep, local.isoformat())] += 1
    for (rep, on), count in per_rep_day.items():
        if count > PER_DAY:
            tally.cap_violations += 1
            tally.examples.append(f"{rep} received {count} alerts on {on} (cap {PER_DAY})")
    return tally
