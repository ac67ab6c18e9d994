"""A small world for effects tests: a project whose warehouse the test rewrites between runs, the sandbox as Slack
and HubSpot, and a clock the test moves (simulated days pass in milliseconds)."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import psycopg

from connectors.sandbox import Sandbox
from connectors.sandbox.people import sample_reps
from syncer.app import App
from syncer.runner import Pacing, RunOutcome
from tests.fakes import FakeClock

START = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)  # a Monday, in the past (the emulator stamps real time)
REPS = sample_reps()
DANA = REPS[0]  # America/New_York
MARCO = REPS[3]  # America/Los_Angeles
COLUMNS = (
    "account_id VARCHAR, account_name VARCHAR, owner_email VARCHAR, pql_score DOUBLE PRECISION, "
    "pql_tier VARCHAR, signals VARCHAR"
)

WATCH = """\
name: pql_watch
description: Tell the owner when an account crosses 80.
model:
  table: accounts
key: account_id
fields:
  pql_score:
    source: pql_score
    type: number
    round: 0
  pql_tier: pql_tier
triggers:
  - name: crossed_80
    when: "new.pql_score >= 80 AND coalesce(CAST(old.pql_score AS DOUBLE), 0) < 80"
    owner_column: owner_email
    alert:
      connector: slack
      priority: 1
      signals_column: signals
      template: "*{{ account_name }}* crossed 80 (score {{ pql_score }})"
"""

ALERTS = """\
alerts:
  caps: {per_day: 3, per_week: 15}
  cooldown_days: 7
  quiet_hours: {start: "20:00", end: "08:00"}
  overflow: digest
  first_run: skip
  fallback_channel: "#pql-triage"
"""


def tier(score: float) -> str:
    return "hot" if score >= 80 else "warm" if score >= 50 else "cold"


@dataclass
class World:
    root: Path
    sandbox: Sandbox
    now: datetime = START
    rows: dict[str, tuple[str, str, float, dict[str, Any]]] = field(default_factory=dict)
    app: App | None = None
    clock: FakeClock = field(default_factory=FakeClock)
    state_url: str = "duckdb:///.syncer/state.duckdb"
    warehouse_url: str = "duckdb:///warehouse.duckdb"
    admin_url: str | None = None  # with a PostgreSQL warehouse: where the test writes its accounts table

    def __post_init__(self) -> None:
        # Slack's rate windows run on the clock the runner's pacing sleeps on, and its message ts on the world's
        # time, so simulated days pass at once and find_posts reads history the way it would in production.
        slack = self.sandbox.slack
        self._restore = (slack.clock, slack.wall_clock)
        slack.clock = self.clock
        slack.wall_clock = lambda: self.now.timestamp() + self.clock.now - 1_000.0
        slack.reset()

    def setup(self, mappings: dict[str, str], alerts: str = ALERTS, extra_connectors: str = "") -> World:
        (self.root / "mappings").mkdir(parents=True, exist_ok=True)
        for name, text in mappings.items():
            (self.root / "mappings" / f"{name}.yaml").write_text(textwrap.dedent(text))
        (self.root / "syncer.yaml").write_text(f"""\
warehouse:
  url: {self.warehouse_url}
state:
  url: {self.state_url}
connectors:
  slack:
    type: slack
    token: ${{SLACK_BOT_TOKEN}}
    base_url: {self.sandbox.urls["slack"]}
  hubspot:
    type: hubspot
    access_token: ${{HUBSPOT_ACCESS_TOKEN}}
    base_url: {self.sandbox.urls["hubspot"]}
{extra_connectors}{alerts}""")
        self.write()
        self.app = App(self.root, {"SLACK_BOT_TOKEN": "xoxb-sandbox-token", "HUBSPOT_ACCESS_TOKEN": "sandbox-token"})
        return self

    def account(self, key: str, owner: str, score: float, name: str | None = None, **signals: Any) -> None:
        self.rows[key] = (name or f"Account {key}", owner, score, signals or {"seats": 5})

    def write(self) -> None:
        rows = [
            (key, name, owner, score, tier(score), json.dumps(signals))
            for key, (name, owner, score, signals) in sorted(self.rows.items())
        ]
        if self.admin_url is not None:
            with psycopg.connect(self.admin_url, autocommit=True) as conn:  # kept (not re-created): grants stay
                conn.execute(f"CREATE TABLE IF NOT EXISTS accounts ({COLUMNS})")
                conn.execute("TRUNCATE accounts")
                with conn.cursor() as cur:
                    cur.executemany("INSERT INTO accounts VALUES (%s, %s, %s, %s, %s, %s)", rows)
            return
        con = duckdb.connect(str(self.root / "warehouse.duckdb"))
        try:
            con.execute(f"CREATE OR REPLACE TABLE accounts ({COLUMNS})")
            if rows:
                con.executemany("INSERT INTO accounts VALUES (?, ?, ?, ?, ?, ?)", rows)
        finally:
            con.close()

    def run(self, sync: str = "pql_watch", at: datetime | None = None) -> RunOutcome:
        """One run at ``at`` (default: the world's clock), after writing the warehouse."""
        assert self.app is not None
        self.now = at or self.now
        self.write()
        moment = self.now
        self.clock.advance(60)
        return self.app.run(
            self.app.project.sync(sync),
            self.app.run_options(),
            now=lambda: moment.astimezone(UTC).replace(tzinfo=None),
            pacing=Pacing(self.clock, self.clock.advance),
        )

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now

    def alerts_to(self, email: str) -> list[dict[str, Any]]:
        """Alert messages (not digests) a rep received, oldest first."""
        return [
            m
            for m in self.sandbox.slack.dms_to(email)
            if _event(m) == "syncer_alert" and not str(_payload(m).get("dedupe_key", "")).startswith("digest:")
        ]

    def digests_to(self, email: str) -> list[dict[str, Any]]:
        return [
            m for m in self.sandbox.slack.dms_to(email) if str(_payload(m).get("dedupe_key", "")).startswith("digest:")
        ]

    def close(self) -> None:
        if self.app is not None:
            self.app.close()
        slack = self.sandbox.slack
        slack.clock, slack.wall_clock = self._restore
        slack.reset()


def _event(message: dict[str, Any]) -> str | None:
    metadata = message.get("metadata") or {}
    return metadata.get("event_type")


def _payload(message: dict[str, Any]) -> dict[str, Any]:
    metadata = message.get("metadata") or {}
    return dict(metadata.get("event_payload") or {})


def dedupe_keys(messages: Iterable[dict[str, Any]]) -> list[str]:
    return [str(_payload(m).get("dedupe_key")) for m in messages]
