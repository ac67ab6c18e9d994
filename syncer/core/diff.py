"""The set-based diff between a model and the confirmed snapshot, as a sequence of SQL statements (pure).

The workspace runs them in order:

1. ``__cur``: one row per distinct key of the model: its row count (duplicates), the hash of its normalised field
   values and match value, and the reasons it cannot be sent. One pass over the model, one hash aggregate.
2. ``__delta``: ``__cur`` full-outer-joined with the snapshot on key, keeping only keys whose hash differs, that are
   new, gone or rejected. Unchanged keys, the vast majority, never leave the join.
3. ``changes``: for the create / update / clear keys only, the full field values (the model is read a second time,
   filtered to those keys) and, for updates, the names of the fields that differ from the snapshot.

Keys and match values are compared as :func:`syncer.core.fields.identity_sql` normalises them. The match value is
part of the row hash: when it moves (the model now names another CRM record), the key is an update that sends every
non-empty field to the record the new value finds (its snapshot record id belongs to the old record and is dropped).

The snapshot relation has columns ``key, record_id, match_value, fields (JSON text), row_hash, present``.
"""

from __future__ import annotations

from dataclasses import dataclass

from syncer.contract.enums import OnRemove
from syncer.core.fields import FieldSql
from syncer.core.sql import ident, literal

CUR, DELTA = "__syncer_cur", "__syncer_delta"


@dataclass(frozen=True)
class DiffSpec:
    """What the diff needs to know about one sync.

    ``key`` and ``match``: SQL over ``model`` for the normalised key and match value. ``match_required``: a row
    without a match value is rejected (``update`` mode: there is no record to update). ``kept_on_clear``: fields a
    clear never empties (identity, required and ``clear: false`` fields).
    ``adopt``: SQL over ``model`` for the value a create looks an existing record up by (the change rows then carry
    it as ``adopt``; ``None``: no such column). ``row_errors``: further SQL reasons over ``model`` that reject a row
    (an owner the mapping requires). ``never_emptied``: fields an update sends only when they have a value (an
    owner that does not resolve leaves the record's owner as it is).
    """

    key: str
    match: str
    match_column: str
    fields: tuple[FieldSql, ...]
    on_remove: OnRemove
    match_required: bool = False
    kept_on_clear: frozenset[str] = frozenset()
    adopt: str | None = None
    row_errors: tuple[str, ...] = ()
    never_emptied: frozenset[str] = frozenset()


def _row_hash(spec: DiffSpec) -> str:
    # Field names take part so that renaming a field, or adding one that is empty, still changes the hash. A match
    # value read from the key column itself cannot move without the key changing: it costs nothing to leave out.
    match = [] if spec.match == spec.key else [f"'match', {spec.match}"]
    parts = ", ".join([f"{literal(f.name)}, {f.hash_input}" for f in spec.fields] + match)
    return f"CAST(hash({parts}) >> 1 AS BIGINT)"


def _errors(fields: list[FieldSql], extra: tuple[str, ...] = ()) -> str:
    errors = [f.error for f in fields] + list(extra)
    return f"NULLIF(concat_ws('; ', {', '.join(errors)}), '')" if errors else "NULL"


def _match_error(spec: DiffSpec) -> tuple[str, ...]:
    if not spec.match_required:
        return ()
    reason = f"no record to update: the match column {spec.match_column} is empty"
    return (f"CASE WHEN {spec.match} IS NULL THEN {literal(reason)} END",)


def current_sql(spec: DiffSpec, model: str) -> str:
    """Statement 1: aggregate the model by key into ``__cur``. ``model`` is a relation (table name or subquery)."""
    return f"""
CREATE OR REPLACE TEMP TABLE {CUR} AS
SELECT k, count(*) AS n, min(h) AS h, min(err) AS err
FROM (
    SELECT {spec.key} AS k, {_row_hash(spec)} AS h,
           {_errors([f for f in spec.fields if not f.deferred], _match_error(spec) + spec.row_errors)} AS err
    FROM {model} AS model
) GROUP BY k"""


