"""The control-store half of exactly-once effects: the outbox, the alert ledger and the owner cache.

Outbox state machine, one row per dedupe key (:meth:`EffectsStore.outbox_add` inserts if absent)::

    pending --mark_sending--> sending --done--> done
       ^                         |
       +---failed(retryable)-----+--failed(not retryable)--> failed

A crash between ``outbox_mark_sending`` and ``outbox_done`` leaves the row in ``sending``: the vendor may or may
not have the effect. Recovery reads such rows (``outbox_pending(include_sending=True)``), asks the destination for
an effect carrying the dedupe key, and marks the row done (found) or sends it again (not found). One process sends
a sync's effects at a time (the sync's run lock), so marking is not a claim between replicas.

Alert caps across replicas: ``decide`` reads the ledger and the decisions it returns are inserted; two replicas
deciding for the same rep at once could both see room under a cap. :meth:`EffectsStore.ledger_decide` runs the
read, the decision and the insert in one transaction that first takes a lock per rep: on PostgreSQL
``pg_advisory_xact_lock(hash of the rep)`` for each rep, in sorted order so two transactions never wait on each
other crosswise; PostgreSQL releases them at commit or rollback. The second replica waits, then reads the first's
decisions. DuckDB serves one process, so a process-wide lock does the same there.

Times are stored as naive UTC (like the rest of the state) and come back timezone-aware (UTC).
"""

from __future__ import annotations

import hashlib
import json
from abc import abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from syncer.alerts.policy import Decision, DedupeKey, LedgerEntry, Outcome

Query = Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]


class EffectKind(StrEnum):
    TASK = "task"
    ALERT = "alert"


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True)
class OutboxItem:
    """An effect intent. ``payload``: what the sender needs (JSON-serialisable), stored as JSON text."""

    dedupe_key: str
    sync: str
    trigger: str
    key: str
    kind: EffectKind
    payload: Mapping[str, Any]


@dataclass(frozen=True)
class OutboxRecord:
    dedupe_key: str
    sync: str
    trigger: str
    key: str
    kind: EffectKind
    payload: dict[str, Any]
    status: OutboxStatus
    external_id: str | None
    attempts: int
    error: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class CachedOwner:
    """A resolved owner: ``owner_id`` None means the vendor knows no such e-mail (cached too, to skip lookups)."""

    owner_id: str | None
    tz: str | None
    resolved_at: datetime


_OUTBOX_COLUMNS = ("dedupe_key, sync, trigger, key, kind, payload, status, external_id, attempts, error, "
                   "created_at, updated_at")
_LEDGER_COLUMNS = ("dedupe_key, sync, trigger, key, rep, outcome, reason, tier, priority, decided_at, not_before, "
                   "digest_key")
_OPEN = ("pending", "sending")


def normalise_email(email: str) -> str:
    return email.strip().lower()


def rep_lock_id(rep: str | None) -> int:
    """The advisory lock id serialising cap decisions for ``rep``: a stable signed 64-bit hash."""
    return int.from_bytes(hashlib.blake2b(f"syncer-rep:{rep or ''}".encode(), digest_size=8).digest(), "big",
                          signed=True)


