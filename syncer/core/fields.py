"""Field mappings as SQL: each destination field becomes a normalised text value and, for a bad row, a reason.

Normalising before comparing is what keeps representation changes from being re-sent: every value becomes canonical
text per type (``1``, ``1.0`` and ``1.00`` are all ``1``; timestamps are UTC ``YYYY-MM-DDTHH:MM:SSZ``; JSON has sorted
keys and no spaces). The functions here are pure: they return SQL text for the workspace to run.
"""

from __future__ import annotations

from dataclasses import dataclass

from syncer.config.sync import FieldSpec, FieldType
from syncer.core.sql import ident, literal
from syncer.core.templates import template_columns

# Registered by the workspace (an edge). The render function takes a template and a JSON row and returns
# STRUCT(value VARCHAR, error VARCHAR): a template that fails on one row rejects that row, not the whole plan.
RENDER_FUNCTION = "syncer_render"
CANONICAL_JSON_FUNCTION = "syncer_canonical_json"


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


def infer_type(duckdb_type: str) -> FieldType:
    """The field type a column of ``duckdb_type`` maps to when the mapping does not say."""
    t = duckdb_type.upper()
    if t in ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT"):
        return FieldType.INTEGER
    if t.startswith(("DECIMAL", "NUMERIC")) or t in ("DOUBLE", "FLOAT", "REAL"):
        return FieldType.NUMBER
    if t == "BOOLEAN":
        return FieldType.BOOLEAN
    if t.startswith("TIMESTAMP"):
        return FieldType.DATETIME
    if t == "DATE":
        return FieldType.DATE
    if t == "JSON" or t.startswith(("STRUCT", "MAP")) or t.endswith("[]"):
        return FieldType.JSON
    return FieldType.STRING


def canonical_literal(value: str | int | float | bool | None) -> str | None:
    """The canonical text of a constant from YAML (a value-map entry or a static value)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def field_sql(name: str, spec: FieldSpec, column_types: dict[str, str]) -> FieldSql:
    """SQL for destination field ``name`` over a relation with ``column_types`` (column -> DuckDB type)."""
    reasons: list[str] = []
    prepare: tuple[str, str] | None = None
    hash_input: str | None = None
    if spec.source is not None:
        source, source_type = ident(spec.source), column_types.get(spec.source, "VARCHAR")
        ftype = spec.type or infer_type(source_type)
    elif spec.template is not None:
        row = ", ".join(f"{ident(c)} := model.{ident(c)}" for c in sorted(template_columns(spec.template)))
        row_json = f"to_json(struct_pack({row}))::VARCHAR" if row else "'{}'"
        alias = f"__rendered_{name}"
        prepare = (alias, f"{RENDER_FUNCTION}({literal(spec.template)}, {row_json})")
        hash_input = f"{literal(spec.model_dump_json())} || {row_json}"
        rendered = f"model.{ident(alias)}"
        source, source_type = f"({rendered}).value", "VARCHAR"
        reasons.append(f"CASE WHEN ({rendered}).error IS NOT NULL THEN {literal(f'{name}: template failed: ')} || "
                       f"({rendered}).error END")
        ftype = spec.type or FieldType.STRING
    else:
        source, source_type = literal(canonical_literal(spec.value)), "VARCHAR"
        ftype = spec.type or FieldType.STRING
    value, convertible = _normalise(source, source_type, ftype, spec.round)
    reasons.append(f"CASE WHEN {source} IS NOT NULL AND NOT ({convertible}) THEN "
                   f"{literal(f'{name}: cannot convert ')} || left(CAST({source} AS VARCHAR), 60) || "
                   f"{literal(f' to {ftype.value}')} END")
    if spec.map:
        value = _mapped(value, spec)
    if spec.max_length is not None:
        if spec.truncate:
            value = f"left({value}, {spec.max_length})"
        else:
            reasons.append(f"CASE WHEN length({value}) > {spec.max_length} THEN {literal(f'{name}: ')} || "
                           f"length({value}) || {literal(f' characters, more than max_length {spec.max_length}')} END")
    if spec.required:
        reasons.append(f"CASE WHEN {value} IS NULL THEN {literal(f'{name}: required but empty')} END")
    error = reasons[0] if len(reasons) == 1 else f"NULLIF(concat_ws('; ', {', '.join(reasons)}), '')"
    return FieldSql(name, value, error, hash_input or value, deferred=prepare is not None, prepare=prepare)


def _normalise(source: str, source_type: str, ftype: FieldType, digits: int | None) -> tuple[str, str]:
    """(canonical VARCHAR value, condition that the non-null source converted)."""
    if ftype in (FieldType.NUMBER, FieldType.INTEGER):
        number = f"TRY_CAST({source} AS DOUBLE)"
        if digits is not None:
            number = f"round({number}, {digits if ftype is FieldType.NUMBER else 0})"
        ok = f"({number} IS NOT NULL AND isfinite({number}))"
        if ftype is FieldType.INTEGER:  # an integer field rejects 1.5 unless the mapping asks to round it
            ok = f"({ok} AND {number} = trunc({number}))"
        text = (f"CASE WHEN NOT {ok} THEN NULL WHEN {number} = trunc({number}) AND abs({number}) < 1e15 "
                f"THEN CAST(CAST({number} AS BIGINT) AS VARCHAR) ELSE CAST({number} AS VARCHAR) END")
        return text, ok
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
        is_text = infer_type(source_type) is FieldType.STRING or source_type.upper() == "JSON"
        text = f"CAST({source} AS VARCHAR)" if is_text else f"CAST(to_json({source}) AS VARCHAR)"
        canonical = f"{CANONICAL_JSON_FUNCTION}({text})"
        return canonical, f"{canonical} IS NOT NULL"
    return f"CAST({source} AS VARCHAR)", "true"


def _mapped(value: str, spec: FieldSpec) -> str:
    assert spec.map is not None
    cases = " ".join(f"WHEN {literal(key)} THEN {literal(canonical_literal(target))}"
                     for key, target in spec.map.items())
    fallback = literal(spec.map_default) if spec.map_default is not None else value
    return f"CASE {value} {cases} ELSE {fallback} END"
