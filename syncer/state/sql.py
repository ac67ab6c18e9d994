"""The one connection every role of a state store shares, and what differs between DuckDB and PostgreSQL in it.

The roles (:mod:`syncer.state.runs`, :mod:`.row_errors`, :mod:`.outbox`, :mod:`.ledger`, :mod:`.owner_cache`) are
written once in portable SQL against :class:`Database`; a backend (:mod:`.duckdb_store`, :mod:`.postgres_store`)
implements it. Statements name tables as ``{runs}``, ``{outbox}``...; :meth:`Database.sql` maps them to the names
the backend needs (DuckDB qualifies them with the state catalog, since planning may switch the catalog).

Values, statuses included, are always bound parameters (``?``), never spliced into the statement text.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any

Query = Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]
Step = tuple[str, Sequence[Sequence[Any]]]
Steps = Sequence[Step]
KEY_MATCH = "__KEY_MATCH__"  # in a statement given to for_keys: where the key condition goes
ROWS_PER_STATEMENT = 200
TABLES = ("runs", "row_errors", "snapshot", "run_ids", "schema_migrations", "outbox", "alert_ledger", "owner_cache",
          "effects_marks", "trigger_crossings")


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


def chunks(values: list[str], size: int = ROWS_PER_STATEMENT) -> list[list[str]]:
    return [values[start:start + size] for start in range(0, len(values), size)]