def _naive(moment: datetime) -> datetime:
    """Naive UTC for storage; naive input is taken to be UTC already."""
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _utc(moment: datetime) -> datetime:
    """A stored (naive UTC) time as a timezone-aware one."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _utc_or_none(moment: datetime | None) -> datetime | None:
    return None if moment is None else _utc(moment)


class EffectsStore:
    """Outbox, ledger and owner-cache methods over portable SQL; part of every :class:`syncer.state.base.StateStore`.

    A backend provides :meth:`_query` (one statement, ``?`` placeholders) and :meth:`_transaction`.
    """

    @abstractmethod
    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    @abstractmethod
    def _transaction(self, lock_ids: Sequence[int] = ()) -> AbstractContextManager[Query]:
        """One transaction holding the given locks (taken in the order given) until it ends; yields a query function
        that runs statements inside it. Leaving the block by an exception rolls it back."""

    def _effects_sql(self, template: str) -> str:
        names: dict[str, str] = getattr(self, "names", {})
        return template.format(**{t: names.get(t, t) for t in ("outbox", "alert_ledger", "owner_cache")})

    # Outbox

    def outbox_add(self, items: Sequence[OutboxItem], now: datetime) -> list[str]:
        """Record intents not recorded yet; return the dedupe keys that are new (a key added before is a no-op)."""
        added: list[str] = []
        sql = self._effects_sql(f"INSERT INTO {{outbox}} ({_OUTBOX_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, 'pending', "
                                "NULL, 0, NULL, ?, ?) ON CONFLICT (dedupe_key) DO NOTHING RETURNING dedupe_key")
        stamp = _naive(now)
        with self._transaction() as query:
            for item in {item.dedupe_key: item for item in items}.values():
                payload = json.dumps(dict(item.payload), sort_keys=True, default=str)
                added += [str(row[0]) for row in query(sql, (item.dedupe_key, item.sync, item.trigger, item.key,
                                                             item.kind.value, payload, stamp, stamp))]
        return added

    def outbox_pending(self, sync: str | None = None, limit: int = 1000,
                       include_sending: bool = False) -> list[OutboxRecord]:
        """Intents still to send, oldest first; with ``include_sending`` also those a crash left in ``sending``."""
        statuses = _OPEN if include_sending else ("pending",)
        where = " OR ".join("status = ?" for _ in statuses)
        params: tuple[Any, ...] = statuses
        if sync is not None:
            where, params = f"({where}) AND sync = ?", (*statuses, sync)
        return self._outbox_rows(f"WHERE {where} ORDER BY created_at, dedupe_key LIMIT {int(limit)}", params)

    def outbox_get(self, dedupe_keys: Sequence[str]) -> dict[str, OutboxRecord]:
        found: dict[str, OutboxRecord] = {}
        for key in dict.fromkeys(dedupe_keys):
            found |= {r.dedupe_key: r for r in self._outbox_rows("WHERE dedupe_key = ?", (key,))}
        return found

    def _outbox_rows(self, where: str, params: Sequence[Any]) -> list[OutboxRecord]:
        rows = self._query(self._effects_sql(f"SELECT {_OUTBOX_COLUMNS} FROM {{outbox}} {where}"), params)
        return [OutboxRecord(r[0], r[1], r[2], r[3], EffectKind(r[4]), json.loads(r[5]), OutboxStatus(r[6]), r[7],
                             int(r[8]), r[9], _utc(r[10]), _utc(r[11])) for r in rows]

    def outbox_mark_sending(self, dedupe_keys: Sequence[str], now: datetime) -> list[str]:
        """Move intents from ``pending`` (or ``sending``, when recovering) to ``sending``, one attempt more each;
        return the keys moved (done and failed ones are left alone)."""
        sql = self._effects_sql("UPDATE {outbox} SET status = 'sending', attempts = attempts + 1, updated_at = ? "
                                "WHERE dedupe_key = ? AND status IN ('pending', 'sending') RETURNING dedupe_key")
        moved: list[str] = []
        with self._transaction() as query:
            for key in dict.fromkeys(dedupe_keys):
                moved += [str(row[0]) for row in query(sql, (_naive(now), key))]
        return moved

    def outbox_done(self, dedupe_key: str, external_id: str | None, now: datetime) -> bool:
        """The destination confirmed the effect (or already held it): ``done`` with its id. Also stamps the ledger's
        ``sent_at`` for this key. Returns False when the intent is unknown, done already or failed."""
        stamp = _naive(now)
        with self._transaction() as query:
            moved = query(self._effects_sql("UPDATE {outbox} SET status = 'done', external_id = ?, error = NULL, "
                                            "updated_at = ? WHERE dedupe_key = ? AND status IN ('pending', 'sending') "
                                            "RETURNING dedupe_key"), (external_id, stamp, dedupe_key))
            if moved:
                query(self._effects_sql("UPDATE {alert_ledger} SET sent_at = ? WHERE dedupe_key = ? "
                                        "AND sent_at IS NULL AND outcome IN ('send', 'no_owner', 'digest')"),
                      (stamp, dedupe_key))
        return bool(moved)

    def outbox_failed(self, dedupe_key: str, error: str, now: datetime, retryable: bool) -> bool:
        """The send failed: back to ``pending`` when ``retryable`` (tried again later), else ``failed`` for good."""
        status = OutboxStatus.PENDING if retryable else OutboxStatus.FAILED
        rows = self._query(self._effects_sql("UPDATE {outbox} SET status = ?, error = ?, updated_at = ? "
                                             "WHERE dedupe_key = ? AND status IN ('pending', 'sending') "
                                             "RETURNING dedupe_key"),
                           (status.value, error, _naive(now), dedupe_key))
        return bool(rows)

    # Alert ledger

    def ledger_add(self, entries: Sequence[Decision | LedgerEntry]) -> int:
        """Insert one ledger row per decision (or bare entry, e.g. a rep's snooze) in one transaction holding the
        per-rep locks (see the module docstring); return how many."""
        reps = {_entry_rep(entry) for entry in entries}
        with self._transaction(_lock_ids(reps)) as query:
            self._insert_ledger(query, entries)
        return len(entries)

    def ledger_decide(self, reps: Iterable[str | None], since: datetime,
                      decide: Callable[[list[LedgerEntry]], Sequence[Decision]],
                      keys: Sequence[str] = ()) -> list[Decision]:
        """Read the ledger of ``reps`` since ``since`` (and every decision about ``keys``, dedupe key tokens), call
        ``decide`` with it and record what it decided, all under the per-rep locks in one transaction: caps hold
        however many replicas decide at once."""
        wanted = set(reps)
        with self._transaction(_lock_ids(wanted)) as query:
            ledger = [e for rep in sorted(wanted, key=lambda r: r or "") for e in self._ledger(query, rep, since)]
            for key in dict.fromkeys(keys):
                ledger += [e for e in self._ledger_rows(query, "WHERE dedupe_key = ?", (key,)) if e not in ledger]
            decisions = list(decide(ledger))
            self._insert_ledger(query, decisions)
        return decisions

    def _insert_ledger(self, query: Query, entries: Sequence[Decision | LedgerEntry]) -> None:
        sql = self._effects_sql(f"INSERT INTO {{alert_ledger}} ({_LEDGER_COLUMNS}) VALUES "
                                f"({', '.join('?' for _ in _LEDGER_COLUMNS.split(', '))})")
        for entry in entries:
            query(sql, _ledger_row(entry))

    def ledger_since(self, rep: str | None = None, since: datetime | None = None,
                     keys: Sequence[str] = ()) -> list[LedgerEntry]:
        """Decisions since ``since`` as the policy reads them: for ``rep`` (every rep when None), plus every
        decision about ``keys`` (dedupe key tokens) whatever its age, so a key decided long ago stays decided."""
        entries = self._ledger(self._query, rep, since, any_rep=rep is None)
        for key in dict.fromkeys(keys):
            entries += self._ledger_rows(self._query, "WHERE dedupe_key = ?", (key,))
        unique = {(e.key, e.outcome, e.at, e.rep): e for e in entries}
        return sorted(unique.values(), key=lambda e: (e.at, e.key))

    def _ledger(self, query: Query, rep: str | None, since: datetime | None,
                any_rep: bool = False) -> list[LedgerEntry]:
        # Snoozes count while they run (not_before ahead), whenever they were pressed.
        conditions: list[str] = []
        params: list[Any] = []
        if not any_rep:
            conditions.append("rep IS NULL" if rep is None else "rep = ?")
            params += [] if rep is None else [rep]
        if since is not None:
            conditions.append("(decided_at >= ? OR (outcome = 'snoozed' AND not_before >= ?))")
            params += [_naive(since), _naive(since)]
        where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
        return self._ledger_rows(query, where, params)

    def _ledger_rows(self, query: Query, where: str, params: Sequence[Any]) -> list[LedgerEntry]:
        rows = query(self._effects_sql(f"SELECT dedupe_key, rep, outcome, decided_at, tier, not_before, digest_key "
                                       f"FROM {{alert_ledger}} {where} ORDER BY decided_at, dedupe_key"), params)
        return [LedgerEntry(DedupeKey.parse(r[0]), r[1], Outcome(r[2]), _utc(r[3]), r[4], _utc_or_none(r[5]), r[6])
                for r in rows]

    def ledger_feedback(self, dedupe_key: str, feedback: str, now: datetime) -> int:
        """Record a rep's reaction (a button press) on the decisions of ``dedupe_key``; return the rows touched."""
        rows = self._query(self._effects_sql("UPDATE {alert_ledger} SET feedback = ?, feedback_at = ? "
                                             "WHERE dedupe_key = ? RETURNING dedupe_key"),
                           (feedback, _naive(now), dedupe_key))
        return len(rows)

    # Owner cache

    def owner_cache_get(self, vendor: str, emails: Sequence[str], max_age: timedelta,
                        now: datetime) -> dict[str, CachedOwner]:
        """Entries resolved within ``max_age`` before ``now``, by normalised e-mail; stale or unknown: absent."""
        fresh_from = _naive(now) - max_age
        found: dict[str, CachedOwner] = {}
        sql = self._effects_sql("SELECT email, owner_id, tz, resolved_at FROM {owner_cache} "
                                "WHERE vendor = ? AND email = ? AND resolved_at >= ?")
        for email in dict.fromkeys(normalise_email(e) for e in emails):
            for row in self._query(sql, (vendor, email, fresh_from)):
                found[str(row[0])] = CachedOwner(row[1], row[2], _utc(row[3]))
        return found

    def owner_cache_put(self, vendor: str, owners: Mapping[str, tuple[str | None, str | None]],
                        now: datetime) -> None:
        """Remember ``{email: (owner id or None, time zone)}`` as resolved at ``now`` (replacing older entries)."""
        rows = {normalise_email(email): value for email, value in owners.items()}
        stamp = _naive(now)
        with self._transaction() as query:
            for email, (owner_id, tz) in rows.items():
                query(self._effects_sql("DELETE FROM {owner_cache} WHERE vendor = ? AND email = ?"), (vendor, email))
                query(self._effects_sql("INSERT INTO {owner_cache} (vendor, email, owner_id, tz, resolved_at) "
                                        "VALUES (?, ?, ?, ?, ?)"), (vendor, email, owner_id, tz, stamp))


def _entry_rep(entry: Decision | LedgerEntry) -> str | None:
    return entry.candidate.rep if isinstance(entry, Decision) else entry.rep


def _lock_ids(reps: Iterable[str | None]) -> list[int]:
    return sorted({rep_lock_id(rep) for rep in reps})


def _ledger_row(entry: Decision | LedgerEntry) -> tuple[Any, ...]:
    if isinstance(entry, Decision):
        c = entry.candidate
        return (c.key.token(), c.key.sync, c.key.trigger, c.key.account, c.rep, entry.outcome.value, entry.reason,
                c.tier, c.priority, _naive(entry.decided_at), _opt(entry.not_before), entry.digest_key)
    k = entry.key
    return (k.token(), k.sync, k.trigger, k.account, entry.rep, entry.outcome.value, "", entry.tier, None,
            _naive(entry.at), _opt(entry.not_before), entry.digest_key)


def _opt(moment: datetime | None) -> datetime | None:
    return None if moment is None else _naive(moment)

