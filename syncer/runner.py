"""One run of one sync: record it, plan it, keep the rejected rows' reasons, record how it ended.

Delivery (the executor and connectors) plugs in between planning and the end of the run; until then a run plans,
records and commits only snapshot bookkeeping that needs no destination (``refresh`` rows).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from syncer.commit import commit_all
from syncer.config.sync import SyncConfig
from syncer.core.plan import Plan, RejectedRow
from syncer.planner import PlanError, plan_sync
from syncer.state.base import ErrorStage, RowErrorInput, RunStatus, StateStore
from syncer.warehouse.base import Warehouse

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class RunOutcome:
    run_id: int
    sync: str
    status: RunStatus
    plan: Plan | None
    error: str | None = None


def run_sync(sync: SyncConfig, store: StateStore, warehouse: Warehouse, now: Clock, batch_size: int = 50_000,
             dry_run: bool = False) -> RunOutcome:
    """Plan ``sync`` and record the run. Never raises for a failure of the sync itself: it is recorded and returned.

    Holds the sync's run lock throughout (raises :class:`syncer.state.base.RunLockedError` when another run has it).
    An unexpected error still ends the run as failed (interrupted: killed) before it propagates.
    """
    with store.run_lock(sync.name, store.lock_wait_s):
        run_id = store.start_run(sync.name, dry_run, now())
        try:
            return _run(run_id, sync, store, warehouse, now, batch_size, dry_run)
        except BaseException as exc:
            status = RunStatus.KILLED if isinstance(exc, KeyboardInterrupt | SystemExit) else RunStatus.FAILED
            store.finish_run(run_id, status, now(), error=f"{type(exc).__name__}: {exc}"[:500])
            raise


def _run(run_id: int, sync: SyncConfig, store: StateStore, warehouse: Warehouse, now: Clock, batch_size: int,
         dry_run: bool) -> RunOutcome:
    try:
        plan = plan_sync(sync, store, warehouse, batch_size)
    except PlanError as exc:
        store.finish_run(run_id, RunStatus.FAILED, now(), error=str(exc))
        return RunOutcome(run_id, sync.name, RunStatus.FAILED, None, str(exc))
    store.note_row_errors(run_id, sync.name, [plan_error(row) for row in plan.rejected], now(), store.park_after)
    store.settle_plan_errors(sync.name, run_id)
    if not dry_run:
        commit_all(store, sync.name, plan.changes, now(), op="refresh")
        store.flush(sync.name)
    store.finish_run(run_id, RunStatus.PLANNED, now(), plan.model_rows, plan.counts, plan.rejected_total)
    return RunOutcome(run_id, sync.name, RunStatus.PLANNED, plan)


def plan_error(row: RejectedRow) -> RowErrorInput:
    """A plan rejection as a row error, with a code RevOps can filter on."""
    if row.key is None:
        code = "null_key"
    elif row.reason.startswith("duplicate key"):
        code = "duplicate_key"
    elif "template failed" in row.reason:
        code = "template_failed"
    else:
        code = "invalid_value"
    return RowErrorInput(row.key, code, row.reason, ErrorStage.PLAN)
