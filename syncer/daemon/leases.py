"""Which replica runs which sync, and each scheduled run claimed exactly once.

With the state on PostgreSQL, several daemons share the syncs through leases in ``daemon_leases`` (migration 6):

- every replica beats in ``daemon_replicas`` each tick (a third of a lease) and renews the leases it holds;
- its fair share is ``ceil(syncs / live replicas)``; above it, it releases leases of syncs it is not running; below
  it, it takes free or expired ones with ``SELECT ... FOR UPDATE SKIP LOCKED``, so replicas taking at once never
  take the same row;
- a replica that dies stops renewing: its leases expire within one lease and the next tick of another takes them;
- a run for a slot first *claims* it (:meth:`Leases.claim`): one statement that succeeds only for the lease holder,
  whose lease is unexpired by the database's clock, and only when the slot is later than the last one claimed.
  So a slot runs at most once whatever the replicas do, and a replica that lost its lease while stalled is fenced.

Runs of one sync never overlap either way: the runner holds the sync's PostgreSQL advisory run lock.

With a DuckDB state the daemon is the only process with the state open: :class:`LocalLeases` holds every sync.

Why leases are not a role of :class:`syncer.state.base.StateStore`: they live on a connection of their own, for the
daemon's lifetime, while a store's one connection belongs to whoever runs a sync at the moment (a tick must never
queue behind a run's commit, nor a run behind a tick); and they exist only where replicas share PostgreSQL. Lease
times are the database's clock (``now()``), the one clock all replicas share, so expiry is fair across machines;
the slots claimed are the process clock's (:mod:`syncer.contract.clock`), so replicas of one deployment must agree
on ``SYNCER_FAKE_NOW`` if they set it.
"""

from __future__ import annotations

import math
import socket
import threading
import uuid
from abc import ABC, abstractmethod
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import psycopg

from syncer.contract.clock import naive_utc
from syncer.contract.interactions import InMemorySeenRequests, SeenRequests
from syncer.state import StateUnavailableError
from syncer.state.postgres_store import dsn
from syncer.state.records import FINISHED_STATUSES

_NOW = "(now() AT TIME ZONE 'UTC')"  # naive UTC, as the state tables store time


def new_replica_id() -> str:
    """``host:pid:random``: unique per daemon process, readable in ``daemon_leases``."""
    import os

    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass(frozen=True)
class TickResult:
    """What a tick changed: syncs taken (with the last slot claimed for each, for catch-up), syncs let go."""

    held: frozenset[str]
    acquired: dict[str, datetime | None] = field(default_factory=dict)
    released: frozenset[str] = frozenset()
    replicas: int = 1


class Leases(ABC):
    """Where a daemon learns which syncs are its own. Thread-safe."""

    replica: str

    @abstractmethod
    def tick(self, syncs: Sequence[str], busy: Collection[str]) -> TickResult:
        """Beat, renew, balance and take leases over the enabled ``syncs``; never release one in ``busy``."""

    @abstractmethod
    def holds(self, sync: str) -> bool:
        """Whether the last tick left ``sync`` to this replica (a hint: :meth:`claim` is the fence)."""

    @abstractmethod
    def claim(self, sync: str, due: datetime) -> bool:
        """Claim the slot ``due`` (aware) of ``sync`` for this replica: True at most once per slot across replicas."""

    @abstractmethod
    def release_all(self) -> None:
        """Let every lease go at once (a clean stop), so another replica takes them on its next tick."""

    @abstractmethod
    def ping(self) -> None:
        """Raise :class:`StateUnavailableError` when the state cannot be reached."""

    @abstractmethod
    def seen_requests(self) -> SeenRequests:
        """Where accepted interaction request signatures are remembered (shared by replicas when they can be)."""

    @abstractmethod
    def last_successes(self) -> dict[str, datetime]:
        """Each sync's latest successful run (naive UTC), as the state knows it; empty when the runs are local."""

    @abstractmethod
    def close(self) -> None:
        """Release connections."""


