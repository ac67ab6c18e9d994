"""A press on an alert the daemon sent, end to end: the daemon's run posts the alerts to the Slack emulator, a press is
signed the way Slack signs it and POSTed to the daemon, and the emulator shows the message updated in place. A
press by someone else is told, through the emulator's response_url, that it is not theirs, and changes nothing."""

from __future__ import annotations

import hashlib
import hmac
import json
import signal
import textwrap
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

from connectors.sandbox import Sandbox
from connectors.slack.blocks import ACTION_CLAIM, ACTION_SNOOZE
from connectors.slack.interactions import NOT_YOURS, ephemeral
from syncer.state import open_state
from tests.daemon.procs import (
    SIGNING_SECRET,
    daemon_process,
    free_port,
    poll,
    project_yaml,
    slack_root,
    write_project,
)

ALERTS_POLICY = "alerts:\n  first_run: cap\n  quiet_hours: null\n"
PQL_MAPPING = textwrap.dedent("""\
    name: pql_alerts
    model:
      sql: SELECT * FROM scored_accounts WHERE pql_tier = 'hot'
    key: account_id
    fields:
      pql_tier: pql_tier
    triggers:
      - name: turned_hot
        when: "new.pql_tier = 'hot' AND coalesce(old.pql_tier, '') <> 'hot'"
        owner_column: owner_email
        alert:
          connector: slack
          template: "*{{ account_name }}* turned hot"
    schedule: "every 1h"
    """)


def signed_post(url: str, payload: dict[str, Any]) -> httpx.Response:
    body = urlencode({"payload": json.dumps(payload)}).encode()
    stamp = str(int(time.time()))
    digest = hmac.new(SIGNING_SECRET.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256).hexdigest()
    return httpx.post(
        url + "/slack/interactions",
        content=body,
        timeout=10,
        headers={
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": f"v0={digest}",
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )


def test_a_claim_updates_the_alert_in_place_and_a_strangers_press_changes_nothing(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    port = free_port()
    root = write_project(
        tmp_path / "project",
        project_yaml(sandbox, "duckdb:///.syncer/state.duckdb", port) + ALERTS_POLICY,
        {"pql_alerts": PQL_MAPPING},
    )
    slack = sandbox.slack
    with daemon_process(root, port) as daemon:
        assert (
            httpx.post(
                daemon.url + "/syncs/pql_alerts/trigger?wait=true",
                timeout=120,
                headers={"Authorization": "Bearer trigger-token-for-tests"},
            ).status_code
            == 200
        )
        alerts = poll(
            lambda: [m for m in slack.all_messages() if (m["metadata"] or {}).get("event_type") == "syncer_alert"],
            30,
            "an alert",
        )
        alert = alerts[0]
        conversation = next(c for c in slack.state()["conversations"] if c["id"] == alert["channel"])
        owner = conversation["user"]  # a DM: the other party is the rep it was sent to
        stranger = next(
            u["id"] for u in slack.state()["users"] if not u["is_bot"] and not u["deleted"] and u["id"] != owner
        )

        refused = signed_post(
            daemon.url,
            slack.interaction_payload(slack_root(sandbox), stranger, alert["channel"], alert["ts"], ACTION_SNOOZE),
        )
        assert refused.status_code == 200
        poll(slack.responses, 20, "the ephemeral answer to the stranger")
        assert slack.responses() == [
            {"channel": alert["channel"], "ts": alert["ts"], "user": stranger, "body": ephemeral(NOT_YOURS)}
        ]

        claimed = signed_post(
            daemon.url,
            slack.interaction_payload(slack_root(sandbox), owner, alert["channel"], alert["ts"], ACTION_CLAIM),
        )
        assert (claimed.status_code, claimed.json()) == (200, {"ok": True})
        updated = poll(
            lambda: [m for m in slack.messages(alert["channel"]) if m["ts"] == alert["ts"] and m["edited"]],
            20,
            "the alert to be updated in place",
        )
        note = updated[0]["blocks"][-1]["elements"][0]["text"]
        assert note == f"Claimed by <@{owner}>"
        assert updated[0]["metadata"] == alert["metadata"]  # the same message, its dedupe key kept
        assert slack.log.count("chat.update") == 1 and len(slack.responses()) == 1
        daemon.signal(signal.SIGTERM)
        assert daemon.wait_exit(30) == 0

    store = open_state("duckdb:///.syncer/state.duckdb", root)
    try:
        rows = [r for r in store.ledger.log_rows() if r["feedback"]]
        snoozed = [e for e in store.ledger.since(None) if e.outcome.value == "snoozed"]
    finally:
        store.close()
    key = alert["metadata"]["event_payload"]["dedupe_key"]
    assert [(r["dedupe_key"], r["feedback"], r["feedback_by"]) for r in rows] == [(key, "claim", owner)]
    assert snoozed == []  # the stranger's snooze was never recorded
