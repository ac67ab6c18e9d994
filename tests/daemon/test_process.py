"""``syncer daemon`` as the container runs it: the Dockerfile's own commands, a real process, the sandbox CRM.

Two syncs run on their schedules (slots every 2 s and 3 s), /metrics counts them, a run is triggered over HTTP and
with ``syncer trigger``, and SIGTERM sent while a slow run is delivering lets the batches in flight commit and the
process exit well within 30 s, the run recorded as partial with the rest pending.
"""

from __future__ import annotations

import itertools
import json
import re
import signal
import subprocess
from datetime import datetime, timedelta
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from connectors.sandbox import Sandbox
from connectors.sandbox.core.faults import FaultRule
from syncer.state import open_state
from tests.daemon.procs import (
    ENVIRONMENT,
    SYNCER,
    TOKEN,
    daemon_process,
    free_port,
    hubspot_mapping,
    poll,
    project_yaml,
    slack_mapping,
    write_project,
)

REPO = Path(__file__).parents[2]
UPSERTS = "/crm/v3/objects/companies/batch/upsert"
ACCOUNTS = 1000


def dockerfile_commands() -> tuple[list[str], list[str]]:
    """The image's ``ENTRYPOINT + CMD`` and its ``HEALTHCHECK`` command, with ``syncer`` from this environment."""
    text = (REPO / "Dockerfile").read_text()

    def exec_form(pattern: str) -> list[str]:
        found = re.search(pattern, text, re.MULTILINE)
        assert found, f"Dockerfile lacks {pattern}"
        return list(json.loads(found.group(1)))

    daemon = exec_form(r"^ENTRYPOINT (\[.*\])$") + exec_form(r"^CMD (\[.*\])$")
    health = exec_form(r"^HEALTHCHECK .*CMD (\[.*\])$")
    return [SYNCER, *daemon[1:]], [SYNCER, *health[1:]]


