"""Setting up a DuckDB connection for planning: UTC session, memory cap with spilling, and syncer's functions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from duckdb.func import ARROW

from syncer.core.fields import CANONICAL_JSON_FUNCTION, RENDER_FUNCTION
from syncer.core.templates import render


def prepare_workspace(con: duckdb.DuckDBPyConnection, memory_limit: str, spill_dir: Path) -> None:
    """Configure ``con`` for planning and register the Python functions the field SQL calls."""
    spill_dir.mkdir(parents=True, exist_ok=True)
    con.execute("SET TimeZone = 'UTC'")  # naive warehouse timestamps are read as UTC
    con.execute(f"SET memory_limit = '{memory_limit}'")
    con.execute(f"SET temp_directory = '{spill_dir}'")
    con.execute("SET preserve_insertion_order = false")
    names = {str(row[0]) for row in con.execute(
        "SELECT function_name FROM duckdb_functions() WHERE function_type = 'scalar'").fetchall()}
    if RENDER_FUNCTION not in names:
        con.create_function(RENDER_FUNCTION, _render_batch, [duckdb.sqltype("VARCHAR"), duckdb.sqltype("VARCHAR")],
                            duckdb.sqltype("VARCHAR"), type=ARROW)
    if CANONICAL_JSON_FUNCTION not in names:
        con.create_function(CANONICAL_JSON_FUNCTION, _canonical_json_batch, [duckdb.sqltype("VARCHAR")],
                            duckdb.sqltype("VARCHAR"), type=ARROW)


def _render_batch(templates: pa.Array, rows: pa.Array) -> pa.Array:
    out: list[str | None] = []
    for template, row in zip(templates.to_pylist(), rows.to_pylist(), strict=True):
        if template is None or row is None:
            out.append(None)
            continue
        values = json.loads(row)
        out.append(render(template, {k: _maybe_json(v) for k, v in values.items()}) or None)
    return pa.array(out, pa.string())


def _maybe_json(value: Any) -> Any:
    # JSON columns arrive as text inside the row; templates want ``signals.seats``, so parse what parses.
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _canonical_json_batch(texts: pa.Array) -> pa.Array:
    out: list[str | None] = []
    for text in texts.to_pylist():
        if text is None:
            out.append(None)
            continue
        try:
            out.append(json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"), ensure_ascii=False))
        except ValueError:
            out.append(None)  # not JSON: the field's error expression rejects the row
    return pa.array(out, pa.string())
