"""Turning confirmed change rows into snapshot rows, and committing them."""

from __future__ import annotations

import threading
from datetime import datetime

import duckdb
import pyarrow as pa

from syncer.core.plan import ChangeRows
from syncer.state.base import StateStore
from syncer.state.records import COMMIT_SCHEMA


def confirmed_rows(changes: pa.Table | pa.RecordBatch, record_ids: pa.Array | None = None) -> pa.Table:
    """Snapshot rows (:data:`COMMIT_SCHEMA`) for change rows the destination confirmed.

    ``record_ids``, when given, are the ids the destination returned, in the same order (null keeps the plan's).
    The values struct becomes JSON text in DuckDB: a million rows in well under a second, no Python loop.
    """
    con = _converter()
    try:
        table = pa.Table.from_batches([changes]) if isinstance(changes, pa.RecordBatch) else changes
        if record_ids is not None:
            table = table.append_column("returned_id", record_ids)
        returned = "coalesce(returned_id, record_id)" if record_ids is not None else "record_id"
        con.register("confirmed", table)
        out = con.sql(f"""SELECT key, {returned} AS record_id, match AS match_value,
                                 CASE WHEN op = 'clear' THEN NULL ELSE to_json("values")::VARCHAR END AS fields,
                                 CASE WHEN op = 'clear' THEN NULL ELSE hash END AS row_hash,
                                 op <> 'clear' AS present
                          FROM confirmed""").to_arrow_table()
    finally:
        con.unregister("confirmed")
    return out.cast(COMMIT_SCHEMA)


_local = threading.local()


def _converter() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB per thread for the conversion (a new connection per batch costs milliseconds)."""
    if not hasattr(_local, "con"):
        _local.con = duckdb.connect()
    con: duckdb.DuckDBPyConnection = _local.con
    return con


def commit_confirmed(
    store: StateStore, sync: str, changes: pa.Table | pa.RecordBatch, now: datetime, record_ids: pa.Array | None = None
) -> int:
    """Advance the snapshot of ``sync`` for ``changes`` (rows a destination confirmed); return how many."""
    return store.snapshot.commit(sync, confirmed_rows(changes, record_ids), now)


def commit_all(
    store: StateStore, sync: str, changes: ChangeRows, now: datetime, op: str | None = None, batch_size: int = 100_000
) -> int:
    """Commit every change row (optionally only ``op``) in batches: bookkeeping rows, benchmarks and tests."""
    return sum(commit_confirmed(store, sync, batch, now) for batch in changes.batches(batch_size, op))
