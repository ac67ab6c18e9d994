"""A daemon run with ``--reload``: operations alerts on failing and recovering, reloads good and broken, signed
Slack interactions (and a response_url outside the allow-list never fetched), and logs that are JSON and hold no
secret."""

from __future__ import annotations

import hashlib
import hmac
import json
import signal
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from connectors.sandbox import Sandbox
from connectors.slack.blocks import ACTION_SNOOZE
from connectors.slack.interactions import NOT_YOURS, ephemeral
from connectors.slack.sandbox.store import PQL_ALERTS_ID
from syncer.core.alerts import DedupeKey
from syncer.state import open_state
from tests.daemon.procs import (
    ENVIRONMENT,
    SIGNING_SECRET,
    SYNCER,
    daemon_process,
    free_port,
    poll,
    project_yaml,
    slack_mapping,
    write_project,
)

BROKEN_MODEL = "sql: SELECT * FROM no_such_table"
USER = "U0SNOOZER1"


@pytest.fixture
def response_url() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A local server posing as a response_url: records the JSON bodies POSTed to it (none must be)."""
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/respond", received
    server.shutdown()
    server.server_close()


def signed(body: bytes, secret: str = SIGNING_SECRET) -> dict[str, str]:
    stamp = str(int(time.time()))
    digest = hmac.new(secret.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256).hexdigest()
    return {
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": f"v0={digest}",
        "Content-Type": "application/x-www-form-urlencoded",
    }


def snooze_body(url: str) -> bytes:
    payload = {
        "type": "block_actions",
        "user": {"id": USER},
        "response_url": url,
        "actions": [{"action_id": ACTION_SNOOZE, "value": DedupeKey("flaky", "hot", "42", "f1").token()}],
        "message": {"text": "Acme is hot", "ts": "1.000001", "blocks": []},
        "container": {"channel_id": PQL_ALERTS_ID, "message_ts": "1.000001"},
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


def ops_posts(sandbox: Sandbox) -> list[str]:
    return [str(m["text"]) for m in sandbox.slack.messages(PQL_ALERTS_ID) if "sync *flaky*" in str(m["text"])]


def test_ops_alerts_reload_and_interactions(
    tmp_path: Path, sandbox: Sandbox, response_url: tuple[str, list[dict[str, Any]]]
) -> None:
    port = free_port()
    extra = f"ops_alerts:\n  connector: slack\n  channel: {PQL_ALERTS_ID}\n"
    root = write_project(
        tmp_path / "project",
        project_yaml(sandbox, "duckdb:///.syncer/state.duckdb", port, extra),
        {"flaky": slack_mapping("flaky", "every 1s", BROKEN_MODEL)},
    )
    mapping = root / "mappings" / "flaky.yaml"
    with daemon_process(root, port, [SYNCER, "daemon", "--project", str(root), "--reload"]) as daemon:
        # Failing: one post, however many runs fail.
        poll(lambda: len([r for r in daemon.runs() if r["status"] == "failed"]) >= 3, 30, "three failed runs")
        failing = ops_posts(sandbox)
        assert len(failing) == 1 and "is failing" in failing[0] and "syncer errors flaky" in failing[0], failing
        assert "table does not exist" in failing[0]  # the reason, escaped for mrkdwn

        # A fixed mapping is picked up from the file; the next run succeeds and one recovery is posted.
        mapping.write_text(slack_mapping("flaky", "every 1s"))
        poll(lambda: daemon.events("reloaded"), 20, "the fixed mapping to load")
        poll(lambda: any(r["status"] == "succeeded" for r in daemon.runs()), 20, "a successful run")
        poll(lambda: len(ops_posts(sandbox)) == 2, 20, "the recovery post")
        assert "recovered" in ops_posts(sandbox)[1]

        # A broken change is refused with its problems; the running config stays and keeps running.
        mapping.write_text(slack_mapping("flaky", "every 1s") + "bogus: 1\n")
        refused = poll(lambda: daemon.events("reload_refused"), 20, "the broken mapping to be refused")
        assert any("flaky.yaml" in p and "bogus" in p and "unknown key" in p for p in refused[0]["problems"])
        ready = daemon.get("/readyz")
        assert ready.status_code == 503 and ready.json()["config"] != "ok"
        runs_before = len(daemon.runs())
        poll(lambda: len(daemon.runs()) >= runs_before + 2, 20, "runs to go on under the running config")
        assert all(r["status"] == "succeeded" for r in daemon.runs()[runs_before:])

        # SIGHUP reloads too.
        mapping.write_text(slack_mapping("flaky", "every 1s"))
        daemon.signal(signal.SIGHUP)
        poll(lambda: len(daemon.events("reloaded")) >= 2, 20, "the SIGHUP reload")
        poll(lambda: daemon.get("/readyz").status_code == 200, 20, "ready again")
        assert len(ops_posts(sandbox)) == 2  # no post per run

        # Slack interactions: signed and fresh, once. This one points its response_url at a local address: it is
        # refused in the answer, nothing is fetched and nothing recorded.
        url, received = response_url
        body = snooze_body(url)
        headers = signed(body)
        first = httpx.post(daemon.url + "/slack/interactions", content=body, headers=headers)
        assert first.status_code == 200, first.text
        assert first.json() == ephemeral(NOT_YOURS)
        assert httpx.post(daemon.url + "/slack/interactions", content=body, headers=headers).status_code == 409
        forged = httpx.post(daemon.url + "/slack/interactions", content=body, headers=signed(body, "not-the-secret"))
        assert forged.status_code == 401
        huge = b"payload=" + b"x" * 300_000
        assert httpx.post(daemon.url + "/slack/interactions", content=huge, headers=signed(huge)).status_code == 413
        refused = poll(
            lambda: daemon.events("slack interaction refused: response_url http://127.0.0.1 is not an allowed prefix"),
            20,
            "the refusal in the log",
        )
        assert len(refused) == 1 and received == []

        daemon.signal(signal.SIGTERM)
        assert daemon.wait_exit(30) == 0
        log_text = daemon.log_path.read_text()

    for line in log_text.splitlines():
        json.loads(line)  # every line is one JSON object
    for secret in (ENVIRONMENT["TEST_SLACK_TOKEN"], SIGNING_SECRET, ENVIRONMENT["SYNCER_TRIGGER_TOKEN"]):
        assert secret not in log_text
    assert received == []
    store = open_state("duckdb:///.syncer/state.duckdb", root)
    try:
        entries = store.ledger.since(None, datetime(2000, 1, 1, tzinfo=UTC))
    finally:
        store.close()
    assert entries == []  # no snooze, no feedback: the press named no alert and its response_url was refused
