"""The embedded state store: one DuckDB file (``.syncer/state.duckdb`` by default).

The planning workspace is this same connection, so the diff joins the staged model against the snapshot table in
place without copying it (the model's own SQL never runs here: see :mod:`syncer.warehouse`). Commits append to a
journal (an append costs the same whatever the snapshot's size); the snapshot absorbs the journal in one set-based
step before it is next read. DuckDB takes a file lock: one process at a time (the daemon, or a CLI command), so
any run left ``running`` by another process when the file is opened belongs to a process that died.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from syncer.contract.clock import naive_now
from syncer.core.sql import ident
from syncer.state.base import StateStore
from syncer.state.migrations import apply_migrations
from syncer.state.records import RunLockedError, StateUnavailableError
from syncer.state.snapshot import SqlSnapshot
from syncer.state.sql import KEY_MATCH, STAGED, Database, Query, Step, Steps, select_staged
from syncer.state.workspace import discard_workspace, prepare_workspace

_COLUMNS = "sync, key, record_id, match_value, fields, row_hash, present, synced_at"
_HOLDER = re.compile(r"\(PID (\d+)\)")
# In-process locks per (state file, sync): the file lock keeps other processes out, these keep threads apart.
_RUN_LOCKS: dict[tuple[Path, str], threading.Lock] = {}
_RUN_LOCKS_GUARD = threading.Lock()


class DuckDBDatabase(Database):
    """The state's DuckDB connection (which is also the planning workspace), at ``path``."""

    def __init__(self, path: Path, con: duckdb.DuckDBPyConnection) -> None:
        self.path, self._con = path, con
        catalog = str(con.execute("SELECT current_database()").fetchall()[0][0])
        # Qualified names: the workspace may be switched to another catalog while a plan runs.
        self.names = {
            name: f"{ident(catalog)}.main.{ident(name)}"
            for name in (
                "runs",
                "row_errors",
                "snapshot",
                "snapshot_journal",
                "schema_migrations",
                "outbox",
                "alert_ledger",
                "owner_cache",
                "effects_marks",
                "trigger_crossings",
            )
        }
        self.names |= {seq: f"{catalog}.main.{seq}" for seq in ("run_ids", "journal_seq")}
        self._transaction_lock = threading.Lock()

    def migrate(self) -> None:
        self._con.execute(
            self.sql(
                "CREATE TABLE IF NOT EXISTS {schema_migrations} (version INTEGER PRIMARY KEY, "
                "description TEXT, applied_at TIMESTAMP DEFAULT current_timestamp)"
            )
        )
        applied = {int(row[0]) for row in self.query(self.sql("SELECT version FROM {schema_migrations}"))}
        self._con.execute("BEGIN")
        apply_migrations(self._con.execute, applied, "duckdb")
        self._con.execute("COMMIT")

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._con.execute(sql, list(params)).fetchall()

    def for_keys(self, sql: str, sync: str, keys: Sequence[str]) -> Step:
        # One statement with the keys as a list: DuckDB runs a statement per row slowly (a scan each time).
        return sql.replace(KEY_MATCH, "list_contains(?, key)"), [(sync, list(keys))]

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> Step:
        return f"INSERT INTO {table} ({', '.join(columns)}) SELECT * FROM __syncer_rows", _Rows(columns, rows)

    def steps(self, steps: Steps) -> None:
        self._con.execute("BEGIN")
        try:
            for sql, rows in steps:
                if isinstance(rows, _Rows):
                    self._con.register("__syncer_rows", rows.table())
                    try:
                        self._con.execute(sql)
                    finally:
                        self._con.unregister("__syncer_rows")
                else:
                    self._con.executemany(sql, [list(row) for row in rows])
            self._con.execute("COMMIT")
        except BaseException:
            self._con.execute("ROLLBACK")
            raise

    @contextmanager
    def staged(self, query: Query, columns: Sequence[tuple[str, str]], rows: Sequence[Sequence[Any]]) -> Iterator[str]:
        # An Arrow table read in place: no statement per 200 rows, no temporary table to fill and drop.
        names = [name for name, _ in columns]
        table = (
            pa.Table.from_pylist([dict(zip(names, row, strict=True)) for row in rows])
            if rows
            else pa.table({name: pa.array([], pa.string()) for name in names})
        )
        self._con.register(STAGED, table)
        try:
            yield select_staged(columns)
        finally:
            self._con.unregister(STAGED)

    @contextmanager
    def transaction(self, lock_ids: Sequence[int] = ()) -> Iterator[Query]:
        # One process holds the file: a lock per store stands in for PostgreSQL's per-rep locks (``lock_ids``).
        with self._transaction_lock:
            self._con.execute("BEGIN")
            try:
                yield self.query
                self._con.execute("COMMIT")
            except BaseException:
                self._con.execute("ROLLBACK")
                raise

    def owner(self) -> str:
        return f"pid:{os.getpid()}"

    def gone_owner_condition(self) -> tuple[str, Sequence[Any]]:
        # Holding the file lock, this process is the only one alive with the file open: other owners are gone.
        return "owner IS NULL OR owner <> ?", (self.owner(),)

    @contextmanager
    def run_lock(self, sync: str, wait_s: float) -> Iterator[None]:
        with _RUN_LOCKS_GUARD:
            lock = _RUN_LOCKS.setdefault((self.path.resolve(), sync), threading.Lock())
        acquired = lock.acquire(timeout=wait_s) if wait_s > 0 else lock.acquire(blocking=False)
        if not acquired:
            raise RunLockedError(f"sync '{sync}' is already running in this process; try again when it finishes")
        try:
            yield
        finally:
            lock.release()

    def close(self) -> None:
        self._con.close()


