"""State stores: the confirmed snapshot and the control store, in a local DuckDB file or in PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from syncer.state.base import COMMIT_SCHEMA, RunRecord, StateStore, StateUnavailableError


def open_state(url: str, root: Path, memory_limit: str = "1GB") -> StateStore:
    """The store for ``url``: ``duckdb:///relative/path`` (against ``root``) or ``postgresql://...``."""
    if url.startswith("duckdb://"):
        from syncer.state.duckdb_store import DuckDBStateStore

        path = Path(url.removeprefix("duckdb:///"))
        return DuckDBStateStore(path if path.is_absolute() else root / path, memory_limit)
    if url.startswith(("postgresql", "postgres://")):
        from syncer.state.postgres_store import PostgresStateStore

        return PostgresStateStore(url, memory_limit)
    raise ValueError(f"state.url must start with duckdb:// or postgresql:// (got '{url.split(':', maxsplit=1)[0]}:')")


__all__ = ["COMMIT_SCHEMA", "RunRecord", "StateStore", "StateUnavailableError", "open_state"]
