"""Operations alerts: one chat post when a sync starts failing, one when it recovers, never one per run.

Whether a sync "was failing" is read from the run history in the state, not kept in memory, so replicas agree:
a run that fails after a run that did not (or after none) posts "failing"; a run that succeeds after one that
failed posts "recovered". Runs of one sync never overlap, so "the run before" is well defined. A post that fails
is logged, not retried: the next transition posts again.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from syncer.config.project import OpsAlertsConfig
from syncer.contract.alerts import MarkedText, Notice
from syncer.contract.destination import RecordStatus
from syncer.contract.effects import AlertChannel, AlertPost
from syncer.daemon.logs import event
from syncer.state.base import RunRecord, RunStatus, StateStore

if TYPE_CHECKING:
    from collections.abc import Callable

log = logging.getLogger("syncer.daemon.ops")

FAILING = (RunStatus.FAILED.value, RunStatus.BLOCKED.value)
SETTLED = (RunStatus.SUCCEEDED.value, RunStatus.PARTIAL.value, *FAILING)
_HISTORY = 20


def transition(history: list[RunRecord], run_id: int) -> str | None:
    """``"failing"``, ``"recovered"`` or None for the run ``run_id``, given the sync's runs most recent first."""
    settled = [run for run in history if run.status in SETTLED and not run.dry_run]
    current = next((run for run in settled if run.id == run_id), None)
    if current is None:
        return None
    earlier = [run for run in settled if run.id < run_id]
    was_failing = bool(earlier) and earlier[0].status in FAILING
    if current.status in FAILING and not was_failing:
        return "failing"
    if current.status not in FAILING and was_failing:
        return "recovered"
    return None


def message(sync: str, kind: str, run: RunRecord) -> Notice:
    """The notice to post: the sync's name and the run's error are data (the channel escapes them)."""
    if kind == "failing":
        reason = (run.error or run.status).splitlines()[0][:500]
        return Notice(
            MarkedText.of(
                (":rotating_light: sync *", False),
                (sync, True),
                (f"* is failing (run {run.id}, {run.status}): ", False),
                (reason, True),
                ("\nSee the failing rows with `syncer errors ", False),
                (sync, True),
                ("` and the runs with `syncer status`.", False),
            )
        )
    return Notice(
        MarkedText.of(
            (":white_check_mark: sync *", False), (sync, True), (f"* recovered: run {run.id} {run.status}.", False)
        )
    )


class OpsAlerts:
    """Posts transitions to ``config.channel`` through the alert connector ``config.connector``."""

    def __init__(self, config: OpsAlertsConfig) -> None:
        self.config = config

    def after_run(
        self, store: StateStore, open_channel: Callable[[str], AlertChannel], sync: str, run_id: int
    ) -> str | None:
        """Post if run ``run_id`` of ``sync`` changed whether it is failing; return the transition posted.

        ``open_channel(connector)`` opens the alert channel (``App.open_alert_channel``)."""
        history = store.runs.recent(sync, limit=_HISTORY)
        kind = transition(history, run_id)
        if kind is None:
            return None
        run = next(run for run in history if run.id == run_id)
        try:
            result = open_channel(self.config.connector).post(
                AlertPost(f"syncer-ops:{sync}:{run_id}:{kind}", message(sync, kind, run), channel=self.config.channel)
            )
        except Exception as exc:  # best effort: a chat outage must not stop the syncs
            event(
                log,
                "ops_alert_failed",
                logging.WARNING,
                sync=sync,
                transition=kind,
                run_id=run_id,
                error=f"{type(exc).__name__}: {exc}",
            )
            return None
        if result.status is not RecordStatus.CONFIRMED:
            event(
                log,
                "ops_alert_failed",
                logging.WARNING,
                sync=sync,
                transition=kind,
                run_id=run_id,
                error=f"{result.code}: {result.message}",
            )
            return None
        event(log, "ops_alert", sync=sync, transition=kind, run_id=run_id, channel=self.config.channel)
        return kind
