"""The outbox: one row per effect a trigger caused (a CRM task, a Slack alert, a digest), written before any send.

Every firing the effects engine stages gets a row, whatever the alert policy decided, so a firing planned again
(after a crash, or while its field write is still pending) is recognised by its dedupe key and never decided twice.

State machine, one row per dedupe key::

    deferred --(re-decided when due)--> pending | held | suppressed
    pending --mark_sending--> sending --done--> done
       ^                         |
       +---failed(retryable)-----+--failed(not retryable)--> failed
    held --(its digest is done)--> done
    suppressed  (the policy said no: capped, cooled down, snoozed, first run...; the ledger holds the reason)

``pending`` rows with ``not_before`` in the future (a digest waiting for the rep's morning) are not due yet.
A crash between ``outbox_mark_sending`` and ``outbox_done`` leaves the row in ``sending``: the vendor may or may
not have the effect. The sender reads such rows again, asks the destination for an effect carrying the dedupe key,
and marks the row done (found) or sends it again (not found). One process sends a sync's effects at a time (the
sync's run lock); digests, which span syncs, are claimed under a lock of their own.

Times are stored as naive UTC (like the rest of the state) and come back timezone-aware (UTC).
"""

from __future__ import annotations

import json
from abc import abstractmethod
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

Query = Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]


class EffectKind(StrEnum):
    TASK = "task"
    ALERT = "alert"
    DIGEST = "digest"


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    DONE = "done"
    FAILED = "failed"
    DEFERRED = "deferred"  # quiet hours: offered to the policy again at not_before
    HELD = "held"  # overflow: goes out inside the rep's digest
    SUPPRESSED = "suppressed"  # the policy decided it is not sent (the ledger says why)


@dataclass(frozen=True)
class OutboxItem:
    """An effect intent. ``payload``: what the sender needs (JSON-serialisable), stored as JSON text."""

    dedupe_key: str
    sync: str
    trigger: str
    key: str
    kind: EffectKind
    payload: Mapping[str, Any]
    status: OutboxStatus = OutboxStatus.PENDING
    not_before: datetime | None = None
    error: str | None = None  # for a suppressed or failed intent: why


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
    not_before: datetime | None = None


_COLUMNS = ("dedupe_key, sync, trigger, key, kind, payload, status, external_id, attempts, error, created_at, "
            "updated_at, not_before")
_SENDABLE = ("pending", "sending")
ROWS_PER_STATEMENT = 200