class LocalLeases(Leases):
    """One replica (a DuckDB state): every sync is its own; slots are claimed in memory.

    ``last_started``: when the latest recorded run of each sync started (naive UTC), so that a daemon started after
    missing a slot runs once at start (missed runs coalesce into one).
    """

    def __init__(self, last_started: Mapping[str, datetime]) -> None:
        self.replica = new_replica_id()
        self._last_started = last_started
        self._held: set[str] = set()
        self._claimed: dict[str, datetime] = {}
        self._guard = threading.Lock()
        self._seen = InMemorySeenRequests()

    def tick(self, syncs: Sequence[str], busy: Collection[str]) -> TickResult:
        with self._guard:
            new = [sync for sync in syncs if sync not in self._held]
            gone = frozenset(self._held - set(syncs))
            self._held = set(syncs)
        return TickResult(frozenset(syncs), {sync: self._last_started.get(sync) for sync in new}, gone)

    def holds(self, sync: str) -> bool:
        with self._guard:
            return sync in self._held

    def claim(self, sync: str, due: datetime) -> bool:
        slot = naive_utc(due)
        with self._guard:
            claimed = self._claimed.get(sync)
            if sync not in self._held or (claimed is not None and claimed >= slot):
                return False
            self._claimed[sync] = slot
            return True

    def release_all(self) -> None:
        with self._guard:
            self._held.clear()

    def ping(self) -> None:
        """The state is this process's own file, opened by the runs."""

    def seen_requests(self) -> SeenRequests:
        return self._seen

    def last_successes(self) -> dict[str, datetime]:
        return {}

    def close(self) -> None:
        """Nothing to release."""


