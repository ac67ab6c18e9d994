"""Every planning test runs against both state backends: the embedded DuckDB file and a real PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from syncer.warehouse.base import Warehouse
from syncer.warehouse.opener import open_warehouse


@pytest.fixture
def warehouse_path(tmp_path: Path) -> Path:
    return tmp_path / "warehouse.duckdb"


@pytest.fixture
def warehouse(warehouse_path: Path, tmp_path: Path) -> Iterator[Warehouse]:
    opened = open_warehouse("duckdb:///warehouse.duckdb", tmp_path)
    yield opened
    opened.close()