def naive_utc(moment: datetime) -> datetime:
    """Naive UTC for storage; naive input is taken to be UTC already."""
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def aware_utc(moment: datetime) -> datetime:
    """A stored (naive UTC) time as a timezone-aware one."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


class OutboxStore:
    """Outbox methods over portable SQL. A backend provides :meth:`_query` and :meth:`_transaction`."""

    @abstractmethod
    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    @abstractmethod
    def _transaction(self, lock_ids: Sequence[int] = ()) -> AbstractContextManager[Query]:
        """One transaction holding the given locks (taken in the order given) until it ends; yields a query function
        that runs statements inside it. Leaving the block by an exception rolls it back."""

    def _effects_sql(self, template: str) -> str:
        names: dict[str, str] = getattr(self, "names", {})
        return template.format(**{t: names.get(t, t) for t in ("outbox", "alert_ledger", "owner_cache",
                                                               "effects_marks")})

    def outbox_add(self, items: Sequence[OutboxItem], now: datetime) -> list[str]:
        """Record intents not recorded yet; return the dedupe keys that are new (a key added before is a no-op,
        except that a ``deferred`` intent takes the new status: that is its re-decision)."""
        with self._transaction() as query:
            added = self._outbox_insert(query, items, now)
            if added:  # tasks and suppressed intents are rows of the alert log too
                self._mark_dirty(query)
            return added

    def _outbox_insert(self, query: Query, items: Sequence[OutboxItem], now: datetime) -> list[str]:
        # Many rows per statement: an embedded store pays milliseconds per statement, not per row.
        stamp, added = naive_utc(now), []
        unique = list({item.dedupe_key: item for item in items}.values())
        for start in range(0, len(unique), ROWS_PER_STATEMENT):
            chunk = unique[start:start + ROWS_PER_STATEMENT]
            rows = ", ".join("(?, ?, ?, ?, ?, ?, ?, NULL, 0, ?, ?, ?, ?)" for _ in chunk)
            sql = self._effects_sql(
                f"INSERT INTO {{outbox}} ({_COLUMNS}) VALUES {rows} "
                "ON CONFLICT (dedupe_key) DO UPDATE SET status = excluded.status, not_before = excluded.not_before, "
                "error = excluded.error, payload = excluded.payload, updated_at = excluded.updated_at "
                "WHERE {outbox}.status = 'deferred' RETURNING dedupe_key")
            params: list[Any] = []
            for item in chunk:
                payload = json.dumps(dict(item.payload), sort_keys=True, default=str)
                not_before = None if item.not_before is None else naive_utc(item.not_before)
                params += [item.dedupe_key, item.sync, item.trigger, item.key, item.kind.value, payload,
                           item.status.value, item.error, stamp, stamp, not_before]
            added += [str(row[0]) for row in query(sql, params)]
        return added

    def outbox_due(self, now: datetime, sync: str | None = None, kinds: Sequence[EffectKind] = tuple(EffectKind),
                   statuses: Sequence[OutboxStatus] = (OutboxStatus.PENDING, OutboxStatus.SENDING),
                   limit: int = 10_000) -> list[OutboxRecord]:
        """Intents in ``statuses`` whose time has come (``not_before`` unset or not after ``now``), oldest first;
        ``sync`` None: every sync's."""
        where = (f"status IN ({', '.join('?' for _ in statuses)}) AND kind IN ({', '.join('?' for _ in kinds)}) "
                 "AND (not_before IS NULL OR not_before <= ?)")
        params: list[Any] = [s.value for s in statuses] + [k.value for k in kinds] + [naive_utc(now)]
        if sync is not None:
            where, params = f"{where} AND sync = ?", [*params, sync]
        return self._outbox_rows(f"WHERE {where} ORDER BY created_at, dedupe_key LIMIT {int(limit)}", params)

    def outbox_pending(self, sync: str | None = None, limit: int = 1000,
                       include_sending: bool = False) -> list[OutboxRecord]:
        """Intents still to send whatever their time, oldest first; with ``include_sending`` also those a crash
        left in ``sending``."""
        statuses = _SENDABLE if include_sending else ("pending",)
        where = f"status IN ({', '.join('?' for _ in statuses)})"
        params: tuple[Any, ...] = statuses
        if sync is not None:
            where, params = f"{where} AND sync = ?", (*statuses, sync)
        return self._outbox_rows(f"WHERE {where} ORDER BY created_at, dedupe_key LIMIT {int(limit)}", params)

    def outbox_get(self, dedupe_keys: Sequence[str]) -> dict[str, OutboxRecord]:
        found: dict[str, OutboxRecord] = {}
        for chunk in chunks(list(dict.fromkeys(dedupe_keys))):
            where = f"WHERE dedupe_key IN ({', '.join('?' for _ in chunk)})"
            found |= {r.dedupe_key: r for r in self._outbox_rows(where, chunk)}
        return found

    def outbox_known(self, dedupe_keys: Sequence[str]) -> set[str]:
        """Which of these keys have a row already (in any status)."""
        known: set[str] = set()
        for chunk in chunks(list(dict.fromkeys(dedupe_keys))):
            sql = self._effects_sql(f"SELECT dedupe_key FROM {{outbox}} WHERE dedupe_key IN "
                                    f"({', '.join('?' for _ in chunk)})")
            known |= {str(row[0]) for row in self._query(sql, chunk)}
        return known

    def outbox_where(self, where: str = "", params: Sequence[Any] = ()) -> list[OutboxRecord]:
        """Rows matching a condition over the outbox's columns (for reports and the alert log)."""
        return self._outbox_rows(f"WHERE {where}" if where else "", params)

    def _outbox_rows(self, where: str, params: Sequence[Any]) -> list[OutboxRecord]:
        rows = self._query(self._effects_sql(f"SELECT {_COLUMNS} FROM {{outbox}} {where}"), params)
        return [OutboxRecord(r[0], r[1], r[2], r[3], EffectKind(r[4]), json.loads(r[5]), OutboxStatus(r[6]), r[7],
                             int(r[8]), r[9], aware_utc(r[10]), aware_utc(r[11]),
                             None if r[12] is None else aware_utc(r[12])) for r in rows]

    def outbox_mark_sending(self, dedupe_keys: Sequence[str], now: datetime) -> list[str]:
        """Move intents from ``pending`` (or ``sending``, when recovering) to ``sending``, one attempt more each;
        return the keys moved (every other status is left alone)."""
        sql = self._effects_sql("UPDATE {outbox} SET status = 'sending', attempts = attempts + 1, updated_at = ? "
                                "WHERE dedupe_key = ? AND status IN ('pending', 'sending') RETURNING dedupe_key")
        moved: list[str] = []
        with self._transaction() as query:
            for key in dict.fromkeys(dedupe_keys):
                moved += [str(row[0]) for row in query(sql, (naive_utc(now), key))]
        return moved

    def outbox_done(self, dedupe_key: str, external_id: str | None, now: datetime,
                    members: Sequence[str] = ()) -> bool:
        """The destination confirmed the effect (or already held it): ``done`` with its id, and the ledger's
        ``sent_at`` stamped. ``members``: the held alerts a digest carried, done with it. Returns False when the
        intent is unknown, done already or failed."""
        stamp = naive_utc(now)
        with self._transaction() as query:
            moved = query(self._effects_sql("UPDATE {outbox} SET status = 'done', external_id = ?, error = NULL, "
                                            "updated_at = ? WHERE dedupe_key = ? AND status IN ('pending', 'sending') "
                                            "RETURNING dedupe_key"), (external_id, stamp, dedupe_key))
            if not moved:
                return False
            for key in (dedupe_key, *members):
                if key != dedupe_key:
                    query(self._effects_sql("UPDATE {outbox} SET status = 'done', external_id = ?, updated_at = ? "
                                            "WHERE dedupe_key = ? AND status = 'held'"), (external_id, stamp, key))
                query(self._effects_sql("UPDATE {alert_ledger} SET sent_at = ? WHERE dedupe_key = ? "
                                        "AND sent_at IS NULL AND outcome IN ('send', 'no_owner', 'digest')"),
                      (stamp, key))
            self._mark_dirty(query)
        return True

    def outbox_failed(self, dedupe_key: str, error: str, now: datetime, retryable: bool) -> bool:
        """The send failed: back to ``pending`` when ``retryable`` (tried again later), else ``failed`` for good."""
        status = OutboxStatus.PENDING if retryable else OutboxStatus.FAILED
        with self._transaction() as query:
            rows = query(self._effects_sql("UPDATE {outbox} SET status = ?, error = ?, updated_at = ? "
                                           "WHERE dedupe_key = ? AND status IN ('pending', 'sending') "
                                           "RETURNING dedupe_key"), (status.value, error, naive_utc(now), dedupe_key))
            if rows and not retryable:
                self._mark_dirty(query)
        return bool(rows)

    # The alert log's bookkeeping: a version counted up by every change it shows, and the version last written.

    def _mark_dirty(self, query: Query) -> None:
        query(self._effects_sql("UPDATE {effects_marks} SET version = version + 1 WHERE id = 1"), ())

    def log_version(self) -> tuple[int, int]:
        """``(current version, version last written to the warehouse)``: the log is behind when they differ."""
        rows = self._query(self._effects_sql("SELECT version, written_version FROM {effects_marks} WHERE id = 1"))
        return (int(rows[0][0]), int(rows[0][1])) if rows else (0, 0)

    def log_written(self, version: int, now: datetime, error: str | None = None) -> None:
        """The log was written with everything up to ``version`` (or the write failed with ``error``)."""
        if error is None:
            self._query(self._effects_sql("UPDATE {effects_marks} SET written_version = ?, written_at = ?, "
                                          "error = NULL WHERE id = 1"), (version, naive_utc(now)))
        else:
            self._query(self._effects_sql("UPDATE {effects_marks} SET error = ? WHERE id = 1"), (error[:500],))


def chunks(values: list[str], size: int = ROWS_PER_STATEMENT) -> list[list[str]]:
    return [values[start:start + size] for start in range(0, len(values), size)]
