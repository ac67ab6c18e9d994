"""Quoting helpers for the SQL the core builds (DuckDB dialect)."""

from __future__ import annotations


def ident(name: str) -> str:
    """A quoted identifier: any column name is safe."""
    return '"' + name.replace('"', '""') + '"'


def literal(value: str | None) -> str:
    """A quoted string literal, or NULL."""
    return "NULL" if value is None else "'" + value.replace("'", "''") + "'"
