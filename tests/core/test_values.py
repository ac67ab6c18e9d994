"""Value rules in a whole plan, on both state backends: bounds, strict maps, blank required fields, templates."""

from __future__ import annotations

from pathlib import Path

from syncer.planning.planner import plan_sync
from syncer.state import StateStore
from syncer.warehouse.base import Warehouse
from tests.helpers import plan_and_confirm, sync_config, write_table


def test_out_of_range_scores_unknown_tiers_and_blank_owners_are_rejected_with_reasons(
    store: StateStore, warehouse: Warehouse, warehouse_path: Path
) -> None:
    fields = {
        "score": {"source": "score", "min": 0, "max": 100},
        "tier": {"source": "tier", "map": {"hot": "Hot", "cold": "Cold"}, "strict": True},
        "owner": {"source": "owner", "required": True},
    }
    write_table(
        warehouse_path,
        "accounts",
        "id VARCHAR, score INTEGER, tier VARCHAR, owner VARCHAR",
        [
            ("a", 50, "hot", "ann"),
            ("b", -5, "hot", "bob"),
            ("c", 250, "cold", "cy"),
            ("d", 10, "lukewarm", "dee"),
            ("e", 10, "cold", "   "),
        ],
    )
    plan = plan_sync(sync_config(fields=fields), store, warehouse)
    assert [(r["key"], r["values"]) for r in plan.rows("create")] == [
        ("a", {"score": "50", "tier": "Hot", "owner": "ann"})
    ]
    assert [(r.key, r.reason) for r in plan.rejected] == [
        ("b", "score: -5 is below min 0"),
        ("c", "score: 250 is above max 100"),
        ("d", "tier: 'lukewarm' is not in the value map"),
        ("e", "owner: required but empty"),
    ]


def test_clamped_scores_are_sent_at_the_bound(store: StateStore, warehouse: Warehouse, warehouse_path: Path) -> None:
    fields = {"score": {"source": "score", "type": "integer", "min": 0, "max": 100, "out_of_range": "clamp"}}
    write_table(warehouse_path, "accounts", "id VARCHAR, score INTEGER", [("a", -5), ("b", 250), ("c", 42)])
    plan = plan_sync(sync_config(fields=fields), store, warehouse)
    assert {r["key"]: r["values"]["score"] for r in plan.rows("create")} == {"a": "0", "b": "100", "c": "42"}
    assert plan.rejected_total == 0


def test_a_representation_only_rebuild_with_a_template_field_resends_nothing(
    store: StateStore, warehouse: Warehouse, warehouse_path: Path
) -> None:
    fields = {"summary": {"template": "{{ tier }} at {{ score }} since {{ since }}, {{ signals.seats }} seats"}}
    sync = sync_config(fields=fields)
    write_table(
        warehouse_path,
        "accounts",
        "id VARCHAR, score DECIMAL(6, 2), tier VARCHAR, since TIMESTAMP, signals JSON",
        [("a", "70.00", "hot", "2026-11-20 14:03:00", '{"seats": 3, "plan": "pro"}')],
    )
    (created,) = plan_and_confirm(sync, store, warehouse).rows("create")
    assert created["values"]["summary"] == "hot at 70 since 2026-11-20T14:03:00Z, 3 seats"
    # The same meaning, other types and spellings: a double, an offset timestamp, JSON in another key order.
    write_table(
        warehouse_path,
        "accounts",
        "id VARCHAR, score DOUBLE, tier VARCHAR, since TIMESTAMPTZ, signals VARCHAR",
        [("a", 70.0, "hot", "2026-11-20 16:03:00+02", '{"plan":"pro", "seats":3}')],
    )
    plan = plan_sync(sync, store, warehouse)
    assert plan.changes.count == 0  # not even a refresh: the row hash did not move
