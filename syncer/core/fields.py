"""Field mappings as SQL: each destination field becomes a normalised text value and, for a bad row, a reason.

Normalising before comparing is what keeps representation changes from being re-sent: every value becomes canonical
text per type (``1``, ``1.0`` and ``1.00`` are all ``1``; timestamps are UTC ``YYYY-MM-DDTHH:MM:SSZ``; JSON has sorted
keys and no spaces). Keys and match values are normalised the same way (:func:`identity_sql`), so re-typing the key
column does not turn every key into a new one. The functions here are pure: they return SQL text for the workspace.

Column names resolve as DuckDB resolves identifiers: case-insensitively (:func:`column_type`), so a model that
renames ``pql_score`` to ``PQL_SCORE`` still feeds the mapping's ``pql_score`` with the same type.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from syncer.config.sync import FieldSpec
from syncer.contract.enums import FieldType, OutOfRange
from syncer.core.sql import ident, literal
from syncer.core.templates import template_columns

# Registered by the workspace (an edge). The render function takes a template and a JSON row and returns
# STRUCT(value VARCHAR, error VARCHAR): a template that fails on one row rejects that row, not the whole plan.
RENDER_FUNCTION = "syncer_render"
# What "blank" means for keys and required fields: nothing but these characters.
_BLANK = literal(" \t\n\r")
_INTEGER_TYPES = (
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
    "UHUGEINT",
)


@dataclass(frozen=True)
class FieldSql:
    """SQL for one destination field over the model relation (aliased ``model``).

    ``value``: normalised VARCHAR (NULL for empty). ``error``: VARCHAR reason the row is rejected, else NULL.
    ``hash_input``: what the row hash covers for this field. For plain fields it is the value. For a template
    field (``deferred``) it is the template's inputs and the field's definition: rendering costs microseconds a
    row in Python, so templates are rendered only for the keys whose inputs (or definition) changed, in the values
    pass, where ``prepare`` (``(column alias, expression)``) renders each such row once and ``value``/``error``
    read the result.
    """

    name: str
    value: str
    error: str
    hash_input: str
    deferred: bool = False
    prepare: tuple[str, str] | None = None


def column_type(column_types: Mapping[str, str], column: str) -> str | None:
    """The DuckDB type of ``column``: the exact name first, else the one that differs only in case (as DuckDB)."""
    if column in column_types:
        return column_types[column]
    folded = column.casefold()
    return next((t for name, t in column_types.items() if name.casefold() == folded), None)


def infer_type(duckdb_type: str) -> FieldType:
    """The field type a column of ``duckdb_type`` maps to when the mapping does not say."""
    t = duckdb_type.upper()
    if t in _INTEGER_TYPES:
        return FieldType.INTEGER
    if t.startswith(("DECIMAL", "NUMERIC")) or t in ("DOUBLE", "FLOAT", "REAL"):
        return FieldType.NUMBER
    if t == "BOOLEAN":
        return FieldType.BOOLEAN
    if t.startswith("TIMESTAMP"):
        return FieldType.DATETIME
    if t == "DATE":
        return FieldType.DATE
    if t == "JSON" or t.startswith(("STRUCT", "MAP")) or t.endswith("]"):
        return FieldType.JSON
    return FieldType.STRING


def canonical_literal(value: str | int | float | bool | None) -> str | None:  # noqa: FBT001 (a YAML constant: data, not a flag)
    """The canonical text of a constant from YAML (a value-map entry, a static value or a bound)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def identity_sql(source: str, source_type: str) -> str:
    """A key or match value as canonical text: the same identity whatever the column's type or padding.

    Integers print exactly; integer-valued decimals and doubles print without a fraction (``42.00`` and ``42.0`` are
    ``42``, as the integer 42 is); other numbers without trailing zeros; timestamps and dates as fields print them;
    text is trimmed, and an empty or blank value is NULL (a null key, rejected as such).
    """
    t, ftype = source_type.upper(), infer_type(source_type)
    if t in _INTEGER_TYPES:
        return f"CAST({source} AS VARCHAR)"
    if ftype is FieldType.NUMBER:
        # Below 9e18 an integer-valued number fits BIGINT exactly, so 10^17 as DOUBLE, DECIMAL or BIGINT agree.
        fraction = (
            f"CAST({source} AS VARCHAR)"
            if not t.startswith(("DECIMAL", "NUMERIC"))
            else f"rtrim(rtrim(CAST({source} AS VARCHAR), '0'), '.')"
        )
        return (
            f"CASE WHEN NOT isfinite(CAST({source} AS DOUBLE)) THEN CAST({source} AS VARCHAR) "
            f"WHEN {source} = trunc({source}) AND abs({source}) < 9e18 "
            f"THEN CAST(CAST({source} AS BIGINT) AS VARCHAR) ELSE {fraction} END"
        )
    if ftype in (FieldType.DATETIME, FieldType.DATE):
        return _normalise(source, source_type, ftype)[0]
    text = f"CAST({source} AS VARCHAR)"
    # Most keys are not padded: two one-character comparisons settle them, far cheaper than trimming every key.
    return f"CASE WHEN {text}[1] > ' ' AND {text}[-1] > ' ' THEN {text} ELSE NULLIF(trim({text}, {_BLANK}), '') END"


