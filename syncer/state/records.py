"""What the state store records and answers with: runs, row errors, the snapshot's columns, and its errors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

    COMMIT_SCHEMA: pa.Schema  # the columns :meth:`syncer.state.snapshot.SnapshotStore.commit` takes, in order


def __getattr__(name: str) -> Any:
    """``COMMIT_SCHEMA``, built on first use: importing the state (``syncer validate`` does) must not load pyarrow
    and numpy, a fifth of a second of a command's start."""
    if name != "COMMIT_SCHEMA":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import pyarrow as pa

    schema = pa.schema(
        [
            ("key", pa.string()),
            ("record_id", pa.string()),
            ("match_value", pa.string()),
            ("fields", pa.string()),
            ("row_hash", pa.int64()),
            ("present", pa.bool_()),
        ]
    )
    globals()["COMMIT_SCHEMA"] = schema
    return schema


class RunStatus(StrEnum):
    """How a run ended (``RUNNING`` while it goes on)."""

    RUNNING = "running"
    PLANNED = "planned"  # a dry run, or a sync whose destination takes no writes
    SUCCEEDED = "succeeded"  # everything planned was confirmed
    PARTIAL = "partial"  # delivered, but some rows were rejected or a destination stopped; they stay pending
    FAILED = "failed"  # nothing could be done (the warehouse or the plan failed)
    BLOCKED = "blocked"  # a guardrail stopped the run before anything was sent
    KILLED = "killed"  # the process died mid-run; found and marked the next time the state was opened


class StateUnavailableError(Exception):
    """The state store cannot be opened: the file is locked by another syncer process, or the server is down."""


class RunLockedError(StateUnavailableError):
    """Another run of the same sync holds its lock (another process, replica or thread)."""


class ErrorStage(StrEnum):
    """Where a row error arose."""

    PLAN = "plan"  # the planner rejected the row (duplicate or null key, a value that does not convert)
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
class ReasonGroup:
    """The failing keys of one sync that share a reason (stage, code and message): how many, how many of them are
    parked, and a few of their keys as examples."""

    stage: str
    code: str
    message: str
    count: int
    parked: int
    examples: tuple[str | None, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "code": self.code,
            "message": self.message,
            "count": self.count,
            "parked": self.parked,
            "example_keys": list(self.examples),
        }


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
    parked: int | None = None  # rows skipped because their delivery is parked (None: runs before it was counted)

    @property
    def outcome(self) -> str:
        """The status as people read it: ``succeeded, 3 parked`` is not plain ``succeeded``."""
        return f"{self.status}, {self.parked} parked" if self.parked else self.status

    def as_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["started_at"] = self.started_at.isoformat()
        out["finished_at"] = self.finished_at.isoformat() if self.finished_at else None
        return out


# Runs that ran to their end: what "has this sync ever run" and "when did it last succeed" count.
FINISHED_STATUSES = (RunStatus.SUCCEEDED, RunStatus.PARTIAL)
