"""What the HTTP server asks of the daemon: liveness, readiness, metrics, triggers and feedback on alerts.

:class:`Control` is the seam (the server knows nothing else); :class:`DaemonControl` answers for a running
:class:`syncer.daemon.service.Daemon`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from concurrent.futures import Future
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Protocol

from connectors import REGISTRY
from syncer.contract import clock
from syncer.contract.interactions import InteractionHandler, InteractionRequest, SeenRequests
from syncer.daemon.apps import PoolBusyError
from syncer.daemon.logs import event
from syncer.effects.feedback import StoreFeedbackLedger
from syncer.state.base import StateStore, StateUnavailableError
from syncer.warehouse.base import WarehouseError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

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
    def interaction(self, body: bytes, headers: Mapping[str, str]) -> tuple[int, Detail, Callable[[], None] | None]:
        """``(status, JSON body, work to run after answering or None)``; never raises for bad input."""

    def record_feedback(self, followup: Callable[[], None]) -> None:
        """Run the work :meth:`interaction` left for after the answer (authorise, record, update)."""


class DaemonControl:
    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self._handlers: list[InteractionHandler] | None = None

    def alive(self) -> tuple[bool, Detail]:
        """The scheduler runs and its lease tick ran lately (a wedged scheduler stops ticking)."""
        d = self.daemon
        silent = clock.monotonic() - d.last_tick
        alive = d.scheduler.running and silent < max(3 * d.tick_s, 10.0) and not d.stopping.is_set()
        return alive, {
            "scheduler": "running" if d.scheduler.running else "stopped",
            "seconds_since_tick": round(silent, 1),
        }

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

    # Interactions (button presses on alerts), handled by the connectors that take them

    def handlers(self) -> list[InteractionHandler]:
        """One handler per connector whose type and settings take interactions, sharing the replay store."""
        if self._handlers is None:
            seen: SeenRequests = self.daemon.leases.seen_requests()
            found = [
                REGISTRY[str(getattr(settings, "type", ""))].open_interactions(settings, seen)
                for settings in self.daemon.project.connectors.values()
                if str(getattr(settings, "type", "")) in REGISTRY
            ]
            self._handlers = [handler for handler in found if handler is not None]
        return self._handlers

    def interaction(self, body: bytes, headers: Mapping[str, str]) -> tuple[int, Detail, Callable[[], None] | None]:
        handlers = self.handlers()
        if not handlers:
            return 404, {"ok": False, "error": "no connector takes interactions (is a signing_secret set?)"}, None
        request = InteractionRequest(body, headers, clock.real_now())  # signatures carry the real time
        ledger = StoreFeedbackLedger(self._store)
        status: int = 401
        detail: Detail = {"ok": False, "error": "signature does not match"}
        followup: Callable[[], None] | None = None
        action: str | None = None
        for handler in handlers:
            try:
                answer = handler.handle(request, ledger)
            except StateUnavailableError as exc:  # the shared replay store is down: refuse, the sender retries
                return 503, {"ok": False, "error": str(exc)}, None
            status, detail, followup, action = answer.status, answer.body, answer.followup, answer.action
            if status != 401:
                break
        event(log, "interaction", status=status, action=action)
        return status, detail, followup

    def record_feedback(self, followup: Callable[[], None]) -> None:
        """Run a press's followup after the answer was sent (the vendor wants its answer fast; the state may be busy
        longer). Failures are logged: the presser already has their answer."""
        try:
            followup()
        except Exception as exc:  # the state is down: say so in the log, never crash the server's worker
            event(log, "alert_feedback_failed", logging.ERROR, error=f"{type(exc).__name__}: {exc}")

    @contextmanager
    def _store(self) -> Iterator[StateStore]:
        with self.daemon.pool.app() as app:
            yield app.store
