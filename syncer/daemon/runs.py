"""One run as the daemon makes it: claim the slot, run the sync on a pooled App, then count, log and alert.

A scheduled run first claims its slot (:meth:`syncer.daemon.leases.Leases.claim`); one that loses the claim does
nothing (another replica ran it, or the lease moved). A triggered run needs no slot; when another process holds
the sync's run lock it waits for it (up to :data:`TRIGGER_LOCK_WAIT_S`), so the run a dbt job asked for starts
after the model was rebuilt instead of being skipped.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from syncer.config.errors import ConfigError
from syncer.config.loader import Project
from syncer.contract import clock
from syncer.daemon.apps import AppPool
from syncer.daemon.dispatch import Summary
from syncer.daemon.health import Health
from syncer.daemon.leases import Leases
from syncer.daemon.logs import event
from syncer.daemon.metrics import Metrics
from syncer.daemon.ops import OpsAlerts
from syncer.runner import RunOutcome
from syncer.state.base import RunLockedError, StateUnavailableError

log = logging.getLogger("syncer.daemon")
TRIGGER_LOCK_WAIT_S = 600.0
_LOCK_POLL_S = 1.0


class RunMaker:
    """Makes runs for the dispatcher (:meth:`execute` is its ``Execute``)."""

    def __init__(
        self,
        pool: AppPool,
        leases: Callable[[], Leases],
        metrics: Metrics,
        health: Health,
        ops: OpsAlerts | None,
        stopping: threading.Event,
    ) -> None:
        self.pool, self._leases, self.metrics, self.health = pool, leases, metrics, health
        self.ops, self.stopping = ops, stopping

    @property
    def project(self) -> Project:
        return self.pool.project

    def execute(self, sync: str, due: datetime | None, *, triggered: bool) -> Summary | None:
        leases = self._leases()
        if due is not None and not leases.claim(sync, due):
            if not triggered:
                return None  # another replica ran this slot, or the lease moved: not ours
            due = None
        loaded = self.project.syncs.get(sync)
        if loaded is None:
            return {"sync": sync, "status": "skipped", "error": f"no sync named '{sync}'"}
        config = loaded.config
        try:
            with self.pool.app() as app:
                app.require_destinations([config])
                outcome = self._run_locked(
                    sync, lambda: app.run(config, app.run_options(stop=self.stopping.is_set)), triggered=triggered
                )
                if isinstance(outcome, dict):
                    return outcome
                summary = outcome.summary()
                self.metrics.observe(summary, config.destination.connector if config.destination else "watch")
                self.health.ran(sync, summary["status"], clock.naive_now())
                event(
                    log,
                    "run",
                    replica=leases.replica,
                    due_at=due.isoformat() if due else None,
                    triggered=triggered,
                    **summary,
                )
                if self.ops is not None:
                    self.ops.after_run(app.store, app.open_alert_channel, sync, outcome.run_id)
                return summary
        except ConfigError as exc:
            event(log, "run_refused", logging.ERROR, sync=sync, problems=[str(p) for p in exc.problems])
            return {"sync": sync, "status": "error", "error": "; ".join(str(p) for p in exc.problems)}
        except StateUnavailableError as exc:
            event(log, "run_failed_to_start", logging.ERROR, sync=sync, error=str(exc))
            return {"sync": sync, "status": "error", "error": str(exc)}

    def _run_locked(self, sync: str, run: Callable[[], RunOutcome], *, triggered: bool) -> RunOutcome | Summary:
        """``run()``; when the sync's lock is held elsewhere, a triggered run waits for it, a scheduled one skips."""
        deadline = clock.monotonic() + TRIGGER_LOCK_WAIT_S
        while True:
            try:
                return run()
            except RunLockedError as exc:
                if not triggered or self.stopping.is_set() or clock.monotonic() > deadline:
                    event(log, "run_skipped", sync=sync, reason=str(exc))
                    return {"sync": sync, "status": "skipped", "error": str(exc)}
            if self.stopping.wait(_LOCK_POLL_S):
                return {"sync": sync, "status": "skipped", "error": "the daemon is stopping"}
