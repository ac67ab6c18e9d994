"""Session-wide fixtures: a real PostgreSQL server and the three-vendor sandbox."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.sandbox import Sandbox
from syncer.state import StateStore, open_state
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


@pytest.fixture(params=["duckdb", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StateStore]:
    """A state store on each backend: a DuckDB file, and a fresh database on the session's PostgreSQL."""
    url = "duckdb:///state/state.duckdb" if request.param == "duckdb" else request.getfixturevalue("pg_url")
    opened = open_state(url, tmp_path)
    yield opened
    opened.close()


@pytest.fixture(scope="session")
def sandbox_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    served = Sandbox.start(tmp_path_factory.mktemp("sandbox"))
    yield served
    served.stop()


@pytest.fixture
def sandbox(sandbox_session: Sandbox) -> Sandbox:
    """All three emulators on free ports, reset to their seed data for each test."""
    sandbox_session.reset()
    return sandbox_session
