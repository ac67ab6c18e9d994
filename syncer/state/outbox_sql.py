""":class:`syncer.state.outbox.Outbox` in the ``outbox`` table, and the alert log's change counter.

Every status in a statement is a bound parameter taken from :class:`OutboxStatus` (and outcomes from
:class:`syncer.core.alerts.Outcome`), never a literal in the statement text.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from syncer.contract.clock import aware_utc, naive_utc
from syncer.core.alerts import Outcome
from syncer.state.outbox import SENDABLE, EffectKind, Outbox, OutboxItem, OutboxRecord, OutboxStatus
from syncer.state.sql import Database, Query, chunks, placeholders

_COLUMNS = (
    "dedupe_key, sync, trigger, key, kind, payload, status, external_id, attempts, error, created_at, "
    "updated_at, not_before"
)
# What an insert stages (the rest of a new row is NULL external id and 0 attempts), with the columns' types.
_STAGED = (
    ("dedupe_key", "TEXT"),
    ("sync", "TEXT"),
    ("trigger", "TEXT"),
    ("key", "TEXT"),
    ("kind", "TEXT"),
    ("payload", "TEXT"),
    ("status", "TEXT"),
    ("error", "TEXT"),
    ("created_at", "TIMESTAMP"),
    ("updated_at", "TIMESTAMP"),
    ("not_before", "TIMESTAMP"),
)
# Ledger outcomes whose decision is delivered by a send (their sent_at is stamped when the intent is done).
_DELIVERED_OUTCOMES = (Outcome.SEND, Outcome.NO_OWNER, Outcome.DIGEST)


def mark_log_changed(db: Database, query: Query) -> None:
    """Count up the alert log's version: it shows every intent and decision, so it is behind until rewritten."""
    query(db.sql("UPDATE {effects_marks} SET version = version + 1 WHERE id = 1"), ())


