"""A DuckDB file as the warehouse (the embedded default)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow as pa

from syncer.core.sql import ident
from syncer.warehouse.base import Warehouse, WarehouseError

WAREHOUSE_CATALOG = "syncer_warehouse"


class DuckDBWarehouse(Warehouse):
    def __init__(self, path: Path) -> None:
        self.path = path
        self.url = f"duckdb:///{path}"
        self._home = "memory"

    def _check(self) -> None:
        if not self.path.exists():
            raise WarehouseError(f"warehouse file {self.path} does not exist (run 'syncer demo' to create the sample)")

    def stage(self, con: duckdb.DuckDBPyConnection, sql: str, batch_size: int) -> str:
        """Attach the file read-only and make it the default catalog, so the model's unqualified names resolve."""
        self._check()
        self.release(con)
        self._home = str(con.execute("SELECT current_database()").fetchall()[0][0])
        quoted = str(self.path).replace("'", "''")
        con.execute(f"ATTACH '{quoted}' AS {ident(WAREHOUSE_CATALOG)} (READ_ONLY)")
        con.execute(f"USE {ident(WAREHOUSE_CATALOG)}")
        try:
            con.execute(f"DESCRIBE ({sql})")
        except duckdb.Error as exc:
            raise WarehouseError(str(exc).splitlines()[0]) from exc
        return f"({sql})"

    def release(self, con: duckdb.DuckDBPyConnection) -> None:
        """Detach, so that whoever builds the warehouse (dbt, ``syncer demo``) can write to the file again."""
        attached = {str(row[0]) for row in con.execute("SELECT database_name FROM duckdb_databases()").fetchall()}
        if WAREHOUSE_CATALOG in attached:
            con.execute(f"USE {ident(self._home)}")
            con.execute(f"DETACH {ident(WAREHOUSE_CATALOG)}")

    def stream(self, sql: str, batch_size: int) -> Iterator[pa.RecordBatch]:
        self._check()
        con = duckdb.connect(str(self.path), read_only=True)
        try:
            reader = con.sql(sql).to_arrow_reader(batch_size)
            yield from reader
        except duckdb.Error as exc:
            raise WarehouseError(str(exc).splitlines()[0]) from exc
        finally:
            con.close()

    def close(self) -> None:
        """Nothing to release: every use opens and closes its own connection."""
