"""The warehouse interface and the model-query check (:mod:`syncer.warehouse.opener` picks an implementation).

A model is user SQL, so it runs where it cannot reach syncer's own state: in a connection of its own to the
warehouse (a DuckDB file is opened read-only, with file access switched off), never in the planning workspace.
Its rows are then staged into the workspace as a temporary table the diff reads.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Iterator
from typing import TYPE_CHECKING

import duckdb

if TYPE_CHECKING:  # Arrow only in signatures: DuckDB hands batches over itself
    import pyarrow as pa

STAGED_MODEL = "__syncer_model"


class WarehouseError(Exception):
    """The warehouse refused or failed a query (bad SQL, unreachable server, missing table, file locked)."""


class ModelQueryError(WarehouseError):
    """The model is not exactly one query: syncer runs ``SELECT``/``WITH`` statements only."""


def check_model_query(sql: str, *, strict: bool = True) -> None:
    """Raise :class:`ModelQueryError` unless ``sql`` is exactly one ``SELECT`` (``WITH``, ``VALUES``) statement.

    DuckDB's parser decides, so comments, strings and semicolons inside them are read as SQL reads them. With
    ``strict=False`` (another warehouse's dialect), SQL the parser cannot read is left to the warehouse to judge.
    """
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        if strict:
            raise ModelQueryError(f"the model is not valid SQL: {str(exc).splitlines()[0]}") from exc
        return
    if len(statements) != 1:
        raise ModelQueryError(f"the model must be a single query, found {len(statements)} statements")
    kind = statements[0].type
    if kind != duckdb.StatementType.SELECT:
        raise ModelQueryError(f"the model must be a query (SELECT or WITH), not a {kind.name} statement")


class Warehouse(ABC):
    """A source of models. Implementations are cheap to construct and connect lazily."""

    url: str  # for display: without any password

    @abstractmethod
    def stream(self, sql: str, batch_size: int, columns: Collection[str] | None = None) -> Iterator[pa.RecordBatch]:
        """The model's rows in record batches of at most ``batch_size`` rows.

        ``columns``: the columns the caller needs; an implementation may return only those (missing ones are left
        out, not an error) or every column. Raises :class:`WarehouseError`, :class:`ModelQueryError`.
        """

    def describe(self, sql: str) -> dict[str, str]:
        """Column name -> DuckDB type of the model, as staging would give it, without reading all its rows."""
        scratch = duckdb.connect()
        try:
            first = next(iter(self.stream(f"SELECT * FROM ({sql}) AS model LIMIT 1000", 1000)), None)
            if first is None:
                return {}
            scratch.register("__syncer_sample", first)
            return {str(row[0]): str(row[1]) for row in scratch.execute("DESCRIBE __syncer_sample").fetchall()}
        finally:
            scratch.close()

    def stage(
        self, con: duckdb.DuckDBPyConnection, sql: str, batch_size: int, columns: Collection[str] | None = None
    ) -> str:
        """Copy the model into a temporary table of the planning workspace ``con``; return its name.

        The model's SQL never runs in ``con`` (which may hold the state), only its rows arrive there. DuckDB spills
        the table to disk past the workspace's memory cap, so memory stays flat however large the model is.
        """
        self.release(con)
        created = False
        for batch in self.stream(sql, batch_size, columns):
            con.register("__syncer_batch", batch)
            try:
                if created:
                    con.execute(f"INSERT INTO temp.{STAGED_MODEL} BY NAME SELECT * FROM __syncer_batch")
                else:
                    con.execute(f"CREATE TEMP TABLE {STAGED_MODEL} AS SELECT * FROM __syncer_batch")
                    created = True
            finally:
                con.unregister("__syncer_batch")
        if not created:
            raise WarehouseError("the model returned no batch at all, not even an empty one with its columns")
        return f"temp.{STAGED_MODEL}"

    def release(self, con: duckdb.DuckDBPyConnection) -> None:
        """Drop what :meth:`stage` put in ``con``."""
        con.execute(f"DROP TABLE IF EXISTS temp.{STAGED_MODEL}")

    @abstractmethod
    def replace_table(self, name: str, table: pa.Table) -> int:
        """Replace the warehouse table ``name`` (a plain identifier) with ``table``'s rows, atomically: readers see
        the old table or the new one. Returns the rows written; raises :class:`WarehouseError` when the warehouse
        cannot be written (held by another process, read-only credentials)."""

    @abstractmethod
    def close(self) -> None:
        """Release connections."""