def delta_sql(spec: DiffSpec, snapshot: str) -> str:
    """Statement 2: classify every key that is not unchanged into ``__delta``."""
    removed = "'clear'" if spec.on_remove is OnRemove.CLEAR else "'removed'"
    return f"""
CREATE OR REPLACE TEMP TABLE {DELTA} AS
SELECT coalesce(c.k, s.key) AS k,
       CASE
         WHEN c.k IS NULL AND c.n IS NULL THEN {removed}
         WHEN c.k IS NULL THEN 'rejected'
         WHEN c.n > 1 THEN 'rejected'
         WHEN c.err IS NOT NULL THEN 'rejected'
         WHEN s.key IS NULL THEN 'create'
         ELSE 'update'
       END AS op,
       CASE WHEN c.k IS NULL AND c.n IS NOT NULL THEN 'null key (' || c.n || ' rows)'
            WHEN c.n > 1 THEN 'duplicate key (' || c.n || ' rows)'
            ELSE c.err END AS reason,
       c.h AS h, s.record_id, s.match_value
FROM {CUR} AS c FULL OUTER JOIN (SELECT * FROM {snapshot}) AS s ON c.k = s.key
WHERE (c.k IS NULL AND c.n IS NOT NULL)                              -- the null-key group
   OR (c.k IS NOT NULL AND (c.n > 1 OR c.err IS NOT NULL OR s.key IS NULL OR NOT s.present
                            OR c.h IS DISTINCT FROM s.row_hash))
   OR (c.n IS NULL AND s.present)                                    -- gone from the model"""


def skip_creates_sql(spec: DiffSpec, model: str, create_when: str) -> str:
    """Statement 2b (with a destination's ``create_when``): creates whose model row fails the condition become
    ``skipped`` (not sent, not rejected). ``create_when`` is SQL over ``new``, the model row; null counts as false."""
    return f"""
UPDATE {DELTA} SET op = 'skipped', reason = 'create_when'
WHERE op = 'create' AND k NOT IN (
    SELECT {spec.key} FROM {model} AS new WHERE {spec.key} IS NOT NULL AND CASE WHEN ({create_when}) THEN TRUE ELSE
    FALSE END)"""


def counts_sql() -> str:
    """Statement 3: ``(model_rows, valid_keys)`` from ``__cur``; unchanged = valid keys minus creates and updates."""
    return (
        f"SELECT coalesce(sum(n), 0), coalesce(sum(CASE WHEN k IS NOT NULL AND n = 1 AND err IS NULL "
        f"THEN 1 ELSE 0 END), 0) FROM {CUR}"
    )


def delta_counts_sql() -> str:
    return f"SELECT op, count(*) FROM {DELTA} GROUP BY op"


def rejected_sql(limit: int) -> str:
    return f"SELECT k, reason FROM {DELTA} WHERE op = 'rejected' ORDER BY k NULLS FIRST LIMIT {limit}"


