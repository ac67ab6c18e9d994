"""Validation that needs the warehouse: the model runs, has every column the mapping names, triggers bind."""

from __future__ import annotations

import duckdb

from syncer.config.columns import check_columns
from syncer.config.errors import Problem
from syncer.config.loader import LoadedSync
from syncer.core.sql import ident
from syncer.planner import model_columns
from syncer.warehouse.base import Warehouse, WarehouseError


def check_against_model(loaded: LoadedSync, con: duckdb.DuckDBPyConnection, warehouse: Warehouse,
                        batch_size: int) -> list[Problem]:
    """Problems with ``loaded`` that only the model shows; the workspace ``con`` is left as it was."""
    doc = loaded.document
    try:
        model = warehouse.stage(con, loaded.config.model.query, batch_size)
    except WarehouseError as exc:
        return [doc.problem(("model",), f"the warehouse cannot run the model: {exc}")]
    try:
        columns = model_columns(con, model)
        problems = check_columns(loaded, list(columns))
        if not problems:
            problems += _check_triggers(loaded, con, columns)
        return problems
    finally:
        warehouse.release(con)


def _check_triggers(loaded: LoadedSync, con: duckdb.DuckDBPyConnection, columns: dict[str, str]) -> list[Problem]:
    """Bind each trigger's ``when`` against empty ``new`` and ``old`` relations shaped as the effects engine will."""
    sync, problems = loaded.config, []
    new_columns = dict(columns) | {name: "VARCHAR" for name in sync.fields if name not in columns}
    new = ", ".join(f"CAST(NULL AS {kind}) AS {ident(name)}" for name, kind in new_columns.items())
    old = ", ".join(f"CAST(NULL AS VARCHAR) AS {ident(name)}" for name in sync.fields)
    for i, trigger in enumerate(sync.triggers):
        try:
            con.execute(f"SELECT ({trigger.when}) FROM (SELECT {new}) AS new, (SELECT {old}) AS old LIMIT 0")
        except duckdb.Error as exc:
            message = str(exc).splitlines()[0]
            problems.append(doc_problem(loaded, ("triggers", i, "when"), f"the condition does not bind: {message}"))
    return problems


def doc_problem(loaded: LoadedSync, path: tuple[str | int, ...], message: str) -> Problem:
    return loaded.document.problem(path, message)
