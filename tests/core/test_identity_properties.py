"""Properties of identity, on both state backends: representation is not meaning, and a moved match is always seen.

Hypothesis draws a model (integer keys, match values, scores, ranks and instants) and two representations of it:
the key and match columns as INTEGER, BIGINT, DECIMAL, DOUBLE, text or padded text; scores as DECIMAL, DOUBLE or
text with trailing zeros; instants as naive UTC or in any zone. A template field reads the rank and the instant.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from syncer.config.sync import SyncConfig
from syncer.planning.planner import plan_sync
from syncer.state import StateStore
from syncer.warehouse.duckdb_warehouse import DuckDBWarehouse
from tests.helpers import plan_and_confirm, sync_config, write_table

Spelling = tuple[str, Callable[[Any], Any]]
IDENTITIES: list[Spelling] = [
    ("INTEGER", int),
    ("BIGINT", int),
    ("DECIMAL(18, 2)", lambda v: f"{v}.00"),
    ("DOUBLE", float),
    ("VARCHAR", str),
    ("VARCHAR", lambda v: f"  {v}\t"),
]
SCORES: list[Spelling] = [
    ("DECIMAL(12, 2)", str),
    ("DOUBLE", float),
    ("VARCHAR", lambda v: format(v, "f") + "00"),
]
RANKS: list[Spelling] = [("INTEGER", int), ("DECIMAL(9, 1)", lambda v: f"{v}.0"), ("DOUBLE", float)]
_names = itertools.count()
_model = st.lists(
    st.tuples(
        st.integers(-(10**6), 10**6),  # key
        st.integers(1, 10**9),  # match: a CRM record id
        st.decimals(-(10**6), 10**6, places=2, allow_nan=False),  # score
        st.integers(-1000, 1000),  # rank
        st.datetimes(datetime(2000, 1, 1), datetime(2100, 1, 1)),  # noqa: DTZ001 (instant, naive UTC)
    ),
    max_size=8,
    unique_by=lambda row: row[0],
)
_spellings = st.tuples(
    st.sampled_from(IDENTITIES),
    st.sampled_from(IDENTITIES),
    st.sampled_from(SCORES),
    st.sampled_from(RANKS),
    st.integers(-14 * 60, 14 * 60),
)
Row = tuple[int, int, Decimal, int, datetime]


def _sync(name: str) -> SyncConfig:
    return sync_config(
        name=name,
        on_remove="clear",
        fields={
            "score": {"source": "score", "type": "number"},
            "rank": {"source": "rank", "type": "integer"},
            "since": {"source": "since", "type": "datetime"},
            "summary": {"template": "#{{ rank }} since {{ since }}"},
        },
        destination={
            "connector": "crm",
            "object": "companies",
            "mode": "upsert",
            "match": {"column": "crm_id", "field": "id"},
        },
    )


def _write(path: Path, rows: list[Row], spelling: tuple[Spelling, Spelling, Spelling, Spelling, int]) -> None:
    (key_type, key), (match_type, match), (score_type, score), (rank_type, rank), offset = spelling
    zone = timezone(timedelta(minutes=offset))
    since_type = "TIMESTAMP" if offset == 0 else "TIMESTAMPTZ"

    def instant(moment: datetime) -> str:
        moment = moment.replace(microsecond=0)
        return moment.isoformat(sep=" ") if offset == 0 else moment.replace(tzinfo=UTC).astimezone(zone).isoformat()

    write_table(
        path,
        "accounts",
        f"id {key_type}, crm_id {match_type}, score {score_type}, rank {rank_type}, since {since_type}",
        [(key(k), match(m), score(s), rank(r), instant(t)) for k, m, s, r, t in rows],
    )


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=_model, first=_spellings, second=_spellings)
def test_respelling_a_model_plans_nothing(
    store: StateStore, tmp_path: Path, rows: list[Row], first: Any, second: Any
) -> None:
    name = f"p{next(_names)}"
    path = tmp_path / f"{name}.duckdb"
    warehouse, sync = DuckDBWarehouse(path), _sync(name)
    try:
        _write(path, rows, first)
        assert plan_and_confirm(sync, store, warehouse).counts.create == len(rows)
        _write(path, rows, second)
        plan = plan_sync(sync, store, warehouse)
        assert plan.rejected_total == 0
        assert plan.changes.count == 0, plan.rows()
    finally:
        warehouse.close()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=_model, spelling=_spellings, moved=st.sets(st.integers(0, 7)), data=st.data())
def test_the_diff_sees_every_match_value_change(
    store: StateStore, tmp_path: Path, rows: list[Row], spelling: Any, moved: set[int], data: st.DataObject
) -> None:
    name = f"m{next(_names)}"
    path = tmp_path / f"{name}.duckdb"
    warehouse, sync = DuckDBWarehouse(path), _sync(name)
    try:
        _write(path, rows, spelling)
        plan_and_confirm(sync, store, warehouse)
        after = [
            (k, m + data.draw(st.integers(1, 10**6)) if i in moved else m, s, r, t)
            for i, (k, m, s, r, t) in enumerate(rows)
        ]
        _write(path, after, spelling)
        plan = plan_and_confirm(sync, store, warehouse)
        expected = {str(k): str(m) for i, (k, m, *_) in enumerate(after) if i in moved}
        updates = plan.rows("update")
        assert {row["key"]: row["match"] for row in updates} == expected
        assert all(row["record_id"] is None and "score" in row["changed"] for row in updates)
        assert plan.counts.as_dict() == {
            "create": 0,
            "update": len(expected),
            "clear": 0,
            "unchanged": len(rows) - len(expected),
        }
        relation = store.snapshot.relation(name)
        held = dict(store.workspace().execute(f"SELECT key, match_value FROM {relation} AS s").fetchall())
        assert held == {str(k): str(m) for k, m, *_ in after}
        assert plan_sync(sync, store, warehouse).changes.count == 0
    finally:
        warehouse.close()