def field_sql(name: str, spec: FieldSpec, column_types: Mapping[str, str]) -> FieldSql:
    """SQL for destination field ``name`` over a relation with ``column_types`` (column -> DuckDB type)."""
    reasons: list[str] = []
    prepare: tuple[str, str] | None = None
    hash_input: str | None = None
    bounded = spec.min is not None or spec.max is not None
    if spec.source is not None:
        source, source_type = ident(spec.source), column_type(column_types, spec.source) or "VARCHAR"
        ftype = spec.type or infer_type(source_type)
    elif spec.template is not None:
        row_json = template_row_sql(template_columns(spec.template), column_types)
        alias = f"__rendered_{name}"
        prepare = (alias, f"{RENDER_FUNCTION}({literal(spec.template)}, {row_json})")
        hash_input = f"{literal(spec.model_dump_json())} || {row_json}"
        rendered = f"model.{ident(alias)}"
        source, source_type = f"({rendered}).value", "VARCHAR"
        reasons.append(
            f"CASE WHEN ({rendered}).error IS NOT NULL THEN {literal(f'{name}: template failed: ')} || "
            f"({rendered}).error END"
        )
        ftype = spec.type or FieldType.STRING
    else:
        source, source_type = literal(canonical_literal(spec.value)), "VARCHAR"
        ftype = spec.type or FieldType.STRING
    if bounded and ftype not in (FieldType.NUMBER, FieldType.INTEGER):
        ftype = FieldType.NUMBER  # bounds make a field numeric when the column's type does not say
    value, convertible = _normalise(source, source_type, ftype, spec.round)
    reasons.append(
        f"CASE WHEN {source} IS NOT NULL AND NOT ({convertible}) THEN "
        f"{literal(f'{name}: cannot convert ')} || left(CAST({source} AS VARCHAR), 60) || "
        f"{literal(f' to {ftype.value}')} END"
    )
    if bounded:
        value = _bounded(name, spec, value, reasons)
    if spec.map:
        value = _mapped(name, value, spec, reasons)
    if spec.max_length is not None:
        if spec.truncate:
            value = f"left({value}, {spec.max_length})"
        else:
            reasons.append(
                f"CASE WHEN length({value}) > {spec.max_length} THEN {literal(f'{name}: ')} || "
                f"length({value}) || {literal(f' characters, more than max_length {spec.max_length}')} END"
            )
    if spec.required:
        reasons.append(
            f"CASE WHEN {value} IS NULL OR trim({value}, {_BLANK}) = '' "
            f"THEN {literal(f'{name}: required but empty')} END"
        )
    error = reasons[0] if len(reasons) == 1 else f"NULLIF(concat_ws('; ', {', '.join(reasons)}), '')"
    return FieldSql(name, value, error, hash_input or value, deferred=prepare is not None, prepare=prepare)


def template_row_sql(columns: frozenset[str], column_types: Mapping[str, str]) -> str:
    """The JSON object (VARCHAR) a template renders from: each column it reads, normalised as a field would be.

    Numbers are canonical JSON numbers (``70.00`` and ``70.0`` both arrive as ``70``), timestamps canonical UTC
    text, JSON canonical JSON, so a rebuild that changes only representations changes neither the row hash nor the
    rendered text.
    """
    if not columns:
        return "'{}'"
    parts = []
    for column in sorted(columns):
        element = _json_element(f"model.{ident(column)}", column_type(column_types, column) or "VARCHAR")
        parts.append(f"{literal(json.dumps(column, ensure_ascii=False) + ':')} || coalesce({element}, 'null')")
    return "('{' || " + " || ',' || ".join(parts) + " || '}')"


def _json_element(source: str, source_type: str) -> str:
    ftype = infer_type(source_type)
    if source_type.upper() in _INTEGER_TYPES:
        return f"CAST({source} AS VARCHAR)"  # exact, whatever its size
    if ftype in (FieldType.NUMBER, FieldType.BOOLEAN, FieldType.JSON):
        return _normalise(source, source_type, ftype)[0]  # already valid JSON text
    text = _normalise(source, source_type, ftype)[0]
    quoted = f"CAST(to_json({text}) AS VARCHAR)"
    if ftype is FieldType.STRING:
        # Templates read text that holds JSON as JSON (``signals.seats``): embed it canonical, so a JSON column
        # re-typed to text feeds the template, and the row hash, the same row.
        return (
            f"CASE WHEN left({text}, 1) IN ('{{', '[') THEN coalesce(TRY(json_normalize({text})), {quoted}) "
            f"ELSE {quoted} END"
        )
    return quoted


