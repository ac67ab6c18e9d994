"""Where delivery results go: confirmed rows advance the snapshot, failures become row errors.

The executor calls the sink on the thread that runs the sync, one completed batch at a time, so a crash loses at
most the batches in flight: they were not committed, are planned again next run and re-sent idempotently.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

import pyarrow as pa

from syncer.commit import commit_confirmed
from syncer.delivery.executor import RowFailure
from syncer.state.base import ErrorStage, RowErrorInput, StateStore


class StateSink:
    """Commits confirmed rows of ``sync`` to ``store`` and keeps the vendor's reasons for the rows that failed.

    A key that had a row error and is now confirmed drops out of the row errors; a key that fails again counts one
    more attempt, and is parked after the store's ``park_after`` attempts (the next runs skip it until
    ``syncer retry``).
    """

    def __init__(self, store: StateStore, sync: str, run_id: int, now: Callable[[], datetime]) -> None:
        self._store, self._sync, self._run_id, self._now = store, sync, run_id, now
        # Keys with a row error, read once: most batches hold none of them, and then there is nothing to resolve.
        self._erring = {e.key for e in store.row_errors.records(sync, limit=1_000_000) if e.key is not None}
        self.committed = 0
        self.failures = 0

    def confirmed(self, rows: pa.Table, record_ids: list[str | None]) -> None:
        self.committed += commit_confirmed(
            self._store, self._sync, rows, self._now(), pa.array(record_ids, pa.string())
        )
        if self._erring:
            resolved = [key for key in rows.column("key").to_pylist() if key in self._erring]
            if resolved:
                self._store.row_errors.resolve(self._sync, resolved)
                self._erring.difference_update(resolved)

    def failed(self, failures: Sequence[RowFailure]) -> None:
        self.failures += len(failures)
        errors = [RowErrorInput(f.key, f.code, f.message, ErrorStage.DELIVER) for f in failures]
        self._store.row_errors.note(self._run_id, self._sync, errors, self._now(), self._store.park_after)
