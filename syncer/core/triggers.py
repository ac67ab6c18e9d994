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

Each firing is ``(trigger, key, owner, firing_id, new_row, old_row, crossing, row_hash)``: ``owner`` the text of
the trigger's ``owner_column`` in ``new``; ``new_row`` and ``old_row`` the two relations' rows as JSON objects (what
the effect's templates and its "what changed" read); ``row_hash`` the new row's hash; ``crossing`` which crossing of
the condition this is for the trigger and key; ``firing_id`` the md5 of (sync, trigger, key, new row hash, and the
crossing after the first), length-prefixed so parts cannot run into each other. At most one firing per trigger and
changed key: firings are bounded by ``triggers x (creates + updates)`` of one plan.

**Crossings.** A firing's identity must tell a second crossing from a re-plan of the first, even when an account
falls and rises back to exactly the same values (the same row hash). The state keeps, per trigger and key
(:data:`CROSSING_SCHEMA`, :mod:`syncer.state.crossings`), the crossing that fired last, the row hash it fired at,
and whether that row has since *landed* (the snapshot held it). A firing is the same crossing as the last one while
the fired row has not landed (a crash before its fields were committed, a row the destination refused: the re-plan
finds the same id, so tasks and alerts stay exactly-once); once it has landed, the next firing is crossing + 1,
whatever its values. The landing is seen by the next plan that changes the key (its snapshot row then has the fired
hash): :func:`landings_sql` lists those, and the runner records them with the firings it staged.

The query uses only md5, length, ``||``, CAST, CASE and joins besides the JSON read of the snapshot's field text,
so it carries over to a warehouse dialect as the diff does.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

from syncer.config.sync import Trigger
from syncer.core.sql import ident, literal

FIRING_SCHEMA = pa.schema(
    [
        ("trigger", pa.string()),
        ("key", pa.string()),
        ("owner", pa.string()),
        ("firing_id", pa.string()),
        ("new_row", pa.string()),
        ("old_row", pa.string()),
        ("crossing", pa.int64()),
        ("row_hash", pa.int64()),
    ]
)
# Per trigger and key: the crossing that fired last, the new-row hash it fired at, whether that row has landed.
CROSSING_SCHEMA = pa.schema(
    [
        ("trigger", pa.string()),
        ("key", pa.string()),
        ("crossing", pa.int64()),
        ("fired_hash", pa.int64()),
        ("landed", pa.bool_()),
    ]
)
# Fired rows that the snapshot was found holding: ``(trigger, key)``.
LANDING_SCHEMA = pa.schema([("trigger", pa.string()), ("key", pa.string())])
_KEY, _HASH, _VALUES, _OLD_HASH = "__syncer_key", "__syncer_hash", "__syncer_values", "__syncer_old_hash"
_NO_CROSSINGS = (
    "(SELECT CAST(NULL AS VARCHAR) AS trigger, CAST(NULL AS VARCHAR) AS key, "
    "CAST(NULL AS BIGINT) AS crossing, CAST(NULL AS BIGINT) AS fired_hash, "
    "CAST(NULL AS BOOLEAN) AS landed WHERE FALSE)"
)


def firing_id_sql(sync: str, trigger: str, key: str, row_hash: str, crossing: str = "1") -> str:
    """SQL for the firing id of ``key`` (SQL text) whose new row hash is ``row_hash`` (SQL, BIGINT), at crossing
    ``crossing`` (SQL, BIGINT). The first crossing's id is the md5 of sync, trigger, key and hash alone (as before
    crossings were counted, so an intent staged then is found again); later ones append ``#<crossing>``."""
    prefix = f"{len(sync)}:{sync}{len(trigger)}:{trigger}"
    nth = f"CASE WHEN {crossing} > 1 THEN '#' || CAST({crossing} AS VARCHAR) ELSE '' END"
    return (
        f"md5({literal(prefix)} || CAST(length({key}) AS VARCHAR) || ':' || {key} || CAST({row_hash} AS VARCHAR)"
        f" || {nth})"
    )


def crossing_sql(state: str, old_hash: str) -> str:
    """SQL for the crossing a firing is, given the trigger-and-key's ``state`` row (alias; all null when none) and
    the snapshot's ``old_hash`` for the key: the first; the last one again while its row has not landed; the next
    once it has (it landed before, or the snapshot holds it now)."""
    return (
        f"CASE WHEN {state}.crossing IS NULL THEN 1 "
        f"WHEN {state}.landed OR {state}.fired_hash = {old_hash} THEN {state}.crossing + 1 "
        f"ELSE {state}.crossing END"
    )


def landings_sql(changes: str, snapshot: str, crossings: str) -> str:
    """The query yielding :data:`LANDING_SCHEMA` rows: trigger-and-key states not yet landed whose key this plan
    changes (any op) while the snapshot holds the fired row. Every snapshot change comes from a planned change, so
    no landing goes unseen."""
    return (
        f"SELECT x.trigger, x.key FROM {crossings} AS x JOIN (SELECT DISTINCT key FROM {changes}) AS c "
        f"ON c.key = x.key JOIN (SELECT * FROM {snapshot}) AS s ON s.key = x.key "
        f"WHERE NOT x.landed AND s.row_hash = x.fired_hash ORDER BY x.trigger, x.key"
    )


def firings_sql(
    sync: str,
    triggers: Sequence[Trigger],
    key: str,
    model: str,
    model_columns: Sequence[str],
    fields: Sequence[str],
    changes: str,
    snapshot: str,
    crossings: str | None = None,
) -> str:
    """The query yielding :data:`FIRING_SCHEMA` rows, ordered by trigger and key.

    ``key``: the diff's normalised key expression over the alias ``model`` (:attr:`syncer.core.diff.DiffSpec.key`).
    ``model``: the staged model relation with ``model_columns``. ``fields``: the mapped field names. ``changes``:
    the plan's change rows (``op, key, values, hash``). ``snapshot``: the snapshot relation the diff read.
    ``crossings``: the sync's :data:`CROSSING_SCHEMA` relation (None: no trigger has fired yet).
    """
    if not triggers:
        raise ValueError("no triggers to evaluate")
    taken = {name.casefold() for name in model_columns}
    field_columns = "".join(
        f", struct_extract(c.{_VALUES}, {literal(name)}) AS {ident(name)}"
        for name in fields
        if name.casefold() not in taken
    )
    old_columns = "".join(
        f", json_extract_string(s.fields, {literal(_json_path(name))}) AS {ident(name)}" for name in fields
    )
    new_names = [*model_columns, *(name for name in fields if name.casefold() not in taken)]
    new_json = _json_object("new", new_names)
    old_json = _json_object("old", fields)
    state = crossings or _NO_CROSSINGS
    crossing = crossing_sql("x", f"old.{_OLD_HASH}")
    selects = [
        f"SELECT {literal(t.name)} AS trigger, new.{_KEY} AS key, "
        f"CAST(new.{ident(t.owner_column)} AS VARCHAR) AS owner, "
        f"{firing_id_sql(sync, t.name, f'new.{_KEY}', f'new.{_HASH}', crossing)} AS firing_id, "
        f"{new_json} AS new_row, {old_json} AS old_row, {crossing} AS crossing, new.{_HASH} AS row_hash\n"
        f"FROM __syncer_new AS new JOIN __syncer_old AS old ON old.{_KEY} = new.{_KEY}\n"
        f"LEFT JOIN {state} AS x ON x.trigger = {literal(t.name)} AND x.key = new.{_KEY}\n"
        f"WHERE CASE WHEN ({t.when}) THEN TRUE ELSE FALSE END"
        for t in triggers
    ]
    union = "\nUNION ALL\n".join(selects)
    return f"""
WITH __syncer_changed AS (
    SELECT key AS {_KEY}, hash AS {_HASH}, "values" AS {_VALUES} FROM {changes} WHERE op IN ('create', 'update')
), __syncer_new AS (
    SELECT model.*{field_columns}, c.{_KEY}, c.{_HASH}
    FROM {model} AS model JOIN __syncer_changed AS c ON {key} = c.{_KEY}
), __syncer_old AS (
    SELECT c.{_KEY}, s.row_hash AS {_OLD_HASH}{old_columns}
    FROM __syncer_changed AS c LEFT JOIN (SELECT * FROM {snapshot}) AS s ON s.key = c.{_KEY}
)
SELECT trigger, key, owner, firing_id, new_row, old_row, crossing, row_hash FROM (
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