def _number(source: str, ftype: FieldType, digits: int | None) -> str:
    number = f"TRY_CAST({source} AS DOUBLE)"
    if digits is not None:
        number = f"round({number}, {digits if ftype is FieldType.NUMBER else 0})"
    return number


def _number_text(number: str) -> str:
    return (
        f"CASE WHEN {number} = trunc({number}) AND abs({number}) < 1e15 "
        f"THEN CAST(CAST({number} AS BIGINT) AS VARCHAR) ELSE CAST({number} AS VARCHAR) END"
    )


def _normalise(source: str, source_type: str, ftype: FieldType, digits: int | None = None) -> tuple[str, str]:
    """(canonical VARCHAR value, condition that the non-null source converted)."""
    if ftype in (FieldType.NUMBER, FieldType.INTEGER):
        number = _number(source, ftype, digits)
        ok = f"({number} IS NOT NULL AND isfinite({number}))"
        if ftype is FieldType.INTEGER:  # an integer field rejects 1.5 unless the mapping asks to round it
            ok = f"({ok} AND {number} = trunc({number}))"
        return f"CASE WHEN NOT {ok} THEN NULL ELSE {_number_text(number)} END", ok
    if ftype is FieldType.BOOLEAN:
        flag = f"TRY_CAST({source} AS BOOLEAN)"
        return f"CASE WHEN {flag} THEN 'true' WHEN NOT {flag} THEN 'false' END", f"{flag} IS NOT NULL"
    if ftype is FieldType.DATETIME:
        moment = f"TRY_CAST({source} AS TIMESTAMPTZ)"
        return f"strftime(timezone('UTC', {moment}), '%Y-%m-%dT%H:%M:%SZ')", f"{moment} IS NOT NULL"
    if ftype is FieldType.DATE:
        day = f"TRY_CAST({source} AS DATE)"
        return f"strftime({day}, '%Y-%m-%d')", f"{day} IS NOT NULL"
    if ftype is FieldType.JSON:
        # DuckDB's json_normalize parses and re-serialises with every object's keys sorted, nested ones too, and
        # numbers in one spelling; in the engine it costs a twentieth of a Python function. Not JSON: NULL (TRY),
        # and the convertible condition rejects the row.
        if infer_type(source_type) is FieldType.JSON:  # a JSON, STRUCT, MAP or list column: valid JSON already
            text = source if source_type.upper() == "JSON" else f"to_json({source})"
            return f"json_normalize({text})", "true"
        canonical = f"TRY(json_normalize(CAST({source} AS VARCHAR)))"
        return canonical, f"{canonical} IS NOT NULL"
    return f"CAST({source} AS VARCHAR)", "true"


def _bounded(name: str, spec: FieldSpec, value: str, reasons: list[str]) -> str:
    """Apply ``min``/``max`` to the normalised number ``value``: clamp it, or add a reason naming value and bound."""
    number = f"TRY_CAST({value} AS DOUBLE)"
    for bound, word, beyond in ((spec.min, "below min", "<"), (spec.max, "above max", ">")):
        if bound is None:
            continue
        text = canonical_literal(bound)
        if spec.out_of_range is OutOfRange.CLAMP:
            value = f"CASE WHEN {number} {beyond} {bound!r} THEN {literal(text)} ELSE {value} END"
            number = f"TRY_CAST({value} AS DOUBLE)"
        else:
            reasons.append(
                f"CASE WHEN {number} {beyond} {bound!r} THEN {literal(f'{name}: ')} || {value} || "
                f"{literal(f' is {word} {text}')} END"
            )
    return value


def _mapped(name: str, value: str, spec: FieldSpec, reasons: list[str]) -> str:
    assert spec.map is not None
    cases = " ".join(
        f"WHEN {literal(key)} THEN {literal(canonical_literal(target))}" for key, target in spec.map.items()
    )
    if spec.strict:
        named = ", ".join(literal(key) for key in spec.map)
        reasons.append(
            f"CASE WHEN {value} IS NOT NULL AND {value} NOT IN ({named}) THEN {literal(f'{name}: ')} || "
            f"'''' || {value} || ''' is not in the value map' END"
        )
        return f"CASE {value} {cases} ELSE NULL END"
    fallback = literal(spec.map_default) if spec.map_default is not None else value
    return f"CASE {value} {cases} ELSE {fallback} END"