def metric(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0


def run_health(command: list[str], root: Path) -> int:
    return subprocess.run(command, check=False, cwd=root, capture_output=True, timeout=30).returncode


def test_daemon_schedules_triggers_and_stops_cleanly(tmp_path: Path, sandbox: Sandbox) -> None:
    port = free_port()
    root = write_project(
        tmp_path / "project",
        project_yaml(sandbox, "duckdb:///.syncer/state.duckdb", port),
        {
            "fast_a": hubspot_mapping("fast_a", "every 2s"),
            "fast_b": slack_mapping("fast_b", "every 3s"),
            "big": hubspot_mapping("big", "0 0 1 1 *", "sql: SELECT * FROM scored_accounts"),
        },
        accounts=ACCOUNTS,
    )
    daemon_argv, health_argv = dockerfile_commands()
    assert daemon_argv[1:] == ["daemon", "--host", "0.0.0.0"]
    with daemon_process(root, port, daemon_argv, cwd=root) as daemon:
        assert run_health(health_argv, root) == 0

        # Both syncs run at their slots, one run per slot.
        def counted() -> str | None:
            text = daemon.get("/metrics").text
            a = metric(text, "syncer_runs_total", sync="fast_a", status="succeeded")
            b = metric(text, "syncer_runs_total", sync="fast_b", status="succeeded")
            return text if a >= 3 and b >= 2 else None

        text = poll(counted, 40, "three runs of fast_a and two of fast_b")
        assert metric(text, "syncer_rows_confirmed_total", sync="fast_a") == ACCOUNTS
        assert metric(text, "syncer_api_calls_total", destination="hubspot") >= ACCOUNTS / 100
        assert metric(text, "syncer_rows_planned_total", sync="fast_b", op="create") == ACCOUNTS
        assert metric(text, "syncer_run_duration_seconds_count", sync="fast_a") >= 3
        assert 0 <= metric(text, "syncer_seconds_since_last_success", sync="fast_a") < 3600
        assert "big" not in {r["sync"] for r in daemon.runs()}  # its cron slot is once a year
        for sync, step in (("fast_a", 2), ("fast_b", 3)):
            slots = [datetime.fromisoformat(r["due_at"]) for r in daemon.runs() if r["sync"] == sync]
            assert len(slots) == len(set(slots))
            assert all(s.timestamp() % step == 0 for s in slots)
            assert all(b - a == timedelta(seconds=step) for a, b in itertools.pairwise(slots)), slots

        # Triggers: the token is required; a run on demand answers with its summary.
        trigger = daemon.url + "/syncs/fast_b/trigger"
        assert httpx.post(trigger, headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert httpx.post(trigger).status_code == 401
        assert (
            httpx.post(daemon.url + "/syncs/nope/trigger", headers={"Authorization": f"Bearer {TOKEN}"}).status_code
            == 404
        )
        reply = httpx.post(trigger + "?wait=true", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
        assert reply.status_code == 200 and reply.json()["status"] == "succeeded", reply.text
        cli = subprocess.run(
            [SYNCER, "trigger", "fast_b", "--url", daemon.url, "--wait"],
            check=False,
            capture_output=True,
            env={**ENVIRONMENT, "PATH": "/usr/bin:/bin"},
            timeout=60,
            text=True,
        )
        assert cli.returncode == 0, cli.stderr
        assert json.loads(cli.stdout)["status"] == "succeeded"
        assert len([r for r in daemon.runs() if r["sync"] == "fast_b" and r["triggered"]]) == 2
        assert daemon.get("/readyz").json()["state"].startswith("ok")

        # A slow run of 1,000 rows (10 batches at 1.5 s each, 4 at a time), stopped by SIGTERM after its first batch.
        sandbox.hubspot.set_faults([FaultRule(route=f"POST {UPSERTS}", latency_ms=1500)])
        seen = len(sandbox.hubspot.log.entries())
        queued = subprocess.run(
            [SYNCER, "trigger", "big", "--url", daemon.url],
            check=False,
            capture_output=True,
            text=True,
            env={**ENVIRONMENT, "PATH": "/usr/bin:/bin"},
            timeout=60,
        )
        assert queued.returncode == 0 and "queued" in queued.stdout, queued.stderr

        def big_upserts() -> int:
            return sum(1 for e in sandbox.hubspot.log.entries()[seen:] if e.path == UPSERTS and e.status == 200)

        poll(big_upserts, 30, "the first batch of the slow run")
        daemon.signal(signal.SIGTERM)
        assert daemon.wait_exit(30) == 0  # the contract: gone within 30 s
        stopped = daemon.events("daemon_stopped")
        assert stopped and stopped[0]["clean"] is True
        assert run_health(health_argv, root) == 1

    store = open_state("duckdb:///.syncer/state.duckdb", root)
    try:
        last = store.runs.recent("big", limit=1)[0]
        committed = store.snapshot.size("big")
    finally:
        store.close()
    sent = big_upserts()
    assert last.status == "partial", last
    assert committed == 100 * sent  # every batch the CRM confirmed was committed, none beyond
    assert 0 < committed < ACCOUNTS  # the rest is pending for the next run


def test_a_run_outliving_the_stop_timeout_is_left_behind(tmp_path: Path, sandbox: Sandbox) -> None:
    """SIGTERM while a batch hangs longer than ``stop_timeout_s``: the daemon exits 1 at the timeout, not when the
    batch ends, and the run is found killed when the state is next opened."""
    port = free_port()
    root = write_project(
        tmp_path / "project",
        project_yaml(sandbox, "duckdb:///.syncer/state.duckdb", port, "stop_timeout_s: 1\n"),
        {"slow": hubspot_mapping("slow", "0 0 1 1 *")},
        accounts=150,
    )
    sandbox.hubspot.set_faults([FaultRule(route=f"POST {UPSERTS}", latency_ms=20_000)])
    with daemon_process(root, port) as daemon:
        reply = httpx.post(daemon.url + "/syncs/slow/trigger", headers={"Authorization": f"Bearer {TOKEN}"})
        assert reply.status_code == 202
        # The fault rule has drawn for a request: an upsert is inside its 20 s (the log records it only at the end).
        poll(lambda: sandbox.hubspot.faults._counters.get((0, "request"), 0) >= 1, 20, "an upsert in flight")
        daemon.signal(signal.SIGTERM)
        assert daemon.wait_exit(15) == 1  # well before the 20 s batch could end
        assert daemon.events("daemon_stopped")[0]["clean"] is False
    store = open_state("duckdb:///.syncer/state.duckdb", root)
    try:
        last = store.runs.recent("slow", limit=1)[0]
    finally:
        store.close()
    assert last.status == "killed"
