"""State stores: versioned migrations, idempotent commits, run history and row errors, on both backends."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa

from syncer.core.plan import ChangeCounts
from syncer.state import COMMIT_SCHEMA, RowErrorInput, StateStore
from syncer.state.base import RunStatus
from syncer.state.duckdb_store import DuckDBStateStore
from syncer.state.migrations import MIGRATIONS
from tests.helpers import NOW


def _rows(*rows: tuple[str, str | None, int, bool]) -> pa.Table:
    return pa.Table.from_pylist(
        [
            {
                "key": key,
                "record_id": f"id-{key}",
                "match_value": key,
                "fields": fields,
                "row_hash": row_hash,
                "present": present,
            }
            for key, fields, row_hash, present in rows
        ],
        schema=COMMIT_SCHEMA,
    )


def test_every_migration_is_recorded_once(store: StateStore) -> None:
    assert store.schema_versions() == [m.version for m in MIGRATIONS]


def test_commits_are_idempotent_and_the_latest_wins(store: StateStore) -> None:
    store.snapshot.commit("s", _rows(("a", '{"f":"1"}', 1, True), ("b", '{"f":"2"}', 2, True)), NOW)
    store.snapshot.commit("s", _rows(("a", '{"f":"3"}', 3, True)), NOW)
    store.snapshot.commit("s", _rows(("a", '{"f":"3"}', 3, True)), NOW)  # a retried commit changes nothing
    store.snapshot.commit("s", _rows(("b", None, 0, False)), NOW)  # cleared
    relation = store.snapshot.relation("s")
    rows = sorted(store.workspace().execute(f"SELECT key, fields, row_hash, present FROM {relation} AS s").fetchall())
    assert rows == [("a", '{"f":"3"}', 3, True), ("b", None, 0, False)]
    assert store.snapshot.size("s") == 1
    assert store.snapshot.size("other") == 0
    assert store.snapshot.reset("s") == 2
    assert store.snapshot.size("s") == 0


def test_runs_and_row_errors_are_recorded(store: StateStore) -> None:
    first = store.runs.start("s", dry_run=False, now=NOW)
    store.row_errors.note(
        first,
        "s",
        [
            RowErrorInput(None, "null_key", "null key (1 rows)", "plan"),
            RowErrorInput("k", "invalid_value", "bad", "plan"),
        ],
        NOW,
        park_after=5,
    )
    store.runs.finish(
        first, RunStatus.PLANNED, NOW, model_rows=10, counts=ChangeCounts(create=3, unchanged=5), rejected=2
    )
    second = store.runs.start("s", dry_run=True, now=NOW)
    assert second > first
    latest, earlier = store.runs.recent("s")
    assert (latest.id, latest.status, latest.dry_run) == (second, "running", True)
    assert (earlier.status, earlier.model_rows, earlier.creates, earlier.unchanged, earlier.rejected) == (
        "planned",
        10,
        3,
        5,
        2,
    )
    assert [(key, reason) for key, reason, _ in store.row_errors.latest_run("s")] == [
        (None, "null key (1 rows)"),
        ("k", "bad"),
    ]
    assert store.runs.recent("other") == []


def test_an_older_duckdb_state_is_upgraded_on_open(tmp_path: Path) -> None:
    path = tmp_path / "state.duckdb"
    DuckDBStateStore(path).close()
    con = duckdb.connect(str(path))  # take the file back to schema version 1
    con.execute("DROP TABLE snapshot_journal")
    con.execute("DROP SEQUENCE journal_seq")
    con.execute("DELETE FROM schema_migrations WHERE version = 2")
    con.close()
    upgraded = DuckDBStateStore(path)
    try:
        assert upgraded.schema_versions() == [m.version for m in MIGRATIONS]
        upgraded.snapshot.commit("s", _rows(("a", "{}", 1, True)), NOW)  # the journal exists again
        assert upgraded.snapshot.size("s") == 1
    finally:
        upgraded.close()