class SqlOutbox(Outbox):
    def __init__(self, db: Database) -> None:
        self._db = db

    def add(self, items: Sequence[OutboxItem], now: datetime) -> list[str]:
        with self._db.transaction() as query:
            added = self.insert(query, items, now)
            if added:  # tasks and suppressed intents are rows of the alert log too
                mark_log_changed(self._db, query)
            return added

    def insert(self, query: Query, items: Sequence[OutboxItem], now: datetime) -> list[str]:
        """:meth:`add` inside the caller's transaction (the ledger adds a decision's intent with the decision)."""
        # One statement for every row, read from the staged rows: an embedded store pays milliseconds per statement
        # against the indexed table (about 50 ms for 200 rows in DuckDB), whatever the rows in it.
        stamp = naive_utc(now)
        unique = list({item.dedupe_key: item for item in items}.values())
        if not unique:
            return []
        rows = [
            (
                item.dedupe_key,
                item.sync,
                item.trigger,
                item.key,
                item.kind.value,
                json.dumps(dict(item.payload), sort_keys=True, default=str),
                item.status.value,
                item.error,
                stamp,
                stamp,
                None if item.not_before is None else naive_utc(item.not_before),
            )
            for item in unique
        ]
        with self._db.staged(query, _STAGED, rows) as staged:
            sql = self._db.sql(
                f"INSERT INTO {{outbox}} ({_COLUMNS}) SELECT dedupe_key, sync, trigger, key, kind, payload, status, "
                f"NULL, 0, error, created_at, updated_at, not_before FROM ({staged}) AS staged "
                "ON CONFLICT (dedupe_key) DO UPDATE SET status = excluded.status, not_before = excluded.not_before, "
                "error = excluded.error, payload = excluded.payload, updated_at = excluded.updated_at "
                "WHERE {outbox}.status = ? RETURNING dedupe_key"
            )
            added = {str(row[0]) for row in query(sql, [OutboxStatus.DEFERRED.value])}
        return [item.dedupe_key for item in unique if item.dedupe_key in added]  # in the order given

    def due(
        self,
        now: datetime,
        sync: str | None = None,
        kinds: Sequence[EffectKind] = tuple(EffectKind),
        statuses: Sequence[OutboxStatus] = SENDABLE,
        limit: int = 10_000,
    ) -> list[OutboxRecord]:
        where = (
            f"status IN ({placeholders(statuses)}) AND kind IN ({placeholders(kinds)}) "
            "AND (not_before IS NULL OR not_before <= ?)"
        )
        params: list[Any] = [s.value for s in statuses] + [k.value for k in kinds] + [naive_utc(now)]
        if sync is not None:
            where, params = f"{where} AND sync = ?", [*params, sync]
        return self._rows(f"WHERE {where} ORDER BY created_at, dedupe_key LIMIT {int(limit)}", params)

    def pending(
        self, sync: str | None = None, limit: int = 1000, *, include_sending: bool = False
    ) -> list[OutboxRecord]:
        statuses = SENDABLE if include_sending else (OutboxStatus.PENDING,)
        return self._filtered(sync=sync, kinds=(), statuses=statuses, keys=None, limit=limit)

    def records(
        self,
        *,
        sync: str | None = None,
        kinds: Sequence[EffectKind] = (),
        statuses: Sequence[OutboxStatus] = (),
        keys: Sequence[str] | None = None,
    ) -> list[OutboxRecord]:
        if keys is None:
            return self._filtered(sync=sync, kinds=kinds, statuses=statuses, keys=None)
        found: list[OutboxRecord] = []
        for chunk in chunks(list(dict.fromkeys(keys))):
            found += self._filtered(sync=sync, kinds=kinds, statuses=statuses, keys=chunk)
        return sorted(found, key=lambda r: (r.created_at, r.dedupe_key))

    def _filtered(
        self,
        *,
        sync: str | None,
        kinds: Sequence[EffectKind],
        statuses: Sequence[OutboxStatus],
        keys: Sequence[str] | None,
        limit: int | None = None,
    ) -> list[OutboxRecord]:
        conditions: list[str] = []
        params: list[Any] = []
        if sync is not None:
            conditions.append("sync = ?")
            params.append(sync)
        for column, values in (
            ("kind", [k.value for k in kinds]),
            ("status", [s.value for s in statuses]),
            ("key", list(keys or ())),
        ):
            if values:
                conditions.append(f"{column} IN ({placeholders(values)})")
                params += values
        where = f"WHERE {' AND '.join(conditions)} " if conditions else ""
        bound = f" LIMIT {int(limit)}" if limit is not None else ""
        return self._rows(f"{where}ORDER BY created_at, dedupe_key{bound}", params)

    def get(self, dedupe_keys: Sequence[str]) -> dict[str, OutboxRecord]:
        found: dict[str, OutboxRecord] = {}
        for chunk in chunks(list(dict.fromkeys(dedupe_keys))):
            found |= {r.dedupe_key: r for r in self._rows(f"WHERE dedupe_key IN ({placeholders(chunk)})", chunk)}
        return found

    def known(self, dedupe_keys: Sequence[str]) -> set[str]:
        known: set[str] = set()
        for chunk in chunks(list(dict.fromkeys(dedupe_keys))):
            sql = self._db.sql(f"SELECT dedupe_key FROM {{outbox}} WHERE dedupe_key IN ({placeholders(chunk)})")
            known |= {str(row[0]) for row in self._db.query(sql, chunk)}
        return known

    def _rows(self, where: str, params: Sequence[Any]) -> list[OutboxRecord]:
        rows = self._db.query(self._db.sql(f"SELECT {_COLUMNS} FROM {{outbox}} {where}"), params)
        return [
            OutboxRecord(
                r[0],
                r[1],
                r[2],
                r[3],
                EffectKind(r[4]),
                json.loads(r[5]),
                OutboxStatus(r[6]),
                r[7],
                int(r[8]),
                r[9],
                aware_utc(r[10]),
                aware_utc(r[11]),
                None if r[12] is None else aware_utc(r[12]),
            )
            for r in rows
        ]

    def mark_sending(self, dedupe_keys: Sequence[str], now: datetime) -> list[str]:
        sendable = [s.value for s in SENDABLE]
        sql = self._db.sql(
            f"UPDATE {{outbox}} SET status = ?, attempts = attempts + 1, updated_at = ? "
            f"WHERE dedupe_key = ? AND status IN ({placeholders(sendable)}) RETURNING dedupe_key"
        )
        moved: list[str] = []
        with self._db.transaction() as query:
            for key in dict.fromkeys(dedupe_keys):
                moved += [
                    str(row[0]) for row in query(sql, (OutboxStatus.SENDING.value, naive_utc(now), key, *sendable))
                ]
        return moved

    def done(self, dedupe_key: str, external_id: str | None, now: datetime, members: Sequence[str] = ()) -> bool:
        db, stamp = self._db, naive_utc(now)
        sendable, delivered = [s.value for s in SENDABLE], [o.value for o in _DELIVERED_OUTCOMES]
        with db.transaction() as query:
            moved = query(
                db.sql(
                    f"UPDATE {{outbox}} SET status = ?, external_id = ?, error = NULL, updated_at = ? "
                    f"WHERE dedupe_key = ? AND status IN ({placeholders(sendable)}) RETURNING dedupe_key"
                ),
                (OutboxStatus.DONE.value, external_id, stamp, dedupe_key, *sendable),
            )
            if not moved:
                return False
            for key in (dedupe_key, *members):
                if key != dedupe_key:
                    query(
                        db.sql(
                            "UPDATE {outbox} SET status = ?, external_id = ?, updated_at = ? "
                            "WHERE dedupe_key = ? AND status = ?"
                        ),
                        (OutboxStatus.DONE.value, external_id, stamp, key, OutboxStatus.HELD.value),
                    )
                query(
                    db.sql(
                        f"UPDATE {{alert_ledger}} SET sent_at = ? WHERE dedupe_key = ? AND sent_at IS NULL "
                        f"AND outcome IN ({placeholders(delivered)})"
                    ),
                    (stamp, key, *delivered),
                )
            mark_log_changed(db, query)
        return True

    def failed(self, dedupe_key: str, error: str, now: datetime, *, retryable: bool) -> bool:
        status = OutboxStatus.PENDING if retryable else OutboxStatus.FAILED
        sendable = [s.value for s in SENDABLE]
        with self._db.transaction() as query:
            rows = query(
                self._db.sql(
                    f"UPDATE {{outbox}} SET status = ?, error = ?, updated_at = ? "
                    f"WHERE dedupe_key = ? AND status IN ({placeholders(sendable)}) "
                    "RETURNING dedupe_key"
                ),
                (status.value, error, naive_utc(now), dedupe_key, *sendable),
            )
            if rows and not retryable:
                mark_log_changed(self._db, query)
        return bool(rows)
