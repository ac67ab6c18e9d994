"""Runs syncs on a pool of threads so that a sync never overlaps itself and requests that arrive while it runs
coalesce into one next run.

A request is a slot (the scheduled time a run is for) and/or a trigger (someone asked over HTTP, and may wait for
the outcome). While a sync runs, every new request for it folds into one pending request: the latest slot, every
waiter. When the run ends, the pending request runs at once. After :meth:`Dispatcher.shutdown` nothing new starts.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from syncer.contract import clock
from syncer.daemon.logs import event

log = logging.getLogger("syncer.daemon")
Summary = dict[str, Any]


class Execute(Protocol):
    """``execute(sync, slot or None, triggered=...)``: the run's summary, or None when nothing ran (the slot was not
    ours)."""

    def __call__(self, sync: str, due: datetime | None, /, *, triggered: bool) -> Summary | None: ...


@dataclass
class Request:
    due: datetime | None = None
    waiters: list[Future[Summary | None]] = field(default_factory=list)

    @property
    def triggered(self) -> bool:
        return bool(self.waiters)

    def merge(self, due: datetime | None, waiter: Future[Summary | None] | None) -> None:
        if due is not None and (self.due is None or due > self.due):
            self.due = due
        if waiter is not None:
            self.waiters.append(waiter)


@dataclass
class _SyncState:
    running: bool = False
    pending: Request | None = None


class Dispatcher:
    def __init__(self, workers: int, execute: Execute) -> None:
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="syncer-run")
        self._execute = execute
        self._states: dict[str, _SyncState] = {}
        self._guard = threading.Condition()
        self._closed = False

    def submit(self, sync: str, due: datetime | None = None, waiter: Future[Summary | None] | None = None) -> bool:
        """Ask for a run of ``sync`` for the slot ``due`` (and/or a waiting trigger); False once shutting down."""
        with self._guard:
            if self._closed:
                return False
            state = self._states.setdefault(sync, _SyncState())
            if state.running:
                state.pending = state.pending or Request()
                earlier = state.pending.due
                state.pending.merge(due, waiter)
                if earlier is not None and due is not None:  # two slots wait: the later one stands for both
                    event(
                        log,
                        "coalesced",
                        sync=sync,
                        due_at=min(earlier, due).isoformat(),
                        into=max(earlier, due).isoformat(),
                    )
                return True
            state.running = True
            request = Request()
            request.merge(due, waiter)
            self._pool.submit(self._work, sync, request)
            return True

    def _work(self, sync: str, request: Request | None) -> None:
        while request is not None:
            summary: Summary | None = None
            try:
                summary = self._execute(sync, request.due, triggered=request.triggered)
            except Exception as exc:  # the executor logs what it can; this keeps the sync schedulable
                event(log, "run_crashed", logging.ERROR, sync=sync, error=f"{type(exc).__name__}: {exc}")
                summary = {"sync": sync, "status": "error", "error": f"{type(exc).__name__}: {exc}"}
            finally:
                for waiter in request.waiters:
                    waiter.set_result(summary)
            with self._guard:
                state = self._states[sync]
                request, state.pending = (None if self._closed else state.pending), None
                if request is None:
                    state.running = False
                    self._guard.notify_all()

    def busy(self) -> set[str]:
        """The syncs running (or about to) in this process."""
        with self._guard:
            return {sync for sync, state in self._states.items() if state.running}

    def shutdown(self, timeout: float) -> bool:
        """Start nothing new; wait up to ``timeout`` seconds for runs in flight; True when they all ended."""
        deadline = clock.monotonic() + timeout
        with self._guard:
            self._closed = True
            for state in self._states.values():  # pending requests will not run: answer their waiters now
                for waiter in state.pending.waiters if state.pending else []:
                    waiter.set_result({"status": "skipped", "error": "the daemon is stopping"})
                state.pending = None
            while any(state.running for state in self._states.values()):
                left = deadline - clock.monotonic()
                if left <= 0:
                    break
                self._guard.wait(left)
            done = not any(state.running for state in self._states.values())
        self._pool.shutdown(wait=False, cancel_futures=True)
        return done
