"""The state store: the confirmed snapshot and the control store (run history, row errors).

Contract for the executor: :meth:`StateStore.commit` is called with the rows a destination *confirmed*, and only
those; the snapshot never advances for a key that was not confirmed, so a failed key is planned again next run.
Commits are idempotent (committing the same rows twice leaves the same snapshot), which makes a crash between a
destination's reply and the commit harmless: the next run re-plans the key and finds it unchanged or re-sends it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import duckdb
import pyarrow as pa

from syncer.core.plan import ChangeCounts
from syncer.state.effects_store import EffectsStore

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


class RunLockedError(StateUnavailableError):
    """Another run of the same sync holds its lock (another process, replica or thread)."""


class ErrorStage(StrEnum):
    """Where a row error arose."""

    PLAN = "plan"        # the planner rejected the row (duplicate or null key, a value that does not convert)
    DELIVER = "deliver"  # the destination refused the row


@dataclass(frozen=True)
class RowErrorInput:
    """One row's error in one run: ``code`` is the vendor's (or the planner's), ``message`` its reason."""

    key: str | None
    code: str
    message: str
    stage: str


@dataclass(frozen=True)
class RowErrorRecord:
    """What the control store knows of one failing key of one sync."""

    sync: str
    key: str | None
    code: str
    message: str
    stage: str
    attempts: int
    first_seen: datetime
    last_seen: datetime
    last_run_id: int
    parked: bool

    def as_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["first_seen"] = self.first_seen.isoformat()
        out["last_seen"] = self.last_seen.isoformat()
        return out


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


class StateStore(EffectsStore, ABC):
    """Where syncer remembers what destinations confirmed and what each run did, and the effects it owes
    (outbox, alert ledger, owner cache: :class:`syncer.state.effects_store.EffectsStore`).

    ``lock_wait_s`` and ``park_after`` are the project's settings (``state.lock_timeout_s``,
    ``state.row_errors.park_after``), kept here for the runner.
    """

    lock_wait_s: float = 0.0
    park_after: int = 5

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
    def has_finished_run(self, sync: str) -> bool:
        """Whether a run of ``sync`` (not a dry run) ever ran to its end (succeeded or partial)."""

    @abstractmethod
    def record_ids(self, sync: str, keys: Sequence[str]) -> dict[str, str]:
        """``{key: destination record id}`` for the keys of ``sync`` the snapshot holds with an id."""

    @abstractmethod
    def start_run(self, sync: str, dry_run: bool, now: datetime) -> int:
        """Record a run as started; return its id."""

    @abstractmethod
    def finish_run(self, run_id: int, status: RunStatus, now: datetime, model_rows: int | None = None,
                   counts: ChangeCounts | None = None, rejected: int | None = None, error: str | None = None) -> None:
        """Record how a run ended."""

    @abstractmethod
    def mark_killed(self, now: datetime) -> list[int]:
        """Mark as :attr:`RunStatus.KILLED` every ``running`` run whose owner (process, or PostgreSQL session) is
        gone; return their ids. Stores call it when they open; a daemon may call it on its own schedule."""

    @abstractmethod
    def run_lock(self, sync: str, wait_s: float) -> AbstractContextManager[None]:
        """Hold the lock of ``sync`` for a run: waits up to ``wait_s`` seconds for a run elsewhere to finish, then
        raises :class:`RunLockedError`. Released on exit, or when the holding process dies."""

    @abstractmethod
    def note_row_errors(self, run_id: int, sync: str, errors: Sequence[RowErrorInput], now: datetime,
                        park_after: int) -> None:
        """Upsert one row per ``(sync, key)``: ``attempts`` + 1, ``last_seen = now``, the latest code and message.

        A delivery error parks its key once ``attempts`` reaches ``park_after`` (the executor skips parked keys
        until :meth:`requeue_parked`); plan rejections are re-evaluated every run and never park.
        """

    @abstractmethod
    def settle_plan_errors(self, sync: str, run_id: int) -> int:
        """Drop plan rejections of ``sync`` not noted by ``run_id``: the planner re-checks every row each run, so a
        key it did not reject again became valid (or left the model). Return how many."""

    @abstractmethod
    def resolve_row_errors(self, sync: str, keys: Sequence[str]) -> None:
        """Forget the errors of ``keys`` (confirmed by the destination, or valid again)."""

    @abstractmethod
    def row_error_list(self, sync: str, limit: int = 100, parked: bool | None = None) -> list[RowErrorRecord]:
        """The failing keys of ``sync``, most recently seen first; only parked (or unparked) ones when asked."""

    @abstractmethod
    def parked_keys(self, sync: str) -> set[str]:
        """Keys of ``sync`` whose delivery is parked."""

    @abstractmethod
    def requeue_parked(self, sync: str, keys: Sequence[str] | None = None) -> int:
        """Unpark ``keys`` (every parked key when None), their attempts back to 0; return how many."""

    @abstractmethod
    def runs(self, sync: str | None = None, limit: int = 20) -> list[RunRecord]:
        """Most recent runs first."""

    @abstractmethod
    def row_errors(self, sync: str, limit: int = 100) -> list[tuple[str | None, str, datetime]]:
        """The row errors noted by the latest run of ``sync`` that noted any: ``(key, message, last seen)``."""

    @abstractmethod
    def close(self) -> None:
        """Release connections."""
