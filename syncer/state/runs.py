"""The run log: one row per run of a sync (started, how it ended, its counts), and the lock that keeps a sync's
runs from overlapping."""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import AbstractContextManager
from datetime import datetime
from typing import TYPE_CHECKING

from syncer.state.records import FINISHED_STATUSES, RunRecord, RunStatus
from syncer.state.sql import Database, placeholders

if TYPE_CHECKING:  # the plan module loads pyarrow; opening the state must not
    from syncer.core.plan import ChangeCounts

_RUN_COLUMNS = (
    "id, sync, dry_run, status, started_at, finished_at, model_rows, creates, updates, clears, "
    "unchanged, rejected, error, parked"
)
KILLED_MESSAGE = "the process running it died (killed, or the machine stopped); found when the state was next opened"


class RunLog(ABC):
    """What each run of each sync did. Times are naive UTC (:func:`syncer.contract.clock.naive_utc`)."""

    @abstractmethod
    def start(self, sync: str, *, dry_run: bool, now: datetime) -> int:
        """Record a run as :attr:`RunStatus.RUNNING`, owned by this process (or session); return its id."""

    @abstractmethod
    def finish(
        self,
        run_id: int,
        status: RunStatus,
        now: datetime,
        model_rows: int | None = None,
        counts: ChangeCounts | None = None,
        rejected: int | None = None,
        error: str | None = None,
        parked: int | None = None,
    ) -> None:
        """Record how a run ended; ``parked``: rows it skipped because their delivery is parked."""

    @abstractmethod
    def mark_killed(self, now: datetime) -> list[int]:
        """Mark as :attr:`RunStatus.KILLED` every running run whose owner (process, or PostgreSQL session) is gone;
        return their ids. Stores call it when they open; a daemon may call it on its own schedule."""

    @abstractmethod
    def recent(self, sync: str | None = None, limit: int = 20) -> list[RunRecord]:
        """The latest runs of ``sync`` (of every sync when None), most recent first."""

    @abstractmethod
    def has_finished(self, sync: str) -> bool:
        """Whether a run of ``sync`` (not a dry run) ever ran to its end (succeeded or partial)."""

    @abstractmethod
    def lock(self, sync: str, wait_s: float) -> AbstractContextManager[None]:
        """Hold the lock of ``sync`` for a run: waits up to ``wait_s`` seconds for a run elsewhere to finish, then
        raises :class:`syncer.state.records.RunLockedError`. Released on exit, or when the holding process dies."""


class SqlRunLog(RunLog):
    """:class:`RunLog` in the ``runs`` table; the lock and who owns a run are the backend's."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def start(self, sync: str, *, dry_run: bool, now: datetime) -> int:
        db = self._db
        run_id = int(db.query(db.sql("SELECT nextval('{run_ids}')"))[0][0])
        db.query(
            db.sql("INSERT INTO {runs} (id, sync, dry_run, status, started_at, owner) VALUES (?, ?, ?, ?, ?, ?)"),
            (run_id, sync, dry_run, RunStatus.RUNNING.value, now, db.owner()),
        )
        return run_id

    def finish(
        self,
        run_id: int,
        status: RunStatus,
        now: datetime,
        model_rows: int | None = None,
        counts: ChangeCounts | None = None,
        rejected: int | None = None,
        error: str | None = None,
        parked: int | None = None,
    ) -> None:
        from syncer.core.plan import ChangeCounts

        c = counts or ChangeCounts()
        self._db.query(
            self._db.sql(
                "UPDATE {runs} SET status = ?, finished_at = ?, model_rows = ?, creates = ?, updates = ?, "
                "clears = ?, unchanged = ?, rejected = ?, error = ?, parked = ? WHERE id = ?"
            ),
            (
                RunStatus(status).value,
                now,
                model_rows,
                c.create,
                c.update,
                c.clear,
                c.unchanged,
                rejected,
                error,
                parked,
                run_id,
            ),
        )

    def mark_killed(self, now: datetime) -> list[int]:
        db = self._db
        condition, params = db.gone_owner_condition()
        ids = [
            int(row[0])
            for row in db.query(
                db.sql(f"SELECT id FROM {{runs}} WHERE status = ? AND ({condition})"),
                (RunStatus.RUNNING.value, *params),
            )
        ]
        if ids:
            db.steps(
                [
                    (
                        db.sql("UPDATE {runs} SET status = ?, finished_at = ?, error = ? WHERE id = ?"),
                        [(RunStatus.KILLED.value, now, KILLED_MESSAGE, run_id) for run_id in ids],
                    )
                ]
            )
        return ids

    def recent(self, sync: str | None = None, limit: int = 20) -> list[RunRecord]:
        where, params = ("WHERE sync = ?", (sync,)) if sync else ("", ())
        rows = self._db.query(
            self._db.sql(f"SELECT {_RUN_COLUMNS} FROM {{runs}} {where} ORDER BY id DESC LIMIT {int(limit)}"), params
        )
        return [RunRecord(*row) for row in rows]

    def has_finished(self, sync: str) -> bool:
        statuses = [s.value for s in FINISHED_STATUSES]
        rows = self._db.query(
            self._db.sql(
                f"SELECT count(*) FROM {{runs}} WHERE sync = ? AND NOT dry_run AND status IN ({placeholders(statuses)})"
            ),
            (sync, *statuses),
        )
        return bool(rows[0][0])

    def lock(self, sync: str, wait_s: float) -> AbstractContextManager[None]:
        return self._db.run_lock(sync, wait_s)
