"""The confirmed snapshot: per sync and key, what the destination last confirmed.

Contract for the executor: :meth:`SnapshotStore.commit` is called with the rows a destination *confirmed*, and only
those; the snapshot never advances for a key that was not confirmed, so a failed key is planned again next run.
Commits are idempotent (committing the same rows twice leaves the same snapshot), which makes a crash between a
destination's reply and the commit harmless: the next run re-plans the key and finds it unchanged or re-sends it.

How commits reach the table differs by backend (a journal folded in set-wise in DuckDB, upserts in PostgreSQL):
:class:`SqlSnapshot` holds what is the same, the backends the rest.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from syncer.state.sql import Database

if TYPE_CHECKING:  # Arrow only in signatures here: opening the state must not load pyarrow
    import pyarrow as pa


class SnapshotStore(ABC):
    """What destinations confirmed, read by the planner's diff through the planning workspace."""

    @abstractmethod
    def relation(self, sync: str) -> str:
        """A relation in the store's planning workspace (:meth:`syncer.state.base.StateStore.workspace`) with the
        snapshot of ``sync``: ``key, record_id, match_value, fields, row_hash, present``. Valid until the next
        call."""

    @abstractmethod
    def commit(self, sync: str, confirmed: pa.Table, now: datetime) -> int:
        """Advance the snapshot of ``sync`` for the confirmed rows
        (:data:`syncer.state.records.COMMIT_SCHEMA`); return how many. Durable when it returns."""

    @abstractmethod
    def flush(self, sync: str) -> None:
        """Fold what was committed into the snapshot proper (the end of a run). Commits are durable without it."""

    @abstractmethod
    def reset(self, sync: str) -> int:
        """Forget the snapshot of ``sync`` so the next run sends everything again; return the rows forgotten."""

    @abstractmethod
    def size(self, sync: str) -> int:
        """Keys with a confirmed snapshot row (present in the destination)."""

    @abstractmethod
    def record_ids(self, sync: str, keys: Sequence[str]) -> dict[str, str]:
        """``{key: destination record id}`` for the keys of ``sync`` the snapshot holds with an id."""


class SqlSnapshot(SnapshotStore, ABC):
    """The reads that are the same on every backend, over the ``snapshot`` table."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def _before_read(self, sync: str) -> None:
        """A backend whose commits wait in a journal folds them into the snapshot here."""

    def size(self, sync: str) -> int:
        self._before_read(sync)
        db = self._db
        return int(db.query(db.sql("SELECT count(*) FROM {snapshot} WHERE sync = ? AND present"), (sync,))[0][0])

    def record_ids(self, sync: str, keys: Sequence[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        sql = self._db.sql("SELECT record_id FROM {snapshot} WHERE sync = ? AND key = ? AND record_id IS NOT NULL")
        self._before_read(sync)
        for key in dict.fromkeys(keys):
            for (record_id,) in self._db.query(sql, (sync, key)):
                found[key] = str(record_id)
        return found
