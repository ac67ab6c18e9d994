"""The loop closed on PostgreSQL: the state store and the warehouse both PostgreSQL, and a warehouse role that may
read the model but not create tables. The alert log waits in the state store until it may be written, then lands."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from connectors.sandbox import Sandbox
from syncer.app import App
from syncer.runner import Pacing
from syncer.state.base import RunStatus
from tests.effects.world import DANA, MARCO, START, WATCH, World

READER = "syncer_log_reader"


@pytest.fixture
def world(tmp_path: Path, sandbox: Sandbox, pg_url: str) -> Iterator[World]:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"DROP ROLE IF EXISTS {READER}")
        conn.execute(f"CREATE ROLE {READER} LOGIN")
        conn.execute(f"GRANT USAGE ON SCHEMA public TO {READER}")
        conn.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO {READER}")
    user, rest = pg_url.split("://", 1)[1].split("@", 1)
    reader_url = f"postgresql+psycopg://{READER}@{rest}"
    assert user  # the admin user of the test server
    built = World(tmp_path, sandbox, state_url=pg_url, warehouse_url=reader_url, admin_url=pg_url)
    yield built
    built.close()


def test_the_alert_log_waits_in_the_state_while_the_warehouse_refuses_writes_then_lands(
    world: World, pg_url: str
) -> None:
    world.setup({"pql_watch": WATCH})
    world.account("a1", DANA.email, 50)
    world.account("a2", MARCO.email, 50)
    assert world.run().status is RunStatus.SUCCEEDED
    world.account("a1", DANA.email, 91)
    world.account("a2", MARCO.email, 92)
    refused = world.run(at=START + timedelta(days=1, hours=2))  # 09:00 in Los Angeles, 12:00 in New York
    assert refused.status is RunStatus.SUCCEEDED and refused.effects is not None  # the alerts went out anyway
    assert refused.effects.alerts["sent"] == 2
    assert refused.effects.log.startswith(
        "waiting in the control store for the next run: could not write syncer_alert_log: permission denied"
    )
    with psycopg.connect(pg_url, autocommit=True) as conn:
        assert conn.execute("SELECT to_regclass('public.syncer_alert_log')").fetchone() == (None,)
        conn.execute(f"GRANT CREATE ON SCHEMA public TO {READER}")
    landed = world.run(at=START + timedelta(days=1, hours=3))
    assert landed.effects is not None and landed.effects.log == "2 rows written to syncer_alert_log"
    with psycopg.connect(pg_url) as conn:
        rows = conn.execute("SELECT account, outcome, external_id FROM syncer_alert_log ORDER BY account").fetchall()
    posted = {str(m["ts"]) for m in world.sandbox.slack.all_messages()}
    assert [(a, o) for a, o, _ in rows] == [("a1", "send"), ("a2", "send")]
    assert {ts for *_, ts in rows} == posted
    quiet = world.run(at=START + timedelta(days=1, hours=4))
    assert quiet.effects is not None and quiet.effects.log == "current"  # nothing changed: nothing rewritten


def test_two_processes_deciding_for_the_same_rep_at_once_hold_her_daily_cap(
    tmp_path: Path, sandbox: Sandbox, pg_url: str
) -> None:
    """Two syncs, each with five accounts of Dana's crossing, run at the same moment on two Apps (two PostgreSQL
    connections, as two replicas would): the per-rep lock makes the second decide after the first, so Dana gets
    three alerts in all, not three from each."""
    world = World(tmp_path, sandbox, state_url=pg_url)
    try:
        second = WATCH.replace("name: pql_watch", "name: pql_watch_2")
        world.setup({"pql_watch": WATCH, "pql_watch_2": second})
        for i in range(5):
            world.account(f"c{i}", DANA.email, 50)
        assert world.app is not None
        apps = [world.app, App(world.root, world.app.environ)]
        at = START + timedelta(days=1, hours=2)
        for name in ("pql_watch", "pql_watch_2"):
            world.run(name)
        for i in range(5):
            world.account(f"c{i}", DANA.email, 90 + i)
        world.write()
        barrier = threading.Barrier(2)

        def run(app: App, name: str) -> None:
            barrier.wait()
            app.run(
                app.project.sync(name),
                app.run_options(),
                now=lambda: at.replace(tzinfo=None),
                pacing=Pacing(world.clock, world.clock.advance),
            )

        threads = [
            threading.Thread(target=run, args=(app, name))
            for app, name in zip(apps, ("pql_watch", "pql_watch_2"), strict=True)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        apps[1].close()
        received = world.alerts_to(DANA.email)
        assert len(received) == 3  # the cap, across both syncs and both connections
        with psycopg.connect(pg_url) as conn:
            sends = conn.execute("SELECT count(*) FROM alert_ledger WHERE outcome = 'send'").fetchone()
        assert sends == (3,)
    finally:
        world.close()
