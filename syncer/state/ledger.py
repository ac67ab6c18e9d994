"""The alert ledger: one row per alert-policy decision, which caps, cooldowns and snoozes count; and the alert log's
bookkeeping (a version every change counts up, and the version last written back to the warehouse).

Alert caps across replicas: ``decide`` reads the ledger and the decisions it returns are inserted; two replicas
deciding for the same rep at once could both see room under a cap. :meth:`AlertLedger.decide` runs the read, the
decision and the insert in one transaction that first takes a lock per rep: on PostgreSQL
``pg_advisory_xact_lock(hash of the rep)`` for each rep, in sorted order so two transactions never wait on each
other crosswise; PostgreSQL releases them at commit or rollback. The second replica waits, then reads the first's
decisions. DuckDB serves one process, so a process-wide lock does the same there.

Times are stored as naive UTC and come back timezone-aware (UTC).
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from syncer.contract.clock import aware_utc, naive_utc
from syncer.core.alerts import Decision, DedupeKey, LedgerEntry, Outcome
from syncer.state.outbox import OutboxItem
from syncer.state.outbox_sql import SqlOutbox, mark_log_changed
from syncer.state.sql import Database, Query, chunks, placeholders

_LEDGER_COLUMNS = (
    "dedupe_key, sync, trigger, key, rep, outcome, reason, tier, priority, decided_at, not_before, digest_key"
)
_LEDGER_TYPES = (
    ("dedupe_key", "TEXT"),
    ("sync", "TEXT"),
    ("trigger", "TEXT"),
    ("key", "TEXT"),
    ("rep", "TEXT"),
    ("outcome", "TEXT"),
    ("reason", "TEXT"),
    ("tier", "TEXT"),
    ("priority", "DOUBLE PRECISION"),
    ("decided_at", "TIMESTAMP"),
    ("not_before", "TIMESTAMP"),
    ("digest_key", "TEXT"),
)
_LOG_COLUMNS = (
    "dedupe_key",
    "sync",
    "trigger",
    "key",
    "rep",
    "outcome",
    "reason",
    "tier",
    "priority",
    "decided_at",
    "not_before",
    "digest_key",
    "sent_at",
    "feedback",
    "feedback_at",
    "feedback_by",
)
_LOG_STAMPS = frozenset({"decided_at", "not_before", "sent_at", "feedback_at"})


def rep_lock_id(rep: str | None) -> int:
    """The advisory lock id serialising cap decisions for ``rep``: a stable signed 64-bit hash."""
    return int.from_bytes(
        hashlib.blake2b(f"syncer-rep:{rep or ''}".encode(), digest_size=8).digest(), "big", signed=True
    )


class AlertLedger(ABC):
    """What the alert policy decided, and the reps' reactions."""

    @abstractmethod
    def add(self, entries: Sequence[Decision | LedgerEntry]) -> int:
        """Insert one row per decision (or bare entry, e.g. a rep's snooze) in one transaction holding the per-rep
        locks (see the module docstring); return how many."""

    @abstractmethod
    def decide(
        self,
        reps: Iterable[str | None],
        since: datetime,
        decide: Callable[[list[LedgerEntry]], Sequence[Decision]],
        keys: Sequence[str] = (),
        outbox: Callable[[Sequence[Decision]], Sequence[OutboxItem]] | None = None,
        now: datetime | None = None,
    ) -> list[Decision]:
        """Read the ledger of ``reps`` since ``since`` (and every decision about ``keys``, dedupe key tokens), call
        ``decide`` with it and record what it decided, all under the per-rep locks in one transaction: caps hold
        however many replicas decide at once. ``outbox``: the intents the decisions give, added in the same
        transaction (at ``now``), so a crash can never leave a decision without its intent or the reverse."""

    @abstractmethod
    def since(
        self, rep: str | None = None, since: datetime | None = None, keys: Sequence[str] = ()
    ) -> list[LedgerEntry]:
        """Decisions since ``since`` as the policy reads them: for ``rep`` (every rep when None), plus every
        decision about ``keys`` (dedupe key tokens) whatever its age, so a key decided long ago stays decided."""

    @abstractmethod
    def feedback(
        self, dedupe_key: str, feedback: str, now: datetime, actor: str | None = None, hold: LedgerEntry | None = None
    ) -> int:
        """Record a press on the decisions of ``dedupe_key`` with who pressed it (``actor``); with ``hold`` (a snooze
        for the alert's rep) added as a ledger row of its own, in the same transaction. Return the rows touched."""

    @abstractmethod
    def log_rows(self) -> list[dict[str, Any]]:
        """Every decision with its reason, delivery time and the rep's feedback, oldest first (the alert log)."""

    @abstractmethod
    def log_version(self) -> tuple[int, int]:
        """``(current version, version last written to the warehouse)``: the log is behind when they differ."""

    @abstractmethod
    def log_written(self, version: int, now: datetime, error: str | None = None) -> None:
        """The log was written with everything up to ``version`` (or the write failed with ``error``)."""


