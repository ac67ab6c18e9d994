"""What the daemon's HTTP control reads of the running daemon, as a protocol.

:class:`syncer.daemon.service.Daemon` satisfies it. The control (:mod:`syncer.daemon.control`) depends on this
protocol instead of the service, and the service builds the control and the server: so the import arrows go
service -> server -> control -> host, one way.
"""

from __future__ import annotations

import threading
from typing import Any, Protocol

from apscheduler.schedulers.base import BaseScheduler

from syncer.config.loader import Project
from syncer.config.project import DaemonConfig
from syncer.daemon.apps import AppPool
from syncer.daemon.health import Health
from syncer.daemon.leases import Leases
from syncer.daemon.metrics import Metrics


class DaemonHost(Protocol):
    """The running daemon, as its control sees it."""

    @property
    def settings(self) -> DaemonConfig:
        """``daemon:`` of ``syncer.yaml`` as read at start."""
        ...

    @property
    def project(self) -> Project:
        """The project currently loaded (replaced on a reload)."""
        ...

    @property
    def pool(self) -> AppPool: ...

    @property
    def scheduler(self) -> BaseScheduler: ...

    @property
    def last_tick(self) -> float:
        """``time.monotonic()`` of the last lease tick."""
        ...

    @property
    def tick_s(self) -> float: ...

    @property
    def stopping(self) -> threading.Event: ...

    @property
    def config_problems(self) -> list[str]:
        """What the last reload found wrong (empty: the configuration is valid)."""
        ...

    @property
    def health(self) -> Health: ...

    @property
    def leases(self) -> Leases: ...

    @property
    def metrics(self) -> Metrics: ...

    def trigger(self, sync: str, waiter: Any = None) -> bool:
        """Run ``sync`` now on this replica (coalesced with a run in flight); False while stopping."""
        ...
