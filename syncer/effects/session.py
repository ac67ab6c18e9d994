"""One run's effects session as the sending and logging steps see it, and the report it fills in.

:class:`syncer.effects.engine.Effects` satisfies :class:`EffectsSession`. The engine calls the steps
(:mod:`syncer.effects.send`, :mod:`syncer.effects.log`) with itself; they depend on this protocol instead of the
engine, so the import arrows go engine -> send/log -> session, one way.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from syncer.contract.effects import AlertChannel, TaskDestination
from syncer.delivery.pacer import Pacer
from syncer.effects.owners import OwnerDirectory
from syncer.state.base import StateStore


@dataclass
class EffectsReport:
    """What one run did with tasks and alerts; ``summary()`` is the ``effects`` part of ``run --json``."""

    staged: int = 0
    tasks: Counter[str] = field(default_factory=Counter)  # created, existed, failed, retry, waiting_for_record
    decisions: Counter[str] = field(default_factory=Counter)  # the policy's outcomes (send, digest, cooldown...)
    alerts: Counter[str] = field(default_factory=Counter)  # sent, found_posted, failed, retry
    digests: int = 0
    errors: list[str] = field(default_factory=list)
    log: str = ""
    api_calls: int = 0
    rate_limited: int = 0

    def summary(self) -> dict[str, Any]:
        return {
            "staged": self.staged,
            "tasks": dict(sorted(self.tasks.items())),
            "decisions": dict(sorted(self.decisions.items())),
            "alerts": dict(sorted(self.alerts.items())),
            "digests": self.digests,
            "errors": self.errors,
            "alert_log": self.log,
            "api_calls": self.api_calls,
            "rate_limited": self.rate_limited,
        }


class EffectsSession(Protocol):
    """What a step of one run's effects reads and fills in: the store, the run's clock reading, the report, the
    owner directory, the connectors opened once each, and whether the daemon is shutting down."""

    store: StateStore
    now: datetime
    report: EffectsReport
    owners: OwnerDirectory
    stopping: Callable[[], bool]
    task_fallback_owner: str | None  # who gets a task no active user may own, unless its trigger names someone

    def channel(self, connector: str) -> AlertChannel:
        """The alert channel of ``connector``, opened (and paced) on first use."""
        ...

    def tasks(self, connector: str) -> TaskDestination:
        """The task destination of ``connector``, opened on first use."""
        ...

    def task_pacer(self, connector: str) -> Pacer:
        """The pacer of ``connector``'s task calls (opening the destination): its limiters and this run's patience."""
        ...
