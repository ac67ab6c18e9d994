"""Small builders shared by the tests: warehouses with given rows, sync configs, snapshots read back as dicts."""

from __future__ import annotations

import json
from collections.abc import Callable
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


def splice_section(page: str, start: str, end: str, body: str) -> str:
    """``page`` with the text between the ``start`` and ``end`` markers replaced by ``body`` (a generated table)."""
    head, _, rest = page.partition(start)
    _, _, tail = rest.partition(end)
    return f"{head}{start}\n{body}\n{end}{tail}"


def write_or_check(doc: Path, rendered: Callable[[str], str], argv: list[str]) -> int:
    """Rewrite ``doc`` as ``rendered`` makes it; with ``--check`` in ``argv``, exit 1 when it is out of date instead."""
    page = doc.read_text()
    fresh = rendered(page)
    if "--check" in argv:
        return 0 if fresh == page else 1
    doc.write_text(fresh)
    return 0
