"""Trigger crossings: per trigger and key, which crossing of the condition fired last, at which new-row hash, and
whether that row has landed in the snapshot since. Firing ids count crossings from this
(:mod:`syncer.core.triggers`), so an account that falls and rises back to the same values fires again, while a
re-plan of a crossing whose fields were never committed finds the same id."""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime

import pyarrow as pa

from syncer.core.triggers import CROSSING_SCHEMA
from syncer.state.sql import Database, Step

_COLUMNS = ("sync", "trigger", "key", "crossing", "fired_hash", "landed", "updated_at")


class TriggerCrossings(ABC):
    """The crossing state of each sync's triggers (:data:`syncer.core.triggers.CROSSING_SCHEMA`)."""

    @abstractmethod
    def table(self, sync: str) -> pa.Table:
        """Every trigger-and-key state of ``sync``, as :data:`CROSSING_SCHEMA`."""

    @abstractmethod
    def record(self, sync: str, fired: pa.Table, landed: pa.Table, now: datetime) -> None:
        """In one transaction: mark ``landed`` (``trigger, key``) rows as landed, then set each ``fired`` row (a
        plan's firings: ``trigger, key, crossing, row_hash``) as the latest crossing, not landed. A pair in both
        ends as fired: its firing already counted the landing."""


class SqlTriggerCrossings(TriggerCrossings):
    """:class:`TriggerCrossings` in the ``trigger_crossings`` table."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def table(self, sync: str) -> pa.Table:
        rows = self._db.query(
            self._db.sql("SELECT trigger, key, crossing, fired_hash, landed FROM {trigger_crossings} WHERE sync = ?"),
            (sync,),
        )
        names = CROSSING_SCHEMA.names
        return pa.Table.from_pylist([dict(zip(names, row, strict=True)) for row in rows], schema=CROSSING_SCHEMA)

    def record(self, sync: str, fired: pa.Table, landed: pa.Table, now: datetime) -> None:
        db = self._db
        steps: list[Step] = []
        if landed.num_rows:
            steps.append(
                (
                    db.sql(
                        "UPDATE {trigger_crossings} SET landed = TRUE, updated_at = ? "
                        "WHERE sync = ? AND trigger = ? AND key = ?"
                    ),
                    [(now, sync, row["trigger"], row["key"]) for row in landed.to_pylist()],
                )
            )
        latest = (
            {
                (row["trigger"], row["key"]): row
                for row in fired.select(["trigger", "key", "crossing", "row_hash"]).to_pylist()
            }
            if fired.num_rows
            else {}
        )
        if latest:
            pairs = list(latest)
            steps.append(
                (
                    db.sql("DELETE FROM {trigger_crossings} WHERE sync = ? AND trigger = ? AND key = ?"),
                    [(sync, trigger, key) for trigger, key in pairs],
                )
            )
            steps.append(
                db.insert(
                    db.sql("{trigger_crossings}"),
                    _COLUMNS,
                    [
                        (sync, trigger, key, int(row["crossing"]), int(row["row_hash"]), False, now)
                        for (trigger, key), row in latest.items()
                    ],
                )
            )
        if steps:
            db.steps(steps)
