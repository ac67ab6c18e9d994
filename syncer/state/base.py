"""The state store: the confirmed snapshot and the control store (run history, row errors).

Contract for the executor: :meth:`StateStore.commit` is called with the rows a destination *confirmed*, and only
those; the snapshot never advances for a key that was not confirmed, so a failed key is planned again next run.
Commits are idempotent (committing the same rows twice leaves the same snapshot), which makes a crash between a
destination's reply and the commit harmless: the next run re-plans the key and finds it unchanged or re-sends it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import duckdb
import pyarrow as pa

from syncer.core.plan import ChangeCounts, RejectedRow

# The columns :meth:`StateStore.commit` takes, in order.
COMMIT_SCHEMA = pa.schema([
    ("key", pa.string()), ("record_id", pa.string()), ("match_value", pa.string()), ("fields", pa.string()),
    ("row_hash", pa.int64()), ("present", pa.bool_()),
])


class RunStatus(StrEnum):
    """How a run ended (``RUNNING`` while it goes on)."""

    RUNNING = "running"
    PLANNED = "planned"        # a dry run, or a sync whose destination takes no writes
    SUCCEEDED = "succeeded"    # everything planned was confirmed
    PARTIAL = "partial"        # delivered, but some rows were rejected or a destination stopped; they stay pending
    FAILED = "failed"          # nothing could be done (the warehouse or the plan failed)
    BLOCKED = "blocked"        # a guardrail stopped the run before anything was sent
    KILLED = "killed"          # the process died mid-run; found and marked the next time the state was opened


class StateUnavailableError(Exception):
    """The state store cannot be opened: the file is locked by another syncer process, or the server is down."""


@dataclass(frozen=True)
class RunRecord:
    id: int
    sync: str
    dry_run: bool
    status: str
    started_at: datetime
    finished_at: datetime | None
    model_rows: int | None
    creates: int | None
    updates: int | None
    clears: int | None
    unchanged: int | None
    rejected: int | None
    error: str | None

    def as_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["started_at"] = self.started_at.isoformat()
        out["finished_at"] = self.finished_at.isoformat() if self.finished_at else None
        return out


class StateStore(ABC):
    """Where syncer remembers what destinations confirmed and what each run did."""

    @abstractmethod
    def workspace(self) -> duckdb.DuckDBPyConnection:
        """The DuckDB connection planning runs in (owned by the store; do not close it)."""

    @abstractmethod
    def snapshot_relation(self, sync: str) -> str:
        """A relation in :meth:`workspace` with the snapshot of ``sync``: ``key, record_id, match_value, fields,
        row_hash, present``. Valid until the next call."""

    @abstractmethod
    def commit(self, sync: str, confirmed: pa.Table, now: datetime) -> int:
        """Advance the snapshot of ``sync`` for the confirmed rows (:data:`COMMIT_SCHEMA`); return how many."""

    @abstractmethod
    def flush(self, sync: str) -> None:
        """Fold what was committed into the snapshot proper (the end of a run). Commits are durable without it."""

    @abstractmethod
    def reset(self, sync: str) -> int:
        """Forget the snapshot of ``sync`` so the next run sends everything again; return the rows forgotten."""

    @abstractmethod
    def schema_versions(self) -> list[int]:
        """The schema migrations applied to this store, in order."""

    @abstractmethod
    def snapshot_size(self, sync: str) -> int:
        """Keys with a confirmed snapshot row."""

    @abstractmethod
    def start_run(self, sync: str, dry_run: bool, now: datetime) -> int:
        """Record a run as started; return its id."""

    @abstractmethod
    def finish_run(self, run_id: int, status: RunStatus, now: datetime, model_rows: int | None = None,
                   counts: ChangeCounts | None = None, rejected: int | None = None, error: str | None = None) -> None:
        """Record how a run ended."""

    @abstractmethod
    def record_row_errors(self, run_id: int, sync: str, rows: Sequence[RejectedRow], now: datetime) -> None:
        """Keep the reasons rows were rejected or refused by the destination."""

    @abstractmethod
    def runs(self, sync: str | None = None, limit: int = 20) -> list[RunRecord]:
        """Most recent runs first."""

    @abstractmethod
    def row_errors(self, sync: str, limit: int = 100) -> list[tuple[str | None, str, datetime]]:
        """The row errors of the latest run of ``sync`` that had any: ``(key, reason, at)``."""

    @abstractmethod
    def close(self) -> None:
        """Release connections."""
