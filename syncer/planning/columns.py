"""Checks that need the model's columns: every column a sync names must exist in what the model returns."""

from __future__ import annotations

from jinja2 import TemplateSyntaxError

from syncer.config.errors import Problem
from syncer.config.loader import LoadedSync
from syncer.core.templates import template_columns


def check_columns(loaded: LoadedSync, columns: list[str]) -> list[Problem]:
    """Problems for every column ``loaded`` names that ``columns`` (the model's output) lacks."""
    sync, doc = loaded.config, loaded.document
    have = {column.casefold() for column in columns}  # DuckDB resolves column names case-insensitively
    shown = ", ".join(columns[:12]) + (", ..." if len(columns) > 12 else "")
    problems: list[Problem] = []

    def need(column: str, path: tuple[str | int, ...], what: str) -> None:
        if column.casefold() not in have:
            problems.append(doc.problem(path, f"{what} '{column}' is not a column of the model (it has: {shown})"))

    need(sync.key, ("key",), "key column")
    if sync.destination is not None:
        need(sync.destination.match.column, ("destination", "match", "column"), "match column")
        if sync.destination.adopt_by is not None:
            need(sync.destination.adopt_by.column, ("destination", "adopt_by", "column"), "adopt_by column")
        if sync.destination.owner is not None:
            need(sync.destination.owner.column, ("destination", "owner", "column"), "owner column")
    for name, spec in sync.fields.items():
        if spec.source is not None:
            need(spec.source, ("fields", name, "source"), "column")
        if spec.template is not None:
            try:
                used = template_columns(spec.template)
            except TemplateSyntaxError as exc:
                problems.append(doc.problem(("fields", name, "template"), f"template syntax error: {exc.message}"))
                continue
            for column in sorted(used):
                need(column, ("fields", name, "template"), "template variable")
    for i, trigger in enumerate(sync.triggers):
        need(trigger.owner_column, ("triggers", i, "owner_column"), "owner column")
        if trigger.alert is not None and trigger.alert.signals_column is not None:
            need(trigger.alert.signals_column, ("triggers", i, "alert", "signals_column"), "signals column")
    return problems
