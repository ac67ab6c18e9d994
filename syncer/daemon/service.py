"""``syncer daemon``: runs every enabled sync on its schedule until SIGTERM.

Threads: APScheduler fires each sync at its slots (:mod:`syncer.daemon.slots`) and ticks the leases
(:mod:`syncer.daemon.leases`); the :class:`~syncer.daemon.dispatch.Dispatcher` runs syncs on a small pool, each run
on an App of its own (:mod:`syncer.daemon.apps`); uvicorn serves :mod:`syncer.daemon.server`; the main thread
waits for signals: SIGTERM/SIGINT stop (runs in flight finish their batch and commit), SIGHUP reloads the project.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_SUBMITTED, JobSubmissionEvent
from apscheduler.schedulers.background import BackgroundScheduler

from connectors import REGISTRY
from syncer.config.errors import ConfigError, Problem
from syncer.config.loader import PROJECT_FILE, Project, load_project
from syncer.config.schedule import parse_duration, parse_schedule
from syncer.contract import clock
from syncer.daemon.apps import AppPool, PoolBusyError
from syncer.daemon.bodies import RequestLimits
from syncer.daemon.control import DaemonControl
from syncer.daemon.dispatch import Dispatcher
from syncer.daemon.health import SUCCESS_STATUSES, Health
from syncer.daemon.leases import Leases, LocalLeases, PostgresLeases
from syncer.daemon.logs import event
from syncer.daemon.metrics import Metrics
from syncer.daemon.ops import OpsAlerts
from syncer.daemon.runs import RunMaker
from syncer.daemon.server import HttpServer
from syncer.daemon.slots import latest_slot, make_trigger, slot_of
from syncer.daemon.watch import FileWatch, check_models
from syncer.state.base import StateUnavailableError

log = logging.getLogger("syncer.daemon")
_HISTORY = 50  # runs read per sync at start to find its last success


def _slot_came(sync: str) -> None:
    """The job APScheduler runs at each slot of ``sync``; the work happens in :meth:`Daemon._due`, which sees the
    slot's scheduled time."""


