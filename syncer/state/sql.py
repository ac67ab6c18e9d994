"""The one connection every role of a state store shares, and what differs between DuckDB and PostgreSQL in it.

The roles (:mod:`syncer.state.runs`, :mod:`.row_errors`, :mod:`.outbox`, :mod:`.ledger`, :mod:`.owner_cache`) are
written once in portable SQL against :class:`Database`; a backend (:mod:`.duckdb_store`, :mod:`.postgres_store`)
implements it. Statements name tables as ``{runs}``, ``{outbox}``...; :meth:`Database.sql` maps them to the names
the backend needs (DuckDB qualifies them with the state catalog, since planning may switch the catalog).

Values, statuses included, are always bound parameters (``?``), never spliced into the statement text.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any

Query = Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]
Step = tuple[str, Sequence[Sequence[Any]]]
Steps = Sequence[Step]
KEY_MATCH = "__KEY_MATCH__"  # in a statement given to for_keys: where the key condition goes
STAGED = "__syncer_staged"  # the relation :meth:`Database.staged` holds rows in
ROWS_PER_STATEMENT = 200
TABLES = (
    "runs",
    "row_errors",
    "snapshot",
    "run_ids",
    "schema_migrations",
    "outbox",
    "alert_ledger",
    "owner_cache",
    "effects_marks",
    "trigger_crossings",
)


class Database(ABC):
    """One connection to the state, with the statements' dialect. Thread-safe as far as its backend is."""

    names: dict[str, str] = {name: name for name in TABLES}

    def sql(self, template: str) -> str:
        """``template`` with its ``{table}`` names resolved."""
        return template.format(**self.names)

    @abstractmethod
    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one statement in its own transaction; return its rows (empty for statements without)."""

    @abstractmethod
    def steps(self, steps: Steps) -> None:
        """Run each ``(statement, parameter rows)`` for every row, all in one transaction."""

    @abstractmethod
    def transaction(self, lock_ids: Sequence[int] = ()) -> AbstractContextManager[Query]:
        """One transaction holding the given locks (taken in the order given) until it ends; yields a query function
        that runs statements inside it. Leaving the block by an exception rolls it back."""

    def for_keys(self, sql: str, sync: str, keys: Sequence[str]) -> Step:
        """``sql`` (parameters: sync, then the key condition's) run for every key in ``keys``, as one step.

        Portable: once per key. A backend where one statement per row is slow matches a list parameter instead.
        """
        return sql.replace(KEY_MATCH, "key = ?"), [(sync, key) for key in keys]

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> Step:
        """A step inserting ``rows`` into ``table``; portable: one statement per row."""
        return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})", rows

    @contextmanager
    def staged(self, query: Query, columns: Sequence[tuple[str, str]], rows: Sequence[Sequence[Any]]) -> Iterator[str]:
        """Inside the transaction ``query`` belongs to, ``rows`` (values for ``columns``: ``(name, SQL type)``) as a
        relation one statement can read, so inserting thousands of rows costs one statement against the indexed
        table. Yields a ``SELECT`` of the rows with each column cast to its type; the rows are gone after the block.

        Portable: a temporary table filled with multi-row ``VALUES``; a backend may hand the rows over faster.
        """
        query(f"CREATE TEMPORARY TABLE {STAGED} ({', '.join(f'{name} {kind}' for name, kind in columns)})", ())
        one = f"({placeholders(columns)})"
        for start in range(0, len(rows), ROWS_PER_STATEMENT):
            chunk = rows[start : start + ROWS_PER_STATEMENT]
            query(f"INSERT INTO {STAGED} VALUES {', '.join(one for _ in chunk)}", [v for row in chunk for v in row])
        yield select_staged(columns)
        # Not in a `finally`: after an error the transaction rolls back, which takes the table with it (DDL is
        # transactional), and a statement in a failed transaction would only hide the first error.
        query(f"DROP TABLE {STAGED}", ())

    @abstractmethod
    def owner(self) -> str:
        """Who runs a run started now: this process, or this PostgreSQL session."""

    @abstractmethod
    def gone_owner_condition(self) -> tuple[str, Sequence[Any]]:
        """A condition on ``{runs}`` rows (and its parameters) true when the run's owner is gone."""

    @abstractmethod
    def run_lock(self, sync: str, wait_s: float) -> AbstractContextManager[None]:
        """Hold the lock of ``sync`` (see :meth:`syncer.state.runs.RunLog.lock`)."""

    @abstractmethod
    def close(self) -> None:
        """Release the connection."""


def placeholders(values: Sequence[object]) -> str:
    """``?, ?, ?``: one bound parameter per value, for ``IN (...)``."""
    return ", ".join("?" for _ in values)


def select_staged(columns: Sequence[tuple[str, str]]) -> str:
    """What :meth:`Database.staged` yields: the staged rows, each column cast to its declared type."""
    return f"SELECT {', '.join(f'CAST({name} AS {kind}) AS {name}' for name, kind in columns)} FROM {STAGED}"


def chunks(values: list[str], size: int = ROWS_PER_STATEMENT) -> list[list[str]]:
    return [values[start : start + size] for start in range(0, len(values), size)]
