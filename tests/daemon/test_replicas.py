"""Two daemons on one PostgreSQL state share the syncs: every slot runs exactly once, and when one replica is
SIGKILLed its syncs move to the other within one lease (plus the tick that notices), the slots missed meanwhile
coalescing into one catch-up run.

Twenty syncs due every 2 s make ten slots a second; the test runs until well over 100 slots have run.
"""

from __future__ import annotations

import signal
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from connectors.sandbox import Sandbox
from tests.daemon.procs import (
    SYNCER,
    DaemonProcess,
    daemon_process,
    free_port,
    poll,
    project_yaml,
    slack_mapping,
    write_project,
)

SYNCS = [f"s{i:02d}" for i in range(20)]
STEP = timedelta(seconds=2)
LEASE_S = 3.0
TICK_S = LEASE_S / 3


def owners(pg_url: str) -> dict[str, str | None]:
    """Each sync's owner while its lease runs (None when free); expired leases are left out."""
    with psycopg.connect(pg_url) as conn:
        rows = conn.execute(
            "SELECT sync, owner FROM daemon_leases WHERE expires_at > (now() AT TIME ZONE 'UTC') OR owner IS NULL"
        ).fetchall()
    return {str(sync): owner for sync, owner in rows}


def slots(daemon: DaemonProcess) -> list[tuple[str, datetime]]:
    return [(r["sync"], datetime.fromisoformat(r["due_at"])) for r in daemon.runs() if r["due_at"]]


def test_two_replicas_share_syncs_once_and_take_over_from_a_dead_one(
    tmp_path: Path, sandbox: Sandbox, pg_url: str
) -> None:
    ports = free_port(), free_port()
    extra = f"lease_s: {LEASE_S}\nworkers: 4\n"
    root = write_project(
        tmp_path / "project",
        project_yaml(sandbox, pg_url, ports[0], extra),
        {name: slack_mapping(name, "every 2s") for name in SYNCS},
        accounts=20,
    )
    with daemon_process(root, ports[0], name="a") as a:
        with daemon_process(
            root, ports[1], name="b", argv=[SYNCER, "daemon", "--project", str(root), "--port", str(ports[1])]
        ) as b:
            replica = {d: d.events("daemon_started")[0]["replica"] for d in (a, b)}
            poll(lambda: set(owners(pg_url).values()) == set(replica.values()), 20, "both replicas to hold leases")
            poll(lambda: len(slots(a)) + len(slots(b)) >= 100, 60, "100 slots run")
            assert len(slots(a)) >= 20 and len(slots(b)) >= 20  # both did a share of the work
            before = owners(pg_url)
            b_syncs = {sync for sync, owner in before.items() if owner == replica[b]}
            b.signal(signal.SIGKILL)
            killed_at = time.monotonic()
            b.wait_exit(10)
            poll(
                lambda: owners(pg_url) == dict.fromkeys(SYNCS, replica[a]),
                LEASE_S + TICK_S + 5,
                "the survivor to hold every lease",
            )
            moved_after = time.monotonic() - killed_at
            taken_over_at = datetime.now().astimezone()
            # The moved syncs run on the survivor: each twice more after the takeover.
            poll(
                lambda: all(
                    sum(1 for s, due in slots(a) if s == sync and due > taken_over_at) >= 2 for sync in b_syncs
                ),
                20,
                "the moved syncs to run on the survivor",
            )
        a.signal(signal.SIGTERM)
        assert a.wait_exit(30) == 0

    # Within one lease of the last renewal, plus the tick that notices (and 2 s for polling on a busy machine).
    assert moved_after <= LEASE_S + TICK_S + 2, moved_after
    every = slots(a) + slots(b)
    twice = [slot for slot, count in Counter(every).items() if count > 1]
    assert not twice, f"slots run twice: {twice}"
    assert len(every) >= 100
    # None missed: every slot from the first to the last of each sync ran, or was merged into a later run of
    # it by design: coalesced while the sync still ran, or run once by a catch-up when its lease changed hands
    # (from the slot last claimed, which a killed replica may have left unfinished, up to the one caught up).
    first, last = min(due for _, due in every), max(due for _, due in every)
    merged = {(e["sync"], datetime.fromisoformat(e["due_at"])) for d in (a, b) for e in d.events("coalesced")}
    caught = [
        (e["sync"], datetime.fromisoformat(e["last_due_at"]), datetime.fromisoformat(e["due_at"]))
        for d in (a, b)
        for e in d.events("catch_up")
        if e["last_due_at"]
    ]
    ran = set(every)
    missed = []
    for sync in SYNCS:
        last_of_sync = max(due for s, due in every if s == sync)
        slot = first
        while slot <= min(last, last_of_sync):
            covered = (
                (sync, slot) in ran
                or (sync, slot) in merged
                or any(s == sync and since.replace(tzinfo=UTC) <= slot < due for s, since, due in caught)
            )
            if not covered:
                missed.append((sync, slot))
            slot += STEP
    assert not missed, f"slots missed: {missed}"
    assert any(s in b_syncs for s, _, _ in caught)  # the takeover ran what the dead replica left
    with psycopg.connect(pg_url) as conn:
        recorded = conn.execute("SELECT count(*) FROM runs WHERE status IN ('succeeded', 'partial')").fetchall()
        statuses: dict[str, int] = dict(conn.execute("SELECT status, count(*) FROM runs GROUP BY status").fetchall())
    assert recorded[0][0] == len(every), statuses  # every recorded run is one logged slot run
    assert set(statuses) <= {"succeeded", "killed"}, statuses  # at most the run the SIGKILL interrupted
