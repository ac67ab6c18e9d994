"""Any SQLAlchemy URL as the warehouse: PostgreSQL (tested), Snowflake and BigQuery (optional extras)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

import duckdb
import pyarrow as pa
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from syncer.warehouse.base import Warehouse, WarehouseError

STAGED_MODEL = "__syncer_model"


class SqlAlchemyWarehouse(Warehouse):
    def __init__(self, url: str) -> None:
        self._url = url
        self.url = make_url(url).render_as_string(hide_password=True)  # for messages: never the password
        self._engine: Engine | None = None

    def _connect(self) -> Engine:
        if self._engine is None:
            self._engine = create_engine(self._url, pool_pre_ping=True)
        return self._engine

    def stream(self, sql: str, batch_size: int) -> Iterator[pa.RecordBatch]:
        """Server-side cursor (``stream_results``), ``batch_size`` rows per fetch, each fetch one record batch."""
        try:
            with self._connect().connect() as conn:
                result = conn.execution_options(stream_results=True, yield_per=batch_size).execute(text(sql))
                names = list(result.keys())
                for rows in result.partitions(batch_size):
                    yield _to_batch(names, rows)
        except SQLAlchemyError as exc:
            cause = getattr(exc, "orig", None) or exc  # the driver's own message names the real problem
            raise WarehouseError(str(cause).splitlines()[0]) from exc

    def stage(self, con: duckdb.DuckDBPyConnection, sql: str, batch_size: int) -> str:
        """Stream the model into a temporary table of the workspace (DuckDB spills it to disk past its memory cap)."""
        con.execute(f"DROP TABLE IF EXISTS temp.{STAGED_MODEL}")
        created = False
        for batch in self.stream(sql, batch_size):
            con.register("__syncer_batch", batch)
            if created:
                con.execute(f"INSERT INTO temp.{STAGED_MODEL} BY NAME SELECT * FROM __syncer_batch")
            else:
                con.execute(f"CREATE TEMP TABLE {STAGED_MODEL} AS SELECT * FROM __syncer_batch")
                created = True
            con.unregister("__syncer_batch")
        if not created:
            # An empty model still needs its columns; ask for them without rows.
            with self._connect().connect() as conn:
                names = list(conn.execute(text(f"SELECT * FROM ({sql}) AS model LIMIT 0")).keys())
            con.register("__syncer_batch", _to_batch(names, []))
            con.execute(f"CREATE TEMP TABLE {STAGED_MODEL} AS SELECT * FROM __syncer_batch")
            con.unregister("__syncer_batch")
        return f"temp.{STAGED_MODEL}"

    def release(self, con: duckdb.DuckDBPyConnection) -> None:
        con.execute(f"DROP TABLE IF EXISTS temp.{STAGED_MODEL}")

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()


def _to_batch(names: list[str], rows: Sequence[Any]) -> pa.RecordBatch:
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    arrays = []
    for values in columns:
        # JSON columns come back as dicts and lists; keep them as JSON text so every batch has the same type.
        cleaned = [json.dumps(v, sort_keys=True) if isinstance(v, dict | list) else v for v in values]
        array = pa.array(cleaned)
        arrays.append(array.cast(pa.string()) if pa.types.is_null(array.type) else array)
    return pa.RecordBatch.from_arrays(arrays, names=names)