class DuckDBSnapshot(SqlSnapshot):
    """Commits append to a journal; the snapshot absorbs it set-wise before it is next read."""

    def __init__(self, db: DuckDBDatabase, con: duckdb.DuckDBPyConnection) -> None:
        super().__init__(db)
        self._con = con

    def relation(self, sync: str) -> str:
        self._absorb_journal(sync)
        quoted = sync.replace("'", "''")
        return self._db.sql(
            f"(SELECT key, record_id, match_value, fields, row_hash, present FROM {{snapshot}} WHERE sync = '{quoted}')"
        )

    def _before_read(self, sync: str) -> None:
        self._absorb_journal(sync)

    def commit(self, sync: str, confirmed: pa.Table, now: datetime) -> int:
        if confirmed.num_rows == 0:
            return 0
        self._con.register("__syncer_confirmed", confirmed)
        try:
            # One sequence number per commit: keys are unique within a commit, so it orders commits enough.
            seq = self._db.query(self._db.sql("SELECT nextval('{journal_seq}')"))[0][0]
            self._con.execute(
                self._db.sql(
                    f"INSERT INTO {{snapshot_journal}} (seq, {_COLUMNS}) SELECT ?, ?, key, "
                    "record_id, match_value, fields, row_hash, present, ? "
                    "FROM __syncer_confirmed"
                ),
                [seq, sync, now],
            )
        finally:
            self._con.unregister("__syncer_confirmed")
        return int(confirmed.num_rows)

    def flush(self, sync: str) -> None:
        self._absorb_journal(sync)

    def _absorb_journal(self, sync: str) -> None:
        """Move the journal's rows for ``sync`` into the snapshot, the latest per key winning, atomically."""
        sql, con = self._db.sql, self._con
        pending = self._db.query(sql("SELECT count(*) FROM {snapshot_journal} WHERE sync = ?"), [sync])
        if not pending[0][0]:
            return
        con.execute("BEGIN")
        try:
            con.execute(
                sql(
                    "CREATE OR REPLACE TEMP TABLE __syncer_latest AS SELECT * EXCLUDE (seq) "
                    "FROM {snapshot_journal} WHERE sync = ? "
                    "QUALIFY row_number() OVER (PARTITION BY key ORDER BY seq DESC) = 1"
                ),
                [sync],
            )
            con.execute(
                sql("DELETE FROM {snapshot} WHERE sync = ? AND key IN (SELECT key FROM temp.__syncer_latest)"), [sync]
            )
            con.execute(sql(f"INSERT INTO {{snapshot}} ({_COLUMNS}) SELECT {_COLUMNS} FROM temp.__syncer_latest"))
            con.execute(sql("DELETE FROM {snapshot_journal} WHERE sync = ?"), [sync])
            con.execute("DROP TABLE temp.__syncer_latest")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise

    def reset(self, sync: str) -> int:
        self._absorb_journal(sync)
        count = self._db.query(self._db.sql("SELECT count(*) FROM {snapshot} WHERE sync = ?"), [sync])
        self._con.execute(self._db.sql("DELETE FROM {snapshot} WHERE sync = ?"), [sync])
        return int(count[0][0])


class DuckDBStateStore(StateStore):
    """State in a DuckDB file at ``path`` (created with its directory when missing)."""

    def __init__(self, path: Path, memory_limit: str = "1GB") -> None:
        if path.is_dir():
            raise StateUnavailableError(f"the state path {path} is a directory; state.url must name a file")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise StateUnavailableError(
                f"cannot create the state file {path}: a file is in the way of its directory"
            ) from None
        self.path = path
        try:
            con = duckdb.connect(str(path))
        except duckdb.IOException as exc:
            raise StateUnavailableError(_lock_message(path, exc)) from exc
        except duckdb.Error as exc:
            raise StateUnavailableError(f"cannot open the state file {path}: {str(exc).splitlines()[0]}") from exc
        db = DuckDBDatabase(path, con)
        self._workspace_dir = prepare_workspace(con, memory_limit, path.parent / "tmp")
        db.migrate()
        super().__init__(db, DuckDBSnapshot(db, con), con)
        self.runs.mark_killed(naive_now())

    def close(self) -> None:
        super().close()
        discard_workspace(self._workspace_dir)


class _Rows(list[Sequence[Any]]):
    """Rows to insert in one set-based statement, read from Arrow (see :meth:`DuckDBDatabase.insert`)."""

    def __init__(self, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        super().__init__(rows)
        self.columns = list(columns)

    def table(self) -> pa.Table:
        return pa.Table.from_pylist([dict(zip(self.columns, row, strict=True)) for row in self])


def _lock_message(path: Path, exc: duckdb.Error) -> str:
    holder = _HOLDER.search(str(exc))
    by = f" (PID {holder.group(1)})" if holder else ""
    if "lock" not in str(exc).lower():
        return f"cannot open the state file {path}: {str(exc).splitlines()[0]}"
    return (
        f"the state file {path} is in use by another process{by}, most likely another syncer: a DuckDB state "
        "serves one process at a time; try again when it exits (a PostgreSQL state lets several run)"
    )
