"""The diff and the plan: what changes, what does not, and what is rejected, on both state backends."""

from __future__ import annotations

from pathlib import Path

from syncer.config.sync import SyncConfig
from syncer.core.plan import apply_plan
from syncer.planning.planner import plan_sync
from syncer.state import StateStore
from syncer.warehouse.base import Warehouse
from tests.helpers import plan_and_confirm, snapshot_dict, sync_config, write_table

COLUMNS = "id VARCHAR, score DOUBLE, tier VARCHAR"


def test_first_run_creates_every_row_with_its_non_empty_fields(
    store: StateStore, warehouse: Warehouse, warehouse_path: Path
) -> None:
    write_table(warehouse_path, "accounts", COLUMNS, [("a", 10.0, "hot"), ("b", 2.5, None)])
    plan = plan_sync(sync_config(), store, warehouse)
    assert plan.counts.as_dict() == {"create": 2, "update": 0, "clear": 0, "unchanged": 0}
    rows = {row["key"]: row for row in plan.rows()}
    assert rows["a"]["values"] == {"score": "10", "tier": "hot"}
    assert rows["a"]["changed"] == ["score", "tier"]
    assert rows["b"]["changed"] == ["score"]  # nothing to send for an empty field on create
    assert rows["a"]["match"] == "a"


def test_second_run_sends_only_changed_fields_of_changed_rows(
    store: StateStore, warehouse: Warehouse, warehouse_path: Path
) -> None:
    sync = sync_config()
    write_table(warehouse_path, "accounts", COLUMNS, [("a", 10.0, "hot"), ("b", 2.5, "cold"), ("c", 1.0, "cold")])
    plan_and_confirm(sync, store, warehouse)
    write_table(warehouse_path, "accounts", COLUMNS, [("a", 10.0, "warm"), ("b", 2.5, "cold"), ("c", 1.0, "cold")])
    plan = plan_sync(sync, store, warehouse)
    assert plan.counts.as_dict() == {"create": 0, "update": 1, "clear": 0, "unchanged": 2}
    (row,) = plan.rows("update")
    assert (row["key"], row["changed"], row["values"]["tier"]) == ("a", ["tier"], "warm")


def test_representation_changes_are_not_changes(store: StateStore, warehouse: Warehouse, warehouse_path: Path) -> None:
    fields = {
        "score": {"source": "score", "type": "number"},
        "since": {"source": "since", "type": "datetime"},
        "signals": {"source": "signals", "type": "json"},
        "flag": {"source": "flag", "type": "boolean"},
    }
    sync = sync_config(fields=fields)
    columns = "id VARCHAR, score VARCHAR, since VARCHAR, signals VARCHAR, flag VARCHAR"
    write_table(
        warehouse_path, "accounts", columns, [("a", "1", "2026-11-20 14:03:00", '{"seats": 3, "invites": 5}', "true")]
    )
    plan_and_confirm(sync, store, warehouse)
    # Same values, other spellings: 1.00 for 1, the same instant with an offset, other key order, 't' for true.
    write_table(
        warehouse_path,
        "accounts",
        columns,
        [("a", "1.00", "2026-11-20T16:03:00+02:00", '{"invites":5,"seats":3}', "t")],
    )
    plan = plan_sync(sync, store, warehouse)
    assert plan.counts.as_dict() == {"create": 0, "update": 0, "clear": 0, "unchanged": 1}
    assert plan.changes.count == 0


def test_decimal_trailing_zeros_and_integer_doubles_compare_equal(
    store: StateStore, warehouse: Warehouse, warehouse_path: Path
) -> None:
    sync = sync_config(fields={"score": "score"})
    write_table(warehouse_path, "accounts", "id VARCHAR, score DECIMAL(6,2)", [("a", "83.50"), ("b", "7.00")])
    first = plan_and_confirm(sync, store, warehouse)
    assert {r["key"]: r["values"]["score"] for r in first.rows()} == {"a": "83.5", "b": "7"}
    write_table(warehouse_path, "accounts", "id VARCHAR, score DOUBLE", [("a", 83.5), ("b", 7.0)])
    assert plan_sync(sync, store, warehouse).is_empty


def test_null_and_duplicate_keys_and_bad_values_are_rejected_while_the_rest_sync(
    store: StateStore, warehouse: Warehouse, warehouse_path: Path
) -> None:
    write_table(
        warehouse_path,
        "accounts",
        "id VARCHAR, score VARCHAR, tier VARCHAR",
        [("a", "1", "hot"), (None, "2", "hot"), ("d", "3", "x"), ("d", "4", "y"), ("e", "lots", "hot")],
    )
    plan = plan_sync(sync_config(), store, warehouse)
    assert plan.counts.create == 1
    assert plan.rejected_total == 3
    reasons = {row.key: row.reason for row in plan.rejected}
    assert reasons[None] == "null key (1 rows)"
    assert reasons["d"] == "duplicate key (2 rows)"
    assert reasons["e"] == "score: cannot convert lots to number"


