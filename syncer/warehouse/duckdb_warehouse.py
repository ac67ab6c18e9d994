"""A DuckDB file as the warehouse (the embedded default).

The model runs in a connection of its own: the file opened read-only, with file system access switched off once it
is open, so the model reads the warehouse's tables and nothing else (no state file, no ``read_csv`` of anything).
The connection is closed as soon as the rows are staged, so whoever builds the warehouse (dbt, ``syncer demo``)
can write to the file again.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from syncer.core.sql import ident
from syncer.warehouse.base import STAGED_MODEL, Warehouse, WarehouseError, check_model_query

if TYPE_CHECKING:  # Arrow only in signatures: DuckDB hands batches over itself
    import pyarrow as pa

_HOLDER = re.compile(r"\(PID (\d+)\)")
_RESERVED_CATALOGS = {"memory", "system", "temp", "main"}


def _quoted(path: Path) -> str:
    return str(path).replace("'", "''")


class DuckDBWarehouse(Warehouse):
    def __init__(self, path: Path) -> None:
        self.path = path
        self.url = f"duckdb:///{path}"

    @contextmanager
    def _model_connection(self, sql: str) -> Iterator[duckdb.DuckDBPyConnection]:
        check_model_query(sql)
        if not self.path.exists():
            raise WarehouseError(f"warehouse file {self.path} does not exist (run 'syncer demo' to create the sample)")
        if self.path.is_dir():
            raise WarehouseError(f"the warehouse path {self.path} is a directory, not a DuckDB file")
        # A fresh in-memory instance with the file attached, not duckdb.connect(file): that would share one cached
        # instance (and its locked configuration) between concurrent plans of this process.
        con = duckdb.connect()
        try:
            catalog = self.path.stem if self.path.stem not in _RESERVED_CATALOGS else "syncer_warehouse"
            try:
                con.execute(f"ATTACH '{_quoted(self.path)}' AS {ident(catalog)} (READ_ONLY)")
            except duckdb.Error as exc:
                raise WarehouseError(_open_failure(self.path, exc)) from exc
            con.execute(f"USE {ident(catalog)}")  # the model's unqualified names are the warehouse's tables
            con.execute("SET TimeZone = 'UTC'")  # naive timestamps are read as UTC, as in the workspace
            con.execute("SET enable_external_access = false")  # from here on: the warehouse's tables only
            con.execute("SET lock_configuration = true")
            yield con
        finally:
            con.close()

    def _projected(self, con: duckdb.DuckDBPyConnection, sql: str, columns: Collection[str] | None) -> str:
        if columns is None:
            return sql
        present = [name for name in self._columns(con, sql) if name in set(columns)]
        return f"SELECT {', '.join(ident(name) for name in present) or '*'} FROM ({sql}) AS model"

    @staticmethod
    def _columns(con: duckdb.DuckDBPyConnection, sql: str) -> dict[str, str]:
        try:
            return {str(row[0]): str(row[1]) for row in con.execute(f"DESCRIBE ({sql})").fetchall()}
        except duckdb.Error as exc:
            raise WarehouseError(str(exc).splitlines()[0]) from exc

    def describe(self, sql: str) -> dict[str, str]:
        with self._model_connection(sql) as con:
            return self._columns(con, sql)

    def stream(self, sql: str, batch_size: int, columns: Collection[str] | None = None) -> Iterator[pa.RecordBatch]:
        with self._model_connection(sql) as con:
            try:
                yield from con.sql(self._projected(con, sql, columns)).to_arrow_reader(batch_size)
            except duckdb.Error as exc:
                raise WarehouseError(str(exc).splitlines()[0]) from exc

    def stage(
        self, con: duckdb.DuckDBPyConnection, sql: str, batch_size: int, columns: Collection[str] | None = None
    ) -> str:
        """Stream the model (only ``columns``, when given) from its own connection into a workspace temp table."""
        self.release(con)
        with self._model_connection(sql) as model:
            try:
                reader = model.sql(self._projected(model, sql, columns)).to_arrow_reader(batch_size)
                con.register("__syncer_reader", reader)
                try:
                    con.execute(f"CREATE TEMP TABLE {STAGED_MODEL} AS SELECT * FROM __syncer_reader")
                finally:
                    con.unregister("__syncer_reader")
            except duckdb.Error as exc:
                raise WarehouseError(str(exc).splitlines()[0]) from exc
        return f"temp.{STAGED_MODEL}"

    def replace_table(self, name: str, table: pa.Table) -> int:
        """One read-write connection for the write, closed straight after so builders can open the file again."""
        if not self.path.exists():
            raise WarehouseError(f"warehouse file {self.path} does not exist")
        try:
            con = duckdb.connect(str(self.path))
        except duckdb.Error as exc:
            raise WarehouseError(_open_failure(self.path, exc)) from exc
        try:
            con.register("__syncer_rows", table)
            con.execute("SET TimeZone = 'UTC'")
            con.execute(f"CREATE OR REPLACE TABLE {ident(name)} AS SELECT * FROM __syncer_rows")
            return int(table.num_rows)
        except duckdb.Error as exc:
            raise WarehouseError(f"could not write {name}: {str(exc).splitlines()[0]}") from exc
        finally:
            con.close()

    def close(self) -> None:
        """Nothing to release: every use opens and closes its own connection."""


def _open_failure(path: Path, exc: duckdb.Error) -> str:
    first = str(exc).splitlines()[0]
    if "lock" in first.lower():
        holder = _HOLDER.search(str(exc))
        by = f" (PID {holder.group(1)})" if holder else ""
        return (
            f"the warehouse file {path} is locked by another process{by}, probably a build writing it; "
            "the next run tries again"
        )
    return f"cannot open the warehouse file {path}: {first}"
