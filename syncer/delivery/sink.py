"""Where delivery results go: confirmed rows advance the snapshot, failures become row errors.

The executor calls the sink on the thread that runs the sync, one completed batch at a time, so a crash loses at
most the batches in flight: they were not committed, are planned again next run and re-sent idempotently.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

import pyarrow as pa

from syncer.commit import commit_confirmed
from syncer.core.plan import RejectedRow
from syncer.delivery.executor import RowFailure
from syncer.state.base import StateStore


class StateSink:
    """Commits confirmed rows of ``sync`` to ``store`` and keeps the reasons of the rows that failed."""

    def __init__(self, store: StateStore, sync: str, run_id: int, now: Callable[[], datetime]) -> None:
        self._store, self._sync, self._run_id, self._now = store, sync, run_id, now
        self.committed = 0
        self.failures = 0

    def confirmed(self, rows: pa.Table, record_ids: list[str | None]) -> None:
        self.committed += commit_confirmed(self._store, self._sync, rows, self._now(),
                                           pa.array(record_ids, pa.string()))

    def failed(self, failures: Sequence[RowFailure]) -> None:
        self.failures += len(failures)
        rows = [RejectedRow(f.key, _reason(f)) for f in failures]
        self._store.record_row_errors(self._run_id, self._sync, rows, self._now())


def _reason(failure: RowFailure) -> str:
    kind = "will retry" if failure.retryable else "rejected by the destination"
    return f"{kind}: {failure.code}: {failure.message}"
