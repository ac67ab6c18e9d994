"""``syncer daemon`` honours ``SYNCER_FAKE_NOW``: its slots, runs and records are on the fake clock, which runs on."""

from __future__ import annotations

import itertools
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path

from connectors.sandbox import Sandbox
from syncer.state import open_state
from tests.daemon.procs import daemon_process, free_port, hubspot_mapping, poll, project_yaml, write_project

FAKE_NOW = datetime(2030, 6, 3, 9, 0, 0, 500_000, tzinfo=UTC)


def test_a_daemon_on_a_fake_clock_runs_its_slots_on_that_clock(tmp_path: Path, sandbox: Sandbox) -> None:
    port = free_port()
    root = write_project(
        tmp_path / "project",
        project_yaml(sandbox, "duckdb:///.syncer/state.duckdb", port),
        {"fast": hubspot_mapping("fast", "every 2s")},
        accounts=20,
    )
    with daemon_process(root, port, extra_env={"SYNCER_FAKE_NOW": FAKE_NOW.isoformat()}) as daemon:
        runs = poll(
            lambda: [r for r in daemon.runs() if r["due_at"]][:3] if len(daemon.runs()) >= 3 else None,
            40,
            "three scheduled runs",
        )
        daemon.signal(signal.SIGTERM)
        assert daemon.wait_exit(30) == 0
    slots = [datetime.fromisoformat(r["due_at"]) for r in runs]
    assert all(FAKE_NOW <= slot < FAKE_NOW + timedelta(minutes=2) for slot in slots), slots  # the fake day's slots
    assert all(slot.timestamp() % 2 == 0 for slot in slots)
    assert all(b - a == timedelta(seconds=2) for a, b in itertools.pairwise(slots)), slots
    store = open_state("duckdb:///.syncer/state.duckdb", root)
    try:
        recorded = store.runs.recent("fast")
    finally:
        store.close()
    assert recorded and all(r.started_at.year == 2030 for r in recorded)  # runs are recorded at the fake time
