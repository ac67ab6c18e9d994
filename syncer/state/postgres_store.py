"""State in PostgreSQL (``state.url: postgresql://...``): one store shared by every daemon replica.

The snapshot table lives in PostgreSQL; planning still runs in a local in-memory DuckDB workspace, into which the
sync's snapshot is streamed before each diff (DuckDB spills to disk past its memory cap).

Runs of one sync never overlap: a run holds a session advisory lock keyed by the sync's name, which PostgreSQL
releases by itself when the session ends. A run records its session (backend pid and start time) as its owner, so a
run whose session is gone from ``pg_stat_activity`` was killed, whichever replica looks.
"""

from __future__ import annotations

import hashlib
import tempfile
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pyarrow as pa

from syncer.contract.clock import naive_now
from syncer.state.base import StateStore
from syncer.state.migrations import apply_migrations
from syncer.state.records import COMMIT_SCHEMA, RunLockedError, StateUnavailableError
from syncer.state.snapshot import SqlSnapshot
from syncer.state.sql import Database, Query, Steps
from syncer.state.workspace import discard_workspace, prepare_workspace

_SNAPSHOT_BATCH = 50_000
_MIGRATION_LOCK = 7_346_001  # advisory lock id: replicas starting together migrate one at a time
# Local workspaces (spill files, plans catalogs) of every PostgreSQL-backed process on this machine.
SPILL_ROOT = Path(tempfile.gettempdir()) / "syncer-workspaces"
# This session's identity as pg_stat_activity shows it: a pid alone could be reused by a later session.
_SESSION = "pid || ':' || extract(epoch FROM backend_start)"


def sync_lock_id(sync: str) -> int:
    """The advisory lock id of ``sync``: a stable signed 64-bit hash of its name."""
    return int.from_bytes(hashlib.blake2b(f"syncer-run:{sync}".encode(), digest_size=8).digest(), "big", signed=True)


