"""Validation that needs the warehouse: the model is one query that runs, has every column the mapping names, each
trigger's ``when`` is one boolean expression that binds, and every template (field, task, alert) renders on a sample
row of the model within its render budget; then :func:`try_against_data` tries the mapping on a sample of rows.

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
from syncer.core.templates import RenderBudgetError, compile_template, template_columns, template_value
from syncer.planning.columns import check_columns
from syncer.planning.sample_check import SampleReport, json_key_typos, run_time_value, try_on_sample
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
    if not problems:
        problems += _check_templates(loaded, list(columns), _sample_row(loaded, warehouse))
    return problems


def try_against_data(
    loaded: LoadedSync, warehouse: Warehouse, sample_rows: int, max_reject_percent: float
) -> SampleReport:
    """Try ``loaded`` on ``sample_rows`` rows of its model (:mod:`syncer.planning.sample_check`): the share of rows
    each field would reject, task and alert templates rendered on every sampled row, the JSON keys templates read.
    Call it once :func:`check_against_model` found nothing."""
    query = f"SELECT * FROM ({loaded.config.model.query}) AS model LIMIT {int(sample_rows)}"
    try:
        rows: list[dict[str, Any]] = [
            row for batch in warehouse.stream(query, max(sample_rows, 1)) for row in batch.to_pylist()
        ]
    except WarehouseError as exc:
        return SampleReport(errors=[loaded.document.problem(("model",), f"the warehouse cannot run the model: {exc}")])
    return try_on_sample(loaded, warehouse, sample_rows, max_reject_percent, rows)


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


def _check_templates(loaded: LoadedSync, columns: list[str], sample: dict[str, Any] | None) -> list[Problem]:
    """Every template of the sync rendered on the sample row, each problem at the template's key in the file.

    Field templates (their syntax and variables are :func:`check_columns`'), task subjects and bodies, alert
    titles and URLs: syntax, variables, then the render. Alert templates: :func:`check_template` (also the
    limits). The row a template sees holds the model's columns and the mapped fields (null where the model has no
    such column), as at run time. With an empty model the templates render on a row of nulls, where only an
    exceeded render budget counts (any other failure may be the nulls'). Never raises: whatever a template does
    becomes one line.
    """
    doc, sync, problems = loaded.document, loaded.config, []
    names = [*columns, *(name for name in sync.fields if name not in columns)]
    row = {name: None for name in names} | {name: run_time_value(value) for name, value in (sample or {}).items()}
    renders: list[tuple[tuple[str | int, ...], str | None, dict[str, Any]]] = [
        (("fields", name, "template"), spec.template, row) for name, spec in sync.fields.items()
    ]
    for i, trigger in enumerate(sync.triggers):
        if trigger.alert is not None:
            path: tuple[str | int, ...] = ("triggers", i, "alert", "template")
            try:
                problems += [
                    doc.problem(path, message)
                    for message in check_template(trigger.alert.template, names, row if sample is not None else None)
                ]
            except Exception as exc:  # validate reports, never crashes (see the docstring)
                problems.append(doc.problem(path, f"the template cannot be checked: {_one_line(exc)}"))
            if sample is None:
                renders.append((path, trigger.alert.template, row))
            linked = row | {"record_id": None}
            for key, source in (("title", trigger.alert.title), ("record_url", trigger.alert.record_url)):
                found = _template_problems(doc, ("triggers", i, "alert", key), source, [*names, "record_id"])
                problems += found
                renders += [] if found else [(("triggers", i, "alert", key), source, linked)]
        if trigger.task is not None:
            for key in ("subject", "body"):
                source = getattr(trigger.task, key)
                found = _template_problems(doc, ("triggers", i, "task", key), source, names)
                problems += found
                renders += [] if found else [(("triggers", i, "task", key), source, row)]
    # A JSON key no sampled row has is said with the nearest one, rather than as the render failure it causes.
    typos = json_key_typos(sync, [sample]) if sample is not None else []
    problems += [doc.problem(where, message) for where, message in typos]
    for where, source, values in renders:
        if any(where == typo for typo, _ in typos):
            continue
        message = _render_problem(source, values, sampled=sample is not None) if source else None
        if message:
            problems.append(doc.problem(where, message))
    return problems


def _render_problem(source: str, row: dict[str, Any], *, sampled: bool) -> str | None:
    """Why ``source`` does not render on ``row`` (one line), or None. ``sampled``: ``row`` is a real row of the
    model, so any failure counts; otherwise only an exceeded budget does."""
    try:
        compile_template(source).render({name: template_value(value) for name, value in row.items()})
    except RenderBudgetError as exc:
        return f"{_one_line(exc)} (on the sample row)" if sampled else f"{_one_line(exc)} (on a row of nulls)"
    except TemplateSyntaxError as exc:
        return f"template syntax error on line {exc.lineno}: {exc.message}"
    except Exception as exc:  # validate reports, never crashes
        return f"the template fails on the sample row: {_one_line(exc)}" if sampled else None
    return None


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200] or type(exc).__name__


def _template_problems(
    doc: YamlDocument, path: tuple[str | int, ...], source: str | None, names: list[str]
) -> list[Problem]:
    if not source:
        return []
    try:
        used = template_columns(source)
    except TemplateSyntaxError as exc:
        return [doc.problem(path, f"template syntax error on line {exc.lineno}: {exc.message}")]
    return [
        doc.problem(path, f"template variable '{name}' is not a column of the model")
        for name in sorted(used - set(names))
    ]


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
    simple = (
        node.get("type") == "SELECT_NODE"
        and len(node.get("select_list", [])) == 1
        and node.get("from_table", {}).get("type") == "EMPTY"
        and node.get("where_clause") is None
        and not node.get("group_expressions")
        and node.get("having") is None
        and node.get("qualify") is None
        and not node.get("modifiers")
        and not node.get("cte_map", {}).get("map")
    )
    return None if simple else "must be one condition (an expression), not a query or part of one"


def _check_triggers(loaded: LoadedSync, columns: dict[str, str]) -> list[Problem]:
    """Each ``when`` must be one boolean expression over ``new`` and ``old`` shaped as the effects engine has them;
    a destination's ``create_when`` one over ``new``, the model row."""
    sync, problems = loaded.config, []
    new_columns = dict(columns) | {name: "VARCHAR" for name in sync.fields if name not in columns}
    new = ", ".join(f"CAST(NULL AS {kind}) AS {ident(name)}" for name, kind in new_columns.items())
    old = ", ".join(f"CAST(NULL AS VARCHAR) AS {ident(name)}" for name in sync.fields)
    model = ", ".join(f"CAST(NULL AS {kind}) AS {ident(name)}" for name, kind in columns.items())
    conditions: list[tuple[tuple[str | int, ...], str, str]] = [
        (("triggers", i, "when"), trigger.when, f"(SELECT {new}) AS new, (SELECT {old}) AS old")
        for i, trigger in enumerate(sync.triggers)
    ]
    if sync.destination is not None and sync.destination.create_when is not None:  # over the model row only
        conditions.append((("destination", "create_when"), sync.destination.create_when, f"(SELECT {model}) AS new"))
    scratch = duckdb.connect()
    try:
        for where, when, relations in conditions:
            shape = condition_problem(when)
            if shape:
                problems.append(loaded.document.problem(where, shape))
                continue
            try:
                kind = scratch.execute(f"DESCRIBE SELECT ({when}) AS condition FROM {relations}").fetchall()[0][1]
            except duckdb.Error as exc:
                message = str(exc).splitlines()[0]
                problems.append(loaded.document.problem(where, f"the condition does not bind: {message}"))
                continue
            if kind != "BOOLEAN":
                problems.append(loaded.document.problem(where, f"must be true or false, but it gives a {kind}"))
    finally:
        scratch.close()
    return problems
