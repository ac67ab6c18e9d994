"""Mass-change guardrails: the pure evaluation at its thresholds, the plan that carries the trips, the blocked run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from connectors import REGISTRY
from syncer.cli import cli
from syncer.commit import commit_all
from syncer.config.loader import load_project
from syncer.config.sync import Guards
from syncer.core.guards import Guard, GuardTrip, evaluate_guards
from syncer.planning.planner import plan_sync
from syncer.runner import RunOptions, run_sync
from syncer.state import StateStore, open_state
from syncer.state.base import RunStatus
from syncer.warehouse.base import Warehouse
from syncer.warehouse.opener import open_warehouse
from tests.delivery.fake_destination import FakeDestination
from tests.fakes import FakeClock
from tests.helpers import NOW, plan_and_confirm, snapshot_dict, sync_config, write_table
from tests.project import ENVIRONMENT, make_project

DEFAULTS = Guards()


@pytest.mark.parametrize(("updates", "clears", "synced", "tripped"), [
    (50, 10, 100, []),                                          # exactly at both limits: allowed
    (50, 11, 100, [Guard.MAX_CLEAR_PERCENT]),
    (51, 10, 100, [Guard.MAX_UPDATE_PERCENT]),
    (100, 100, 100, [Guard.MAX_CLEAR_PERCENT, Guard.MAX_UPDATE_PERCENT]),
    (19, 19, 19, []),                                           # below min_records the percentages do not apply
    (20, 3, 20, [Guard.MAX_CLEAR_PERCENT, Guard.MAX_UPDATE_PERCENT]),  # at min_records they do
    (10, 10, 0, []),                                            # a first sync: nothing is synced yet
])
def test_percentages_trip_only_past_their_limits(updates: int, clears: int, synced: int,
                                                 tripped: list[Guard]) -> None:
    trips = evaluate_guards(DEFAULTS, model_rows=synced, updates=updates, clears=clears, synced=synced)
    assert [trip.guard for trip in trips] == tripped


def test_an_empty_model_trips_whatever_the_snapshot_size() -> None:
    (trip,) = evaluate_guards(DEFAULTS, model_rows=0, updates=0, clears=0, synced=3)
    assert trip == GuardTrip(Guard.ALLOW_EMPTY_MODEL, 0, 3, 0)
    assert "returned no rows while 3 records are synced" in trip.describe()
    assert evaluate_guards(DEFAULTS, model_rows=0, updates=0, clears=0, synced=0) == ()
    assert evaluate_guards(Guards(allow_empty_model=True), model_rows=0, updates=0, clears=3, synced=3) == ()


def test_a_trip_names_the_guard_the_numbers_and_the_limit() -> None:
    (trip,) = evaluate_guards(DEFAULTS, model_rows=1000, updates=0, clears=250, synced=1000)
    assert (trip.guard, trip.count, trip.synced, trip.threshold, trip.percent) == (
        Guard.MAX_CLEAR_PERCENT, 250, 1000, 10, 25.0)
    assert trip.describe() == "would clear 250 of 1000 synced records (25%, more than max_clear_percent 10)"


@given(st.integers(0, 100), st.integers(0, 5000), st.integers(0, 5000), st.integers(0, 200))
def test_a_percentage_trips_exactly_when_the_count_exceeds_it(limit: int, count: int, synced: int,
                                                             floor: int) -> None:
    limits = Guards(max_clear_percent=limit, max_update_percent=limit, min_records=floor)
    trips = evaluate_guards(limits, model_rows=1, updates=count, clears=count, synced=synced)
    expected = synced > 0 and synced >= floor and count * 100 > limit * synced
    assert len(trips) == (2 if expected else 0)


def _synced_accounts(warehouse_path: Path, n: int) -> list[tuple[str, float, str]]:
    rows = [(f"k{i:03}", float(i), "hot") for i in range(n)]
    write_table(warehouse_path, "accounts", "id VARCHAR, score DOUBLE, tier VARCHAR", rows)
    return rows


def test_the_plan_carries_its_trips_and_the_mapping_overrides_the_defaults(
        store: StateStore, warehouse: Warehouse, warehouse_path: Path) -> None:
    rows = _synced_accounts(warehouse_path, 40)
    sync = sync_config(on_remove="clear")
    plan_and_confirm(sync, store, warehouse)
    write_table(warehouse_path, "accounts", "id VARCHAR, score DOUBLE, tier VARCHAR", rows[:35])  # 5 of 40 gone
    plan = plan_sync(sync, store, warehouse)
    assert (plan.synced, plan.counts.clear) == (40, 5)
    assert [trip.guard for trip in plan.guard_trips] == [Guard.MAX_CLEAR_PERCENT]
    summary = plan.summary()
    assert summary["guard_trips"][0]["count"] == 5
    assert "syncer run accounts --allow-mass-change" in summary["allow"]
    assert not plan_sync(sync, store, warehouse, guards=Guards(max_clear_percent=12.5)).blocked
    relaxed = sync_config(on_remove="clear", guards={"max_clear_percent": 20})
    assert not plan_sync(relaxed, store, warehouse, guards=Guards(max_clear_percent=1)).blocked


@pytest.mark.parametrize(("changed", "blocked"), [(15, False), (16, True)])
def test_updating_more_than_half_of_the_synced_records_trips(store: StateStore, warehouse: Warehouse,
                                                             warehouse_path: Path, changed: int, blocked: bool) -> None:
    rows = _synced_accounts(warehouse_path, 30)
    sync = sync_config()
    plan_and_confirm(sync, store, warehouse)
    rebuilt = [(key, score + 1 if i < changed else score, tier) for i, (key, score, tier) in enumerate(rows)]
    write_table(warehouse_path, "accounts", "id VARCHAR, score DOUBLE, tier VARCHAR", rebuilt)
    plan = plan_sync(sync, store, warehouse)
    assert plan.counts.update == changed
    assert [trip.guard for trip in plan.guard_trips] == ([Guard.MAX_UPDATE_PERCENT] if blocked else [])


def test_a_blocked_run_sends_nothing_and_is_recorded(store: StateStore, warehouse: Warehouse,
                                                     warehouse_path: Path) -> None:
    _synced_accounts(warehouse_path, 30)
    sync = sync_config(on_remove="clear", fields={"score": "score"})
    plan_and_confirm(sync, store, warehouse)
    before = snapshot_dict(store, sync.name)
    write_table(warehouse_path, "accounts", "id VARCHAR, score DOUBLE, tier VARCHAR", [])  # the model is emptied
    destination = FakeDestination(clock=FakeClock())
    outcome = run_sync(sync, store, warehouse, lambda: NOW, lambda _: destination)
    assert outcome.status is RunStatus.BLOCKED and not destination.calls
    assert outcome.error is not None and "the model returned no rows while 30 records are synced" in outcome.error
    assert "would clear 30 of 30 synced records" in outcome.error
    assert snapshot_dict(store, sync.name) == before
    (run,) = store.runs.recent(sync.name)
    assert (run.status, run.clears, run.error) == ("blocked", 30, outcome.error)
    allowed = run_sync(sync, store, warehouse, lambda: NOW, lambda _: destination,
                       RunOptions(allow_mass_change=True))
    assert allowed.status is RunStatus.SUCCEEDED
    assert sorted(key for call in destination.calls for key in call.keys) == sorted(before)


def test_a_blocked_run_does_not_commit_bookkeeping(store: StateStore, warehouse: Warehouse,
                                                   warehouse_path: Path) -> None:
    rows = _synced_accounts(warehouse_path, 30)
    sync = sync_config(on_remove="clear")
    plan_and_confirm(sync, store, warehouse)
    write_table(warehouse_path, "accounts", "id VARCHAR, score DOUBLE, tier VARCHAR", rows[:20])
    narrower = sync_config(on_remove="clear", fields={"score": {"source": "score", "type": "number"}})
    destination = FakeDestination(clock=FakeClock())
    assert run_sync(narrower, store, warehouse, lambda: NOW, lambda _: destination).status is RunStatus.BLOCKED
    assert not destination.calls
    # Had the run gone ahead, the 20 remaining keys' refresh rows would have been committed.
    assert plan_sync(narrower, store, warehouse, guards=Guards(max_clear_percent=100)).counts.as_dict() == {
        "create": 0, "update": 0, "clear": 10, "unchanged": 20}
    assert len(plan_sync(narrower, store, warehouse).rows("refresh")) == 20


@pytest.mark.parametrize("backend", ["duckdb", "postgres"])
def test_the_cli_refuses_a_mass_change_once_and_allows_it_on_request(tmp_path: Path, backend: str,
                                                                     request: pytest.FixtureRequest) -> None:
    state_url = "duckdb:///.syncer/state.duckdb" if backend == "duckdb" else request.getfixturevalue("pg_url")
    root = make_project(tmp_path / "project", state_url=state_url, accounts=60)
    config = load_project(root, REGISTRY, ENVIRONMENT).sync("companies")
    store, warehouse = open_state(state_url, root), open_warehouse("duckdb:///warehouse.duckdb", root)
    try:
        commit_all(store, "companies", plan_sync(config, store, warehouse).changes, NOW)
        store.snapshot.flush("companies")
    finally:
        store.close()
        warehouse.close()
    # An upstream job fails and leaves the model empty.
    write_table(root / "warehouse.duckdb", "scored_accounts", "account_id VARCHAR, pql_score DOUBLE, pql_tier TEXT",
                [])
    runner = CliRunner()
    planned = runner.invoke(cli, ["plan", "companies", "-p", str(root), "--json"], env=ENVIRONMENT)
    assert json.loads(planned.output)["guard_trips"][0]["guard"] == "allow_empty_model"
    shown = runner.invoke(cli, ["plan", "companies", "-p", str(root)], env=ENVIRONMENT, terminal_width=200)
    assert "guard allow_empty_model would stop a run: the model returned no rows" in shown.output
    assert "Allow it once with 'syncer run companies --allow-mass-change'" in shown.output
    blocked = runner.invoke(cli, ["run", "companies", "-p", str(root)], env=ENVIRONMENT)
    assert blocked.exit_code == 1
    assert ("blocked, nothing sent: companies: the model returned no rows while 60 records are synced"
            in blocked.output)
    assert "syncer run companies --allow-mass-change" in blocked.output
    status = json.loads(runner.invoke(cli, ["status", "-p", str(root), "--json"], env=ENVIRONMENT).output)
    assert status[0]["last_run"]["status"] == "blocked"
    allowed = runner.invoke(cli, ["run", "companies", "-p", str(root), "--allow-mass-change"], env=ENVIRONMENT)
    assert allowed.exit_code == 0


def test_limits_come_from_syncer_yaml_and_the_mapping_overrides_them(tmp_path: Path) -> None:
    root = make_project(tmp_path, accounts=5)
    with (root / "syncer.yaml").open("a") as yaml:
        yaml.write("defaults:\n  guards:\n    max_update_percent: 5\n    min_records: 100\n")
    with (root / "mappings" / "companies.yaml").open("a") as yaml:
        yaml.write("guards:\n  min_records: 0\n  allow_empty_model: true\n")
    project = load_project(root, REGISTRY, ENVIRONMENT)
    limits = project.config.defaults.guards.overridden(project.sync("companies").guards)
    assert limits == Guards(max_clear_percent=10, max_update_percent=5, min_records=0, allow_empty_model=True)
