"""Every state test runs against both backends: the embedded DuckDB file and a real PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from syncer.state import StateStore, open_state

Opener = Callable[[], StateStore]


@pytest.fixture(params=["duckdb", "postgres"])
def state_url(request: pytest.FixtureRequest) -> str:
    return "duckdb:///state/state.duckdb" if request.param == "duckdb" else str(request.getfixturevalue("pg_url"))


@pytest.fixture
def open_store(state_url: str, tmp_path: Path) -> Iterator[Opener]:
    """Opens stores on the test's state (closed at the end); a DuckDB file admits one open store at a time."""
    opened: list[StateStore] = []

    def opener() -> StateStore:
        opened.append(open_state(state_url, tmp_path))
        return opened[-1]

    yield opener
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store: Opener) -> StateStore:
    return open_store()
