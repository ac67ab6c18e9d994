"""Row errors: one row per failing ``(sync, key)``, with its attempts, and parking of keys that keep failing."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import datetime

from syncer.state.records import ErrorStage, ReasonGroup, RowErrorInput, RowErrorRecord
from syncer.state.sql import KEY_MATCH, Database, Step, Steps

_ERROR_COLUMNS = (
    "sync",
    "key",
    "code",
    "message",
    "stage",
    "attempts",
    "first_seen",
    "last_seen",
    "last_run_id",
    "parked",
)


class RowErrorLog(ABC):
    """What RevOps acts on: which keys of a sync fail, why, since when, and which are parked."""

    @abstractmethod
    def note(self, run_id: int, sync: str, errors: Sequence[RowErrorInput], now: datetime, park_after: int) -> None:
        """Upsert one row per ``(sync, key)``: ``attempts`` + 1, ``last_seen = now``, the latest code and message.

        A delivery error parks its key once ``attempts`` reaches ``park_after`` (the executor skips parked keys
        until :meth:`requeue`); plan rejections are re-evaluated every run and never park.
        """

    @abstractmethod
    def settle_plan(self, sync: str, run_id: int) -> int:
        """Drop plan rejections of ``sync`` not noted by ``run_id``: the planner re-checks every row each run, so a
        key it did not reject again became valid (or left the model). Return how many."""

    @abstractmethod
    def resolve(self, sync: str, keys: Sequence[str]) -> None:
        """Forget the errors of ``keys`` (confirmed by the destination, or valid again)."""

    @abstractmethod
    def records(self, sync: str, limit: int = 100, *, parked: bool | None = None) -> list[RowErrorRecord]:
        """The failing keys of ``sync``, most recently seen first; only parked (or unparked) ones when asked."""

    @abstractmethod
    def count(self, sync: str, *, parked: bool | None = None) -> int:
        """How many keys of ``sync`` fail (only parked, or unparked, ones when asked): the total a listing is of."""

    @abstractmethod
    def by_reason(
        self, sync: str, examples: int = 3, *, parked: bool | None = None, limit: int = 100
    ) -> list[ReasonGroup]:
        """The failing keys of ``sync`` grouped by stage, code and message, the largest group first (at most
        ``limit`` groups), each with its count, how many of it are parked, and its first ``examples`` keys."""

    @abstractmethod
    def parked_keys(self, sync: str) -> set[str]:
        """Keys of ``sync`` whose delivery is parked."""

    @abstractmethod
    def requeue(self, sync: str, keys: Sequence[str] | None = None) -> int:
        """Unpark ``keys`` (every parked key when None), their attempts back to 0; return how many."""

    @abstractmethod
    def latest_run(self, sync: str, limit: int = 100) -> list[tuple[str | None, str, datetime]]:
        """The row errors noted by the latest run of ``sync`` that noted any: ``(key, message, last seen)``."""


class SqlRowErrorLog(RowErrorLog):
    """:class:`RowErrorLog` in the ``row_errors`` table."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def note(self, run_id: int, sync: str, errors: Sequence[RowErrorInput], now: datetime, park_after: int) -> None:
        db = self._db
        latest = {error.key: error for error in errors}  # a key noted twice in one run counts once, the last wins
        if not latest:
            return
        known = {
            row[0]: (int(row[1]), row[2], bool(row[3]))
            for row in db.query(
                db.sql("SELECT key, attempts, first_seen, parked FROM {row_errors} WHERE sync = ?"), (sync,)
            )
        }
        rows = []
        for key, error in latest.items():
            attempts, first_seen, parked = known.get(key, (0, now, False))
            attempts += 1
            parked = parked or (error.stage == ErrorStage.DELIVER and attempts >= park_after)
            rows.append((sync, key, error.code, error.message, error.stage, attempts, first_seen, now, run_id, parked))
        db.steps(
            [
                *self._deleting(sync, [key for key in latest if key in known]),
                db.insert(db.sql("{row_errors}"), _ERROR_COLUMNS, rows),
            ]
        )

    def _deleting(self, sync: str, keys: Sequence[str | None]) -> Steps:
        db = self._db
        steps: list[Step] = []
        present = [key for key in keys if key is not None]
        if present:
            steps.append(
                db.for_keys(db.sql(f"DELETE FROM {{row_errors}} WHERE sync = ? AND {KEY_MATCH}"), sync, present)
            )
        if None in keys:  # the null-key group: NULL never equals NULL
            steps.append((db.sql("DELETE FROM {row_errors} WHERE sync = ? AND key IS NULL"), [(sync,)]))
        return steps

    def settle_plan(self, sync: str, run_id: int) -> int:
        db = self._db
        where = "WHERE sync = ? AND stage = ? AND last_run_id <> ?"
        params = (sync, ErrorStage.PLAN.value, run_id)
        count = int(db.query(db.sql(f"SELECT count(*) FROM {{row_errors}} {where}"), params)[0][0])
        if count:
            db.query(db.sql(f"DELETE FROM {{row_errors}} {where}"), params)
        return count

    def resolve(self, sync: str, keys: Sequence[str]) -> None:
        steps = self._deleting(sync, list(dict.fromkeys(keys)))
        if steps:
            self._db.steps(steps)

    def records(self, sync: str, limit: int = 100, *, parked: bool | None = None) -> list[RowErrorRecord]:
        db = self._db
        where, params = ("", (sync,)) if parked is None else (" AND parked = ?", (sync, parked))
        rows = db.query(
            db.sql(
                f"SELECT {', '.join(_ERROR_COLUMNS)} FROM {{row_errors}} WHERE sync = ?{where} "
                f"ORDER BY last_seen DESC, key NULLS FIRST LIMIT {int(limit)}"
            ),
            params,
        )
        return [
            RowErrorRecord(
                row[0], row[1], row[2], row[3], row[4], int(row[5]), row[6], row[7], int(row[8]), bool(row[9])
            )
            for row in rows
        ]

    def count(self, sync: str, *, parked: bool | None = None) -> int:
        where, params = ("", (sync,)) if parked is None else (" AND parked = ?", (sync, parked))
        return int(
            self._db.query(self._db.sql(f"SELECT count(*) FROM {{row_errors}} WHERE sync = ?{where}"), params)[0][0]
        )

    def by_reason(
        self, sync: str, examples: int = 3, *, parked: bool | None = None, limit: int = 100
    ) -> list[ReasonGroup]:
        db = self._db
        where, params = ("", (sync,)) if parked is None else (" AND parked = ?", (sync, parked))
        groups = db.query(
            db.sql(
                f"SELECT stage, code, message, count(*) AS n, sum(CASE WHEN parked THEN 1 ELSE 0 END) AS parked_n "
                f"FROM {{row_errors}} WHERE sync = ?{where} GROUP BY stage, code, message "
                f"ORDER BY n DESC, stage, code, message LIMIT {int(limit)}"
            ),
            params,
        )
        # A few keys per group, in key order: a window over the same grouping, cut at ``examples`` each.
        keys: dict[tuple[str, str, str], list[str | None]] = {}
        for stage, code, message, key in db.query(
            db.sql(
                f"SELECT stage, code, message, key FROM (SELECT stage, code, message, key, row_number() OVER "
                f"(PARTITION BY stage, code, message ORDER BY key NULLS FIRST) AS nth FROM {{row_errors}} "
                f"WHERE sync = ?{where}) AS ranked WHERE nth <= {int(examples)} ORDER BY key NULLS FIRST"
            ),
            params,
        ):
            keys.setdefault((stage, code, message), []).append(key)
        return [
            ReasonGroup(stage, code, message, int(n), int(parked_n or 0), tuple(keys.get((stage, code, message), [])))
            for stage, code, message, n, parked_n in groups
        ]

    def parked_keys(self, sync: str) -> set[str]:
        rows = self._db.query(
            self._db.sql("SELECT key FROM {row_errors} WHERE sync = ? AND parked AND key IS NOT NULL"), (sync,)
        )
        return {str(row[0]) for row in rows}

    def requeue(self, sync: str, keys: Sequence[str] | None = None) -> int:
        db = self._db
        parked = self.parked_keys(sync)
        chosen = sorted(parked if keys is None else parked & set(keys))
        if chosen:
            db.steps(
                [
                    db.for_keys(
                        db.sql(
                            f"UPDATE {{row_errors}} SET parked = FALSE, attempts = 0 WHERE sync = ? AND {KEY_MATCH}"
                        ),
                        sync,
                        chosen,
                    )
                ]
            )
        return len(chosen)

    def latest_run(self, sync: str, limit: int = 100) -> list[tuple[str | None, str, datetime]]:
        latest = "(SELECT max(last_run_id) FROM {row_errors} WHERE sync = ?)"
        rows = self._db.query(
            self._db.sql(
                f"SELECT key, message, last_seen FROM {{row_errors}} WHERE sync = ? AND last_run_id = {latest} "
                f"ORDER BY key NULLS FIRST LIMIT {int(limit)}"
            ),
            (sync, sync),
        )
        return [(row[0], row[1], row[2]) for row in rows]
