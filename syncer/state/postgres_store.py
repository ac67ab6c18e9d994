"""State in PostgreSQL (``state.url: postgresql://...``): one store shared by every daemon replica.

The snapshot table lives in PostgreSQL; planning still runs in a local in-memory DuckDB workspace, into which the
sync's snapshot is streamed before each diff (DuckDB spills to disk past its memory cap).
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pyarrow as pa

from syncer.state.base import COMMIT_SCHEMA, StateUnavailableError
from syncer.state.control import SqlStateStore
from syncer.state.migrations import apply_migrations
from syncer.state.workspace import prepare_workspace

_SNAPSHOT_BATCH = 50_000
_MIGRATION_LOCK = 7_346_001  # advisory lock id: replicas starting together migrate one at a time


def _dsn(url: str) -> str:
    """Accept SQLAlchemy-style URLs (``postgresql+psycopg://``) as well as libpq's own."""
    for prefix in ("postgresql+psycopg://", "postgresql+psycopg2://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql://" + url.removeprefix(prefix)
    return url


class PostgresStateStore(SqlStateStore):
    def __init__(self, url: str, memory_limit: str = "1GB") -> None:
        try:
            self._conn = psycopg.connect(_dsn(url), autocommit=True)
        except psycopg.OperationalError as exc:
            raise StateUnavailableError(f"cannot reach the PostgreSQL state store: {str(exc).splitlines()[0]}") from exc
        self._workspace = duckdb.connect()
        self._spill = tempfile.TemporaryDirectory(prefix="syncer-")
        prepare_workspace(self._workspace, memory_limit, Path(self._spill.name))
        self._migrate()

    def _migrate(self) -> None:
        with self._conn.transaction(), self._conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            cur.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                        "description TEXT, applied_at TIMESTAMP DEFAULT current_timestamp)")
            cur.execute("SELECT version FROM schema_migrations")
            applied = {int(row[0]) for row in cur.fetchall()}
            apply_migrations(cur.execute, applied, "postgres", snapshot_key=",\n            PRIMARY KEY (sync, key)")

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._conn.cursor() as cur:
            cur.execute(sql.replace("?", "%s"), list(params))
            return list(cur.fetchall()) if cur.description else []

    def _query_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with self._conn.transaction(), self._conn.cursor() as cur:
            cur.executemany(sql.replace("?", "%s"), [list(row) for row in rows])

    def workspace(self) -> duckdb.DuckDBPyConnection:
        return self._workspace

    def snapshot_relation(self, sync: str) -> str:
        con = self._workspace
        con.execute("CREATE OR REPLACE TEMP TABLE __syncer_snapshot (key VARCHAR, record_id VARCHAR, "
                    "match_value VARCHAR, fields VARCHAR, row_hash BIGINT, present BOOLEAN)")
        with self._conn.transaction(), self._conn.cursor(name="syncer_snapshot") as cur:
            cur.itersize = _SNAPSHOT_BATCH
            cur.execute("SELECT key, record_id, match_value, fields, row_hash, present FROM snapshot "
                        "WHERE sync = %s", (sync,))
            while rows := cur.fetchmany(_SNAPSHOT_BATCH):
                batch = pa.Table.from_pylist([dict(zip(COMMIT_SCHEMA.names, row, strict=True)) for row in rows],
                                             schema=COMMIT_SCHEMA)
                con.register("__syncer_snapshot_batch", batch)
                con.execute("INSERT INTO __syncer_snapshot SELECT * FROM __syncer_snapshot_batch")
                con.unregister("__syncer_snapshot_batch")
        return "temp.__syncer_snapshot"

    def commit(self, sync: str, confirmed: pa.Table, now: datetime) -> int:
        if confirmed.num_rows == 0:
            return 0
        with self._conn.transaction(), self._conn.cursor() as cur:
            cur.execute("CREATE TEMP TABLE IF NOT EXISTS confirmed (LIKE snapshot) ON COMMIT DELETE ROWS")
            with cur.copy("COPY confirmed (sync, key, record_id, match_value, fields, row_hash, present, synced_at) "
                          "FROM STDIN") as copy:
                for row in confirmed.cast(COMMIT_SCHEMA).to_pylist():
                    copy.write_row((sync, row["key"], row["record_id"], row["match_value"], row["fields"],
                                    row["row_hash"], row["present"], now))
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

    def close(self) -> None:
        self._conn.close()
        self._workspace.close()
        self._spill.cleanup()
