"""What the HTTP server asks of the daemon: liveness, readiness, metrics, triggers and Slack feedback.

:class:`Control` is the seam (the server knows nothing else); :class:`DaemonControl` answers for a running
:class:`syncer.daemon.service.Daemon`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, Protocol

import httpx

from connectors.slack.settings import SlackSettings
from syncer.alerts.interactions import Feedback, InteractionHandler, snooze_entry, update_message
from syncer.contract import clock
from syncer.daemon.apps import PoolBusyError
from syncer.daemon.logs import event
from syncer.state.base import StateUnavailableError
from syncer.warehouse.base import WarehouseError

if TYPE_CHECKING:
    from syncer.daemon.host import DaemonHost as Daemon

log = logging.getLogger("syncer.daemon.http")
Detail = dict[str, Any]


class Control(Protocol):
    def alive(self) -> tuple[bool, Detail]: ...
    def ready(self) -> tuple[bool, Detail]: ...
    def metrics(self) -> bytes: ...
    def trigger_token(self) -> str | None: ...
    def sync_names(self) -> set[str]: ...
    def trigger(self, sync: str, waiter: Future[dict[str, Any] | None]) -> bool: ...
    def interaction(self, body: bytes, headers: Mapping[str, str]) -> tuple[int, Detail, Feedback | None]: ...
    def record_feedback(self, feedback: Feedback) -> None: ...


class DaemonControl:
    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self._handlers: list[InteractionHandler] | None = None

    def alive(self) -> tuple[bool, Detail]:
        """The scheduler runs and its lease tick ran lately (a wedged scheduler stops ticking)."""
        d = self.daemon
        silent = clock.monotonic() - d.last_tick
        alive = d.scheduler.running and silent < max(3 * d.tick_s, 10.0) and not d.stopping.is_set()
        return alive, {"scheduler": "running" if d.scheduler.running else "stopped",
                       "seconds_since_tick": round(silent, 1)}

    def ready(self) -> tuple[bool, Detail]:
        """Config valid, state and warehouse reachable; overdue syncs listed (they do not make it unready)."""
        d = self.daemon
        checks: Detail = {"config": "ok" if not d.config_problems else d.config_problems}
        try:
            d.leases.ping()
            with d.pool.app(timeout=2.0) as app:
                app.store.schema_versions()
                checks["state"] = "ok"
                app.warehouse.describe("SELECT 1 AS ok")
                checks["warehouse"] = "ok"
        except PoolBusyError:  # a DuckDB state in use by a run is reachable by definition
            checks.setdefault("state", "ok (in use by a run)")
            checks.setdefault("warehouse", "ok (in use by a run)")
        except (StateUnavailableError, WarehouseError) as exc:
            checks.setdefault("state", "ok" if "state" in checks else str(exc))
            checks.setdefault("warehouse", str(exc))
        except Exception as exc:  # a driver's own error: report it, never crash the probe
            checks.setdefault("state", f"{type(exc).__name__}: {exc}")
            checks.setdefault("warehouse", "not checked")
        now = clock.naive_now()
        checks["overdue"] = [h.sync for h in d.health.report(now) if h.overdue]
        ready = all(checks[k] == "ok" or str(checks[k]).startswith("ok ") for k in ("config", "state", "warehouse"))
        return ready, checks

    def metrics(self) -> bytes:
        return self.daemon.metrics.render()

    def trigger_token(self) -> str | None:
        token = self.daemon.settings.trigger_token
        return token.get_secret_value() if token is not None else None

    def sync_names(self) -> set[str]:
        return set(self.daemon.project.syncs)

    def trigger(self, sync: str, waiter: Future[dict[str, Any] | None]) -> bool:
        return self.daemon.trigger(sync, waiter)

    # Slack interactions

    def handlers(self) -> list[InteractionHandler]:
        """One handler per Slack connector with a ``signing_secret``, sharing the replay store."""
        if self._handlers is None:
            seen = self.daemon.leases.seen_requests()
            self._handlers = [InteractionHandler(settings.signing_secret, seen)
                              for settings in self.daemon.project.connectors.values()
                              if isinstance(settings, SlackSettings) and settings.signing_secret is not None]
        return self._handlers

    def interaction(self, body: bytes, headers: Mapping[str, str]) -> tuple[int, Detail, Feedback | None]:
        handlers = self.handlers()
        if not handlers:
            return 404, {"ok": False, "error": "no Slack connector has a signing_secret"}, None
        now = clock.real_now()  # Slack signs with the real time: its replay window is not business time
        answer: tuple[int, Detail, Feedback | None] = (401, {"ok": False, "error": "signature does not match"}, None)
        for handler in handlers:
            try:
                answer = handler.handle(body, headers, now)
            except StateUnavailableError as exc:  # the shared replay store is down: refuse, Slack retries
                return 503, {"ok": False, "error": str(exc)}, None
            if answer[0] != 401:
                break
        event(log, "slack_interaction", status=answer[0], action=answer[2].action.value if answer[2] else None)
        return answer

    def record_feedback(self, feedback: Feedback) -> None:
        """Record the press in the alert ledger (a snooze as a ledger entry), then update the message (best effort).

        Runs after Slack got its 200: Slack wants an answer within 3 seconds, the state may be busy longer."""
        now = clock.now()
        key = feedback.dedupe_key.token()
        try:
            with self.daemon.pool.app() as app:
                touched = app.store.ledger.feedback(key, feedback.action.value, now.replace(tzinfo=None))
                entry = snooze_entry(feedback, now)
                if entry is not None:
                    app.store.ledger.add([entry])
        except Exception as exc:  # the state is down: Slack already has its 200; say so in the log
            event(log, "alert_feedback_failed", logging.ERROR, action=feedback.action.value, key=key,
                  error=f"{type(exc).__name__}: {exc}")
            return
        event(log, "alert_feedback", action=feedback.action.value, sync=feedback.dedupe_key.sync,
              account=feedback.dedupe_key.account, user=feedback.user_id, ledger_rows=touched)
        if feedback.response_url:
            try:
                httpx.post(feedback.response_url, json=update_message(feedback), timeout=5.0).raise_for_status()
            except httpx.HTTPError as exc:
                event(log, "alert_update_failed", logging.WARNING, error=f"{type(exc).__name__}: {exc}")