def test_rejected_key_keeps_its_snapshot_and_is_not_cleared(
    store: StateStore, warehouse: Warehouse, warehouse_path: Path
) -> None:
    sync = sync_config(on_remove="clear")
    write_table(warehouse_path, "accounts", COLUMNS, [("a", 1.0, "hot"), ("b", 2.0, "hot")])
    plan_and_confirm(sync, store, warehouse)
    write_table(warehouse_path, "accounts", COLUMNS, [("a", 1.0, "hot"), ("b", 3.0, "hot"), ("b", 4.0, "hot")])
    plan = plan_sync(sync, store, warehouse)
    assert plan.counts.as_dict() == {"create": 0, "update": 0, "clear": 0, "unchanged": 1}
    assert [r.key for r in plan.rejected] == ["b"]


def test_removed_rows_are_cleared_or_ignored_as_the_sync_says(
    store: StateStore, warehouse: Warehouse, warehouse_path: Path
) -> None:
    write_table(warehouse_path, "accounts", COLUMNS, [("a", 1.0, "hot"), ("b", 2.0, None)])
    clearing, ignoring = sync_config("clearing", on_remove="clear"), sync_config("ignoring", on_remove="ignore")
    for sync in (clearing, ignoring):
        plan_and_confirm(sync, store, warehouse)
    write_table(warehouse_path, "accounts", COLUMNS, [("a", 1.0, "hot")])
    cleared = plan_sync(clearing, store, warehouse)
    assert cleared.counts.clear == 1
    (row,) = cleared.rows("clear")
    assert row["key"] == "b"
    assert row["changed"] == ["score"]  # only what the destination holds a value for
    assert row["values"] == {"score": None, "tier": None}
    ignored = plan_sync(ignoring, store, warehouse)
    assert (ignored.counts.clear, ignored.counts.removed) == (0, 1)


def test_cleared_key_that_returns_is_sent_again(store: StateStore, warehouse: Warehouse, warehouse_path: Path) -> None:
    sync = sync_config(on_remove="clear")
    write_table(warehouse_path, "accounts", COLUMNS, [("a", 1.0, "hot"), ("b", 2.0, "cold")])
    plan_and_confirm(sync, store, warehouse)
    write_table(warehouse_path, "accounts", COLUMNS, [("a", 1.0, "hot")])
    assert plan_and_confirm(sync, store, warehouse).counts.clear == 1
    assert plan_sync(sync, store, warehouse).is_empty  # a cleared key is not cleared again
    write_table(warehouse_path, "accounts", COLUMNS, [("a", 1.0, "hot"), ("b", 2.0, "cold")])
    plan = plan_sync(sync, store, warehouse)
    (row,) = plan.rows("update")
    assert (row["key"], row["changed"]) == ("b", ["score", "tier"])


def test_adding_a_field_replans_that_field_for_every_row(
    store: StateStore, warehouse: Warehouse, warehouse_path: Path
) -> None:
    write_table(warehouse_path, "accounts", COLUMNS, [("a", 1.0, "hot"), ("b", 2.0, "cold")])
    plan_and_confirm(sync_config(fields={"score": "score"}), store, warehouse)
    plan = plan_sync(sync_config(fields={"score": "score", "tier": "tier"}), store, warehouse)
    assert plan.counts.update == 2
    assert {r["key"]: r["changed"] for r in plan.rows("update")} == {"a": ["tier"], "b": ["tier"]}


def test_changing_a_value_map_updates_only_the_rows_it_affects(
    store: StateStore, warehouse: Warehouse, warehouse_path: Path
) -> None:
    write_table(warehouse_path, "accounts", COLUMNS, [("a", 1.0, "hot"), ("b", 2.0, "cold")])
    plan_and_confirm(sync_config(fields={"tier": "tier"}), store, warehouse)
    remapped = sync_config(fields={"tier": {"source": "tier", "map": {"hot": "Hot"}}})
    plan = plan_sync(remapped, store, warehouse)
    assert [(r["key"], r["values"]["tier"]) for r in plan.rows("update")] == [("a", "Hot")]
    assert plan.counts.unchanged == 1


def test_removing_a_field_only_refreshes_bookkeeping(
    store: StateStore, warehouse: Warehouse, warehouse_path: Path
) -> None:
    write_table(warehouse_path, "accounts", COLUMNS, [("a", 1.0, "hot")])
    plan_and_confirm(sync_config(), store, warehouse)
    plan = plan_sync(sync_config(fields={"score": {"source": "score", "type": "number"}}), store, warehouse)
    assert plan.is_empty
    assert [row["op"] for row in plan.rows()] == ["refresh"]


