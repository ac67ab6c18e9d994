"""State stores: the confirmed snapshot and the control store, in a local DuckDB file or in PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from syncer.state.base import (
    ErrorStage,
    RowErrorInput,
    RowErrorRecord,
    RunLockedError,
    RunRecord,
    RunStatus,
    StateStore,
    StateUnavailableError,
)
from syncer.warehouse.urls import config_error, duckdb_path

if TYPE_CHECKING:
    from syncer.state.records import COMMIT_SCHEMA


def __getattr__(name: str) -> Any:
    """``COMMIT_SCHEMA`` on first use (see :mod:`syncer.state.records`: importing the state loads no pyarrow)."""
    if name != "COMMIT_SCHEMA":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from syncer.state import records

    return records.COMMIT_SCHEMA


_POSTGRES_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg", "postgresql+psycopg2")


def open_state(
    url: str, root: Path, memory_limit: str = "1GB", *, lock_wait_s: float = 0.0, park_after: int = 5
) -> StateStore:
    """The store for ``url``: ``duckdb:///relative/path`` (against ``root``) or ``postgresql://...``.

    Raises :class:`syncer.config.errors.ConfigError` (naming ``state.url``) for a URL or path that cannot work, and
    :class:`StateUnavailableError` when the store is locked by another process or the server cannot be reached.
    """
    scheme = url.split("://", 1)[0] if "://" in url else None
    store: StateStore
    if scheme == "duckdb":
        from syncer.state.duckdb_store import DuckDBStateStore

        path = duckdb_path(url, root)
        if path.is_dir():
            raise config_error(root, "state.url", f"{path} is a directory; name the state file inside it")
        blocked = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
        if blocked is not None:
            raise config_error(root, "state.url", f"{blocked} is a file, so the state file cannot be created below it")
        store = DuckDBStateStore(path, memory_limit)
    elif scheme in _POSTGRES_SCHEMES:
        try:
            urlsplit(url).port  # noqa: B018 (parsing it is the check)
        except ValueError:
            raise config_error(root, "state.url", "the port is not a number") from None
        from syncer.state.postgres_store import PostgresStateStore

        store = PostgresStateStore(url, memory_limit)
    else:
        got = f"'{scheme}://'" if scheme else "no scheme"
        raise config_error(root, "state.url", f"must start with duckdb:// or postgresql:// (got {got})")
    store.lock_wait_s, store.park_after = lock_wait_s, park_after
    return store


__all__ = [
    "COMMIT_SCHEMA",
    "ErrorStage",
    "RowErrorInput",
    "RowErrorRecord",
    "RunLockedError",
    "RunRecord",
    "RunStatus",
    "StateStore",
    "StateUnavailableError",
    "open_state",
]
