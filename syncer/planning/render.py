"""The functions the field SQL calls, registered on a planning workspace (see :mod:`syncer.state.workspace` for the
workspace's connection): ``syncer_render`` renders a field template for a batch of rows."""

from __future__ import annotations

import json

import duckdb
import pyarrow as pa
from duckdb.func import ARROW, FunctionNullHandling
from jinja2 import Template, TemplateError

from syncer.core.fields import RENDER_FUNCTION
from syncer.core.templates import compile_template, template_value

# The render function answers NULL on purpose (an empty template: no value).
SPECIAL_NULLS = FunctionNullHandling.SPECIAL


def register_functions(con: duckdb.DuckDBPyConnection) -> None:
    """Register the Python functions the field SQL calls on ``con``, once per connection."""
    names = {
        str(row[0])
        for row in con.execute("SELECT function_name FROM duckdb_functions() WHERE function_type = 'scalar'").fetchall()
    }
    if RENDER_FUNCTION not in names:
        con.create_function(
            RENDER_FUNCTION,
            _render_batch,
            [duckdb.sqltype("VARCHAR"), duckdb.sqltype("VARCHAR")],
            duckdb.sqltype("STRUCT(value VARCHAR, error VARCHAR)"),
            type=ARROW,
            null_handling=SPECIAL_NULLS,
        )


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
    return pa.StructArray.from_arrays(
        [pa.array(values, pa.string()), pa.array(errors, pa.string())], fields=list(_RENDERED)
    )

    return value
