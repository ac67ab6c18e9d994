"""Checking database URLs and file paths before anything connects: one clear line per problem, as config errors.

A URL may carry a password, so no message here repeats the URL; they name the setting and the part that is wrong.
"""

from __future__ import annotations

from pathlib import Path

from syncer.config.errors import ConfigError, Problem, display_path

_EXTRAS = {"snowflake": "snowflake-sqlalchemy", "bigquery": "sqlalchemy-bigquery"}


def config_error(root: Path, setting: str, message: str) -> ConfigError:
    """A problem with ``setting`` of ``syncer.yaml`` (no line: the value may come from the environment)."""
    return ConfigError([Problem(display_path(root / "syncer.yaml"), 0, setting, message)])


def duckdb_path(url: str, root: Path) -> Path:
    """The file of a ``duckdb:///relative`` or ``duckdb:////absolute`` URL, resolved against ``root``."""
    path = Path(url.removeprefix("duckdb://").removeprefix("/"))  # what is left of duckdb:////abs is /abs
    return path if path.is_absolute() else root / path


def checked_warehouse_url(url: str, root: Path) -> Path | str:
    """The DuckDB file of a ``duckdb://`` URL, or ``url`` itself once SQLAlchemy can load its dialect and driver."""
    if url.startswith("duckdb://"):
        path = duckdb_path(url, root)
        if path.is_dir():
            raise config_error(root, "warehouse.url", f"{display_path(path)} is a directory, not a DuckDB file")
        return path
    from sqlalchemy import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        parsed = make_url(url)
    except ArgumentError:
        raise config_error(
            root,
            "warehouse.url",
            "not a database URL: expected duckdb:///path or dialect://user:password@host:port/database",
        ) from None
    except ValueError:
        raise config_error(root, "warehouse.url", "the port is not a number") from None
    try:
        dialect = parsed.get_dialect()
    except NoSuchModuleError:
        backend = parsed.get_backend_name()
        hint = f" (install the {_EXTRAS[backend]} extra)" if backend in _EXTRAS else ""
        raise config_error(root, "warehouse.url", f"unsupported database '{parsed.drivername}'{hint}") from None
    try:
        dialect.import_dbapi()
    except ImportError as exc:
        raise config_error(
            root, "warehouse.url", f"the driver for '{parsed.drivername}' is not installed ({exc.name or exc})"
        ) from None
    return url
