"""The one opener of warehouses: picks the implementation a URL names.

It sits above the interface (:mod:`syncer.warehouse.base`) and both implementations, so they never import each
other; each implementation is imported only when its kind of URL is opened (SQLAlchemy stays unloaded for DuckDB).
"""

from __future__ import annotations

from pathlib import Path

from syncer.warehouse.base import Warehouse
from syncer.warehouse.urls import checked_warehouse_url


def open_warehouse(url: str, root: Path) -> Warehouse:
    """The warehouse for ``url``; relative DuckDB paths are resolved against the project ``root``.

    Raises :class:`syncer.config.errors.ConfigError` (naming ``warehouse.url``) for a URL that cannot work: no
    scheme, an unknown dialect or a missing driver, a bad port, a DuckDB path that is a directory.
    """
    checked = checked_warehouse_url(url, root)
    if isinstance(checked, Path):
        from syncer.warehouse.duckdb_warehouse import DuckDBWarehouse

        return DuckDBWarehouse(checked)
    from syncer.warehouse.sqlalchemy_warehouse import SqlAlchemyWarehouse

    return SqlAlchemyWarehouse(url)
