"""Property: a plan applied to the previous snapshot yields the current model, whatever the rows.

Hypothesis draws a previous and a current model with inserts, updates, deletes, duplicate keys and null keys and
values; the real planner (DuckDB warehouse, DuckDB state) plans and commits both. Checked each time:

- the committed snapshot equals ``apply_plan(previous snapshot, plan)``;
- that equals the current model's valid rows, plus the previous values of keys the current model rejected;
- every update sends exactly the fields that differ, and no write is a no-op;
- planning the same model again finds nothing to do.
"""

from __future__ import annotations

import itertools
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from syncer.config.sync import SyncConfig
from syncer.core.plan import apply_plan
from syncer.planning.planner import plan_sync
from syncer.state.duckdb_store import DuckDBStateStore
from syncer.warehouse.duckdb_warehouse import DuckDBWarehouse
from tests.helpers import plan_and_confirm, snapshot_dict, sync_config, write_table

Row = tuple[str | None, str | None, str | None]
Snapshot = dict[str, dict[str, str | None]]
_keys = st.one_of(st.none(), st.sampled_from([f"k{i}" for i in range(8)]))
_values = st.one_of(st.none(), st.sampled_from(["", "a", "b", "O'Neil", "ünï", "x y"]))
_rows = st.lists(st.tuples(_keys, _values, _values), max_size=12)
_names = itertools.count()


def _expected(rows: list[Row], previous: Snapshot, *, clears: bool) -> Snapshot:
    counts: dict[str | None, int] = {}
    for key, _, _ in rows:
        counts[key] = counts.get(key, 0) + 1
    valid = {key: {"f1": v1, "f2": v2} for key, v1, v2 in rows if key is not None and counts[key] == 1}
    rejected = {key for key, n in counts.items() if key is not None and n > 1}
    kept = {key: values for key, values in previous.items() if key in rejected or (key not in counts and not clears)}
    return valid | kept


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(previous_rows=_rows, current_rows=_rows, clears=st.booleans())
def test_plan_applied_to_snapshot_yields_model(
    tmp_path: Path, previous_rows: list[Row], current_rows: list[Row], *, clears: bool
) -> None:
    name = f"s{next(_names)}"
    warehouse_path = tmp_path / f"{name}.duckdb"
    store = DuckDBStateStore(tmp_path / "state.duckdb")
    warehouse = DuckDBWarehouse(warehouse_path)
    sync: SyncConfig = sync_config(
        name=name, fields={"f1": "f1", "f2": "f2"}, on_remove="clear" if clears else "ignore"
    )
    try:
        write_table(warehouse_path, "accounts", "id VARCHAR, f1 VARCHAR, f2 VARCHAR", previous_rows)
        plan_and_confirm(sync, store, warehouse)
        previous = snapshot_dict(store, name)
        assert previous == _expected(previous_rows, {}, clears=clears)

        write_table(warehouse_path, "accounts", "id VARCHAR, f1 VARCHAR, f2 VARCHAR", current_rows)
        plan = plan_and_confirm(sync, store, warehouse)
        assert (
            snapshot_dict(store, name) == apply_plan(previous, plan) == _expected(current_rows, previous, clears=clears)
        )

        for row in plan.rows():
            before = previous.get(row["key"], {})
            if row["op"] == "update":
                assert row["changed"] == [f for f in ("f1", "f2") if row["values"][f] != before.get(f)]
            if row["op"] in ("create", "update", "clear"):
                assert row["values"] != before or row["op"] == "clear"
        assert plan_sync(sync, store, warehouse).is_empty
    finally:
        store.close()
