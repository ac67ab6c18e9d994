"""Key and match identity: re-typed keys stay the same keys, match moves are updates, clears spare identity."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from syncer.planning.planner import PlanError, plan_sync
from syncer.state import StateStore
from syncer.warehouse.base import Warehouse
from tests.helpers import plan_and_confirm, snapshot_dict, sync_config, write_table


def _identity_sync(**overrides: Any) -> Any:
    data: dict[str, Any] = {
        "fields": {"score": "score"},
        "destination": {
            "connector": "crm",
            "object": "companies",
            "mode": overrides.pop("mode", "upsert"),
            "match": {"column": "crm_id", "field": "id"},
        },
    }
    return sync_config(**(data | overrides))


@pytest.mark.parametrize(
    ("key_type", "keys"),
    [
        ("DECIMAL(12, 2)", ["42.00", "7.00"]),
        ("DOUBLE", [42.0, 7.0]),
        ("BIGINT", [42, 7]),
        ("VARCHAR", ["42", "7"]),
        ("VARCHAR", [" 42 ", "7\t"]),
    ],
)
def test_retyping_the_key_column_keeps_every_key(
    store: StateStore, warehouse: Warehouse, warehouse_path: Path, key_type: str, keys: list[Any]
) -> None:
    sync = sync_config(fields={"score": "score"})
    write_table(warehouse_path, "accounts", "id INTEGER, score INTEGER", [(42, 1), (7, 2)])
    plan_and_confirm(sync, store, warehouse)
    write_table(warehouse_path, "accounts", f"id {key_type}, score INTEGER", [(keys[0], 1), (keys[1], 2)])
    plan = plan_sync(sync, store, warehouse)
    assert plan.changes.count == 0
    assert plan.counts.as_dict() == {"create": 0, "update": 0, "clear": 0, "unchanged": 2}


def test_a_blank_key_is_a_null_key(store: StateStore, warehouse: Warehouse, warehouse_path: Path) -> None:
    write_table(warehouse_path, "accounts", "id VARCHAR, score INTEGER", [("", 1), ("  ", 2), ("a", 3)])
    plan = plan_sync(sync_config(fields={"score": "score"}), store, warehouse)
    assert plan.counts.create == 1
    assert [(r.key, r.reason) for r in plan.rejected] == [(None, "null key (2 rows)")]


def test_a_moved_match_value_is_an_update_to_the_new_record(
    store: StateStore, warehouse: Warehouse, warehouse_path: Path
) -> None:
    sync = _identity_sync()
    columns = "id VARCHAR, crm_id BIGINT, score INTEGER"
    write_table(warehouse_path, "accounts", columns, [("a", 100, 1), ("b", 200, 2)])
    plan_and_confirm(sync, store, warehouse)
    # Re-typed (BIGINT -> VARCHAR with padding) for "a": no change; "b" now names another CRM record.
    write_table(
        warehouse_path, "accounts", "id VARCHAR, crm_id VARCHAR, score INTEGER", [("a", " 100", 1), ("b", "300", 2)]
    )
    plan = plan_sync(sync, store, warehouse)
    assert plan.counts.as_dict() == {"create": 0, "update": 1, "clear": 0, "unchanged": 1}
    (row,) = plan.rows("update")
    # The new record has none of syncer's values: every non-empty field goes, found by the new match value.
    assert (row["key"], row["match"], row["record_id"], row["changed"]) == ("b", "300", None, ["score"])
    plan_and_confirm(sync, store, warehouse)
    relation = store.snapshot.relation(sync.name)
    held = store.workspace().execute(f"SELECT key, match_value FROM {relation} AS s ORDER BY key").fetchall()
    assert held == [("a", "100"), ("b", "300")]
    assert plan_sync(sync, store, warehouse).changes.count == 0


def test_a_match_value_that_appears_is_shown_as_an_update(
    store: StateStore, warehouse: Warehouse, warehouse_path: Path
) -> None:
    sync = _identity_sync()
    write_table(warehouse_path, "accounts", "id VARCHAR, crm_id VARCHAR, score INTEGER", [("a", None, 1)])
    plan_and_confirm(sync, store, warehouse)
    write_table(warehouse_path, "accounts", "id VARCHAR, crm_id VARCHAR, score INTEGER", [("a", "100", 1)])
    (row,) = plan_sync(sync, store, warehouse).rows()
    assert (row["op"], row["match"], row["changed"]) == ("update", "100", [])


def test_update_mode_rejects_rows_without_a_match_value(
    store: StateStore, warehouse: Warehouse, warehouse_path: Path
) -> None:
    sync = _identity_sync(mode="update")
    write_table(
        warehouse_path,
        "accounts",
        "id VARCHAR, crm_id VARCHAR, score INTEGER",
        [("a", "100", 1), ("b", None, 2), ("c", " ", 3)],
    )
    plan = plan_sync(sync, store, warehouse)
    assert [r["key"] for r in plan.rows("create")] == ["a"]
    reason = "no record to update: the match column crm_id is empty"
    assert [(r.key, r.reason) for r in plan.rejected] == [("b", reason), ("c", reason)]


def test_column_names_resolve_case_insensitively(store: StateStore, warehouse: Warehouse, warehouse_path: Path) -> None:
    sync = sync_config(fields={"pql_score": "pql_score", "pql_tier": "pql_tier"}, on_remove="clear")
    write_table(
        warehouse_path,
        "accounts",
        "id VARCHAR, pql_score DECIMAL(4, 1), pql_tier VARCHAR",
        [("a", "70.0", "hot"), ("b", "12.5", "cold")],
    )
    plan_and_confirm(sync, store, warehouse)
    # The rebuild renamed the columns' casing: same columns, same types, nothing to do.
    write_table(
        warehouse_path,
        "accounts",
        "ID VARCHAR, PQL_SCORE DECIMAL(4, 1), PQL_TIER VARCHAR",
        [("a", "70.0", "hot"), ("b", "12.5", "cold")],
    )
    assert plan_sync(sync, store, warehouse).changes.count == 0
    # A value's casing is a real change.
    write_table(
        warehouse_path,
        "accounts",
        "ID VARCHAR, PQL_SCORE DECIMAL(4, 1), PQL_TIER VARCHAR",
        [("a", "70.0", "HOT"), ("b", "12.5", "cold")],
    )
    (row,) = plan_sync(sync, store, warehouse).rows()
    assert (row["op"], row["key"], row["changed"]) == ("update", "a", ["pql_tier"])


def test_a_column_missing_in_any_case_is_a_plan_error(
    store: StateStore, warehouse: Warehouse, warehouse_path: Path
) -> None:
    write_table(warehouse_path, "accounts", "ID VARCHAR, SCORE INTEGER", [("a", 1)])
    with pytest.raises(PlanError, match="has no column tier"):
        plan_sync(sync_config(fields={"score": "score", "tier": "tier"}), store, warehouse)


def test_a_clear_spares_identity_required_and_unclearable_fields(
    store: StateStore, warehouse: Warehouse, warehouse_path: Path
) -> None:
    fields = {
        "id": "crm_id",
        "account": "id",
        "owner": {"source": "owner", "required": True},
        "region": {"source": "region", "clear": False},
        "score": "score",
    }
    sync = _identity_sync(fields=fields, on_remove="clear")
    columns = "id VARCHAR, crm_id VARCHAR, owner VARCHAR, region VARCHAR, score INTEGER"
    write_table(warehouse_path, "accounts", columns, [("a", "100", "ann", "emea", 5), ("b", "200", "bob", "us", 6)])
    plan_and_confirm(sync, store, warehouse)
    write_table(warehouse_path, "accounts", columns, [("b", "200", "bob", "us", 6)])
    plan = plan_sync(sync, store, warehouse)
    (row,) = plan.rows("clear")
    assert (row["key"], row["match"], row["changed"]) == ("a", "100", ["score"])
    assert row["values"] == {"id": "100", "account": "a", "owner": "ann", "region": "emea", "score": None}
    plan_and_confirm(sync, store, warehouse)
    assert snapshot_dict(store, sync.name) == {
        "b": {"id": "200", "account": "b", "owner": "bob", "region": "us", "score": "6"}
    }
