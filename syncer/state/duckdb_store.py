"""The embedded state store: one DuckDB file (``.syncer/state.duckdb`` by default).

The planning workspace is this same connection, so the diff joins the model against the snapshot table in place
without copying it. Commits append to a journal (an append costs the same whatever the snapshot's size); the
snapshot absorbs the journal in one set-based step before it is next read. DuckDB takes a file lock: one process
at a time (the daemon, or a CLI command).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from syncer.core.sql import ident
from syncer.state.base import StateUnavailableError
from syncer.state.control import SqlStateStore
from syncer.state.migrations import apply_migrations
from syncer.state.workspace import discard_plans_file, prepare_workspace

_COLUMNS = "sync, key, record_id, match_value, fields, row_hash, present, synced_at"


class DuckDBStateStore(SqlStateStore):
    """State in a DuckDB file at ``path`` (created with its directory when missing)."""

    def __init__(self, path: Path, memory_limit: str = "1GB") -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        try:
            self._con = duckdb.connect(str(path))
        except duckdb.IOException as exc:
            # DuckDB allows one writing process per file; its message names the process holding the lock.
            detail = str(exc).splitlines()[0]
            raise StateUnavailableError(f"the state file {path} is in use by another process: {detail}") from exc
        catalog = str(self._con.execute("SELECT current_database()").fetchall()[0][0])
        # Qualified names: while a plan runs, the warehouse is the connection's default catalog.
        self.names = {name: f"{ident(catalog)}.main.{ident(name)}"
                      for name in ("runs", "row_errors", "snapshot", "snapshot_journal", "schema_migrations")}
        self.names |= {seq: f"{catalog}.main.{seq}" for seq in ("run_ids", "journal_seq")}
        self._plans_file = prepare_workspace(self._con, memory_limit, path.parent / "tmp")
        self._migrate()

    def _migrate(self) -> None:
        self._con.execute(self._sql("CREATE TABLE IF NOT EXISTS {schema_migrations} (version INTEGER PRIMARY KEY, "
                                    "description TEXT, applied_at TIMESTAMP DEFAULT current_timestamp)"))
        applied = {int(row[0]) for row in self._query(self._sql("SELECT version FROM {schema_migrations}"))}
        self._con.execute("BEGIN")
        apply_migrations(self._con.execute, applied, "duckdb")
        self._con.execute("COMMIT")

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._con.execute(sql, list(params)).fetchall()

    def _query_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self._con.executemany(sql, [list(row) for row in rows])

    def workspace(self) -> duckdb.DuckDBPyConnection:
        return self._con

    def snapshot_relation(self, sync: str) -> str:
        self._absorb_journal(sync)
        quoted = sync.replace("'", "''")
        return self._sql("(SELECT key, record_id, match_value, fields, row_hash, present FROM {snapshot} "
                         f"WHERE sync = '{quoted}')")

    def snapshot_size(self, sync: str) -> int:
        self._absorb_journal(sync)
        return super().snapshot_size(sync)

    def commit(self, sync: str, confirmed: pa.Table, now: datetime) -> int:
        if confirmed.num_rows == 0:
            return 0
        self._con.register("__syncer_confirmed", confirmed)
        try:
            # One sequence number per commit: keys are unique within a commit, so it orders commits enough.
            seq = self._query(self._sql("SELECT nextval('{journal_seq}')"))[0][0]
            self._con.execute(self._sql(f"INSERT INTO {{snapshot_journal}} (seq, {_COLUMNS}) SELECT ?, ?, key, "
                                        "record_id, match_value, fields, row_hash, present, ? FROM __syncer_confirmed"),
                              [seq, sync, now])
        finally:
            self._con.unregister("__syncer_confirmed")
        return int(confirmed.num_rows)

    def flush(self, sync: str) -> None:
        self._absorb_journal(sync)

    def _absorb_journal(self, sync: str) -> None:
        """Move the journal's rows for ``sync`` into the snapshot, the latest per key winning, atomically."""
        pending = self._query(self._sql("SELECT count(*) FROM {snapshot_journal} WHERE sync = ?"), [sync])
        if not pending[0][0]:
            return
        self._con.execute("BEGIN")
        try:
            self._con.execute(self._sql(
                "CREATE OR REPLACE TEMP TABLE __syncer_latest AS SELECT * EXCLUDE (seq) FROM {snapshot_journal} "
                "WHERE sync = ? QUALIFY row_number() OVER (PARTITION BY key ORDER BY seq DESC) = 1"), [sync])
            self._con.execute(self._sql("DELETE FROM {snapshot} WHERE sync = ? AND key IN "
                                        "(SELECT key FROM temp.__syncer_latest)"), [sync])
            self._con.execute(self._sql(f"INSERT INTO {{snapshot}} ({_COLUMNS}) SELECT {_COLUMNS} "
                                        "FROM temp.__syncer_latest"))
            self._con.execute(self._sql("DELETE FROM {snapshot_journal} WHERE sync = ?"), [sync])
            self._con.execute("DROP TABLE temp.__syncer_latest")
            self._con.execute("COMMIT")
        except BaseException:
            self._con.execute("ROLLBACK")
            raise

    def reset(self, sync: str) -> int:
        self._absorb_journal(sync)
        count = self._query(self._sql("SELECT count(*) FROM {snapshot} WHERE sync = ?"), [sync])
        self._con.execute(self._sql("DELETE FROM {snapshot} WHERE sync = ?"), [sync])
        return int(count[0][0])

    def close(self) -> None:
        self._con.close()
        discard_plans_file(self._plans_file)
