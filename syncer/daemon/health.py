"""What the daemon knows about each sync's health: its last success, whether it is overdue, its last status.

Fed by this replica's runs (:meth:`Health.ran`) and, with a shared state, by what every replica recorded
(:meth:`Health.merge`, each lease tick). A sync that never succeeded is measured from when this daemon started
scheduling it. Thread-safe; times are naive UTC.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

SUCCESS_STATUSES = ("succeeded", "partial")


@dataclass(frozen=True)
class SyncHealth:
    sync: str
    last_success: datetime | None
    last_status: str | None
    seconds_since_success: float | None
    overdue: bool


class Health:
    def __init__(self, overdue_after: timedelta, now: datetime) -> None:
        self.overdue_after = overdue_after
        self._guard = threading.Lock()
        self._since: dict[str, datetime] = {}  # when this daemon started scheduling each sync
        self._success: dict[str, datetime] = {}
        self._status: dict[str, str] = {}
        self._started = now

    def track(self, syncs: Iterable[str], now: datetime) -> None:
        """The syncs scheduled now (others are forgotten)."""
        names = set(syncs)
        with self._guard:
            self._since = {sync: self._since.get(sync, now) for sync in names}

    def scheduled_since(self, sync: str) -> datetime | None:
        """When this daemon started scheduling ``sync`` (None: it does not)."""
        with self._guard:
            return self._since.get(sync)

    def merge(self, successes: Mapping[str, datetime]) -> None:
        """Latest successes as the state records them (later ones win)."""
        with self._guard:
            for sync, at in successes.items():
                if at is not None and (sync not in self._success or at > self._success[sync]):
                    self._success[sync] = at

    def ran(self, sync: str, status: str, now: datetime) -> None:
        with self._guard:
            self._status[sync] = status
            if status in SUCCESS_STATUSES:
                self._success[sync] = now

    def report(self, now: datetime) -> list[SyncHealth]:
        with self._guard:
            out = []
            for sync in sorted(self._since):
                success = self._success.get(sync)
                reference = success if success is not None else self._since[sync]
                out.append(
                    SyncHealth(
                        sync,
                        success,
                        self._status.get(sync),
                        (now - success).total_seconds() if success is not None else None,
                        now - reference > self.overdue_after,
                    )
                )
            return out
