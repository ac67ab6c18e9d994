"""Trigger firings computed with the diff, as one SQL query per sync (pure: builds text, runs nothing).

A trigger is evaluated only for the keys the diff created or updated (``refresh`` rows moved no value; rejected,
cleared and unchanged keys never fire). Its ``when`` sees two relations, one row each per changed key:

- ``new``: every model column (as the model types it) plus every mapped field that is not also a model column
  (the field's normalised text after this change), so a condition may read a model column no field maps;
- ``old``: every mapped field as the destination last confirmed it (text from the snapshot), all null for a key
  the snapshot has never held.

This is the shape :func:`syncer.planning.validate._check_triggers` binds ``when`` against. A ``when`` that yields null
counts as false. A change to a model column that no field maps does not change the row hash, so it alone finds no
changed key and fires nothing: triggers react to what the sync writes.

Each firing is ``(trigger, key, owner, firing_id, new_row, old_row)``: ``owner`` the text of the trigger's
``owner_column`` in ``new``; ``new_row`` and ``old_row`` the two relations' rows as JSON objects (what the effect's
templates and its "what changed" read); ``firing_id`` the md5 of (sync, trigger, key, new row hash),
length-prefixed so parts cannot run into each other. The same change (same row hash) always yields the same firing
id, so a re-plan after a crash finds the effect's dedupe key again; any later change of the row yields a new one.
At most one firing per trigger and changed key: firings are bounded by ``triggers x (creates + updates)`` of one
plan.

The query uses only md5, length, ``||``, CAST, CASE and joins besides the JSON read of the snapshot's field text,
so it carries over to a warehouse dialect as the diff does.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

from syncer.config.sync import Trigger
from syncer.core.sql import ident, literal

FIRING_SCHEMA = pa.schema([("trigger", pa.string()), ("key", pa.string()), ("owner", pa.string()),
                           ("firing_id", pa.string()), ("new_row", pa.string()), ("old_row", pa.string())])
_KEY, _HASH, _VALUES = "__syncer_key", "__syncer_hash", "__syncer_values"


def firing_id_sql(sync: str, trigger: str, key: str, row_hash: str) -> str:
    """SQL for the firing id of ``key`` (SQL text) whose new row hash is ``row_hash`` (SQL, BIGINT)."""
    prefix = f"{len(sync)}:{sync}{len(trigger)}:{trigger}"
    return f"md5({literal(prefix)} || CAST(length({key}) AS VARCHAR) || ':' || {key} || CAST({row_hash} AS VARCHAR))"


def firings_sql(sync: str, triggers: Sequence[Trigger], key: str, model: str, model_columns: Sequence[str],
                fields: Sequence[str], changes: str, snapshot: str) -> str:
    """The query yielding :data:`FIRING_SCHEMA` rows, ordered by trigger and key.

    ``key``: the diff's normalised key expression over the alias ``model`` (:attr:`syncer.core.diff.DiffSpec.key`).
    ``model``: the staged model relation with ``model_columns``. ``fields``: the mapped field names. ``changes``:
    the plan's change rows (``op, key, values, hash``). ``snapshot``: the snapshot relation the diff read.
    """
    if not triggers:
        raise ValueError("no triggers to evaluate")
    taken = {name.casefold() for name in model_columns}
    field_columns = "".join(f", struct_extract(c.{_VALUES}, {literal(name)}) AS {ident(name)}"
                            for name in fields if name.casefold() not in taken)
    old_columns = "".join(f", json_extract_string(s.fields, {literal(_json_path(name))}) AS {ident(name)}"
                          for name in fields)
    new_names = [*model_columns, *(name for name in fields if name.casefold() not in taken)]
    new_json = _json_object("new", new_names)
    old_json = _json_object("old", fields)
    selects = [
        f"SELECT {literal(t.name)} AS trigger, new.{_KEY} AS key, "
        f"CAST(new.{ident(t.owner_column)} AS VARCHAR) AS owner, "
        f"{firing_id_sql(sync, t.name, f'new.{_KEY}', f'new.{_HASH}')} AS firing_id, "
        f"{new_json} AS new_row, {old_json} AS old_row\n"
        f"FROM __syncer_new AS new JOIN __syncer_old AS old ON old.{_KEY} = new.{_KEY}\n"
        f"WHERE CASE WHEN ({t.when}) THEN TRUE ELSE FALSE END"
        for t in triggers]
    union = "\nUNION ALL\n".join(selects)
    return f"""
WITH __syncer_changed AS (
    SELECT key AS {_KEY}, hash AS {_HASH}, "values" AS {_VALUES} FROM {changes} WHERE op IN ('create', 'update')
), __syncer_new AS (
    SELECT model.*{field_columns}, c.{_KEY}, c.{_HASH}
    FROM {model} AS model JOIN __syncer_changed AS c ON {key} = c.{_KEY}
), __syncer_old AS (
    SELECT c.{_KEY}{old_columns}
    FROM __syncer_changed AS c LEFT JOIN (SELECT * FROM {snapshot}) AS s ON s.key = c.{_KEY}
)
SELECT trigger, key, owner, firing_id, new_row, old_row FROM (
{union}
) AS firings
ORDER BY trigger, key"""


def _json_object(alias: str, names: Sequence[str]) -> str:
    """SQL for the row of ``alias`` as a JSON object text with ``names`` as its keys."""
    if not names:
        return "'{}'"
    members = ", ".join(f"{literal(name)}, {alias}.{ident(name)}" for name in names)
    return f"CAST(json_object({members}) AS VARCHAR)"


def _json_path(name: str) -> str:
    return '$."' + name.replace('"', '\\"') + '"'
