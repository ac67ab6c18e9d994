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
from syncer.config.alerts import AlertPolicy, FirstRunPolicy
from syncer.config.loader import load_project
from syncer.config.sync import Guards
from syncer.core.guards import Guard, GuardTrip, evaluate_guards, evaluate_rejects
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


@pytest.mark.parametrize(
    ("updates", "clears", "synced", "tripped"),
    [
        (50, 10, 100, []),  # exactly at both limits: allowed
        (50, 11, 100, [Guard.MAX_CLEAR_PERCENT]),
        (51, 10, 100, [Guard.MAX_UPDATE_PERCENT]),
        (100, 100, 100, [Guard.MAX_CLEAR_PERCENT, Guard.MAX_UPDATE_PERCENT]),
        (19, 19, 19, []),  # below min_records the percentages do not apply
        (20, 3, 20, [Guard.MAX_CLEAR_PERCENT, Guard.MAX_UPDATE_PERCENT]),  # at min_records they do
        (10, 10, 0, []),  # a first sync: nothing is synced yet
    ],
)
def test_percentages_trip_only_past_their_limits(updates: int, clears: int, synced: int, tripped: list[Guard]) -> None:
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
        Guard.MAX_CLEAR_PERCENT,
        250,
        1000,
        10,
        25.0,
    )
    assert trip.describe() == "would clear 250 of 1000 synced records (25%, more than max_clear_percent 10)"


@given(st.integers(0, 100), st.integers(0, 5000), st.integers(0, 5000), st.integers(0, 200))
def test_a_percentage_trips_exactly_when_the_count_exceeds_it(limit: int, count: int, synced: int, floor: int) -> None:
    limits = Guards(max_clear_percent=limit, max_update_percent=limit, min_records=floor)
    trips = evaluate_guards(limits, model_rows=1, updates=count, clears=count, synced=synced)
    expected = synced > 0 and synced >= floor and count * 100 > limit * synced
    assert len(trips) == (2 if expected else 0)


def _synced_accounts(warehouse_path: Path, n: int) -> list[tuple[str, float, str]]:
    rows = [(f"k{i:03}", float(i), "hot") for i in range(n)]
    write_table(warehouse_path, "accounts", "id VARCHAR, score DOUBLE, tier VARCHAR", rows)
    return rows


def test_the_plan_carries_its_trips_and_the_mapping_overrides_the_defaults(
    store: StateStore, warehouse: Warehouse, warehouse_path: Path
) -> None:
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
def test_updating_more_than_half_of_the_synced_records_trips(
    store: StateStore, warehouse: Warehouse, warehouse_path: Path, changed: int, *, blocked: bool
) -> None:
    rows = _synced_accounts(warehouse_path, 30)
    sync = sync_config()
    plan_and_confirm(sync, store, warehouse)
    rebuilt = [(key, score + 1 if i < changed else score, tier) for i, (key, score, tier) in enumerate(rows)]
    write_table(warehouse_path, "accounts", "id VARCHAR, score DOUBLE, tier VARCHAR", rebuilt)
    plan = plan_sync(sync, store, warehouse)
    assert plan.counts.update == changed
    assert [trip.guard for trip in plan.guard_trips] == ([Guard.MAX_UPDATE_PERCENT] if blocked else [])


def test_a_blocked_run_sends_nothing_and_is_recorded(
    store: StateStore, warehouse: Warehouse, warehouse_path: Path
) -> None:
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
    allowed = run_sync(sync, store, warehouse, lambda: NOW, lambda _: destination, RunOptions(allow_mass_change=True))
    assert allowed.status is RunStatus.SUCCEEDED
    assert sorted(key for call in destination.calls for key in call.keys) == sorted(before)


def test_a_blocked_run_does_not_commit_bookkeeping(
    store: StateStore, warehouse: Warehouse, warehouse_path: Path
) -> None:
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
        "create": 0,
        "update": 0,
        "clear": 10,
        "unchanged": 20,
    }
    assert len(plan_sync(narrower, store, warehouse).rows("refresh")) == 20


