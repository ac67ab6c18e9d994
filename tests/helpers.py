"""Small builders shared by the tests: warehouses with given rows, sync configs, snapshots read back as dicts."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from syncer.commit import commit_all
from syncer.config.sync import SyncConfig
from syncer.core.plan import Plan
from syncer.planning.planner import plan_sync
from syncer.state.base import StateStore
from syncer.warehouse.base import Warehouse

NOW = datetime(2026, 11, 22, 12, 0, 0)  # noqa: DTZ001 (naive UTC: how the state stores and runs pass time)


def write_table(path: Path, table: str, columns: str, rows: list[tuple[Any, ...]]) -> None:
    """Create or replace ``table`` (DDL column list ``columns``) in the DuckDB file at ``path`` with ``rows``."""
    con = duckdb.connect(str(path))
    try:
        con.execute(f"CREATE OR REPLACE TABLE {table} ({columns})")
        if rows:
            marks = ", ".join("?" for _ in rows[0])
            con.executemany(f"INSERT INTO {table} VALUES ({marks})", [list(row) for row in rows])
    finally:
        con.close()


def sync_config(
    name: str = "accounts", table: str = "accounts", fields: dict[str, Any] | None = None, **overrides: Any
) -> SyncConfig:
    data: dict[str, Any] = {
        "name": name,
        "model": {"table": table},
        "key": "id",
        "destination": {
            "connector": "crm",
            "object": "companies",
            "mode": "upsert",
            "match": {"column": "id", "field": "external_id"},
        },
        "fields": fields or {"score": {"source": "score", "type": "number"}, "tier": "tier"},
    }
    data.update(overrides)
    return SyncConfig.model_validate(data)


def plan_and_confirm(sync: SyncConfig, store: StateStore, warehouse: Warehouse) -> Plan:
    """Plan, then commit every change as if the destination confirmed all of it."""
    plan = plan_sync(sync, store, warehouse)
    commit_all(store, sync.name, plan.changes, NOW)
    return plan


def snapshot_dict(store: StateStore, sync: str) -> dict[str, dict[str, str | None]]:
    """The confirmed snapshot of ``sync`` (present keys only) as ``{key: {field: value}}``."""
    relation = store.snapshot.relation(sync)
    rows = store.workspace().execute(f"SELECT key, fields FROM {relation} AS s WHERE present").fetchall()
    return {str(key): json.loads(fields) for key, fields in rows}
