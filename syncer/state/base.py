"""The state store: one connection to the state, and a role for each thing syncer remembers.

Each role is a small interface with its contract in its module, implemented once in SQL over the shared
:class:`syncer.state.sql.Database` (the snapshot's commits differ by backend, so it has one implementation each):

=====================  ===============================================  =====================================
``store.snapshot``     :class:`syncer.state.snapshot.SnapshotStore`     what destinations confirmed, per key
``store.runs``         :class:`syncer.state.runs.RunLog`                each run and how it ended; run locks
``store.row_errors``   :class:`syncer.state.row_errors.RowErrorLog`     failing keys, attempts and parking
``store.outbox``       :class:`syncer.state.outbox.Outbox`              effect intents and their send states
``store.ledger``       :class:`syncer.state.ledger.AlertLedger`         alert-policy decisions; the alert log
``store.owners``       :class:`syncer.state.owner_cache.OwnerCache`     e-mail -> vendor owner id, time zone
``store.crossings``    :class:`.crossings.TriggerCrossings`             which crossing each trigger fired last
=====================  ===============================================  =====================================

Daemon leases are not a role here: they need a connection of their own (see :mod:`syncer.daemon.leases`).
"""

from __future__ import annotations

import duckdb

from syncer.state.crossings import SqlTriggerCrossings, TriggerCrossings
from syncer.state.ledger import AlertLedger, SqlAlertLedger
from syncer.state.outbox import Outbox
from syncer.state.outbox_sql import SqlOutbox, mark_log_changed
from syncer.state.owner_cache import OwnerCache, SqlOwnerCache
from syncer.state.records import (
    ErrorStage,
    RowErrorInput,
    RowErrorRecord,
    RunLockedError,
    RunRecord,
    RunStatus,
    StateUnavailableError,
)
from syncer.state.row_errors import RowErrorLog, SqlRowErrorLog
from syncer.state.runs import RunLog, SqlRunLog
from syncer.state.snapshot import SnapshotStore
from syncer.state.sql import Database

__all__ = [
    "ErrorStage",
    "RowErrorInput",
    "RowErrorRecord",
    "RunLockedError",
    "RunRecord",
    "RunStatus",
    "StateStore",
    "StateUnavailableError",
]


class StateStore:
    """Where syncer remembers what destinations confirmed, what each run did and the effects it owes.

    ``lock_wait_s`` and ``park_after`` are the project's settings (``state.lock_timeout_s``,
    ``state.row_errors.park_after``), kept here for the runner.
    """

    lock_wait_s: float = 0.0
    park_after: int = 5

    def __init__(self, db: Database, snapshot: SnapshotStore, workspace: duckdb.DuckDBPyConnection) -> None:
        self.db = db
        self._workspace = workspace
        self.snapshot = snapshot
        self.runs: RunLog = SqlRunLog(db)
        self.row_errors: RowErrorLog = SqlRowErrorLog(db)
        outbox = SqlOutbox(db)
        self.outbox: Outbox = outbox
        self.ledger: AlertLedger = SqlAlertLedger(db, outbox)
        self.owners: OwnerCache = SqlOwnerCache(db)
        self.crossings: TriggerCrossings = SqlTriggerCrossings(db)

    def workspace(self) -> duckdb.DuckDBPyConnection:
        """The DuckDB connection planning runs in (owned by the store; do not close it)."""
        return self._workspace

    def schema_versions(self) -> list[int]:
        """The schema migrations applied to this store, in order."""
        return [int(row[0]) for row in self.db.query(self.db.sql("SELECT version FROM {schema_migrations} ORDER BY 1"))]

    def clear_effects(self) -> None:
        """Forget every intent, decision and cached owner (the demo, when its sandbox starts empty)."""
        with self.db.transaction() as query:
            for table in ("outbox", "alert_ledger", "owner_cache"):
                query(self.db.sql(f"DELETE FROM {{{table}}}"), ())
            mark_log_changed(self.db, query)

    def close(self) -> None:
        """Release connections."""
        self.db.close()