class Daemon:
    """One replica. :meth:`start`, then :meth:`serve_forever` (or :meth:`stop` from a test)."""

    def __init__(
        self,
        root: Path,
        environ: Mapping[str, str] | None,
        project: Project,
        *,
        watch: bool = False,
        host: str | None = None,
        port: int | None = None,
    ) -> None:
        self.root, self.environ = root, environ
        self.settings = project.config.daemon  # read once: host, port and leases take effect at a restart
        self.host, self.port = host or self.settings.host, port or self.settings.port
        self.tz = ZoneInfo(self.settings.timezone)
        self.lease = timedelta(seconds=self.settings.lease_s)
        self.tick_s = self.settings.lease_s / 3
        self.watch = FileWatch(root, project.config.mappings_dir) if (watch or self.settings.reload) else None
        self.config_problems: list[str] = []
        self.stopping = threading.Event()
        self._stop_requested = threading.Event()
        self._reload_requested = threading.Event()
        self.last_tick = clock.monotonic()
        url = project.config.state.url.get_secret_value()
        self.shared_state = url.split("://", 1)[0].startswith("postgres")
        workers = self.settings.workers if self.shared_state else 1
        self.pool = AppPool(root, environ, project, workers + 1 if self.shared_state else 1)
        self.health = Health(parse_duration(self.settings.overdue_after), clock.naive_now())
        self.leases: Leases = LocalLeases({})
        self.metrics = Metrics(self._sync_gauges, lambda: len([s for s in self.enabled() if self.leases.holds(s)]))
        ops = self.settings.ops_alerts
        self.runs = RunMaker(
            self.pool,
            lambda: self.leases,
            self.metrics,
            self.health,
            OpsAlerts(ops) if ops is not None else None,
            self.stopping,
        )
        self.dispatcher = Dispatcher(workers, self.runs.execute)
        self.server: HttpServer | None = None
        self.scheduler = BackgroundScheduler(
            timezone=self.tz, job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None}
        )
        self.scheduler.add_listener(self._due, EVENT_JOB_SUBMITTED | EVENT_JOB_MAX_INSTANCES)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def project(self) -> Project:
        return self.pool.project

    def enabled(self) -> list[str]:
        return sorted(name for name, loaded in self.project.syncs.items() if loaded.config.enabled)

    # Start and stop

    def start(self) -> None:
        """Open the state (migrating it), take leases and start scheduling. Raises ``StateUnavailableError``."""
        ops = self.settings.ops_alerts
        with self.pool.app() as app:
            if ops is not None:  # the ops channel's token is needed from the first failure on: refuse now
                missing = app.project.missing_under(("connectors", ops.connector))
                if missing:
                    raise ConfigError([variable.problem for variable in missing])
            store = app.store  # opens (and migrates) the state before any replica logic reads it
            history = {name: store.runs.recent(name, limit=_HISTORY) for name in self.project.syncs}
        started = {name: runs[0].started_at for name, runs in history.items() if runs}
        self.health.merge(
            {
                name: next(r.finished_at for r in runs if r.status in SUCCESS_STATUSES and r.finished_at)
                for name, runs in history.items()
                if any(r.status in SUCCESS_STATUSES and r.finished_at for r in runs)
            }
        )
        if self.shared_state:
            self.leases = PostgresLeases(self.project.config.state.url.get_secret_value(), self.lease)
        else:
            self.leases = LocalLeases(started)
        self.health.track(self.enabled(), clock.naive_now())
        self.server = HttpServer(
            DaemonControl(self), self.host, self.port, RequestLimits(max_body_bytes=self.settings.max_body_bytes)
        )
        self.server.start()
        self._tick()
        self._schedule_all()
        self.scheduler.add_job(self._tick, "interval", seconds=self.tick_s, id="leases")
        if self.watch is not None:
            self.scheduler.add_job(self._poll_files, "interval", seconds=1, id="watch")
        self.scheduler.start()
        event(
            log,
            "daemon_started",
            replica=self.leases.replica,
            syncs=self.enabled(),
            url=self.url,
            state="postgresql" if self.shared_state else "duckdb",
            timezone=self.settings.timezone,
            reload=self.watch is not None,
        )

    def install_signal_handlers(self) -> None:
        """SIGTERM and SIGINT stop, SIGHUP reloads (the main thread acts on them in :meth:`serve_forever`)."""
        signal.signal(signal.SIGTERM, self._on_stop_signal)
        signal.signal(signal.SIGINT, self._on_stop_signal)
        signal.signal(signal.SIGHUP, lambda signum, frame: self._reload_requested.set())

    def serve_forever(self) -> bool:
        """Wait on the main thread until SIGTERM or SIGINT, reloading on SIGHUP; then :meth:`stop`."""
        while not self._stop_requested.wait(0.2):
            if self._reload_requested.is_set():
                self._reload_requested.clear()
                self.reload()
        return self.stop()

    def _on_stop_signal(self, signum: int, frame: FrameType | None) -> None:
        self._stop_requested.set()

    def request_stop(self) -> None:
        self._stop_requested.set()

    def stop(self) -> bool:
        """Finish the batches in flight and commit them (up to ``stop_timeout_s``), let the leases go, close."""
        event(log, "daemon_stopping", running=sorted(self.dispatcher.busy()))
        clean = self._shut_down()
        event(log, "daemon_stopped", clean=clean)
        return clean

    def abort(self, reason: str) -> None:
        """:meth:`start` failed (the state is another process's, the port is taken): log why, close what opened.

        Never logs ``daemon_stopped``: a daemon that never started did not stop cleanly, it was refused."""
        event(log, "daemon_refused", logging.ERROR, error=reason)
        self._shut_down()

    def _shut_down(self) -> bool:
        self.stopping.set()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        clean = self.dispatcher.shutdown(self.settings.stop_timeout_s)
        try:
            self.leases.release_all()
        except StateUnavailableError as exc:
            event(log, "lease_release_failed", logging.WARNING, error=str(exc))
        self.leases.close()
        self.pool.close()
        if self.server is not None:
            self.server.stop()
        return clean

    # Scheduling

    def _schedule_all(self) -> None:
        wanted = {f"sync:{name}" for name in self.enabled()}
        for job in self.scheduler.get_jobs():
            if job.id.startswith("sync:") and job.id not in wanted:
                job.remove()
        default = self.project.config.defaults.schedule
        for name in self.enabled():
            schedule = parse_schedule(self.project.syncs[name].config.schedule or default)
            self.scheduler.add_job(
                _slot_came, make_trigger(schedule, self.tz), args=[name], id=f"sync:{name}", replace_existing=True
            )

    def _slot(self, sync: str, now: datetime) -> datetime | None:
        loaded = self.project.syncs.get(sync)
        if loaded is None:
            return None
        schedule = parse_schedule(loaded.config.schedule or self.project.config.defaults.schedule)
        return latest_slot(schedule, self.tz, now)

    def _due(self, event: JobSubmissionEvent) -> None:
        """A sync's slot came: run it here if this replica holds its lease (the claim decides for good).

        A listener on the scheduler's own thread, called with the scheduled time itself: a busy process that runs
        a job late must not mistake the slot for a later one."""
        if not event.job_id.startswith("sync:") or not event.scheduled_run_times:
            return
        sync = event.job_id.removeprefix("sync:")
        if self.leases.holds(sync) and not self.stopping.is_set():
            self.dispatcher.submit(sync, slot_of(max(event.scheduled_run_times)))

    def _tick(self) -> None:
        self.last_tick = clock.monotonic()
        try:
            result = self.leases.tick(self.enabled(), self.dispatcher.busy())
            self.health.merge(self.leases.last_successes())
        except StateUnavailableError as exc:
            event(log, "lease_tick_failed", logging.WARNING, error=str(exc))
            return
        if result.acquired or result.released:
            event(
                log,
                "leases",
                replica=self.leases.replica,
                acquired=sorted(result.acquired),
                released=sorted(result.released),
                held=len(result.held),
                replicas=result.replicas,
            )
        now = clock.now()
        for sync, last_due in result.acquired.items():  # a slot missed while nobody held the lease runs once now
            slot = self._slot(sync, now)
            # Never claimed: only a slot since this daemon began scheduling the sync counts as missed.
            since = last_due if last_due is not None else self.health.scheduled_since(sync)
            if slot is not None and since is not None and slot.replace(tzinfo=None) > since:
                event(
                    log,
                    "catch_up",
                    sync=sync,
                    due_at=slot.isoformat(),
                    last_due_at=last_due.isoformat() if last_due else None,
                )
                self.dispatcher.submit(sync, slot)
        if self.shared_state:
            self._mark_killed()

    def _mark_killed(self) -> None:
        """Runs whose replica died are marked killed (their PostgreSQL session is gone)."""
        try:
            with self.pool.app(timeout=0) as app:
                killed = app.store.runs.mark_killed(clock.naive_now())
        except (PoolBusyError, StateUnavailableError):
            return
        if killed:
            event(log, "runs_marked_killed", run_ids=killed)

    # Runs

    def trigger(self, sync: str, waiter: Any = None) -> bool:
        """Run ``sync`` now on this replica (coalesced with a run in flight); False while stopping."""
        self.metrics.triggers.labels(sync).inc()
        return not self.stopping.is_set() and self.dispatcher.submit(sync, None, waiter)

    def _sync_gauges(self) -> list[tuple[str, float | None, bool]]:
        report = self.health.report(clock.naive_now())
        return [(h.sync, h.seconds_since_success, h.overdue) for h in report]

    # Reload

    def _poll_files(self) -> None:
        if self.watch is not None and self.watch.changed():
            self._reload_requested.set()

    def reload(self) -> bool:
        """Load the project again; keep the running one (and log every problem) when the new one is broken."""
        try:
            project = load_project(self.root, REGISTRY, self.environ)
            problems = check_models(self.root, self.environ, project)
        except ConfigError as exc:
            problems = exc.problems
        else:
            if project.config.state.url != self.project.config.state.url:  # leases and runs must share one state
                problems.append(
                    Problem(
                        PROJECT_FILE,
                        0,
                        "state.url",
                        "moving to another state needs a restart of the daemon; the running one is kept",
                    )
                )
        if problems:
            self.config_problems = [str(problem) for problem in problems]
            event(log, "reload_refused", logging.ERROR, problems=self.config_problems)
            return False
        before = {name: loaded.config for name, loaded in self.project.syncs.items()}
        self.pool.reload(project)
        self.config_problems = []
        if project.config.daemon != self.settings:
            event(
                log,
                "daemon_settings_changed",
                logging.WARNING,
                message="changes to the daemon section take effect at the next restart",
            )
        self.health.track(self.enabled(), clock.naive_now())
        self._schedule_all()
        after = {name: loaded.config for name, loaded in project.syncs.items()}
        event(
            log,
            "reloaded",
            added=sorted(after.keys() - before.keys()),
            removed=sorted(before.keys() - after.keys()),
            changed=sorted(n for n in after.keys() & before.keys() if after[n] != before[n]),
        )
        return True
