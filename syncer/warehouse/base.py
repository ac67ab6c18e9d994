"""The warehouse interface and the factory that picks an implementation from a URL."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow as pa


class WarehouseError(Exception):
    """The warehouse refused or failed a query (bad SQL, unreachable server, missing table)."""


class Warehouse(ABC):
    """A source of models. Implementations are cheap to construct and connect lazily."""

    url: str  # for display: without any password

    @abstractmethod
    def stage(self, con: duckdb.DuckDBPyConnection, sql: str, batch_size: int) -> str:
        """Make the model available in the planning workspace ``con``; return a relation naming it.

        May attach the warehouse (DuckDB) or stream the rows into a temporary table (everything else).
        """

    @abstractmethod
    def release(self, con: duckdb.DuckDBPyConnection) -> None:
        """Undo :meth:`stage` once planning is done (detach the file, drop the staged rows)."""

    @abstractmethod
    def stream(self, sql: str, batch_size: int) -> Iterator[pa.RecordBatch]:
        """The model's rows in record batches of at most ``batch_size`` rows."""

    @abstractmethod
    def close(self) -> None:
        """Release connections."""


def open_warehouse(url: str, root: Path) -> Warehouse:
    """The warehouse for ``url``; relative DuckDB paths are resolved against the project ``root``."""
    if url.startswith("duckdb://"):
        from syncer.warehouse.duckdb_warehouse import DuckDBWarehouse

        path = Path(url.removeprefix("duckdb:///"))  # duckdb:///rel/path or duckdb:////abs/path
        return DuckDBWarehouse(path if path.is_absolute() else root / path)
    from syncer.warehouse.sqlalchemy_warehouse import SqlAlchemyWarehouse

    return SqlAlchemyWarehouse(url)