def dsn(url: str) -> str:
    """Accept SQLAlchemy-style URLs (``postgresql+psycopg://``) as well as libpq's own."""
    for prefix in ("postgresql+psycopg://", "postgresql+psycopg2://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql://" + url.removeprefix(prefix)
    return url


class PostgresDatabase(Database):
    """A connection to the PostgreSQL state (autocommit; transactions where asked)."""

    def __init__(self, url: str) -> None:
        try:
            self._conn = psycopg.connect(dsn(url), autocommit=True)
        except psycopg.Error as exc:
            raise StateUnavailableError(f"cannot reach the PostgreSQL state store: {str(exc).splitlines()[0]}") from exc
        self._held: set[str] = set()
        self._held_guard = threading.Lock()
        self._session = ""

    @property
    def connection(self) -> psycopg.Connection[tuple[Any, ...]]:
        return self._conn

    def migrate(self) -> None:
        with self._conn.transaction(), self._conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            cur.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                "description TEXT, applied_at TIMESTAMP DEFAULT current_timestamp)"
            )
            cur.execute("SELECT version FROM schema_migrations")
            applied = {int(row[0]) for row in cur.fetchall()}
            apply_migrations(cur.execute, applied, "postgres", snapshot_key=",\n            PRIMARY KEY (sync, key)")
        self._session = str(self.query(f"SELECT {_SESSION} FROM pg_stat_activity WHERE pid = pg_backend_pid()")[0][0])

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._conn.cursor() as cur:
            cur.execute(sql.replace("?", "%s"), list(params))
            return list(cur.fetchall()) if cur.description else []

    def steps(self, steps: Steps) -> None:
        with self._conn.transaction(), self._conn.cursor() as cur:
            for sql, rows in steps:
                cur.executemany(sql.replace("?", "%s"), [list(row) for row in rows])

    @contextmanager
    def transaction(self, lock_ids: Sequence[int] = ()) -> Iterator[Query]:
        """Transaction-scoped advisory locks: PostgreSQL frees them at commit or rollback, or if the session dies."""
        with self._conn.transaction(), self._conn.cursor() as cur:
            for lock_id in lock_ids:
                cur.execute("SELECT pg_advisory_xact_lock(%s)", (lock_id,))

            def query(sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
                cur.execute(sql.replace("?", "%s"), list(params))
                return list(cur.fetchall()) if cur.description else []

            yield query

    def owner(self) -> str:
        return self._session

    def gone_owner_condition(self) -> tuple[str, Sequence[Any]]:
        return (
            f"owner IS NULL OR owner NOT IN (SELECT {_SESSION} FROM pg_stat_activity WHERE backend_start IS NOT NULL)"
        ), ()

    @contextmanager
    def run_lock(self, sync: str, wait_s: float) -> Iterator[None]:
        """A session advisory lock: PostgreSQL itself waits (``lock_timeout``) and frees it if this process dies."""
        lock_id = sync_lock_id(sync)
        with self._held_guard:  # a session's advisory locks are re-entrant: keep this process's runs apart too
            if sync in self._held:
                raise RunLockedError(f"sync '{sync}' is already running in this process; try again when it finishes")
            self._held.add(sync)
        try:
            held = self._take_lock(lock_id, wait_s)
        except BaseException:
            self._release_held(sync)
            raise
        if not held:
            self._release_held(sync)
            waited = f" after waiting {wait_s:g} s" if wait_s > 0 else ""
            raise RunLockedError(
                f"sync '{sync}' is already running (another syncer process or replica holds its "
                f"lock in the PostgreSQL state){waited}; try again when it finishes"
            )
        try:
            yield
        finally:
            self._release_held(sync)
            if not self._conn.closed:
                self._conn.execute("SELECT pg_advisory_unlock(%s)", (lock_id,))

    def _release_held(self, sync: str) -> None:
        with self._held_guard:
            self._held.discard(sync)

    def _take_lock(self, lock_id: int, wait_s: float) -> bool:
        with self._conn.cursor() as cur:
            if wait_s > 0:
                try:
                    cur.execute(f"SET lock_timeout = {max(1, int(wait_s * 1000))}")
                    cur.execute("SELECT pg_advisory_lock(%s)", (lock_id,))
                    held = True
                except psycopg.errors.LockNotAvailable:
                    held = False
                finally:
                    cur.execute("RESET lock_timeout")
            else:
                cur.execute("SELECT pg_try_advisory_lock(%s)", (lock_id,))
                held = bool(cur.fetchall()[0][0])
        return held

    def close(self) -> None:
        self._conn.close()


class PostgresSnapshot(SqlSnapshot):
    """Commits upsert the snapshot on its primary key; the planner reads it streamed into the local workspace."""

    def __init__(self, db: PostgresDatabase, workspace: duckdb.DuckDBPyConnection) -> None:
        super().__init__(db)
        self._conn, self._workspace = db.connection, workspace

    def relation(self, sync: str) -> str:
        con = self._workspace
        con.execute(
            "CREATE OR REPLACE TEMP TABLE __syncer_snapshot (key VARCHAR, record_id VARCHAR, "
            "match_value VARCHAR, fields VARCHAR, row_hash BIGINT, present BOOLEAN)"
        )
        with self._conn.transaction(), self._conn.cursor(name="syncer_snapshot") as cur:
            cur.itersize = _SNAPSHOT_BATCH
            cur.execute(
                "SELECT key, record_id, match_value, fields, row_hash, present FROM snapshot WHERE sync = %s", (sync,)
            )
            while rows := cur.fetchmany(_SNAPSHOT_BATCH):
                batch = pa.Table.from_pylist(
                    [dict(zip(COMMIT_SCHEMA.names, row, strict=True)) for row in rows], schema=COMMIT_SCHEMA
                )
                con.register("__syncer_snapshot_batch", batch)
                con.execute("INSERT INTO __syncer_snapshot SELECT * FROM __syncer_snapshot_batch")
                con.unregister("__syncer_snapshot_batch")
        return "temp.__syncer_snapshot"

    def commit(self, sync: str, confirmed: pa.Table, now: datetime) -> int:
        if confirmed.num_rows == 0:
            return 0
        with self._conn.transaction(), self._conn.cursor() as cur:
            cur.execute("CREATE TEMP TABLE IF NOT EXISTS confirmed (LIKE snapshot) ON COMMIT DELETE ROWS")
            with cur.copy(
                "COPY confirmed (sync, key, record_id, match_value, fields, row_hash, present, synced_at) FROM STDIN"
            ) as copy:
                for row in confirmed.cast(COMMIT_SCHEMA).to_pylist():
                    copy.write_row(
                        (
                            sync,
                            row["key"],
                            row["record_id"],
                            row["match_value"],
                            row["fields"],
                            row["row_hash"],
                            row["present"],
                            now,
                        )
                    )
            cur.execute("""INSERT INTO snapshot SELECT * FROM confirmed
                           ON CONFLICT (sync, key) DO UPDATE SET record_id = excluded.record_id,
                             match_value = excluded.match_value, fields = excluded.fields,
                             row_hash = excluded.row_hash, present = excluded.present,
                             synced_at = excluded.synced_at""")
        return int(confirmed.num_rows)

    def flush(self, sync: str) -> None:
        """Nothing to fold: commits upsert the snapshot directly."""

    def reset(self, sync: str) -> int:
        with self._conn.cursor() as cur:
            cur.execute("DELETE FROM snapshot WHERE sync = %s", (sync,))
            return int(cur.rowcount)


class PostgresStateStore(StateStore):
    def __init__(self, url: str, memory_limit: str = "1GB", spill_root: Path = SPILL_ROOT) -> None:
        db = PostgresDatabase(url)
        workspace = duckdb.connect()
        self._workspace_dir = prepare_workspace(workspace, memory_limit, spill_root)
        db.migrate()
        super().__init__(db, PostgresSnapshot(db, workspace), workspace)
        self.runs.mark_killed(naive_now())

    def close(self) -> None:
        super().close()
        self.workspace().close()
        discard_workspace(self._workspace_dir)
