"""One run of one sync: warehouse -> plan -> deliver -> commit, recorded from start to end.

The runner is the edge that wires the pieces: it records the run, plans it (:mod:`syncer.planning.planner`), stops for a
human when a guardrail trips, hands the plan's change rows to the executor (:mod:`syncer.delivery.executor`), and
commits what the destination confirmed, batch by batch, through :class:`StateSink`. It never raises for a failure
of the sync itself: every ending is recorded and returned as a :class:`RunOutcome`.

An outcome is honest about what was written. A run **attempts** every row of its model (each is written, found
unchanged, or rejected by the plan) and every clear. It is ``failed`` when every row it attempted was rejected (by
the plan or the destination) or skipped as parked (a model whose every row a mistyped field or a template typo
rejects; a field the CRM lacks, once every row is parked), or when the rejected and parked share is past the
``max_reject_percent`` guard (:func:`syncer.core.guards.evaluate_rejects`). The model's rows are the base, not only
the rows that changed: a few keys that keep failing among thousands in sync do not fail every later run. A run
with nothing to do succeeds. Parked rows are counted on the run (``parked``): "succeeded, 3 parked" is never shown
as plain "succeeded".
"""

from __future__ import annotations

import time
from collections.abc import Callable, Container
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from syncer.commit import commit_all
from syncer.config.sync import Guards, SyncConfig
from syncer.contract.clock import aware_utc, monotonic
from syncer.contract.destination import Destination, Operation
from syncer.contract.errors import DeliveryError
from syncer.core.guards import evaluate_rejects
from syncer.core.plan import ChangeOp, Plan, RejectedRow
from syncer.delivery.executor import DeliveryReport, RetryPolicy, deliver
from syncer.delivery.sink import StateSink
from syncer.delivery.write_policy import KeptValues, keep_crm_values
from syncer.effects.engine import Effects, EffectsContext, stage
from syncer.effects.session import EffectsReport
from syncer.planning.drift import RecordsUnreadableError
from syncer.planning.planner import OwnerLookup, PlanError, plan_sync
from syncer.planning.preflight import forget as forget_schema
from syncer.planning.preflight import preflight
from syncer.state.base import ErrorStage, RowErrorInput, RunStatus, StateStore
from syncer.warehouse.base import Warehouse

Clock = Callable[[], datetime]
DestinationOpener = Callable[[SyncConfig], Destination | None]


@dataclass(frozen=True)
class RunOptions:
    """How to run: ``allow_mass_change`` lets a tripped guardrail through once. (``syncer plan`` previews without a
    run; the project's ``state.row_errors.park_after`` reaches the runner through the store.)"""

    allow_mass_change: bool = False
    guards: Guards | None = None  # the project's defaults (``defaults.guards``); a mapping's ``guards:`` override them
    batch_size: int = 50_000
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    stop: Callable[[], bool] | None = None  # answers true once a daemon shuts down: finish the batch in flight, stop
    owners: Callable[[SyncConfig], OwnerLookup | None] | None = None  # a destination's owners, for its ``owner:``


@dataclass(frozen=True)
class RunOutcome:
    run_id: int
    sync: str
    status: RunStatus
    plan: Plan | None
    delivery: DeliveryReport | None = None
    error: str | None = None
    duration_s: float = 0.0
    effects: EffectsReport | None = None
    parked: int = 0  # rows to write that were skipped because their delivery is parked
    kept: KeptValues | None = None  # fields a write policy kept as the CRM has them

    def summary(self) -> dict[str, Any]:
        """The shape of ``syncer run --json``: one object per sync."""
        report = self.delivery or DeliveryReport()
        return {
            "run_id": self.run_id,
            "sync": self.sync,
            "status": self.status.value,
            "error": self.error,
            "planned": self.plan.counts.as_dict() if self.plan else None,
            "rejected_in_plan": self.plan.rejected_total if self.plan else 0,
            "sent": report.sent,
            "confirmed": report.confirmed,
            "adopted": report.adopted,
            "created": report.created,
            "rejected": report.rejected,
            "skipped_create_when": self.plan.counts.skipped if self.plan else 0,
            "owners": self.plan.meta.get("owners") if self.plan else None,
            "parked": self.parked,
            "pending": report.pending,
            "api_calls": report.api_calls,
            "rate_limited": report.rate_limited,
            "retries": report.retries,
            "stopped": report.stopped,
            "duration_s": round(self.duration_s, 3),
            "effects": self.effects.summary() if self.effects else None,
            "kept_in_crm": self.kept.summary() if self.kept else {},
        }


@dataclass
class Pacing:
    """The executor's clock and sleep (real by default; tests pass a fake clock that sleep advances)."""

    clock: Callable[[], float] = monotonic
    sleep: Callable[[float], None] = time.sleep


