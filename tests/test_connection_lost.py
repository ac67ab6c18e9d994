"""A connection dropping mid-run ends ``syncer run`` with one line and exit 1, never a traceback.

A real ``syncer run`` subprocess on a PostgreSQL state; the test terminates the server backends of that run
(``pg_terminate_backend`` on every session of the run's database) while the run is surely in the middle of it:
the state's during a slow delivery (the HubSpot sandbox answers each batch after a second), the warehouse's while
its model query sleeps (the state still answers then, so that run is recorded as failed, not killed).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import psycopg

from connectors.sandbox import Sandbox
from connectors.sandbox.core.faults import FaultRule
from syncer.state import open_state
from tests.daemon.procs import ENVIRONMENT, SYNCER, free_port, hubspot_mapping, poll, project_yaml, write_project
from tests.pgserver import PgServer

UPSERTS = "/crm/v3/objects/companies/batch/upsert"


def terminate_sessions(admin_url: str, database: str) -> int:
    """End every session on ``database`` (as an administrator or a failover would); how many there were."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (database,),
        ).fetchall()
    return len(rows)


def sessions_running(admin_url: str, database: str, query_like: str) -> bool:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND state = 'active' "
            "AND query LIKE %s AND pid <> pg_backend_pid()",
            (database, query_like),
        ).fetchall()
    return int(rows[0][0]) > 0


def start_run(root: Path, sync: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [SYNCER, "run", sync, "--project", str(root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **ENVIRONMENT, "COLUMNS": "200"},
    )


def assert_one_line(process: subprocess.Popen[str], expected: str) -> str:
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 1, (stdout, stderr)
    assert "Traceback" not in stdout + stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and expected in lines[0], stderr
    return lines[0]


def test_the_state_store_dying_mid_run_is_one_line_and_the_run_is_marked_killed(
    tmp_path: Path, sandbox: Sandbox, pg_server: PgServer
) -> None:
    state_url = pg_server.new_database("lost_state")
    root = write_project(
        tmp_path / "project",
        project_yaml(sandbox, state_url, free_port()),
        {"slow": hubspot_mapping("slow", "every 1h")},
        accounts=500,
    )
    sandbox.hubspot.set_faults([FaultRule(route=f"POST {UPSERTS}", latency_ms=1000)])  # 5 batches, 1 s each
    seen = len(sandbox.hubspot.log.entries())
    running = start_run(root, "slow")
    poll(lambda: any(e.path == UPSERTS for e in sandbox.hubspot.log.entries()[seen:]), 30, "the first batch")
    assert terminate_sessions(pg_server.url, "lost_state") >= 1
    line = assert_one_line(running, "lost the state store connection")
    assert line.endswith("; the run will be marked killed"), line
    store = open_state(state_url, root)  # opening the state marks the run whose session is gone as killed
    try:
        assert store.runs.recent("slow", limit=1)[0].status == "killed"
    finally:
        store.close()


def test_the_warehouse_dying_mid_read_is_one_line(tmp_path: Path, sandbox: Sandbox, pg_server: PgServer) -> None:
    state_url = pg_server.new_database("lost_wh_state")
    warehouse_url = pg_server.new_database("lost_warehouse")
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE scored_accounts AS SELECT 'a' || i AS account_id, i * 1.0 AS pql_score, "
            "'warm' AS pql_tier FROM generate_series(1, 50) AS i"
        )
    project = project_yaml(sandbox, state_url, free_port()).replace(
        "url: duckdb:///warehouse.duckdb", "url: " + warehouse_url.replace("postgresql://", "postgresql+psycopg://")
    )
    model = 'sql: "SELECT a.* FROM scored_accounts a CROSS JOIN (SELECT pg_sleep(3)) AS slow_read"'
    root = write_project(tmp_path / "project", project, {"wh": hubspot_mapping("wh", "every 1h", model)}, accounts=5)
    running = start_run(root, "wh")
    # The model is read through a server-side cursor: its sleep runs inside the first FETCH.
    poll(lambda: sessions_running(pg_server.url, "lost_warehouse", "FETCH%"), 30, "the model query")
    assert terminate_sessions(pg_server.url, "lost_warehouse") >= 1
    # The state still answers, so the run is recorded as failed, with the driver's reason, on one line.
    assert_one_line(running, "wh: the warehouse could not run the model: terminating connection due to administrator")
    store = open_state(state_url, root)
    try:
        last = store.runs.recent("wh", limit=1)[0]
    finally:
        store.close()
    assert last.status == "failed" and "terminating connection" in str(last.error), last