@pytest.mark.parametrize("backend", ["duckdb", "postgres"])
def test_the_cli_refuses_a_mass_change_once_and_allows_it_on_request(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
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
    write_table(root / "warehouse.duckdb", "scored_accounts", "account_id VARCHAR, pql_score DOUBLE, pql_tier TEXT", [])
    runner = CliRunner()
    planned = runner.invoke(cli, ["plan", "companies", "-p", str(root), "--json"], env=ENVIRONMENT)
    assert json.loads(planned.output)["guard_trips"][0]["guard"] == "allow_empty_model"
    shown = runner.invoke(cli, ["plan", "companies", "-p", str(root)], env=ENVIRONMENT, terminal_width=200)
    assert "guard allow_empty_model would stop a run: the model returned no rows" in shown.output
    assert "Allow it once with 'syncer run companies --allow-mass-change'" in shown.output
    blocked = runner.invoke(cli, ["run", "companies", "-p", str(root)], env=ENVIRONMENT)
    assert blocked.exit_code == 1
    assert "blocked, nothing sent: companies: the model returned no rows while 60 records are synced" in blocked.output
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


@pytest.mark.parametrize(
    ("creates", "synced", "tripped"),
    [
        (100, 100, []),  # the sync may double: exactly at the limit
        (101, 100, [Guard.MAX_CREATE_PERCENT]),
        (1800, 200, [Guard.MAX_CREATE_PERCENT]),  # a model that suddenly returns ten times its rows
        (2000, 0, []),  # a first sync: nothing is synced yet, every record is new
        (190, 19, []),  # below min_records the percentage does not apply
    ],
)
def test_creates_trip_past_their_percentage_of_the_synced_records(
    creates: int, synced: int, tripped: list[Guard]
) -> None:
    trips = evaluate_guards(DEFAULTS, model_rows=synced + creates, updates=0, clears=0, synced=synced, creates=creates)
    assert [trip.guard for trip in trips] == tripped


def test_a_create_trip_and_a_task_trip_say_what_the_run_would_do() -> None:
    (creates,) = evaluate_guards(DEFAULTS, model_rows=2000, updates=0, clears=0, synced=200, creates=1800)
    assert creates.describe() == (
        "would create 1800 records, 900% of the 200 synced (more than max_create_percent 100)"
    )
    (tasks,) = evaluate_guards(DEFAULTS, model_rows=10, updates=0, clears=0, synced=0, tasks=501)
    assert tasks.describe() == "would create 501 CRM tasks (more than max_tasks_per_run 500)"
    assert tasks.as_dict()["percent"] == 0
    assert evaluate_guards(DEFAULTS, model_rows=10, updates=0, clears=0, synced=0, tasks=500) == ()


def _scored(warehouse_path: Path, n: int, score: float = 50.0) -> None:
    write_table(
        warehouse_path,
        "accounts",
        "id VARCHAR, score DOUBLE, tier VARCHAR",
        [(f"k{i:04}", score, "rep@example.com") for i in range(n)],
    )


def test_a_model_ten_times_its_size_is_blocked_with_nothing_sent_and_allowed_once(
    store: StateStore, warehouse: Warehouse, warehouse_path: Path
) -> None:
    sync = sync_config()
    _scored(warehouse_path, 200)
    destination = FakeDestination(clock=FakeClock())
    first = run_sync(sync, store, warehouse, lambda: NOW, lambda _: destination)
    assert first.status is RunStatus.SUCCEEDED and first.plan is not None and first.plan.counts.create == 200
    before, sent = snapshot_dict(store, sync.name), len(destination.calls)
    _scored(warehouse_path, 2000)
    blocked = run_sync(sync, store, warehouse, lambda: NOW, lambda _: destination)
    assert blocked.status is RunStatus.BLOCKED and len(destination.calls) == sent  # nothing written
    assert blocked.error is not None and "would create 1800 records, 900% of the 200 synced" in blocked.error
    assert snapshot_dict(store, sync.name) == before
    assert not plan_sync(sync_config(guards={"max_create_percent": 900}), store, warehouse).blocked
    allowed = run_sync(sync, store, warehouse, lambda: NOW, lambda _: destination, RunOptions(allow_mass_change=True))
    assert allowed.status is RunStatus.SUCCEEDED and len(snapshot_dict(store, sync.name)) == 2000


TASK_TRIGGER = [
    {"name": "hot", "when": "new.score >= 80", "owner_column": "tier", "task": {"subject": "Call {{ id }}"}}
]


def test_more_tasks_than_max_tasks_per_run_block_the_run_and_a_first_runs_skipped_tasks_do_not_count(
    store: StateStore, warehouse: Warehouse, warehouse_path: Path
) -> None:
    sync = sync_config(triggers=TASK_TRIGGER, guards={"max_update_percent": 100})
    _scored(warehouse_path, 600, score=90)
    first_run = plan_sync(sync, store, warehouse)  # 600 firings, but a first run records its tasks (skip)
    assert first_run.firings.num_rows == 600 and not first_run.blocked
    eager = AlertPolicy(first_run=FirstRunPolicy.CAP)  # a first run that creates its tasks counts them
    assert [t.guard for t in plan_sync(sync, store, warehouse, alerts=eager).guard_trips] == [Guard.MAX_TASKS_PER_RUN]
    _scored(warehouse_path, 600, score=50)
    destination = FakeDestination(clock=FakeClock())
    assert run_sync(sync, store, warehouse, lambda: NOW, lambda _: destination).status is RunStatus.SUCCEEDED
    _scored(warehouse_path, 600, score=90)  # every account crosses 80: 600 tasks
    sent = len(destination.calls)
    blocked = run_sync(sync, store, warehouse, lambda: NOW, lambda _: destination)
    assert blocked.status is RunStatus.BLOCKED and len(destination.calls) == sent
    assert blocked.error is not None and "would create 600 CRM tasks (more than max_tasks_per_run 500)" in blocked.error
    raised = sync_config(triggers=TASK_TRIGGER, guards={"max_update_percent": 100, "max_tasks_per_run": 600})
    assert not plan_sync(raised, store, warehouse).blocked


def test_the_cli_plan_exits_1_naming_the_create_guard_and_run_is_blocked(tmp_path: Path) -> None:
    root = make_project(tmp_path / "project", accounts=5)
    columns = "account_id VARCHAR, pql_score DOUBLE, pql_tier TEXT"
    write_table(root / "warehouse.duckdb", "scored_accounts", columns, [(f"a{i:04}", 50.0, "warm") for i in range(200)])
    runner = CliRunner()
    assert runner.invoke(cli, ["plan", "companies", "-p", str(root)], env=ENVIRONMENT).exit_code == 0  # a first sync
    config = load_project(root, REGISTRY, ENVIRONMENT).sync("companies")
    store, warehouse = (
        open_state("duckdb:///.syncer/state.duckdb", root),
        open_warehouse("duckdb:///warehouse.duckdb", root),
    )
    try:
        run_id = store.runs.start("companies", dry_run=False, now=NOW)  # a delivered first sync of 200 rows
        commit_all(store, "companies", plan_sync(config, store, warehouse).changes, NOW)
        store.snapshot.flush("companies")
        store.runs.finish(run_id, RunStatus.SUCCEEDED, NOW, model_rows=200)
    finally:
        store.close()
        warehouse.close()
    ten_times = [(f"a{i:04}", 50.0, "warm") for i in range(2000)]
    write_table(root / "warehouse.duckdb", "scored_accounts", columns, ten_times)
    shown = runner.invoke(cli, ["plan", "companies", "-p", str(root)], env=ENVIRONMENT, terminal_width=200)
    assert shown.exit_code == 1
    assert "guard max_create_percent would stop a run: would create 1800 records" in shown.output
    planned = runner.invoke(cli, ["plan", "companies", "-p", str(root), "--json"], env=ENVIRONMENT)
    assert planned.exit_code == 1
    assert [trip["guard"] for trip in json.loads(planned.output)["guard_trips"]] == ["max_create_percent"]
    blocked = runner.invoke(cli, ["run", "companies", "-p", str(root)], env=ENVIRONMENT)
    assert blocked.exit_code == 1 and "blocked, nothing sent: companies: would create 1800 records" in blocked.output
    with (root / "syncer.yaml").open("a") as yaml:
        yaml.write("defaults:\n  guards:\n    max_create_percent: 1000\n")
    assert runner.invoke(cli, ["plan", "companies", "-p", str(root)], env=ENVIRONMENT).exit_code == 0


def test_creates_left_by_an_unfinished_backfill_do_not_trip_the_create_guard(tmp_path: Path) -> None:
    """A first sync stopped after 200 of 500 rows (a daily limit, a kill) creates the other 300 next run: the model
    did not grow, so that is no sudden change; a model that then grows tenfold is."""
    root = make_project(tmp_path / "project", accounts=5)
    columns = "account_id VARCHAR, pql_score DOUBLE, pql_tier TEXT"
    write_table(root / "warehouse.duckdb", "scored_accounts", columns, [(f"a{i:04}", 50.0, "warm") for i in range(500)])
    config = load_project(root, REGISTRY, ENVIRONMENT).sync("companies")
    store, warehouse = (
        open_state("duckdb:///.syncer/state.duckdb", root),
        open_warehouse("duckdb:///warehouse.duckdb", root),
    )
    try:
        run_id = store.runs.start("companies", dry_run=False, now=NOW)
        store.runs.finish(run_id, RunStatus.PARTIAL, NOW, model_rows=500)
        # 200 confirmed of 500: the snapshot as a stopped first sync leaves it
        write_table(
            root / "warehouse.duckdb", "scored_accounts", columns, [(f"a{i:04}", 50.0, "warm") for i in range(200)]
        )
        commit_all(store, "companies", plan_sync(config, store, warehouse).changes, NOW)
        store.snapshot.flush("companies")
        write_table(
            root / "warehouse.duckdb", "scored_accounts", columns, [(f"a{i:04}", 50.0, "warm") for i in range(500)]
        )
        leftovers = plan_sync(config, store, warehouse)
        assert leftovers.counts.create == 300 and not leftovers.guard_trips
        write_table(
            root / "warehouse.duckdb", "scored_accounts", columns, [(f"a{i:04}", 50.0, "warm") for i in range(5000)]
        )
        grown = plan_sync(config, store, warehouse)
        assert [trip.guard for trip in grown.guard_trips] == [Guard.MAX_CREATE_PERCENT]
        assert grown.guard_trips[0].count == 4500  # the model's growth since the delivered run, not the leftovers
    finally:
        store.close()
        warehouse.close()


@pytest.mark.parametrize(
    ("attempted", "rejected", "tripped"),
    [
        (100, 50, False),  # exactly at the limit does not trip
        (100, 51, True),
        (19, 19, False),  # below min_records the share does not apply (the runner fails a run rejecting every row)
        (20, 11, True),
        (0, 0, False),
    ],
)
def test_the_reject_guard_trips_past_its_share_of_the_attempted_rows(
    attempted: int, rejected: int, *, tripped: bool
) -> None:
    trip = evaluate_rejects(Guards(), attempted, rejected)
    assert (trip is not None) == tripped
    if trip is not None:
        assert (trip.guard, trip.count, trip.synced, trip.threshold) == (
            Guard.MAX_REJECT_PERCENT,
            rejected,
            attempted,
            50,
        )
        assert trip.describe().startswith(f"rejected or parked {rejected} of the {attempted} rows it attempted")
    assert evaluate_rejects(Guards(max_reject_percent=100), attempted, attempted) is None