class SqlAlertLedger(AlertLedger):
    """:class:`AlertLedger` in the ``alert_ledger`` and ``effects_marks`` tables; adds intents through ``outbox``."""

    def __init__(self, db: Database, outbox: SqlOutbox) -> None:
        self._db, self._outbox = db, outbox

    def add(self, entries: Sequence[Decision | LedgerEntry]) -> int:
        reps = {_entry_rep(entry) for entry in entries}
        with self._db.transaction(_lock_ids(reps)) as query:
            self._insert(query, entries)
            if entries:
                mark_log_changed(self._db, query)
        return len(entries)

    def decide(
        self,
        reps: Iterable[str | None],
        since: datetime,
        decide: Callable[[list[LedgerEntry]], Sequence[Decision]],
        keys: Sequence[str] = (),
        outbox: Callable[[Sequence[Decision]], Sequence[OutboxItem]] | None = None,
        now: datetime | None = None,
    ) -> list[Decision]:
        wanted = set(reps)
        with self._db.transaction(_lock_ids(wanted)) as query:
            ledger = [e for rep in sorted(wanted, key=lambda r: r or "") for e in self._entries(query, rep, since)]
            ledger += [e for e in self._for_keys(query, keys) if e not in ledger]
            decisions = list(decide(ledger))
            self._insert(query, decisions)
            if outbox is not None:
                self._outbox.insert(query, outbox(decisions), now or max(d.decided_at for d in decisions))
            if decisions:
                mark_log_changed(self._db, query)
        return decisions

    def _insert(self, query: Query, entries: Sequence[Decision | LedgerEntry]) -> None:
        # One statement for all of them (see SqlOutbox.insert): 20,000 decisions are one insert, not a hundred.
        if not entries:
            return
        with self._db.staged(query, _LEDGER_TYPES, [_ledger_row(entry) for entry in entries]) as staged:
            query(
                self._db.sql(
                    f"INSERT INTO {{alert_ledger}} ({_LEDGER_COLUMNS}) SELECT {_LEDGER_COLUMNS} "
                    f"FROM ({staged}) AS staged"
                ),
                (),
            )

    def since(
        self, rep: str | None = None, since: datetime | None = None, keys: Sequence[str] = ()
    ) -> list[LedgerEntry]:
        entries = self._entries(self._db.query, rep, since, any_rep=rep is None)
        entries += self._for_keys(self._db.query, keys)
        unique = {(e.key, e.outcome, e.at, e.rep): e for e in entries}
        return sorted(unique.values(), key=lambda e: (e.at, e.key))

    def _for_keys(self, query: Query, keys: Sequence[str]) -> list[LedgerEntry]:
        found: list[LedgerEntry] = []
        for chunk in chunks(list(dict.fromkeys(keys))):
            found += self._rows(query, f"WHERE dedupe_key IN ({placeholders(chunk)})", chunk)
        return found

    def _entries(
        self, query: Query, rep: str | None, since: datetime | None, *, any_rep: bool = False
    ) -> list[LedgerEntry]:
        # Snoozes count while they run (not_before ahead), whenever they were pressed.
        conditions: list[str] = []
        params: list[Any] = []
        if not any_rep:
            conditions.append("rep IS NULL" if rep is None else "rep = ?")
            params += [] if rep is None else [rep]
        if since is not None:
            conditions.append("(decided_at >= ? OR (outcome = ? AND not_before >= ?))")
            params += [naive_utc(since), Outcome.SNOOZED.value, naive_utc(since)]
        where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
        return self._rows(query, where, params)

    def _rows(self, query: Query, where: str, params: Sequence[Any]) -> list[LedgerEntry]:
        rows = query(
            self._db.sql(
                f"SELECT dedupe_key, rep, outcome, decided_at, tier, not_before, digest_key "
                f"FROM {{alert_ledger}} {where} ORDER BY decided_at, dedupe_key"
            ),
            params,
        )
        return [
            LedgerEntry(
                DedupeKey.parse(r[0]),
                r[1],
                Outcome(r[2]),
                aware_utc(r[3]),
                r[4],
                None if r[5] is None else aware_utc(r[5]),
                r[6],
            )
            for r in rows
        ]

    def feedback(
        self, dedupe_key: str, feedback: str, now: datetime, actor: str | None = None, hold: LedgerEntry | None = None
    ) -> int:
        with self._db.transaction(_lock_ids([hold.rep]) if hold is not None else ()) as query:
            if hold is not None:
                self._insert(query, [hold])
            rows = query(
                self._db.sql(
                    "UPDATE {alert_ledger} SET feedback = ?, feedback_at = ?, feedback_by = ? "
                    "WHERE dedupe_key = ? RETURNING dedupe_key"
                ),
                (feedback, naive_utc(now), actor, dedupe_key),
            )
            if rows:
                mark_log_changed(self._db, query)
        return len(rows)

    def log_rows(self) -> list[dict[str, Any]]:
        rows = self._db.query(
            self._db.sql(
                f"SELECT {', '.join(_LOG_COLUMNS)} FROM {{alert_ledger}} ORDER BY decided_at, dedupe_key, outcome"
            )
        )
        return [
            {
                name: (aware_utc(value) if name in _LOG_STAMPS and value is not None else value)
                for name, value in zip(_LOG_COLUMNS, row, strict=True)
            }
            for row in rows
        ]

    def log_version(self) -> tuple[int, int]:
        rows = self._db.query(self._db.sql("SELECT version, written_version FROM {effects_marks} WHERE id = 1"))
        return (int(rows[0][0]), int(rows[0][1])) if rows else (0, 0)

    def log_written(self, version: int, now: datetime, error: str | None = None) -> None:
        if error is None:
            self._db.query(
                self._db.sql(
                    "UPDATE {effects_marks} SET written_version = ?, written_at = ?, error = NULL WHERE id = 1"
                ),
                (version, naive_utc(now)),
            )
        else:
            self._db.query(self._db.sql("UPDATE {effects_marks} SET error = ? WHERE id = 1"), (error[:500],))


def _entry_rep(entry: Decision | LedgerEntry) -> str | None:
    return entry.candidate.rep if isinstance(entry, Decision) else entry.rep


def _lock_ids(reps: Iterable[str | None]) -> list[int]:
    return sorted({rep_lock_id(rep) for rep in reps})


def _ledger_row(entry: Decision | LedgerEntry) -> tuple[Any, ...]:
    if isinstance(entry, Decision):
        c = entry.candidate
        return (
            c.key.token(),
            c.key.sync,
            c.key.trigger,
            c.key.account,
            c.rep,
            entry.outcome.value,
            entry.reason,
            c.tier,
            c.priority,
            naive_utc(entry.decided_at),
            _naive_or_none(entry.not_before),
            entry.digest_key,
        )
    k = entry.key
    return (
        k.token(),
        k.sync,
        k.trigger,
        k.account,
        entry.rep,
        entry.outcome.value,
        "",
        entry.tier,
        None,
        naive_utc(entry.at),
        _naive_or_none(entry.not_before),
        entry.digest_key,
    )


def _naive_or_none(moment: datetime | None) -> datetime | None:
    return None if moment is None else naive_utc(moment)
