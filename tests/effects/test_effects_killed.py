"""Exactly once under SIGKILL: real ``syncer run`` processes are killed at random points while they deliver tasks and
alerts (the sandbox also loses some replies), then runs go to completion. Checked from the sandbox's own state:
every due task and alert exists exactly once, and nothing that was not due was sent.

Before each process a new wave of accounts turns hot (two per rep), so every process has tasks and alerts to deliver
and the random kill lands in planning, field delivery, task creation or alert posting.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import duckdb

from connectors.sandbox import Sandbox
from connectors.sandbox.core.faults import FaultRule
from connectors.sandbox.people import sample_reps
from syncer.app import App
from syncer.state.outbox import EffectKind, OutboxStatus

KILLS = 20
SEED = 20261123
REPS = sample_reps()
WAVE_REPS = 12  # reps with an account turning hot before each process (the next twelve each time)
ENV = {"HUBSPOT_ACCESS_TOKEN": "sandbox-hubspot-token", "SLACK_BOT_TOKEN": "xoxb-sandbox-token"}

COMPANIES = """\
name: hot_companies
model:
  table: accounts
key: account_id
destination:
  connector: hubspot
  object: companies
  mode: upsert
  match:
    column: account_id
    field: product_account_id
fields:
  name: account_name
  pql_tier: pql_tier
triggers:
  - name: went_hot
    when: "new.pql_tier = 'hot' AND coalesce(old.pql_tier, '') <> 'hot'"
    task:
      subject: "Call {{ account_name }}"
      priority: HIGH
"""

WATCH = """\
name: hot_alerts
model:
  table: accounts
key: account_id
fields:
  pql_tier: pql_tier
  pql_score:
    source: pql_score
    type: number
triggers:
  - name: went_hot
    when: "new.pql_tier = 'hot' AND coalesce(old.pql_tier, '') <> 'hot'"
    alert:
      connector: slack
      template: "*{{ account_name }}* is hot ({{ pql_score }})"
