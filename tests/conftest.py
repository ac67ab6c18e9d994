"""Session-wide fixtures: a real PostgreSQL server, and project directories with a sample warehouse."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from tests.pgserver import PgServer, start_postgres

_database_names = itertools.count()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    server = start_postgres()
    yield server
    server.stop()


@pytest.fixture
def pg_url(pg_server: PgServer, worker_id: str) -> str:
    """A fresh, empty database on the session's server."""
    return pg_server.new_database(f"t_{worker_id}_{next(_database_names)}")
