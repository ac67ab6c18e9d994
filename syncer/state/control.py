"""Run history and row errors over any SQL backend: the half of a state store that is the same everywhere.

Subclasses provide :meth:`SqlStateStore._query` (``?`` placeholders) and the snapshot half.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from syncer.core.plan import ChangeCounts, RejectedRow
from syncer.state.base import RunRecord, RunStatus, StateStore

_RUN_COLUMNS = ("id, sync, dry_run, status, started_at, finished_at, model_rows, creates, updates, clears, "
                "unchanged, rejected, error")


class SqlStateStore(StateStore):
    """Implements the control-store methods of :class:`StateStore` with portable SQL.

    Statements name tables and sequences as ``{runs}``, ``{row_errors}``, ``{snapshot}``, ``{run_ids}``; a backend
    maps them to the names it needs (DuckDB qualifies them with the state catalog, since the planning workspace
    may have another catalog in use) through :attr:`names`.
    """

    names: dict[str, str] = {name: name for name in ("runs", "row_errors", "snapshot", "run_ids", "schema_migrations")}

    def _sql(self, template: str) -> str:
        return template.format(**self.names)

    @abstractmethod
    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one statement in its own transaction; return its rows (empty for statements without)."""

    @abstractmethod
    def _query_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one statement for every parameter row, in one transaction."""

    def start_run(self, sync: str, dry_run: bool, now: datetime) -> int:
        run_id = int(self._query(self._sql("SELECT nextval('{run_ids}')"))[0][0])
        self._query(self._sql("INSERT INTO {runs} (id, sync, dry_run, status, started_at) "
                              "VALUES (?, ?, ?, 'running', ?)"),
                    (run_id, sync, dry_run, now))
        return run_id

    def finish_run(self, run_id: int, status: RunStatus, now: datetime, model_rows: int | None = None,
                   counts: ChangeCounts | None = None, rejected: int | None = None, error: str | None = None) -> None:
        c = counts or ChangeCounts()
        self._query(
            self._sql("UPDATE {runs} SET status = ?, finished_at = ?, model_rows = ?, creates = ?, updates = ?, "
                      "clears = ?, unchanged = ?, rejected = ?, error = ? WHERE id = ?"),
            (status, now, model_rows, c.create, c.update, c.clear, c.unchanged, rejected, error, run_id))

    def record_row_errors(self, run_id: int, sync: str, rows: Sequence[RejectedRow], now: datetime) -> None:
        if rows:
            self._query_many(self._sql("INSERT INTO {row_errors} (run_id, sync, key, reason, noted_at) "
                                       "VALUES (?, ?, ?, ?, ?)"),
                             [(run_id, sync, row.key, row.reason, now) for row in rows])

    def runs(self, sync: str | None = None, limit: int = 20) -> list[RunRecord]:
        where, params = ("WHERE sync = ?", (sync,)) if sync else ("", ())
        query = f"SELECT {_RUN_COLUMNS} FROM {{runs}} {where} ORDER BY id DESC LIMIT {int(limit)}"
        rows = self._query(self._sql(query), params)
        return [RunRecord(*row) for row in rows]

    def row_errors(self, sync: str, limit: int = 100) -> list[tuple[str | None, str, datetime]]:
        latest = self._query(self._sql("SELECT max(run_id) FROM {row_errors} WHERE sync = ?"), (sync,))
        if not latest or latest[0][0] is None:
            return []
        rows = self._query(self._sql(f"SELECT key, reason, noted_at FROM {{row_errors}} WHERE sync = ? AND run_id = ? "
                                     f"ORDER BY key NULLS FIRST LIMIT {int(limit)}"), (sync, latest[0][0]))
        return [(row[0], row[1], row[2]) for row in rows]

    def schema_versions(self) -> list[int]:
        """The migrations applied to this store, in order."""
        return [int(row[0]) for row in self._query(self._sql("SELECT version FROM {schema_migrations} ORDER BY 1"))]

    def snapshot_size(self, sync: str) -> int:
        return int(self._query(self._sql("SELECT count(*) FROM {snapshot} WHERE sync = ? AND present"), (sync,))[0][0])