def run_sync(
    sync: SyncConfig,
    store: StateStore,
    warehouse: Warehouse,
    now: Clock,
    open_destination: DestinationOpener,
    options: RunOptions | None = None,
    pacing: Pacing | None = None,
    progress: Callable[[int], None] | None = None,
    effects: EffectsContext | None = None,
) -> RunOutcome:
    """Plan ``sync``, deliver what changed through the destination ``open_destination`` gives, record the run.

    With ``effects``, the plan's trigger firings are staged in the outbox before any field is written, and after
    the fields the due tasks and alerts are decided and sent (:mod:`syncer.effects.engine`); without, firings are
    ignored.

    Holds the sync's run lock throughout (raises :class:`syncer.state.base.RunLockedError` when another run has it).
    Never raises for a failure of the sync itself; an unexpected error still ends the run as failed (interrupted:
    killed) before it propagates.
    """
    with store.runs.lock(sync.name, store.lock_wait_s):
        run = _Run(sync, store, now, store.runs.start(sync.name, dry_run=False, now=now()), effects)
        try:
            return run.execute(warehouse, open_destination, options or RunOptions(), pacing or Pacing(), progress)
        except BaseException as exc:
            status = RunStatus.KILLED if isinstance(exc, KeyboardInterrupt | SystemExit) else RunStatus.FAILED
            store.runs.finish(run.run_id, status, now(), error=f"{type(exc).__name__}: {exc}"[:500])
            raise


