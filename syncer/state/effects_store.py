"""The control-store half of exactly-once effects: the alert ledger and the owner cache, over the outbox
(:mod:`syncer.state.outbox`).

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
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from syncer.alerts.policy import Decision, DedupeKey, LedgerEntry, Outcome
from syncer.state.outbox import (
    ROWS_PER_STATEMENT,
    EffectKind,
    OutboxItem,
    OutboxRecord,
    OutboxStatus,
    OutboxStore,
    Query,
    aware_utc,
    chunks,
    naive_utc,
)

__all__ = ["CachedOwner", "EffectKind", "EffectsStore", "OutboxItem", "OutboxRecord", "OutboxStatus", "Query",
           "normalise_email", "rep_lock_id"]


@dataclass(frozen=True)
class CachedOwner:
    """A resolved owner: ``owner_id`` None means the vendor knows no such e-mail (cached too, to skip lookups)."""

    owner_id: str | None
    tz: str | None
    resolved_at: datetime


_LEDGER_COLUMNS = ("dedupe_key, sync, trigger, key, rep, outcome, reason, tier, priority, decided_at, not_before, "
                   "digest_key")


def normalise_email(email: str) -> str:
    return email.strip().lower()


def rep_lock_id(rep: str | None) -> int:
    """The advisory lock id serialising cap decisions for ``rep``: a stable signed 64-bit hash."""
    return int.from_bytes(hashlib.blake2b(f"syncer-rep:{rep or ''}".encode(), digest_size=8).digest(), "big",
                          signed=True)


_naive, _utc = naive_utc, aware_utc


def _utc_or_none(moment: datetime | None) -> datetime | None:
    return None if moment is None else _utc(moment)


class EffectsStore(OutboxStore):
    """Outbox, ledger and owner-cache methods over portable SQL; part of every :class:`syncer.state.base.StateStore`.

    A backend provides :meth:`_query` (one statement, ``?`` placeholders) and :meth:`_transaction`.
    """

    # Alert ledger

    def ledger_add(self, entries: Sequence[Decision | LedgerEntry]) -> int:
        """Insert one ledger row per decision (or bare entry, e.g. a rep's snooze) in one transaction holding the
        per-rep locks (see the module docstring); return how many."""
        reps = {_entry_rep(entry) for entry in entries}
        with self._transaction(_lock_ids(reps)) as query:
            self._insert_ledger(query, entries)
            if entries:
                self._mark_dirty(query)
        return len(entries)

    def ledger_decide(self, reps: Iterable[str | None], since: datetime,
                      decide: Callable[[list[LedgerEntry]], Sequence[Decision]],
                      keys: Sequence[str] = (),
                      outbox: Callable[[Sequence[Decision]], Sequence[OutboxItem]] | None = None,
                      now: datetime | None = None) -> list[Decision]:
        """Read the ledger of ``reps`` since ``since`` (and every decision about ``keys``, dedupe key tokens), call
        ``decide`` with it and record what it decided, all under the per-rep locks in one transaction: caps hold
        however many replicas decide at once. ``outbox``: the intents the decisions give, added in the same
        transaction (at ``now``), so a crash can never leave a decision without its intent or the reverse."""
        wanted = set(reps)
        with self._transaction(_lock_ids(wanted)) as query:
            ledger = [e for rep in sorted(wanted, key=lambda r: r or "") for e in self._ledger(query, rep, since)]
            ledger += [e for e in self._ledger_for_keys(query, keys) if e not in ledger]
            decisions = list(decide(ledger))
            self._insert_ledger(query, decisions)
            if outbox is not None:
                self._outbox_insert(query, outbox(decisions), now or max(d.decided_at for d in decisions))
            if decisions:
                self._mark_dirty(query)
        return decisions

    def _insert_ledger(self, query: Query, entries: Sequence[Decision | LedgerEntry]) -> None:
        one = f"({', '.join('?' for _ in _LEDGER_COLUMNS.split(', '))})"
        for start in range(0, len(entries), ROWS_PER_STATEMENT):
            chunk = entries[start:start + ROWS_PER_STATEMENT]
            sql = self._effects_sql(f"INSERT INTO {{alert_ledger}} ({_LEDGER_COLUMNS}) VALUES "
                                    f"{', '.join(one for _ in chunk)}")
            query(sql, [value for entry in chunk for value in _ledger_row(entry)])

    def ledger_since(self, rep: str | None = None, since: datetime | None = None,
                     keys: Sequence[str] = ()) -> list[LedgerEntry]:
        """Decisions since ``since`` as the policy reads them: for ``rep`` (every rep when None), plus every
        decision about ``keys`` (dedupe key tokens) whatever its age, so a key decided long ago stays decided."""
        entries = self._ledger(self._query, rep, since, any_rep=rep is None)
        entries += self._ledger_for_keys(self._query, keys)
        unique = {(e.key, e.outcome, e.at, e.rep): e for e in entries}
        return sorted(unique.values(), key=lambda e: (e.at, e.key))

    def _ledger_for_keys(self, query: Query, keys: Sequence[str]) -> list[LedgerEntry]:
        found: list[LedgerEntry] = []
        for chunk in chunks(list(dict.fromkeys(keys))):
            found += self._ledger_rows(query, f"WHERE dedupe_key IN ({', '.join('?' for _ in chunk)})", chunk)
        return found

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

    def ledger_feedback(self, dedupe_key: str, feedback: str, now: datetime, actor: str | None = None,
                        hold: LedgerEntry | None = None) -> int:
        """Record a press on the decisions of ``dedupe_key`` with who pressed it (``actor``); with ``hold`` (a
        snooze for the alert's rep) added as a ledger row of its own, in the same transaction. Return the rows
        touched."""
        lock_ids = _lock_ids([hold.rep]) if hold is not None else []
        with self._transaction(lock_ids) as query:
            if hold is not None:
                self._insert_ledger(query, [hold])
            rows = query(self._effects_sql("UPDATE {alert_ledger} SET feedback = ?, feedback_at = ?, feedback_by = ? "
                                           "WHERE dedupe_key = ? RETURNING dedupe_key"),
                         (feedback, _naive(now), actor, dedupe_key))
            if rows:
                self._mark_dirty(query)
        return len(rows)

    def ledger_log_rows(self) -> list[dict[str, Any]]:
        """Every decision with its reason, delivery time and the feedback on it (with who gave it), oldest first (the
        alert log)."""
        names = ("dedupe_key", "sync", "trigger", "key", "rep", "outcome", "reason", "tier", "priority", "decided_at",
                 "not_before", "digest_key", "sent_at", "feedback", "feedback_at", "feedback_by")
        rows = self._query(self._effects_sql(f"SELECT {', '.join(names)} FROM {{alert_ledger}} "
                                             "ORDER BY decided_at, dedupe_key, outcome"))
        stamps = {"decided_at", "not_before", "sent_at", "feedback_at"}
        return [{name: (_utc(value) if name in stamps and value is not None else value)
                 for name, value in zip(names, row, strict=True)} for row in rows]

    def clear_effects(self) -> None:
        """Forget every intent, decision and cached owner (the demo, when its sandbox starts empty)."""
        with self._transaction() as query:
            for table in ("outbox", "alert_ledger", "owner_cache"):
                query(self._effects_sql(f"DELETE FROM {{{table}}}"), ())
            self._mark_dirty(query)

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

