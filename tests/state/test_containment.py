"""User SQL is contained: a model reads the warehouse and nothing else, on both state backends, and the state (and
the warehouse file) come out of any attempt intact."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from syncer.planning.planner import PlanError, plan_sync
from syncer.state import StateStore
from syncer.warehouse.base import ModelQueryError, check_model_query
from syncer.warehouse.opener import open_warehouse
from tests.helpers import NOW, plan_and_confirm, sync_config, write_table


@pytest.fixture
def confirmed(store: StateStore, tmp_path: Path) -> StateStore:
    """A state with a confirmed snapshot of ``accounts`` (3 keys) and a run over ``tmp_path/warehouse.duckdb``."""
    write_table(
        tmp_path / "warehouse.duckdb",
        "accounts",
        "id TEXT, score DOUBLE, tier TEXT",
        [("a", 1.0, "hot"), ("b", 2.0, "cold"), ("c", 3.0, "warm")],
    )
    plan_and_confirm(sync_config(), store, open_warehouse("duckdb:///warehouse.duckdb", tmp_path))
    store.snapshot.flush("accounts")
    store.runs.start("accounts", dry_run=False, now=NOW)
    return store


ATTEMPTS = [
    ("DELETE FROM snapshot", "must be a query (SELECT or WITH), not a DELETE statement"),
    ("DROP TABLE runs", "not a DROP statement"),
    ("SELECT 'a' AS id, 1 AS score, 'x' AS tier; DELETE FROM snapshot", "a single query, found 2 statements"),
    ("UPDATE snapshot SET fields = NULL", "not a UPDATE statement"),
    ("ATTACH 'state/state.duckdb' AS s", "not a ATTACH statement"),
    ("SELECT key AS id, 1 AS score, 'x' AS tier FROM snapshot", "Table with name snapshot does not exist"),
    ("SELECT id, 1 AS score, 'x' AS tier FROM runs", "Table with name runs does not exist"),
    ("SELECT key AS id, 1 AS score, 'x' AS tier FROM temp.__syncer_snapshot", "does not exist"),
    ("SELECT key AS id, 1 AS score, 'x' AS tier FROM state.main.snapshot", "does not exist"),
    (
        "SELECT content AS id, 1 AS score, 'x' AS tier FROM read_text('state/state.duckdb')",
        "file system operations are disabled",
    ),
    (
        "SELECT content AS id, 1 AS score, 'x' AS tier FROM read_blob('state/state.duckdb')",
        "file system operations are disabled",
    ),
]


@pytest.mark.parametrize(("sql", "message"), ATTEMPTS)
def test_a_model_cannot_reach_the_state(confirmed: StateStore, tmp_path: Path, sql: str, message: str) -> None:
    store = confirmed
    before = (store.snapshot.size("accounts"), [r.id for r in store.runs.recent()], store.schema_versions())
    warehouse_bytes = (tmp_path / "warehouse.duckdb").read_bytes()
    warehouse = open_warehouse("duckdb:///warehouse.duckdb", tmp_path)
    with pytest.raises(PlanError, match="the warehouse could not run the model") as caught:
        plan_sync(sync_config(model={"sql": sql}), store, warehouse)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
    assert (store.snapshot.size("accounts"), [r.id for r in store.runs.recent()], store.schema_versions()) == before
    assert (tmp_path / "warehouse.duckdb").read_bytes() == warehouse_bytes
    # The state still plans: nothing changed, nothing planned.
    assert plan_sync(sync_config(), store, warehouse).is_empty


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 1",
        "WITH a AS (SELECT 1 AS x) SELECT * FROM a",
        "FROM accounts",
        "VALUES (1)",
        "SELECT 1 UNION ALL SELECT 2",
        "SELECT ';' AS x -- ; DROP TABLE t",
    ],
)
def test_one_query_of_any_shape_is_a_model(sql: str) -> None:
    check_model_query(sql)


def test_an_unparsable_model_is_refused_on_duckdb_and_left_to_other_warehouses() -> None:
    with pytest.raises(ModelQueryError, match="not valid SQL"):
        check_model_query("SELECT FROM WHERE")
    check_model_query("SELECT $$dialect$$ FROM t QUALIFY", strict=False)
    with pytest.raises(ModelQueryError, match="found 2 statements"):
        check_model_query("SELECT 1; SELECT 2", strict=False)


def test_the_model_sees_the_warehouse_only_in_its_own_connection(confirmed: StateStore, tmp_path: Path) -> None:
    """The workspace holds the staged rows, never the warehouse catalog: dbt can write the file between runs."""
    warehouse = open_warehouse("duckdb:///warehouse.duckdb", tmp_path)
    plan_sync(sync_config(), confirmed, warehouse)
    catalogs = {
        row[0] for row in confirmed.workspace().execute("SELECT database_name FROM duckdb_databases()").fetchall()
    }
    assert not any("warehouse" in str(name) for name in catalogs)
    writer = duckdb.connect(str(tmp_path / "warehouse.duckdb"))  # would fail if anything held the file
    writer.execute("UPDATE accounts SET score = 5 WHERE id = 'a'")
    writer.close()
    assert plan_sync(sync_config(), confirmed, warehouse).counts.update == 1


def test_model_connections_of_one_process_are_independent(tmp_path: Path) -> None:
    """Two plans at once (a daemon's threads) each get their own locked-down connection to the same file."""
    write_table(tmp_path / "warehouse.duckdb", "accounts", "id TEXT", [("a",), ("b",)])
    warehouse = open_warehouse("duckdb:///warehouse.duckdb", tmp_path)
    streaming = warehouse.stream("SELECT * FROM accounts ORDER BY id", 1)
    assert next(streaming).to_pylist() == [{"id": "a"}]
    assert warehouse.describe("SELECT * FROM warehouse.main.accounts") == {"id": "VARCHAR"}  # as dbt names it
    assert [batch.to_pylist() for batch in streaming] == [[{"id": "b"}]]
