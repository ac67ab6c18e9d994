"""Trigger firings computed with the diff, on both state backends: a crossing fires once, an unchanged rebuild
fires nothing, a new change fires anew, ``old`` is null for creates, and ``when`` may read unmapped model columns."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from syncer.config.sync import SyncConfig
from syncer.core.plan import Plan
from syncer.core.triggers import FIRING_SCHEMA, firings_sql
from syncer.planning.planner import PlanError, plan_sync
from syncer.state import StateStore
from syncer.warehouse.base import Warehouse
from tests.helpers import plan_and_confirm, sync_config, write_table

COLUMNS = "id VARCHAR, score DOUBLE, tier VARCHAR, owner_email VARCHAR, seats INTEGER"
WENT_HOT = "new.tier = 'hot' AND old.tier IS DISTINCT FROM 'hot'"


def triggered(*triggers: tuple[str, str]) -> SyncConfig:
    return sync_config(triggers=[{"name": name, "when": when, "task": {"subject": name}} for name, when in triggers])


def firings(plan: Plan) -> list[dict[str, Any]]:
    assert plan.firings.schema == FIRING_SCHEMA
    return plan.firings.to_pylist()  # type: ignore[no-any-return]


def test_a_tier_crossing_fires_once_and_an_unchanged_rebuild_fires_nothing(
    store: StateStore, warehouse: Warehouse, warehouse_path: Path
) -> None:
    sync = triggered(("went_hot", WENT_HOT))
    write_table(
        warehouse_path, "accounts", COLUMNS, [("a", 50.0, "warm", "dana@x.io", 3), ("b", 20.0, "cold", "lee@x.io", 1)]
    )
    assert firings(plan_and_confirm(sync, store, warehouse)) == []
    write_table(
        warehouse_path, "accounts", COLUMNS, [("a", 95.0, "hot", "dana@x.io", 3), ("b", 25.0, "cold", "lee@x.io", 1)]
    )
    crossing = plan_and_confirm(sync, store, warehouse)
    [fired] = firings(crossing)
    assert (fired["trigger"], fired["key"], fired["owner"]) == ("went_hot", "a", "dana@x.io")
    assert len(fired["firing_id"]) == 32
    new_row, old_row = json.loads(fired["new_row"]), json.loads(fired["old_row"])
    assert new_row["score"] == 95.0 and new_row["seats"] == 3 and new_row["tier"] == "hot"  # typed model values
    assert old_row["tier"] == "warm"  # the field as the destination last confirmed it
    # The same model again (a full dbt rebuild): no changed key, no firing.
    rebuilt = plan_sync(sync, store, warehouse)
    assert rebuilt.is_empty and firings(rebuilt) == []
    # Still hot with a new score: an update, but not a crossing.
    write_table(
        warehouse_path, "accounts", COLUMNS, [("a", 97.0, "hot", "dana@x.io", 3), ("b", 25.0, "cold", "lee@x.io", 1)]
    )
    moved = plan_sync(sync, store, warehouse)
    assert moved.counts.update == 1 and firings(moved) == []


def test_the_same_change_keeps_its_firing_id_and_a_different_change_gets_a_new_one(
    store: StateStore, warehouse: Warehouse, warehouse_path: Path
) -> None:
    sync = triggered(("is_hot", "new.tier = 'hot'"))
    write_table(warehouse_path, "accounts", COLUMNS, [("a", 95.0, "hot", "dana@x.io", 3)])
    first = firings(plan_sync(sync, store, warehouse))
    replanned = firings(plan_and_confirm(sync, store, warehouse))  # after a crash, the same change is planned again
    assert first == replanned and len(first) == 1
    write_table(warehouse_path, "accounts", COLUMNS, [("a", 99.0, "hot", "dana@x.io", 3)])
    [second] = firings(plan_sync(sync, store, warehouse))
    assert second["key"] == "a" and second["firing_id"] != first[0]["firing_id"]
    # Another sync or trigger name over the same change is another firing.
    renamed = firings(plan_sync(triggered(("is_hot_too", "new.tier = 'hot'")), store, warehouse))
    assert renamed[0]["firing_id"] != second["firing_id"]


def test_old_is_null_for_creates_and_the_confirmed_text_for_updates(
    store: StateStore, warehouse: Warehouse, warehouse_path: Path
) -> None:
    sync = triggered(
        ("new_key", "old.tier IS NULL AND old.score IS NULL"),
        ("score_rose", "CAST(new.score AS DOUBLE) > CAST(old.score AS DOUBLE)"),
    )
    write_table(warehouse_path, "accounts", COLUMNS, [("a", 10.0, "warm", "dana@x.io", 3)])
    created = firings(plan_and_confirm(sync, store, warehouse))
    assert [(f["trigger"], f["key"]) for f in created] == [("new_key", "a")]
    write_table(warehouse_path, "accounts", COLUMNS, [("a", 12.5, "warm", "dana@x.io", 3), ("b", 1.0, "cold", None, 1)])
    second = firings(plan_sync(sync, store, warehouse))
    assert [(f["trigger"], f["key"], f["owner"]) for f in second] == [
        ("new_key", "b", None),
        ("score_rose", "a", "dana@x.io"),
    ]


def test_a_condition_may_read_a_model_column_that_no_field_maps(
    store: StateStore, warehouse: Warehouse, warehouse_path: Path
) -> None:
    sync = triggered(("big_and_hot", "new.seats >= 10 AND new.tier = 'hot'"))
    assert "seats" not in sync.fields
    write_table(
        warehouse_path, "accounts", COLUMNS, [("a", 90.0, "hot", "dana@x.io", 12), ("b", 91.0, "hot", "lee@x.io", 2)]
    )
    assert [f["key"] for f in firings(plan_sync(sync, store, warehouse))] == ["a"]


def test_a_sync_without_triggers_has_no_firings_and_a_failing_condition_is_a_plan_error(
    store: StateStore, warehouse: Warehouse, warehouse_path: Path
) -> None:
    write_table(warehouse_path, "accounts", COLUMNS, [("a", 90.0, "hot", "dana@x.io", 12)])
    plain = plan_sync(sync_config(), store, warehouse)
    assert firings(plain) == [] and "trigger_seconds" not in plain.meta
    assert "trigger_seconds" in plan_sync(triggered(("hot", "new.tier = 'hot'")), store, warehouse).meta
    write_table(warehouse_path, "accounts", "id VARCHAR, score DOUBLE, tier VARCHAR", [("a", 90.0, "hot")])
    with pytest.raises(PlanError, match="accounts: the model has no column owner_email"):
        plan_sync(triggered(("hot", "new.tier = 'hot'")), store, warehouse)
    write_table(warehouse_path, "accounts", COLUMNS, [("a", 90.0, "hot", "dana@x.io", 12)])
    broken = triggered(("bad", "CAST(new.tier AS INTEGER) > 1"))
    with pytest.raises(PlanError, match="accounts: a trigger condition failed: Conversion Error"):
        plan_sync(broken, store, warehouse)


def test_the_query_is_one_statement_over_every_trigger() -> None:
    sync = triggered(("one", "new.tier = 'hot'"), ("two", "old.tier = 'cold'"))
    sql = firings_sql(
        "accounts", sync.triggers, "model.id", "staged", ["id", "tier"], ["score", "tier"], "changes", "snapshot"
    )
    assert sql.count("UNION ALL") == 1 and "ORDER BY trigger, key" in sql
    with pytest.raises(ValueError, match="no triggers"):
        firings_sql("accounts", [], "model.id", "staged", [], [], "changes", "snapshot")


def test_a_fall_and_rise_to_the_same_row_is_a_new_crossing_and_a_replan_before_the_commit_is_not(
    store: StateStore, warehouse: Warehouse, warehouse_path: Path
) -> None:
    from syncer.commit import commit_all
    from tests.helpers import NOW

    sync = triggered(("went_hot", WENT_HOT))

    def plan_recorded(rows: list[tuple[object, ...]], *, commit: bool = True) -> Plan:
        """Plan, record the crossings as a run does after staging, then commit (or die before committing)."""
        write_table(warehouse_path, "accounts", COLUMNS, rows)
        plan = plan_sync(sync, store, warehouse)
        store.crossings.record(sync.name, plan.firings, plan.landings, NOW)
        if commit:
            commit_all(store, sync.name, plan.changes, NOW)
        return plan

    warm, hot = ("a", 50.0, "warm", "dana@x.io", 3), ("a", 95.0, "hot", "dana@x.io", 3)
    plan_recorded([warm])
    [first] = firings(plan_recorded([hot]))
    assert first["crossing"] == 1
    fell = plan_recorded([warm])
    assert firings(fell) == [] and fell.landings.to_pylist() == [{"trigger": "went_hot", "key": "a"}]
    [dead] = firings(plan_recorded([hot], commit=False))  # the second rise, killed before its commit
    [again] = firings(plan_recorded([hot]))  # the re-plan
    assert dead["crossing"] == again["crossing"] == 2 and dead["firing_id"] == again["firing_id"]
    assert again["firing_id"] != first["firing_id"] and again["row_hash"] == first["row_hash"]
    plan_recorded([warm])
    [third] = firings(plan_recorded([hot]))
    assert third["crossing"] == 3 and third["firing_id"] not in (first["firing_id"], again["firing_id"])