def changes_sql(spec: DiffSpec, model: str, snapshot: str) -> str:
    """Statement 4: the change rows: ``op, key, record_id, match, changed, values, hash, reason, planned``.

    ``op`` is ``create``, ``update``, ``clear``, ``refresh`` (the hash moved but no value did: only the snapshot's
    bookkeeping needs writing, nothing is sent) or ``rejected`` (a template failed on this row: ``reason`` says
    why, ``planned`` what the row would have been; the planner moves these to the plan's rejected rows).
    ``changed`` lists the fields to send: for a create the non-empty ones, for an update those that differ from
    the snapshot (all non-empty ones when the match value moved), for a clear those the snapshot holds a value for
    and that a clear may empty (``kept_on_clear`` keep their snapshot value in ``values``).
    """
    names = [f.name for f in spec.fields]
    values = ", ".join(f"{ident(f.name)} := m.{ident('v_' + f.name)}" for f in spec.fields)
    nulls = ", ".join(
        f"{ident(n)} := " + (_snap(n) if n in spec.kept_on_clear else "CAST(NULL AS VARCHAR)") for n in names
    )
    selected = ", ".join(f"{f.value} AS {ident('v_' + f.name)}" for f in spec.fields)
    prepared = "".join(f", {f.prepare[1]} AS {ident(f.prepare[0])}" for f in spec.fields if f.prepare)
    deferred_errors = _errors([f for f in spec.fields if f.deferred])
    adopt_select = f", {spec.adopt} AS adopt_value" if spec.adopt is not None else ""
    adopt_column = ", CASE WHEN planned = 'create' THEN adopt_value END AS adopt" if spec.adopt is not None else ""

    def listed(condition: str, only: list[str]) -> str:
        items = ", ".join(
            f"CASE WHEN {condition.format(v='m.' + ident('v_' + n), s=_snap(n))} THEN {literal(n)} END" for n in only
        )
        return f"list_filter([{items}], lambda x: x IS NOT NULL)" if only else "CAST([] AS VARCHAR[])"

    created = listed("{v} IS NOT NULL", names)
    updated = listed("{v} IS DISTINCT FROM {s}", [n for n in names if n not in spec.never_emptied])
    if spec.never_emptied:  # sent only with a value: an unresolved owner does not empty the record's owner
        kept = listed("{v} IS NOT NULL AND {v} IS DISTINCT FROM {s}", [n for n in names if n in spec.never_emptied])
        updated = f"list_concat({updated}, {kept})"
    cleared = listed("{s} IS NOT NULL", [n for n in names if n not in spec.kept_on_clear])
    # The model names another record than the one confirmed: write everything there, found by the new match value.
    moved = "(d.match_value IS NOT NULL AND m.match_value IS NOT NULL AND m.match_value <> d.match_value)"
    return f"""
WITH wanted AS (
    -- Templates render here, once per row, and only for the keys that are created or updated.
    SELECT model.*{prepared} FROM {model} AS model
    WHERE {spec.key} IN (SELECT k FROM {DELTA} WHERE op IN ('create', 'update'))
), m AS (
    SELECT {spec.key} AS k, {spec.match} AS match_value{adopt_select}, {selected}, {deferred_errors} AS err
    FROM wanted AS model
), d AS (
    SELECT d.*, s.fields AS snap_fields, s.present AS snap_present FROM {DELTA} AS d
    LEFT JOIN (SELECT * FROM {snapshot}) AS s ON s.key = d.k
    WHERE d.op IN ('create', 'update', 'clear')
), typed AS (
    SELECT d.op AS planned, d.k AS key, CASE WHEN {moved} THEN NULL ELSE d.record_id END AS record_id,
           CASE WHEN d.op = 'clear' THEN d.match_value ELSE m.match_value END AS match,
           d.op = 'update' AND m.match_value IS DISTINCT FROM d.match_value AS match_changed,
           CASE d.op WHEN 'create' THEN {created}
                     WHEN 'update' THEN (CASE WHEN d.snap_present AND NOT {moved} THEN {updated} ELSE {created} END)
                     ELSE {cleared} END AS changed,
           CASE WHEN d.op = 'clear' THEN struct_pack({nulls}) ELSE struct_pack({values}) END AS "values",
           d.h AS hash, m.err AS reason{", m.adopt_value" if spec.adopt is not None else ""}
    FROM d LEFT JOIN m ON m.k = d.k
)
SELECT CASE WHEN reason IS NOT NULL THEN 'rejected'
            WHEN planned = 'update' AND len(changed) = 0 AND NOT match_changed THEN 'refresh' ELSE planned END AS op,
       key, record_id, match, changed, "values", hash, reason, planned{adopt_column}
FROM typed"""


def _snap(name: str) -> str:
    path = '$."' + name.replace('"', '\\"') + '"'
    return f"json_extract_string(d.snap_fields, {literal(path)})"
