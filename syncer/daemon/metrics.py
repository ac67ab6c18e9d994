"""Prometheus metrics of one daemon process, fed from each run's ``RunOutcome.summary()``.

Counters are per process (Prometheus sums replicas); the gauges about syncs (seconds since the last success,
overdue) come from :class:`syncer.daemon.health.Health`, which reads the shared state, so every replica reports
the same values for them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_DURATION_BUCKETS = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)


class Metrics:
    """The daemon's metrics; :meth:`observe` one run summary, :meth:`render` the exposition text."""

    def __init__(
        self, sync_gauges: Callable[[], Iterable[tuple[str, float | None, bool]]], leases_held: Callable[[], int]
    ) -> None:
        disable_created_metrics()  # type: ignore[no-untyped-call]  # the *_created series double the output
        self.registry = CollectorRegistry()
        r = self.registry
        self.runs = Counter("syncer_runs", "Runs by sync and how they ended.", ["sync", "status"], registry=r)
        self.planned = Counter("syncer_rows_planned", "Rows planned, by change.", ["sync", "op"], registry=r)
        self.sent = Counter("syncer_rows_sent", "Records sent to the destination.", ["sync"], registry=r)
        self.confirmed = Counter("syncer_rows_confirmed", "Records the destination confirmed.", ["sync"], registry=r)
        self.rejected = Counter(
            "syncer_rows_rejected", "Rows rejected (by the plan or the destination).", ["sync"], registry=r
        )
        self.parked = Gauge(
            "syncer_rows_parked",
            "Rows the sync's latest run (on this replica) skipped because "
            "their delivery is parked ('syncer retry' re-queues them).",
            ["sync"],
            registry=r,
        )
        self.api_calls = Counter("syncer_api_calls", "Destination API calls.", ["destination"], registry=r)
        self.rate_limited = Counter(
            "syncer_rate_limited", "Destination replies that said slow down (429s).", ["destination"], registry=r
        )
        self.retries = Counter("syncer_retries", "Destination calls retried.", ["destination"], registry=r)
        self.tasks = Counter("syncer_tasks", "CRM tasks, by how they ended.", ["sync", "status"], registry=r)
        self.posts = Counter(
            "syncer_alert_posts",
            "Alert posts, by how they ended (sent, found_posted, failed...).",
            ["sync", "status"],
            registry=r,
        )
        self.alerts = Counter("syncer_alert_decisions", "Alert decisions, by outcome.", ["sync", "outcome"], registry=r)
        self.triggers = Counter("syncer_triggers", "Runs asked for over HTTP.", ["sync"], registry=r)
        self.duration = Histogram(
            "syncer_run_duration_seconds", "How long runs took.", ["sync"], buckets=_DURATION_BUCKETS, registry=r
        )
        r.register(_SyncGauges(sync_gauges, leases_held))

    def observe(self, summary: Mapping[str, Any], destination: str) -> None:
        """Count one run: ``summary`` is ``RunOutcome.summary()``; ``destination`` the sync's connector name."""
        sync = str(summary["sync"])
        self.runs.labels(sync, str(summary["status"])).inc()
        for op, count in (summary.get("planned") or {}).items():
            if isinstance(count, int) and op in ("create", "update", "clear", "unchanged", "refresh"):
                self.planned.labels(sync, op).inc(count)
        self.sent.labels(sync).inc(int(summary.get("sent") or 0))
        self.confirmed.labels(sync).inc(int(summary.get("confirmed") or 0))
        self.rejected.labels(sync).inc(int(summary.get("rejected") or 0) + int(summary.get("rejected_in_plan") or 0))
        if summary.get("planned") is not None:  # a run that got as far as delivering says how many it skipped
            self.parked.labels(sync).set(int(summary.get("parked") or 0))
        self.api_calls.labels(destination).inc(int(summary.get("api_calls") or 0))
        self.rate_limited.labels(destination).inc(int(summary.get("rate_limited") or 0))
        self.retries.labels(destination).inc(int(summary.get("retries") or 0))
        effects = summary.get("effects") or {}
        for status, count in (effects.get("tasks") or {}).items():
            self.tasks.labels(sync, str(status)).inc(int(count))
        for outcome, count in (effects.get("decisions") or {}).items():
            self.alerts.labels(sync, str(outcome)).inc(int(count))
        for status, count in (effects.get("alerts") or {}).items():
            self.posts.labels(sync, str(status)).inc(int(count))
        self.duration.labels(sync).observe(float(summary.get("duration_s") or 0.0))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _SyncGauges(Collector):
    """Gauges computed at scrape time: seconds since each sync's last success, overdue syncs, leases held."""

    def __init__(
        self, syncs: Callable[[], Iterable[tuple[str, float | None, bool]]], leases_held: Callable[[], int]
    ) -> None:
        self._syncs = syncs
        self._leases_held = leases_held

    def collect(self) -> Iterable[GaugeMetricFamily]:
        since = GaugeMetricFamily(
            "syncer_seconds_since_last_success",
            "Seconds since the sync's last successful (or partial) run; absent before one.",
            labels=["sync"],
        )
        overdue = GaugeMetricFamily(
            "syncer_sync_overdue", "1 when the sync has not succeeded for daemon.overdue_after.", labels=["sync"]
        )
        for sync, seconds, late in self._syncs():
            if seconds is not None:
                since.add_metric([sync], seconds)
            overdue.add_metric([sync], 1.0 if late else 0.0)
        held = GaugeMetricFamily("syncer_leases_held", "Syncs this replica holds the lease of.")
        held.add_metric([], float(self._leases_held()))
        yield from (since, overdue, held)
