"""Run history and row errors over any SQL backend: the half of a state store that is the same everywhere.

Subclasses provide :meth:`SqlStateStore._query` (``?`` placeholders), :meth:`SqlStateStore._steps` (statements in
one transaction), :meth:`EffectsStore._transaction` (reads and writes in one transaction under locks), who owns
a run (:meth:`SqlStateStore._owner`) and which owners are gone, and the snapshot half.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from syncer.core.plan import ChangeCounts
from syncer.state.base import ErrorStage, RowErrorInput, RowErrorRecord, RunRecord, RunStatus, StateStore

_RUN_COLUMNS = ("id, sync, dry_run, status, started_at, finished_at, model_rows, creates, updates, clears, "
                "unchanged, rejected, error")
_ERROR_COLUMNS = ("sync", "key", "code", "message", "stage", "attempts", "first_seen", "last_seen", "last_run_id",
                  "parked")
KILLED_MESSAGE = "the process running it died (killed, or the machine stopped); found when the state was next opened"

Step = tuple[str, Sequence[Sequence[Any]]]
Steps = Sequence[Step]
KEY_MATCH = "__KEY_MATCH__"  # in a statement given to _for_keys: where the key condition goes


class SqlStateStore(StateStore):
    """Implements the control-store methods of :class:`StateStore` with portable SQL (the effects tables through
    :class:`syncer.state.effects_store.EffectsStore`).

    Statements name tables and sequences as ``{runs}``, ``{row_errors}``, ``{snapshot}``, ``{run_ids}``; a backend
    maps them to the names it needs (DuckDB qualifies them with the state catalog) through :attr:`names`.
    """

    names: dict[str, str] = {name: name for name in ("runs", "row_errors", "snapshot", "run_ids", "schema_migrations",
                                                     "outbox", "alert_ledger", "owner_cache", "effects_marks")}

    def _sql(self, template: str) -> str:
        return template.format(**self.names)

    @abstractmethod
    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one statement in its own transaction; return its rows (empty for statements without)."""

    @abstractmethod
    def _steps(self, steps: Steps) -> None:
        """Run each ``(statement, parameter rows)`` for every row, all in one transaction."""

    def _for_keys(self, sql: str, sync: str, keys: Sequence[str]) -> Step:
        """``sql`` (parameters: sync, then the key condition's) run for every key in ``keys``, as one step.

        Portable: once per key. A backend where one statement per row is slow matches a list parameter instead.
        """
        return sql.replace(KEY_MATCH, "key = ?"), [(sync, key) for key in keys]

    def _insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> Step:
        """A step inserting ``rows`` into ``table``; portable: one statement per row."""
        return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})", rows

    @abstractmethod
    def _owner(self) -> str:
        """Who runs a run started now: this process, or this PostgreSQL session."""

    @abstractmethod
    def _gone_owner_condition(self) -> tuple[str, Sequence[Any]]:
        """A condition on ``{runs}`` rows (and its parameters) true when the run's owner is gone."""

    # Runs

    def start_run(self, sync: str, dry_run: bool, now: datetime) -> int:
        run_id = int(self._query(self._sql("SELECT nextval('{run_ids}')"))[0][0])
        self._query(self._sql("INSERT INTO {runs} (id, sync, dry_run, status, started_at, owner) "
                              "VALUES (?, ?, ?, 'running', ?, ?)"),
                    (run_id, sync, dry_run, now, self._owner()))
        return run_id

    def finish_run(self, run_id: int, status: RunStatus, now: datetime, model_rows: int | None = None,
                   counts: ChangeCounts | None = None, rejected: int | None = None, error: str | None = None) -> None:
        c = counts or ChangeCounts()
        self._query(
            self._sql("UPDATE {runs} SET status = ?, finished_at = ?, model_rows = ?, creates = ?, updates = ?, "
                      "clears = ?, unchanged = ?, rejected = ?, error = ? WHERE id = ?"),
            (status, now, model_rows, c.create, c.update, c.clear, c.unchanged, rejected, error, run_id))

    def mark_killed(self, now: datetime) -> list[int]:
        condition, params = self._gone_owner_condition()
        ids = [int(row[0]) for row in self._query(
            self._sql(f"SELECT id FROM {{runs}} WHERE status = 'running' AND ({condition})"), params)]
        if ids:
            self._steps([(self._sql("UPDATE {runs} SET status = ?, finished_at = ?, error = ? WHERE id = ?"),
                          [(RunStatus.KILLED.value, now, KILLED_MESSAGE, run_id) for run_id in ids])])
        return ids

    def runs(self, sync: str | None = None, limit: int = 20) -> list[RunRecord]:
        where, params = ("WHERE sync = ?", (sync,)) if sync else ("", ())
        query = f"SELECT {_RUN_COLUMNS} FROM {{runs}} {where} ORDER BY id DESC LIMIT {int(limit)}"
        rows = self._query(self._sql(query), params)
        return [RunRecord(*row) for row in rows]

    def has_finished_run(self, sync: str) -> bool:
        """Whether a run of ``sync`` (not a dry run) ever ran to its end (succeeded or partial)."""
        rows = self._query(self._sql("SELECT count(*) FROM {runs} WHERE sync = ? AND NOT dry_run "
                                     "AND status IN ('succeeded', 'partial')"), (sync,))
        return bool(rows[0][0])

    # Row errors: one row per (sync, key)

    def note_row_errors(self, run_id: int, sync: str, errors: Sequence[RowErrorInput], now: datetime,
                        park_after: int) -> None:
        latest = {error.key: error for error in errors}  # a key noted twice in one run counts once, the last wins
        if not latest:
            return
        known = {row[0]: (int(row[1]), row[2], bool(row[3])) for row in self._query(
            self._sql("SELECT key, attempts, first_seen, parked FROM {row_errors} WHERE sync = ?"), (sync,))}
        rows = []
        for key, error in latest.items():
            attempts, first_seen, parked = known.get(key, (0, now, False))
            attempts += 1
            parked = parked or (error.stage == ErrorStage.DELIVER and attempts >= park_after)
            rows.append((sync, key, error.code, error.message, error.stage, attempts, first_seen, now, run_id, parked))
        self._steps([*self._deleting(sync, [key for key in latest if key in known]),
                     self._insert(self._sql("{row_errors}"), _ERROR_COLUMNS, rows)])

    def _deleting(self, sync: str, keys: Sequence[str | None]) -> Steps:
        steps: list[Step] = []
        present = [key for key in keys if key is not None]
        if present:
            steps.append(self._for_keys(self._sql(f"DELETE FROM {{row_errors}} WHERE sync = ? AND {KEY_MATCH}"), sync,
                                        present))
        if None in keys:  # the null-key group: NULL never equals NULL
            steps.append((self._sql("DELETE FROM {row_errors} WHERE sync = ? AND key IS NULL"), [(sync,)]))
        return steps

    def settle_plan_errors(self, sync: str, run_id: int) -> int:
        where = "WHERE sync = ? AND stage = ? AND last_run_id <> ?"
        params = (sync, ErrorStage.PLAN.value, run_id)
        count = int(self._query(self._sql(f"SELECT count(*) FROM {{row_errors}} {where}"), params)[0][0])
        if count:
            self._query(self._sql(f"DELETE FROM {{row_errors}} {where}"), params)
        return count

    def resolve_row_errors(self, sync: str, keys: Sequence[str]) -> None:
        steps = self._deleting(sync, list(dict.fromkeys(keys)))
        if steps:
            self._steps(steps)

    def row_error_list(self, sync: str, limit: int = 100, parked: bool | None = None) -> list[RowErrorRecord]:
        where, params = ("", (sync,)) if parked is None else (" AND parked = ?", (sync, parked))
        rows = self._query(self._sql(f"SELECT {', '.join(_ERROR_COLUMNS)} FROM {{row_errors}} WHERE sync = ?{where} "
                                     f"ORDER BY last_seen DESC, key NULLS FIRST LIMIT {int(limit)}"), params)
        return [RowErrorRecord(row[0], row[1], row[2], row[3], row[4], int(row[5]), row[6], row[7], int(row[8]),
                               bool(row[9])) for row in rows]

    def parked_keys(self, sync: str) -> set[str]:
        rows = self._query(self._sql("SELECT key FROM {row_errors} WHERE sync = ? AND parked AND key IS NOT NULL"),
                           (sync,))
        return {str(row[0]) for row in rows}

    def requeue_parked(self, sync: str, keys: Sequence[str] | None = None) -> int:
        parked = self.parked_keys(sync)
        chosen = sorted(parked if keys is None else parked & set(keys))
        if chosen:
            self._steps([self._for_keys(self._sql(f"UPDATE {{row_errors}} SET parked = FALSE, attempts = 0 "
                                                  f"WHERE sync = ? AND {KEY_MATCH}"), sync, chosen)])
        return len(chosen)

    def row_errors(self, sync: str, limit: int = 100) -> list[tuple[str | None, str, datetime]]:
        latest = "(SELECT max(last_run_id) FROM {row_errors} WHERE sync = ?)"
        rows = self._query(self._sql(
            f"SELECT key, message, last_seen FROM {{row_errors}} WHERE sync = ? AND last_run_id = {latest} "
            f"ORDER BY key NULLS FIRST LIMIT {int(limit)}"), (sync, sync))
        return [(row[0], row[1], row[2]) for row in rows]

    # Schema and snapshot counts

    def schema_versions(self) -> list[int]:
        """The migrations applied to this store, in order."""
        return [int(row[0]) for row in self._query(self._sql("SELECT version FROM {schema_migrations} ORDER BY 1"))]

    def snapshot_size(self, sync: str) -> int:
        return int(self._query(self._sql("SELECT count(*) FROM {snapshot} WHERE sync = ? AND present"), (sync,))[0][0])

    def record_ids(self, sync: str, keys: Sequence[str]) -> dict[str, str]:
        """``{key: destination record id}`` for the keys of ``sync`` the snapshot holds with an id."""
        found: dict[str, str] = {}
        sql = self._sql("SELECT record_id FROM {snapshot} WHERE sync = ? AND key = ? AND record_id IS NOT NULL")
        self._before_snapshot_read(sync)
        for key in dict.fromkeys(keys):
            for (record_id,) in self._query(sql, (sync, key)):
                found[key] = str(record_id)
        return found

    def _before_snapshot_read(self, sync: str) -> None:
        """A backend whose commits wait in a journal folds them into the snapshot here."""