def test_templates_static_values_rounding_and_limits(
    store: StateStore, warehouse: Warehouse, warehouse_path: Path
) -> None:
    fields = {
        "summary": {"template": "{{ tier | upper }}: {{ signals.seats }} seats"},
        "source": {"value": "syncer"},
        "score": {"source": "score", "round": 1},
        "short": {"source": "tier", "max_length": 3, "truncate": True},
        "strict": {"source": "tier", "max_length": 4},
    }
    write_table(
        warehouse_path,
        "accounts",
        "id VARCHAR, score DOUBLE, tier VARCHAR, signals JSON",
        [("a", 83.46, "warm", '{"seats": 12}'), ("b", 1.0, "lukewarm", '{"seats": 1}')],
    )
    plan = plan_sync(sync_config(fields=fields), store, warehouse)
    (row,) = plan.rows("create")
    assert row["values"] == {
        "summary": "WARM: 12 seats",
        "source": "syncer",
        "score": "83.5",
        "short": "war",
        "strict": "warm",
    }
    assert [(r.key, r.reason) for r in plan.rejected] == [("b", "strict: 8 characters, more than max_length 4")]


def test_confirmed_changes_applied_to_the_snapshot_give_the_model(
    store: StateStore, warehouse: Warehouse, warehouse_path: Path
) -> None:
    sync: SyncConfig = sync_config(on_remove="clear")
    write_table(warehouse_path, "accounts", COLUMNS, [("a", 1.0, "hot"), ("b", 2.0, "cold"), ("c", 3.0, "warm")])
    first = plan_and_confirm(sync, store, warehouse)
    before = snapshot_dict(store, sync.name)
    assert before == apply_plan({}, first)
    write_table(warehouse_path, "accounts", COLUMNS, [("a", 1.5, "hot"), ("c", 3.0, "warm"), ("d", 4.0, None)])
    second = plan_and_confirm(sync, store, warehouse)
    assert (
        snapshot_dict(store, sync.name)
        == apply_plan(before, second)
        == {
            "a": {"score": "1.5", "tier": "hot"},
            "c": {"score": "3", "tier": "warm"},
            "d": {"score": "4", "tier": None},
        }
    )
    assert plan_sync(sync, store, warehouse).is_empty


def test_a_template_failing_on_one_row_rejects_only_that_row(
    store: StateStore, warehouse: Warehouse, warehouse_path: Path
) -> None:
    fields = {"summary": {"template": "{{ signals.seats }} seats"}}
    write_table(warehouse_path, "accounts", "id VARCHAR, signals JSON", [("a", '{"seats": 3}'), ("b", None)])
    plan = plan_sync(sync_config(fields=fields), store, warehouse)
    assert [(r["key"], r["values"]["summary"]) for r in plan.rows("create")] == [("a", "3 seats")]
    assert [(r.key, r.reason) for r in plan.rejected] == [
        ("b", "summary: template failed: 'None' has no attribute 'seats'")
    ]


def test_template_inputs_that_change_without_changing_the_output_send_nothing(
    store: StateStore, warehouse: Warehouse, warehouse_path: Path
) -> None:
    sync = sync_config(fields={"summary": {"template": "{{ signals.seats }} seats"}})
    write_table(
        warehouse_path,
        "accounts",
        "id VARCHAR, signals JSON",
        [("a", '{"seats": 3, "invites": 1}'), ("b", '{"seats": 5, "invites": 1}')],
    )
    plan_and_confirm(sync, store, warehouse)
    # Only an input the template does not print changes for "a"; "b" really changes.
    write_table(
        warehouse_path,
        "accounts",
        "id VARCHAR, signals JSON",
        [("a", '{"seats": 3, "invites": 9}'), ("b", '{"seats": 6, "invites": 1}')],
    )
    plan = plan_sync(sync, store, warehouse)
    assert [(r["key"], r["values"]["summary"]) for r in plan.rows("update")] == [("b", "6 seats")]
    assert [r["key"] for r in plan.rows("refresh")] == ["a"]  # bookkeeping only: nothing is sent for it
    assert plan.counts.as_dict() == {"create": 0, "update": 1, "clear": 0, "unchanged": 1}
    plan_and_confirm(sync, store, warehouse)
    assert plan_sync(sync, store, warehouse).changes.count == 0


def test_changing_a_template_rerenders_every_row_but_sends_only_new_outputs(
    store: StateStore, warehouse: Warehouse, warehouse_path: Path
) -> None:
    write_table(warehouse_path, "accounts", "id VARCHAR, tier VARCHAR", [("a", "hot"), ("b", "cold")])
    plan_and_confirm(sync_config(fields={"label": {"template": "{{ tier }}"}}), store, warehouse)
    shouting = sync_config(fields={"label": {"template": "{{ tier if tier == 'cold' else tier | upper }}"}})
    plan = plan_sync(shouting, store, warehouse)
    assert [(r["key"], r["values"]["label"]) for r in plan.rows("update")] == [("a", "HOT")]
    assert [r["key"] for r in plan.rows("refresh")] == ["b"]
