"""Setting up a DuckDB connection for planning: UTC session, memory cap with spilling, and syncer's functions."""

from __future__ import annotations

import itertools
import json
import os
import shutil
from pathlib import Path

import duckdb
import pyarrow as pa
from duckdb.func import ARROW, FunctionNullHandling
from jinja2 import Template, TemplateError

from syncer.core.fields import RENDER_FUNCTION
from syncer.core.templates import compile_template, template_value

PLANS_CATALOG = "syncer_plans"
# The render function answers NULL on purpose (an empty template: no value).
SPECIAL_NULLS = FunctionNullHandling.SPECIAL
_workspace_numbers = itertools.count(1)


def prepare_workspace(con: duckdb.DuckDBPyConnection, memory_limit: str, spill_root: Path) -> Path:
    """Configure ``con`` for planning and register the Python functions the field SQL calls.

    Returns the workspace's own directory under ``spill_root`` (``<pid>-<n>``), which the caller deletes
    (:func:`discard_workspace`) when it closes ``con``. It holds DuckDB's spill files and the plans catalog. Plans'
    change rows live there: unlike temporary tables, every cursor of the connection sees them (so they can be
    streamed out on one cursor while the store commits on another), and being file-backed, a first sync of millions
    of rows is written out instead of held in memory. Directories of processes that died (a killed run) are removed
    here, by the next process that plans.
    """
    spill_root.mkdir(parents=True, exist_ok=True)
    remove_orphaned_workspaces(spill_root)
    directory = spill_root / f"{os.getpid()}-{next(_workspace_numbers)}"
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir()
    con.execute("SET TimeZone = 'UTC'")  # naive warehouse timestamps are read as UTC
    con.execute(f"SET memory_limit = '{memory_limit}'")
    con.execute(f"SET temp_directory = '{_quoted(directory)}'")
    con.execute("SET preserve_insertion_order = false")
    con.execute(f"ATTACH '{_quoted(directory / 'plans.duckdb')}' AS {PLANS_CATALOG}")
    names = {str(row[0]) for row in con.execute(
        "SELECT function_name FROM duckdb_functions() WHERE function_type = 'scalar'").fetchall()}
    if RENDER_FUNCTION not in names:
        con.create_function(RENDER_FUNCTION, _render_batch, [duckdb.sqltype("VARCHAR"), duckdb.sqltype("VARCHAR")],
                            duckdb.sqltype("STRUCT(value VARCHAR, error VARCHAR)"), type=ARROW,
                            null_handling=SPECIAL_NULLS)
    return directory


def _quoted(path: Path) -> str:
    return str(path).replace("'", "''")


def discard_workspace(directory: Path) -> None:
    """Delete a workspace directory (call after closing its connection)."""
    shutil.rmtree(directory, ignore_errors=True)


# The earlier name, still used by callers written before workspaces had their own directory.


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, another user's
    return True


def remove_orphaned_workspaces(spill_root: Path) -> list[Path]:
    """Delete the workspace directories (and older loose plans files) of processes that are gone; return them."""
    removed = []
    for path in spill_root.iterdir():
        owner = path.name.removeprefix("plans-").split("-")[0]
        if not owner.isdigit() or _alive(int(owner)):
            continue
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
    return removed


_RENDERED = pa.struct([("value", pa.string()), ("error", pa.string())])


def _render_batch(templates: pa.Array, rows: pa.Array) -> pa.Array:
    """Render each row; a row whose rendering fails gets the reason instead of a value (the row is rejected): also
    a render budget exceeded (``render budget exceeded: ...``) and a row nested too deeply to read."""
    values: list[str | None] = []
    errors: list[str | None] = []
    compiled: dict[str, Template] = {}  # a batch almost always carries one template: compile it once
    for source, row in zip(templates.to_pylist(), rows.to_pylist(), strict=True):
        value = error = None
        if source is not None and row is not None:
            template = compiled.get(source) or compiled.setdefault(source, compile_template(source))
            try:
                value = template.render({k: template_value(v) for k, v in json.loads(row).items()}).strip() or None
            except (TemplateError, ArithmeticError, TypeError, ValueError) as exc:
                error = str(exc)[:200]
            except RecursionError:  # the row's JSON itself is nested past what Python parses
                error = "the row is nested too deeply to read"
        values.append(value)
        errors.append(error)
    return pa.StructArray.from_arrays([pa.array(values, pa.string()), pa.array(errors, pa.string())],
                                      fields=list(_RENDERED))

    return value
