"""Row errors per (sync, key): attempts across runs, parking, resolving, re-queueing, and the run-level view."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import duckdb

from syncer.state import RowErrorInput, StateStore
from syncer.state.base import ErrorStage
from syncer.state.duckdb_store import DuckDBStateStore
from syncer.state.migrations import MIGRATIONS
from tests.helpers import NOW

PLAN, DELIVER = ErrorStage.PLAN.value, ErrorStage.DELIVER.value


def _refused(*keys: str, code: str = "INVALID_EMAIL", stage: str = DELIVER) -> list[RowErrorInput]:
    return [RowErrorInput(key, code, f"{key}: email is not valid", stage) for key in keys]


def _runs(store: StateStore, count: int, errors: list[RowErrorInput], park_after: int = 3) -> list[int]:
    ids = []
    for i in range(count):
        run_id = store.runs.start("s", dry_run=False, now=NOW + timedelta(hours=i))
        store.row_errors.note(run_id, "s", errors, NOW + timedelta(hours=i), park_after)
        ids.append(run_id)
    return ids


def test_attempts_count_across_runs_and_keep_the_first_sighting(store: StateStore) -> None:
    _runs(store, 1, _refused("a", "b"))
    last = _runs(store, 1, [RowErrorInput("a", "DUPLICATE", "a: already exists", DELIVER)])[0]
    by_key = {r.key: r for r in store.row_errors.records("s")}
    a, b = by_key["a"], by_key["b"]
    assert (a.attempts, a.code, a.message, a.first_seen, a.last_seen, a.last_run_id) == (
        2,
        "DUPLICATE",
        "a: already exists",
        NOW,
        NOW,
        last,
    )
    assert (b.attempts, b.code, b.parked, b.stage) == (1, "INVALID_EMAIL", False, DELIVER)
    assert store.row_errors.records("other") == []


def test_delivery_errors_park_at_the_threshold_plan_rejections_never(store: StateStore) -> None:
    _runs(store, 2, _refused("a") + _refused("p", code="duplicate_key", stage=PLAN))
    assert store.row_errors.parked_keys("s") == set()
    _runs(store, 1, _refused("a") + _refused("p", code="duplicate_key", stage=PLAN))
    assert store.row_errors.parked_keys("s") == {"a"}
    assert [r.key for r in store.row_errors.records("s", parked=True)] == ["a"]
    assert [(r.key, r.attempts) for r in store.row_errors.records("s", parked=False)] == [("p", 3)]


def test_resolved_keys_drop_out_including_the_null_key_group(store: StateStore) -> None:
    _runs(store, 1, [*_refused("a", "b"), RowErrorInput(None, "null_key", "null key (2 rows)", PLAN)])
    store.row_errors.resolve("s", ["a", "missing"])
    assert sorted(str(r.key) for r in store.row_errors.records("s")) == ["None", "b"]
    store.row_errors.resolve("s", [])
    store.row_errors.resolve("s", ["b"])
    assert [r.key for r in store.row_errors.records("s")] == [None]


def test_plan_rejections_not_seen_again_are_settled(store: StateStore) -> None:
    first = _runs(store, 1, _refused("a", stage=PLAN) + _refused("b", stage=PLAN) + _refused("d"))[0]
    second = _runs(store, 1, _refused("b", stage=PLAN))[0]
    assert store.row_errors.settle_plan("s", second) == 1  # a became valid; d is a delivery error, kept
    assert {(r.key, r.last_run_id) for r in store.row_errors.records("s")} == {("b", second), ("d", first)}
    assert [(key, reason) for key, reason, _ in store.row_errors.latest_run("s")] == [("b", "b: email is not valid")]


def test_retry_requeues_parked_rows_with_attempts_back_to_zero(store: StateStore) -> None:
    _runs(store, 3, _refused("a", "b", "c"))
    assert store.row_errors.requeue("s", ["a", "not-parked"]) == 1
    assert store.row_errors.parked_keys("s") == {"b", "c"}
    assert {r.key: r.attempts for r in store.row_errors.records("s")}["a"] == 0
    assert store.row_errors.requeue("s") == 2
    assert store.row_errors.parked_keys("s") == set()
    _runs(store, 1, _refused("a"))  # a fresh count: one refusal does not park it again
    assert store.row_errors.parked_keys("s") == set()


def test_per_run_row_errors_of_schema_2_fold_into_one_row_per_key(tmp_path: Path) -> None:
    path = tmp_path / "state.duckdb"
    DuckDBStateStore(path).close()
    con = duckdb.connect(str(path))  # rebuild the schema 2 shape with history in it
    con.execute("DROP TABLE row_errors")
    con.execute("ALTER TABLE runs DROP COLUMN owner")
    con.execute(
        "CREATE TABLE row_errors (run_id BIGINT NOT NULL, sync TEXT NOT NULL, key TEXT, reason TEXT NOT "
        "NULL, attempts INTEGER NOT NULL DEFAULT 1, noted_at TIMESTAMP NOT NULL)"
    )
    con.executemany(
        "INSERT INTO row_errors (run_id, sync, key, reason, noted_at) VALUES (?, ?, ?, ?, ?)",
        [
            [1, "s", "k", "old reason", NOW],
            [2, "s", "k", "new reason", NOW + timedelta(days=1)],
            [2, "s", None, "null key (3 rows)", NOW + timedelta(days=1)],
        ],
    )
    con.execute("DELETE FROM schema_migrations WHERE version = 3")
    con.close()
    upgraded = DuckDBStateStore(path)
    try:
        assert upgraded.schema_versions() == [m.version for m in MIGRATIONS]
        by_key = {r.key: r for r in upgraded.row_errors.records("s")}
        k, null = by_key["k"], by_key[None]
        assert (k.key, k.message, k.attempts, k.first_seen, k.last_run_id, k.stage) == (
            "k",
            "new reason",
            2,
            NOW,
            2,
            PLAN,
        )
        assert (null.key, null.attempts) == (None, 1)
    finally:
        upgraded.close()