class PostgresLeases(Leases):
    """Leases in the PostgreSQL state, on a connection of their own (the runs' connections are busy running)."""

    def __init__(self, url: str, lease: timedelta) -> None:
        self.replica = new_replica_id()
        self._url = url
        self._lease = lease
        self._conn: psycopg.Connection[tuple[object, ...]] | None = None
        self._guard = threading.Lock()
        self._held: frozenset[str] = frozenset()
        self._host = socket.gethostname()

    @contextmanager
    def _cursor(self) -> Iterator[psycopg.Cursor[tuple[object, ...]]]:
        """A cursor in one transaction, under the lock; a broken connection is dropped and reopened next time."""
        with self._guard:
            try:
                if self._conn is None or self._conn.closed:
                    self._conn = psycopg.connect(dsn(self._url), autocommit=True)
                with self._conn.transaction(), self._conn.cursor() as cur:
                    yield cur
            except psycopg.OperationalError as exc:
                if self._conn is not None:
                    self._conn.close()
                self._conn = None
                raise StateUnavailableError(f"cannot reach the PostgreSQL state: {str(exc).splitlines()[0]}") from exc

    def tick(self, syncs: Sequence[str], busy: Collection[str]) -> TickResult:
        names, lease = list(syncs), self._lease
        with self._cursor() as cur:
            cur.execute(
                f"INSERT INTO daemon_replicas (replica, host, started_at, heartbeat_at) "
                f"VALUES (%s, %s, {_NOW}, {_NOW}) ON CONFLICT (replica) DO UPDATE "
                f"SET heartbeat_at = excluded.heartbeat_at",
                (self.replica, self._host),
            )
            cur.execute("INSERT INTO daemon_leases (sync) SELECT unnest(%s::text[]) ON CONFLICT DO NOTHING", (names,))
            cur.execute(
                "UPDATE daemon_leases SET owner = NULL, expires_at = NULL "
                "WHERE owner = %s AND NOT (sync = ANY(%s)) RETURNING sync",
                (self.replica, names),
            )
            released = {str(row[0]) for row in cur.fetchall()}
            cur.execute(
                f"UPDATE daemon_leases SET expires_at = {_NOW} + %s WHERE owner = %s AND sync = ANY(%s) RETURNING sync",
                (lease, self.replica, names),
            )
            held = {str(row[0]) for row in cur.fetchall()}
            cur.execute(f"SELECT count(*) FROM daemon_replicas WHERE heartbeat_at > {_NOW} - %s", (lease,))
            replicas = max(1, int(cur.fetchall()[0][0]))  # type: ignore[call-overload]
            share = math.ceil(len(names) / replicas)
            acquired: dict[str, datetime | None] = {}
            if len(held) > share:
                spare = sorted(held - set(busy), reverse=True)[: len(held) - share]
                cur.execute(
                    "UPDATE daemon_leases SET owner = NULL, expires_at = NULL WHERE owner = %s AND sync = ANY(%s)",
                    (self.replica, spare),
                )
                held -= set(spare)
                released |= set(spare)
            elif len(held) < share:
                cur.execute(
                    f"""UPDATE daemon_leases SET owner = %s, expires_at = {_NOW} + %s, acquired_at = {_NOW}
                                WHERE sync IN (SELECT sync FROM daemon_leases
                                               WHERE sync = ANY(%s) AND (owner IS NULL OR expires_at < {_NOW})
                                               ORDER BY sync LIMIT %s FOR UPDATE SKIP LOCKED)
                                RETURNING sync, last_due_at""",
                    (self.replica, lease, names, share - len(held)),
                )
                acquired = {str(row[0]): row[1] for row in cur.fetchall()}  # type: ignore[misc]
                held |= set(acquired)
            cur.execute(f"DELETE FROM daemon_replicas WHERE heartbeat_at < {_NOW} - %s", (lease * 10,))
            cur.execute(f"DELETE FROM daemon_seen_requests WHERE expires_at < {_NOW}")
        self._held = frozenset(held)
        return TickResult(self._held, acquired, frozenset(released), replicas)

    def holds(self, sync: str) -> bool:
        return sync in self._held

    def claim(self, sync: str, due: datetime) -> bool:
        with self._cursor() as cur:
            cur.execute(
                f"UPDATE daemon_leases SET last_due_at = %s WHERE sync = %s AND owner = %s "
                f"AND expires_at > {_NOW} AND (last_due_at IS NULL OR last_due_at < %s) RETURNING sync",
                (naive_utc(due), sync, self.replica, naive_utc(due)),
            )
            return bool(cur.fetchall())

    def release_all(self) -> None:
        self._held = frozenset()
        with self._cursor() as cur:
            cur.execute("UPDATE daemon_leases SET owner = NULL, expires_at = NULL WHERE owner = %s", (self.replica,))
            cur.execute("DELETE FROM daemon_replicas WHERE replica = %s", (self.replica,))

    def ping(self) -> None:
        with self._cursor() as cur:
            cur.execute("SELECT 1")

    def seen_requests(self) -> SeenRequests:
        return _PostgresSeenRequests(self)

    def last_successes(self) -> dict[str, datetime]:
        with self._cursor() as cur:
            cur.execute(
                "SELECT sync, max(finished_at) FROM runs WHERE status = ANY(%s) AND NOT dry_run GROUP BY sync",
                ([s.value for s in FINISHED_STATUSES],),
            )
            return {str(row[0]): row[1] for row in cur.fetchall()}  # type: ignore[misc]

    def close(self) -> None:
        with self._guard:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


class _PostgresSeenRequests(SeenRequests):
    """Accepted interaction request signatures in ``daemon_seen_requests``: a replay sent to another replica is
    refused."""

    def __init__(self, leases: PostgresLeases) -> None:
        self._leases = leases

    def first_time(self, signature: str, expires_at: datetime, now: datetime) -> bool:
        with self._leases._cursor() as cur:
            cur.execute(
                "INSERT INTO daemon_seen_requests (signature, expires_at) VALUES (%s, %s) "
                "ON CONFLICT (signature) DO UPDATE SET expires_at = excluded.expires_at "
                "WHERE daemon_seen_requests.expires_at <= %s RETURNING signature",
                (signature, naive_utc(expires_at), naive_utc(now)),
            )
            return bool(cur.fetchall())