@dataclass
class _Run:
    sync: SyncConfig
    store: StateStore
    now: Clock
    run_id: int
    effects: EffectsContext | None = None
    started: float = field(default_factory=monotonic)
    effects_report: EffectsReport | None = None
    staged: int = 0
    stop: Callable[[], bool] | None = None
    limits: Guards = field(default_factory=Guards)
    parked: int = 0
    kept: KeptValues | None = None

    def execute(
        self,
        warehouse: Warehouse,
        open_destination: DestinationOpener,
        options: RunOptions,
        pacing: Pacing,
        progress: Callable[[int], None] | None,
    ) -> RunOutcome:
        sync, store, now = self.sync, self.store, self.now
        self.stop = options.stop
        self.limits = (options.guards or Guards()).overridden(sync.guards)
        try:
            plan = plan_sync(
                sync,
                store,
                warehouse,
                options.batch_size,
                options.guards,
                self.effects.policy if self.effects is not None else None,
                options.owners(sync) if options.owners is not None else None,
            )
        except PlanError as exc:
            return self.ended(RunStatus.FAILED, None, error=str(exc))
        store.row_errors.note(
            self.run_id, sync.name, [plan_error(row) for row in plan.rejected], now(), store.park_after
        )
        store.row_errors.settle_plan(sync.name, self.run_id)
        if plan.blocked and not options.allow_mass_change:  # a mass change waits for a human: nothing is sent
            return self.ended(RunStatus.BLOCKED, plan, error=plan.guard_message())
        destination: Destination | None = None
        if not plan.is_empty:
            try:
                destination = open_destination(sync)
            except DeliveryError as exc:
                return self.ended(RunStatus.FAILED, plan, error=f"{_connector(sync)}: {exc}")
            except Exception as exc:  # a connector that failed to open in a way it did not map: record it
                detail = str(exc).splitlines()[0] if str(exc) else ""
                return self.ended(
                    RunStatus.FAILED,
                    plan,
                    error=f"{_connector(sync)}: could not open the destination: {type(exc).__name__}: {detail}",
                )
            refused = self.schema_refusal(plan, destination)
            if refused is not None:
                return refused
        try:
            if self.effects is not None:  # before any field is committed, so no firing can be forgotten
                self.staged = stage(sync, plan, store, self.effects.policy, aware_utc(now()))
            # After staging and before any commit (see syncer.core.triggers, "Crossings"): the crossings fired (only
            # when staged), and the fired rows found landed, so the next firing of those keys is a new crossing.
            fired = plan.firings if self.effects is not None else plan.firings.slice(0, 0)
            store.crossings.record(sync.name, fired, plan.landings, now())
            commit_all(store, sync.name, plan.changes, now(), op=ChangeOp.REFRESH)  # bookkeeping only
        except BaseException:
            if destination is not None:
                destination.close()
            raise
        if plan.is_empty:
            store.snapshot.flush(sync.name)
            return self.ended(RunStatus.SUCCEEDED, plan, DeliveryReport())
        if destination is None:  # a destination that takes no field writes: the snapshot tracks the model as is
            commit_all(store, sync.name, plan.changes, now())
            store.snapshot.flush(sync.name)
            return self.ended(RunStatus.SUCCEEDED, plan, DeliveryReport())
        refused = self.keep_crm_edits(plan, destination)
        if refused is not None:
            return refused
        sink = StateSink(store, sync.name, self.run_id, now)
        parked = _CountingSkip(store.row_errors.parked_keys(sync.name))
        try:
            report = deliver(
                plan.changes,
                _totals(plan),
                destination,
                sink,
                clock=pacing.clock,
                sleep=pacing.sleep,
                policy=options.retry,
                skip=parked,
                progress=progress,
                stop=options.stop,
            )
        finally:
            destination.close()
            store.snapshot.flush(sync.name)
        self.parked = parked.hits
        clean = report.rejected == 0 and report.pending == 0 and report.stopped is None
        return self.ended(RunStatus.SUCCEEDED if clean else RunStatus.PARTIAL, plan, report, report.stopped)

    def judged(
        self, status: RunStatus, plan: Plan | None, report: DeliveryReport | None, error: str | None
    ) -> tuple[RunStatus, str | None]:
        """``status`` unless the run attempted rows and rejected or parked all of them, or more than
        ``max_reject_percent`` of them: then failed, with the reason (see the module docstring for "attempted")."""
        if plan is None or status not in (RunStatus.SUCCEEDED, RunStatus.PARTIAL):
            return status, error
        delivered_rejected = report.rejected if report else 0
        counts = plan.counts
        attempted = plan.rejected_total + counts.create + counts.update + counts.clear + counts.unchanged
        failed = plan.rejected_total + delivered_rejected + self.parked
        parts = ", ".join(
            f"{n} {what}"
            for n, what in (
                (plan.rejected_total, "rejected by the plan"),
                (delivered_rejected, "by the destination"),
                (self.parked, "parked"),
            )
            if n
        )
        hint = f"see 'syncer errors {self.sync.name} --by reason'"
        if attempted and failed >= attempted:
            return RunStatus.FAILED, (
                f"{self.sync.name}: wrote nothing: every one of the {attempted} rows of "
                f"the model was rejected or parked ({parts}); {hint}"
            )
        trip = evaluate_rejects(self.limits, attempted, failed)
        if trip is not None:
            return RunStatus.FAILED, f"{self.sync.name}: {trip.describe()} ({parts}); {hint}"
        return status, error

    def schema_refusal(self, plan: Plan, destination: Destination | None) -> RunOutcome | None:
        """The destination's schema checked as ``syncer check`` does (:mod:`syncer.planning.preflight`): a problem
        blocks the run, one line each, before anything is staged or sent. None: go on (also when the check itself
        could not be made: delivery then meets the same failure and deals with it). Closes a refused destination."""
        if destination is None:
            return None
        try:
            problems = preflight(self.sync, destination)
        except DeliveryError:  # unreachable, refused, rate-limited: the delivery meets it too and handles it as such
            return None
        if not problems:
            return None
        destination.close()
        return self.ended(
            RunStatus.BLOCKED,
            plan,
            error="the destination's schema does not fit the mapping (run 'syncer check'):\n" + "\n".join(problems),
        )

    def keep_crm_edits(self, plan: Plan, destination: Destination) -> RunOutcome | None:
        """The field write policies applied to the plan's updates with the CRM's current values
        (:mod:`syncer.delivery.write_policy`), after the firings are staged. None: go on and send."""
        try:
            self.kept = keep_crm_values(self.sync, plan, self.store, destination, self.now())
        except (DeliveryError, RecordsUnreadableError) as exc:
            destination.close()
            self.store.snapshot.flush(self.sync.name)
            return self.ended(RunStatus.FAILED, plan, error=f"{_connector(self.sync)}: {exc}")
        return None

    def ended(
        self, status: RunStatus, plan: Plan | None, report: DeliveryReport | None = None, error: str | None = None
    ) -> RunOutcome:
        status, error = self.judged(status, plan, report, error)
        if (
            self.effects is not None
            and status in (RunStatus.SUCCEEDED, RunStatus.PARTIAL, RunStatus.FAILED)
            and plan is not None
        ):
            effects = Effects(self.store, self.effects, aware_utc(self.now()), stop=self.stop)
            self.effects_report = effects.process(self.sync.name)
            self.effects_report.staged = self.staged
            if self.effects_report.errors and status is RunStatus.SUCCEEDED:
                status, error = RunStatus.PARTIAL, "; ".join(self.effects_report.errors[:3])
        rejected = (plan.rejected_total if plan else 0) + (report.rejected if report else 0)
        if status is not RunStatus.SUCCEEDED:
            forget_schema(self.sync.name)  # a schema error may be why: check the destination again next run
        self.store.runs.finish(
            self.run_id,
            status,
            self.now(),
            plan.model_rows if plan else None,
            plan.counts if plan else None,
            rejected,
            error,
            parked=self.parked,
        )
        return RunOutcome(
            self.run_id,
            self.sync.name,
            status,
            plan,
            report,
            error,
            monotonic() - self.started,
            self.effects_report,
            self.parked,
            self.kept,
        )


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


class _CountingSkip(Container[str]):
    """The parked keys the executor skips, counting each one it skipped (each change row is read once)."""

    def __init__(self, keys: set[str]) -> None:
        self._keys = keys
        self.hits = 0

    def __contains__(self, key: object) -> bool:
        found = key in self._keys
        self.hits += found
        return found


def _totals(plan: Plan) -> dict[Operation, int]:
    return {
        Operation.CREATE: plan.counts.create,
        Operation.UPDATE: plan.counts.update,
        Operation.CLEAR: plan.counts.clear,
    }


def _connector(sync: SyncConfig) -> str:
    return sync.destination.connector if sync.destination is not None else "watch"
