"""One run of one sync: record it, plan it, keep the rejected rows' reasons, record how it ended.

Delivery (the executor and connectors) plugs in between planning and the end of the run; until then a run plans,
records and commits only snapshot bookkeeping that needs no destination (``refresh`` rows).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from syncer.commit import commit_all
from syncer.config.sync import Guards, SyncConfig
from syncer.core.plan import Plan
from syncer.planner import PlanError, plan_sync
from syncer.state.base import RunStatus, StateStore
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
             dry_run: bool = False, guards: Guards | None = None, allow_mass_change: bool = False) -> RunOutcome:
    """Plan ``sync`` and record the run. Never raises for a failure of the sync itself: it is recorded and returned.

    A plan that goes past a mass-change guard (``guards``: the project's defaults, overridden by the mapping) is
    not carried out: nothing is sent or committed and the run is recorded ``BLOCKED`` with what it would have done,
    unless ``allow_mass_change`` lets it through this once.
    """
    run_id = store.start_run(sync.name, dry_run, now())
    try:
        plan = plan_sync(sync, store, warehouse, batch_size, guards)
    except PlanError as exc:
        store.finish_run(run_id, RunStatus.FAILED, now(), error=str(exc))
        return RunOutcome(run_id, sync.name, RunStatus.FAILED, None, str(exc))
    store.record_row_errors(run_id, sync.name, plan.rejected, now())
    if plan.blocked and not allow_mass_change and not dry_run:
        message = plan.guard_message()
        store.finish_run(run_id, RunStatus.BLOCKED, now(), plan.model_rows, plan.counts, plan.rejected_total, message)
        return RunOutcome(run_id, sync.name, RunStatus.BLOCKED, plan, message)
    if not dry_run:
        commit_all(store, sync.name, plan.changes, now(), op="refresh")
        store.flush(sync.name)
    store.finish_run(run_id, RunStatus.PLANNED, now(), plan.model_rows, plan.counts, plan.rejected_total)
    return RunOutcome(run_id, sync.name, RunStatus.PLANNED, plan)
