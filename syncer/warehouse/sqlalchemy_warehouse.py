"""Any SQLAlchemy URL as the warehouse: PostgreSQL (tested), Snowflake and BigQuery (optional extras).

The model runs in the warehouse, on a connection of its own; on PostgreSQL inside a read-only transaction, so even
SQL in a dialect syncer's parser cannot read is unable to write anything.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Sequence
from typing import Any

import pyarrow as pa
from sqlalchemy import Column, DateTime, Float, MetaData, Table, Text, create_engine, make_url, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.types import TypeEngine

from syncer.warehouse.base import Warehouse, WarehouseError, check_model_query


class SqlAlchemyWarehouse(Warehouse):
    def __init__(self, url: str) -> None:
        self._url = url
        parsed = make_url(url)
        self.url = parsed.render_as_string(hide_password=True)  # for messages: never the password
        self._read_only = {"postgresql_readonly": True} if parsed.get_backend_name() == "postgresql" else {}
        self._engine: Engine | None = None

    def _connect(self) -> Engine:
        if self._engine is None:
            self._engine = create_engine(self._url, pool_pre_ping=True)
        return self._engine

    def stream(self, sql: str, batch_size: int, columns: Collection[str] | None = None) -> Iterator[pa.RecordBatch]:
        """Server-side cursor (``stream_results``), ``batch_size`` rows per fetch, each fetch one record batch.

        Every column is returned (``columns`` is not applied: identifier case rules differ between warehouses).
        A model without rows yields one empty batch, so its columns are still known.
        """
        check_model_query(sql, strict=False)
        try:
            with self._connect().connect() as conn:
                options = conn.execution_options(stream_results=True, yield_per=batch_size, **self._read_only)
                result = options.execute(text(sql))
                names = list(result.keys())
                empty = True
                for rows in result.partitions(batch_size):
                    empty = False
                    yield _to_batch(names, rows)
                if empty:
                    yield _to_batch(names, [])
        except SQLAlchemyError as exc:
            cause = getattr(exc, "orig", None) or exc  # the driver's own message names the real problem
            raise WarehouseError(str(cause).splitlines()[0]) from exc

    def replace_table(self, name: str, table: pa.Table) -> int:
        """Drop and create ``name`` and insert the rows in one transaction (PostgreSQL's DDL is transactional)."""
        metadata = MetaData()
        columns = [Column(f.name, _column_type(f.type)) for f in table.schema]
        target = Table(name, metadata, *columns)
        try:
            with self._connect().begin() as conn:
                target.drop(conn, checkfirst=True)
                target.create(conn)
                rows = table.to_pylist()
                if rows:
                    conn.execute(target.insert(), rows)
        except SQLAlchemyError as exc:
            cause = getattr(exc, "orig", None) or exc
            raise WarehouseError(f"could not write {name}: {str(cause).splitlines()[0]}") from exc
        return int(table.num_rows)

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


def _column_type(kind: pa.DataType) -> TypeEngine[Any]:
    if pa.types.is_timestamp(kind):
        return DateTime(timezone=kind.tz is not None)
    if pa.types.is_floating(kind) or pa.types.is_integer(kind):
        return Float()
    return Text()
