"""The embedded state store: one DuckDB file (``.syncer/state.duckdb`` by default).

The planning workspace is this same connection, so the diff joins the model against the snapshot table in place
without copying it. DuckDB takes a file lock: one process at a time (the daemon, or a CLI command).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from syncer.core.sql import ident
from syncer.state.control import SqlStateStore
from syncer.state.migrations import apply_migrations
from syncer.state.workspace import prepare_workspace


class DuckDBStateStore(SqlStateStore):
    """State in a DuckDB file at ``path`` (created with its directory when missing)."""

    def __init__(self, path: Path, memory_limit: str = "1GB") -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._con = duckdb.connect(str(path))
        self._catalog = str(self._con.execute("SELECT current_database()").fetchall()[0][0])
        prepare_workspace(self._con, memory_limit, path.parent / "tmp")
        self._migrate()

    def _migrate(self) -> None:
        self._con.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                          "description TEXT, applied_at TIMESTAMP DEFAULT current_timestamp)")
        applied = {int(row[0]) for row in self._con.execute("SELECT version FROM schema_migrations").fetchall()}
        self._con.execute("BEGIN")
        apply_migrations(self._con.execute, applied, snapshot_key="")
        self._con.execute("COMMIT")

    def _table(self, name: str) -> str:
        return f"{ident(self._catalog)}.main.{ident(name)}"

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        # Tables are qualified with the state catalog: the workspace may have another catalog in use (the warehouse).
        sql = sql.replace(" runs", " " + self._table("runs")).replace(" row_errors", " " + self._table("row_errors"))
        sql = sql.replace(" snapshot", " " + self._table("snapshot"))
        return self._con.execute(sql, list(params)).fetchall()

    def _query_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        sql = sql.replace(" row_errors", " " + self._table("row_errors"))
        self._con.executemany(sql, [list(row) for row in rows])

    def workspace(self) -> duckdb.DuckDBPyConnection:
        return self._con

    def snapshot_relation(self, sync: str) -> str:
        quoted = sync.replace("'", "''")
        return (f"(SELECT key, record_id, match_value, fields, row_hash, present FROM {self._table('snapshot')} "
                f"WHERE sync = '{quoted}')")

    def commit(self, sync: str, confirmed: pa.Table, now: datetime) -> int:
        if confirmed.num_rows == 0:
            return 0
        snapshot = self._table("snapshot")
        self._con.register("__syncer_confirmed", confirmed)
        try:
            self._con.execute("BEGIN")
            self._con.execute(f"DELETE FROM {snapshot} WHERE sync = ? AND key IN "
                              f"(SELECT key FROM __syncer_confirmed)", [sync])
            self._con.execute(f"INSERT INTO {snapshot} (sync, key, record_id, match_value, fields, row_hash, present, "
                              f"synced_at) SELECT ?, key, record_id, match_value, fields, row_hash, present, ? "
                              f"FROM __syncer_confirmed", [sync, now])
            self._con.execute("COMMIT")
        except BaseException:
            self._con.execute("ROLLBACK")
            raise
        finally:
            self._con.unregister("__syncer_confirmed")
        return int(confirmed.num_rows)

    def reset(self, sync: str) -> int:
        count = self._con.execute(f"SELECT count(*) FROM {self._table('snapshot')} WHERE sync = ?", [sync]).fetchall()
        self._con.execute(f"DELETE FROM {self._table('snapshot')} WHERE sync = ?", [sync])
        return int(count[0][0])

    def close(self) -> None:
        self._con.close()
