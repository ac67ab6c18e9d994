"""Validation that needs the warehouse: the model is one query that runs, has every column the mapping names, and
each trigger's ``when`` is one boolean expression that binds.

Nothing here runs user SQL next to the state: the model is described on the warehouse's own connection, and
conditions are bound in a scratch in-memory DuckDB that holds only empty ``new`` and ``old`` relations.
"""

from __future__ import annotations

import json
from typing import Any

import duckdb
from jinja2 import TemplateSyntaxError

from syncer.alerts.templates import check_template
from syncer.config.errors import Problem
from syncer.config.loader import LoadedSync
from syncer.config.yamlsource import YamlDocument
from syncer.core.sql import ident
from syncer.core.templates import template_columns
from syncer.planning.columns import check_columns
from syncer.warehouse.base import Warehouse, WarehouseError


def check_against_model(loaded: LoadedSync, warehouse: Warehouse) -> list[Problem]:
    """Problems with ``loaded`` that only the model shows: the model is described where it runs, and trigger
    conditions are bound in a scratch connection, never in the planning workspace."""
    doc = loaded.document
    try:
        columns = warehouse.describe(loaded.config.model.query)
    except WarehouseError as exc:
        return [doc.problem(("model",), f"the warehouse cannot run the model: {exc}")]
    problems = check_columns(loaded, list(columns))
    if not problems:
        problems += _check_triggers(loaded, columns)
    if not problems and loaded.config.triggers:
        problems += _check_effect_templates(loaded, list(columns), _sample_row(loaded, warehouse))
    return problems


def _sample_row(loaded: LoadedSync, warehouse: Warehouse) -> dict[str, Any] | None:
    """One row of the model, to render alert templates on (None when the model is empty or fails)."""
    try:
        for batch in warehouse.stream(f"SELECT * FROM ({loaded.config.model.query}) AS model LIMIT 1", 1):
            rows: list[dict[str, Any]] = batch.to_pylist()
            if rows:
                return rows[0]
    except WarehouseError:
        return None
    return None


def _check_effect_templates(loaded: LoadedSync, columns: list[str], sample: dict[str, Any] | None) -> list[Problem]:
    """Alert templates: syntax, variables, and on a sample row the render and Slack's limits; task, title and URL
    templates: syntax and variables. Each problem names the trigger's key in the file."""
    doc, problems = loaded.document, []
    names = [*columns, *(name for name in loaded.config.fields if name not in columns)]
    for i, trigger in enumerate(loaded.config.triggers):
        if trigger.alert is not None:
            for message in check_template(trigger.alert.template, names, sample):
                problems.append(doc.problem(("triggers", i, "alert", "template"), message))
            for key, source in (("title", trigger.alert.title), ("record_url", trigger.alert.record_url)):
                problems += _template_problems(doc, ("triggers", i, "alert", key), source, [*names, "record_id"])
        if trigger.task is not None:
            for key in ("subject", "body"):
                problems += _template_problems(doc, ("triggers", i, "task", key), getattr(trigger.task, key), names)
    return problems


def _template_problems(doc: YamlDocument, path: tuple[str | int, ...], source: str | None,
                       names: list[str]) -> list[Problem]:
    if not source:
        return []
    try:
        used = template_columns(source)
    except TemplateSyntaxError as exc:
        return [doc.problem(path, f"template syntax error on line {exc.lineno}: {exc.message}")]
    return [doc.problem(path, f"template variable '{name}' is not a column of the model")
            for name in sorted(used - set(names))]


def condition_problem(when: str) -> str | None:
    """Why ``when`` is not exactly one SQL expression (several statements, a ``FROM``, a trailing clause), or None.

    Decided on DuckDB's syntax tree of ``SELECT (when)``: one statement, one select item, nothing else.
    """
    sql = f"SELECT ({when})"
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        return f"not an SQL expression: {str(exc).splitlines()[0]}"
    if len(statements) != 1:
        return "must be one condition, not several statements"
    scratch = duckdb.connect()
    try:
        tree: dict[str, Any] = json.loads(scratch.execute("SELECT json_serialize_sql(?)", [sql]).fetchall()[0][0])
    finally:
        scratch.close()
    if tree.get("error"):
        return f"not an SQL expression: {tree.get('error_message', 'syntax error')}"
    node = tree["statements"][0]["node"]
    simple = (node.get("type") == "SELECT_NODE" and len(node.get("select_list", [])) == 1
              and node.get("from_table", {}).get("type") == "EMPTY" and node.get("where_clause") is None
              and not node.get("group_expressions") and node.get("having") is None and node.get("qualify") is None
              and not node.get("modifiers") and not node.get("cte_map", {}).get("map"))
    return None if simple else "must be one condition (an expression), not a query or part of one"


def _check_triggers(loaded: LoadedSync, columns: dict[str, str]) -> list[Problem]:
    """Each ``when`` must be one boolean expression over ``new`` and ``old`` shaped as the effects engine has them."""
    sync, problems = loaded.config, []
    new_columns = dict(columns) | {name: "VARCHAR" for name in sync.fields if name not in columns}
    new = ", ".join(f"CAST(NULL AS {kind}) AS {ident(name)}" for name, kind in new_columns.items())
    old = ", ".join(f"CAST(NULL AS VARCHAR) AS {ident(name)}" for name in sync.fields)
    scratch = duckdb.connect()
    try:
        for i, trigger in enumerate(sync.triggers):
            where = ("triggers", i, "when")
            shape = condition_problem(trigger.when)
            if shape:
                problems.append(loaded.document.problem(where, shape))
                continue
            try:
                kind = scratch.execute(f"DESCRIBE SELECT ({trigger.when}) AS condition "
                                       f"FROM (SELECT {new}) AS new, (SELECT {old}) AS old").fetchall()[0][1]
            except duckdb.Error as exc:
                message = str(exc).splitlines()[0]
                problems.append(loaded.document.problem(where, f"the condition does not bind: {message}"))
                continue
            if kind != "BOOLEAN":
                problems.append(loaded.document.problem(where, f"must be true or false, but it gives a {kind}"))
    finally:
        scratch.close()
    return problems