"""


def _project(root: Path, sandbox: Sandbox) -> None:
    (root / "mappings").mkdir(parents=True)
    (root / "mappings" / "hot_companies.yaml").write_text(COMPANIES)
    (root / "mappings" / "hot_alerts.yaml").write_text(WATCH)
    (root / "syncer.yaml").write_text(
        textwrap.dedent(f"""\
        warehouse:
          url: duckdb:///warehouse.duckdb
        state:
          url: duckdb:///.syncer/state.duckdb
        connectors:
          hubspot:
            type: hubspot
            access_token: ${{HUBSPOT_ACCESS_TOKEN}}
            base_url: {sandbox.urls["hubspot"]}
          slack:
            type: slack
            token: ${{SLACK_BOT_TOKEN}}
            base_url: {sandbox.urls["slack"]}
        alerts:
          caps: {{per_day: 100, per_week: 700}}
          quiet_hours: null
          first_run: cap
          overflow: drop
        """)
    )
    _wave(root, 0, random.Random(SEED))


def _wave(root: Path, number: int, rng: random.Random) -> None:
    """Add a wave of accounts: for WAVE_REPS reps, one hot account and one warm one."""
    con = duckdb.connect(str(root / "warehouse.duckdb"))
    try:
        con.execute(
            "CREATE TABLE IF NOT EXISTS accounts (account_id VARCHAR, account_name VARCHAR, "
            "owner_email VARCHAR, pql_score DOUBLE, pql_tier VARCHAR, signals VARCHAR)"
        )
        for rep in REPS[(number % 2) * WAVE_REPS :][:WAVE_REPS]:
            for i in range(2):
                score = rng.uniform(75, 99) if i == 0 else rng.uniform(40, 69)
                con.execute(
                    "INSERT INTO accounts VALUES (?, ?, ?, ?, ?, '{}')",
                    [
                        f"{rep.index:02d}-{number:03d}-{i}",
                        f"Account {rep.index}-{number}-{i}",
                        rep.email,
                        score,
                        "hot" if score >= 70 else "warm",
                    ],
                )
    finally:
        con.close()


def _undelivered(root: Path) -> int:
    """Effects a killed process left staged but not delivered (pending, or sending with no known outcome)."""
    path = root / ".syncer" / "state.duckdb"
    if not path.exists():  # killed before it opened the state
        return 0
    state = duckdb.connect(str(path))
    try:
        return int(
            state.execute("SELECT count(*) FROM outbox WHERE status IN ('pending', 'sending', 'deferred')").fetchall()[
                0
            ][0]
        )
    except duckdb.CatalogException:  # killed before its schema was made
        return 0
    finally:
        state.close()


def _run(root: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", "from syncer.cli import main; main()", "run", "--all", "--project", str(root), "--json"],
        env={**os.environ, **ENV},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_killed_runs_leave_every_due_task_and_alert_delivered_exactly_once(tmp_path: Path, sandbox: Sandbox) -> None:
    _project(tmp_path, sandbox)
    app = App(tmp_path, ENV)
    app.open_task_destination("hubspot").setup()
    config = app.project.sync("hot_companies")
    destination = app.open_destination(config)
    assert destination is not None
    destination.setup()
    destination.close()
    app.close()
    # Slow, lossy vendors: replies go missing after the write happened, so recovery must look before resending.
    sandbox.slack.set_faults(
        [FaultRule("POST /api/chat.postMessage", latency_ms=80, lost_response_rate=0.1)], seed=SEED
    )
    sandbox.hubspot.set_faults(
        [
            FaultRule("POST /crm/v3/objects/tasks/batch/create", latency_ms=300, lost_response_rate=0.3),
            FaultRule("POST /crm/v3/objects/companies/batch/*", latency_ms=150),
        ],
        seed=SEED,
    )
    rng = random.Random(SEED)
    kills, finished, mid_delivery = 0, 0, 0
    for wave in range(1, KILLS * 3):
        _wave(tmp_path, wave, rng)
        process = _run(tmp_path)
        try:
            process.wait(timeout=rng.uniform(1.0, 3.5))
            finished += 1
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGKILL)
            process.wait()
            kills += 1
            mid_delivery += _undelivered(tmp_path) > 0
        finally:
            process.communicate()
        if kills >= KILLS:
            break
    assert kills >= KILLS, f"only {kills} kills landed ({finished} runs finished first)"
    assert mid_delivery >= KILLS // 2, f"only {mid_delivery} of {kills} kills left effects undelivered"
    sandbox.slack.set_faults([])
    sandbox.hubspot.set_faults([])
    for _ in range(2):  # to completion: nothing is left for a third run
        done = _run(tmp_path)
        out, err = done.communicate(timeout=120)
        assert done.returncode == 0, err.decode()[-2000:]
    summary = {s["sync"]: s for s in json.loads(out)}
    assert all(s["status"] == "succeeded" for s in summary.values()), summary

    app = App(tmp_path, ENV)
    try:
        outbox = app.store.outbox.all()
        hot = {
            row[0]
            for row in duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True)
            .execute("SELECT account_id FROM accounts WHERE pql_tier = 'hot'")
            .fetchall()
        }
    finally:
        app.close()
    tasks = Counter(t["properties"]["syncer_dedupe_key"] for t in sandbox.hubspot.tasks())
    assert max(tasks.values()) == 1, [k for k, n in tasks.items() if n > 1]
    assert {key.split(":")[2] for key in tasks} == hot  # one task per hot account, none missing
    due_tasks = {r.dedupe_key for r in outbox if r.kind is EffectKind.TASK}
    assert set(tasks) == due_tasks and all(r.status is OutboxStatus.DONE for r in outbox if r.kind is EffectKind.TASK)

    posted = Counter(
        m["metadata"]["event_payload"]["dedupe_key"]
        for m in sandbox.slack.all_messages()
        if (m.get("metadata") or {}).get("event_type") == "syncer_alert"
    )
    assert max(posted.values()) == 1, [k for k, n in posted.items() if n > 1]
    due_alerts = {r.dedupe_key for r in outbox if r.kind is EffectKind.ALERT and r.status is OutboxStatus.DONE}
    assert set(posted) == due_alerts
    assert not [
        r for r in outbox if r.kind is EffectKind.ALERT and r.status in (OutboxStatus.PENDING, OutboxStatus.SENDING)
    ]
    per_rep = Counter(key.split(":")[2][:2] for key in posted)
    assert max(per_rep.values()) <= 100  # the daily cap held through every kill
    assert sum(per_rep.values()) == len(due_alerts) >= len(hot) * 0.9  # most alerts were due: this tested something
