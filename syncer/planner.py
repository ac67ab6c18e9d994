"""Planning at the edge: stage the model in the workspace, run the core's diff SQL, return a :class:`Plan`.

This module does the I/O (warehouse, workspace); every decision it runs was built by :mod:`syncer.core`.
"""

from __future__ import annotations

import time

import duckdb

from syncer.config.sync import SyncConfig
from syncer.core.diff import DiffSpec, changes_sql, counts_sql, current_sql, delta_counts_sql, delta_sql, rejected_sql
from syncer.core.fields import field_sql
from syncer.core.plan import ChangeCounts, Plan, RejectedRow
from syncer.state.base import StateStore
from syncer.warehouse.base import Warehouse, WarehouseError

REJECTED_KEPT = 1000  # rejected rows kept in the plan (with reasons); the count is always exact


class PlanError(Exception):
    """The model could not be planned (the warehouse failed, or the model lacks a column the mapping needs)."""


def model_columns(con: duckdb.DuckDBPyConnection, model: str) -> dict[str, str]:
    """Column name -> DuckDB type of the staged ``model`` relation."""
    return {str(row[0]): str(row[1]) for row in con.execute(f"DESCRIBE SELECT * FROM {model} AS model").fetchall()}


def diff_spec(sync: SyncConfig, column_types: dict[str, str]) -> DiffSpec:
    fields = tuple(field_sql(name, spec, column_types) for name, spec in sync.fields.items())
    return DiffSpec(sync.key, sync.destination.match.column, fields, sync.removal)


def plan_sync(sync: SyncConfig, store: StateStore, warehouse: Warehouse, batch_size: int = 50_000) -> Plan:
    """Diff the model of ``sync`` against its confirmed snapshot. Sends nothing, changes no state."""
    started = time.perf_counter()
    con = store.workspace()
    try:
        model = warehouse.stage(con, sync.model.query, batch_size)
    except WarehouseError as exc:
        raise PlanError(f"{sync.name}: the warehouse could not run the model: {exc}") from exc
    try:
        return _plan_staged(sync, store, con, model, batch_size, started, warehouse.url)
    finally:
        warehouse.release(con)


def _plan_staged(sync: SyncConfig, store: StateStore, con: duckdb.DuckDBPyConnection, model: str,
                 batch_size: int, started: float, source: str) -> Plan:
    column_types = model_columns(con, model)
    needed = {sync.key, sync.destination.match.column} | {s.source for s in sync.fields.values() if s.source}
    missing = sorted(needed - set(column_types))
    if missing:
        raise PlanError(f"{sync.name}: the model has no column {', '.join(missing)} (run 'syncer validate')")
    spec = diff_spec(sync, column_types)
    snapshot = store.snapshot_relation(sync.name)
    try:
        con.execute(current_sql(spec, model))
        con.execute(delta_sql(spec, snapshot))
        counted = con.execute(counts_sql()).fetchall()[0]
        by_op = {str(op): int(n) for op, n in con.execute(delta_counts_sql()).fetchall()}
        changes = con.sql(changes_sql(spec, model, snapshot)).to_arrow_table()
        rejected_rows = con.execute(rejected_sql(REJECTED_KEPT)).fetchall()
    except duckdb.Error as exc:
        raise PlanError(f"{sync.name}: planning failed: {str(exc).splitlines()[0]}") from exc
    rejected = tuple(RejectedRow(key, reason) for key, reason in rejected_rows)
    model_rows, valid_keys = int(counted[0]), int(counted[1])
    refreshed = sum(1 for op in changes.column("op").to_pylist() if op == "refresh") if by_op.get("update") else 0
    updates = by_op.get("update", 0) - refreshed
    counts = ChangeCounts(
        create=by_op.get("create", 0), update=updates, clear=by_op.get("clear", 0),
        unchanged=valid_keys - by_op.get("create", 0) - updates, removed=by_op.get("removed", 0),
    )
    meta = {"seconds": round(time.perf_counter() - started, 3), "warehouse": source}
    return Plan(sync.name, tuple(sync.fields), model_rows, counts, changes, rejected, by_op.get("rejected", 0), meta)
