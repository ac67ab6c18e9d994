"""Reading models: DuckDB in place, PostgreSQL streamed in batches, and the sample warehouse itself."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import duckdb
import psycopg
import pytest

from connectors.sandbox.people import sample_reps
from syncer.demo.sample_warehouse import build_sample_warehouse
from syncer.planning.planner import plan_sync
from syncer.state import StateStore, open_state
from syncer.warehouse.base import WarehouseError
from syncer.warehouse.opener import open_warehouse
from syncer.warehouse.sqlalchemy_warehouse import SqlAlchemyWarehouse
from tests.helpers import plan_and_confirm, sync_config


@pytest.fixture
def store(tmp_path: Path) -> Iterator[StateStore]:
    opened = open_state("duckdb:///state.duckdb", tmp_path)
    yield opened
    opened.close()


@pytest.fixture
def pg_warehouse(pg_url: str) -> str:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE accounts (id TEXT, score NUMERIC(5,1), tier TEXT, signals JSONB, "
            "seen TIMESTAMPTZ, nothing TEXT)"
        )
        conn.execute(
            "INSERT INTO accounts SELECT 'acc_' || i, (i % 100) + 0.5, CASE WHEN i % 3 = 0 THEN 'hot' "
            "ELSE 'cold' END, jsonb_build_object('seats', i % 7, 'invites', i % 5), "
            "timestamptz '2026-11-20 10:00:00+02' + i * interval '1 minute', NULL "
            "FROM generate_series(1, 2500) AS i"
        )
    return pg_url.replace("postgresql://", "postgresql+psycopg://")


def test_postgres_model_streams_in_batches(pg_warehouse: str) -> None:
    warehouse = SqlAlchemyWarehouse(pg_warehouse)
    try:
        sizes = [batch.num_rows for batch in warehouse.stream("SELECT * FROM accounts ORDER BY id", 1000)]
    finally:
        warehouse.close()
    assert sizes == [1000, 1000, 500]


def test_plan_from_postgres_matches_the_same_rows_in_duckdb(
    pg_warehouse: str, store: StateStore, tmp_path: Path
) -> None:
    fields = {
        "score": "score",
        "tier": "tier",
        "signals": {"source": "signals", "type": "json"},
        "seen": "seen",
        "nothing": "nothing",
    }
    sync = sync_config(fields=fields)
    warehouse = open_warehouse(pg_warehouse, tmp_path)
    try:
        plan = plan_and_confirm(sync, store, warehouse)  # the staging loop runs 3 batches of 1,000
        row = {r["key"]: r for r in plan.rows()}["acc_7"]
        assert row["values"] == {
            "score": "7.5",
            "tier": "cold",
            "signals": '{"invites":2,"seats":0}',
            "seen": "2026-11-20T08:07:00Z",
            "nothing": None,
        }
        assert plan.counts.create == 2500
        assert plan_sync(sync, store, warehouse).is_empty
    finally:
        warehouse.close()
    # The same data, re-typed as DuckDB has it, plans as unchanged: normalisation is the same on both paths.
    duck = duckdb.connect(str(tmp_path / "copy.duckdb"))
    duck.execute(
        "CREATE TABLE accounts AS SELECT 'acc_' || i AS id, CAST((i % 100) + 0.5 AS DOUBLE) AS score, "
        "CASE WHEN i % 3 = 0 THEN 'hot' ELSE 'cold' END AS tier, "
        "to_json({'seats': i % 7, 'invites': i % 5}) AS signals, "
        "TIMESTAMPTZ '2026-11-20 08:00:00+00' + to_minutes(CAST(i AS INTEGER)) AS seen, "
        "CAST(NULL AS VARCHAR) AS nothing FROM range(1, 2501) AS t(i)"
    )
    duck.close()
    copy = open_warehouse("duckdb:///copy.duckdb", tmp_path)
    assert plan_sync(sync, store, copy).is_empty


def test_postgres_warehouse_errors_are_clear(pg_warehouse: str) -> None:
    warehouse = SqlAlchemyWarehouse(pg_warehouse)
    with pytest.raises(WarehouseError, match='relation "missing" does not exist'):
        list(warehouse.stream("SELECT * FROM missing", 10))
    warehouse.close()


def test_sample_warehouse_is_realistic(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    assert build_sample_warehouse(path, accounts=3000) == 3000
    con = duckdb.connect(str(path), read_only=True)
    tiers = dict(con.execute("SELECT pql_tier, count(*) FROM scored_accounts GROUP BY 1").fetchall())
    assert 0 < tiers["hot"] < tiers["warm"] < tiers["cold"]
    owners = {row[0] for row in con.execute("SELECT DISTINCT owner_email FROM scored_accounts").fetchall()}
    assert owners == {rep.email for rep in sample_reps()}
    signals = json.loads(con.execute("SELECT signals FROM scored_accounts LIMIT 1").fetchall()[0][0])
    assert {"seats", "invites_30d", "limit_hits_30d", "active_days_30d"} <= set(signals)
    score_range = con.execute("SELECT min(pql_score), max(pql_score) FROM scored_accounts").fetchall()[0]
    assert 0 <= score_range[0] < score_range[1] <= 100
    con.close()


def test_a_new_day_heats_some_accounts_up(tmp_path: Path) -> None:
    build_sample_warehouse(tmp_path / "d0.duckdb", accounts=2000, day=0)
    build_sample_warehouse(tmp_path / "d1.duckdb", accounts=2000, day=1)
    con = duckdb.connect()
    con.execute(f"ATTACH '{tmp_path / 'd0.duckdb'}' AS d0 (READ_ONLY)")
    con.execute(f"ATTACH '{tmp_path / 'd1.duckdb'}' AS d1 (READ_ONLY)")
    moved, hotter = con.execute(
        "SELECT count(*) FILTER (WHERE a.pql_score <> b.pql_score), "
        "count(*) FILTER (WHERE b.pql_score < a.pql_score) FROM d0.scored_accounts a "
        "JOIN d1.scored_accounts b USING (account_id)"
    ).fetchall()[0]
    assert 10 < moved < 200  # a few percent of accounts
    assert hotter == 0  # activity bursts only add points
