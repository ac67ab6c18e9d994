"""Planning at the edge: stage the model in the workspace, run the core's diff SQL, return a :class:`Plan`.

This module does the I/O (warehouse, workspace); every decision it runs was built by :mod:`syncer.core`.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from typing import Protocol

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from syncer.config.alerts import AlertPolicy, FirstRunPolicy
from syncer.config.sync import FieldSpec, Guards, SyncConfig
from syncer.contract.clock import monotonic
from syncer.contract.enums import SyncMode
from syncer.core.diff import (
    DiffSpec,
    changes_sql,
    counts_sql,
    current_sql,
    delta_counts_sql,
    delta_sql,
    rejected_sql,
    skip_creates_sql,
)
from syncer.core.fields import column_type, field_sql, identity_sql
from syncer.core.guards import evaluate_guards
from syncer.core.plan import PLAN_OPS, ChangeCounts, Plan, RejectedRow
from syncer.core.sql import ident, literal
from syncer.core.templates import template_columns
from syncer.core.triggers import FIRING_SCHEMA, LANDING_SCHEMA, firings_sql, landings_sql
from syncer.planning.render import register_functions
from syncer.state.base import RunStatus, StateStore
from syncer.state.workspace import PLANS_CATALOG
from syncer.warehouse.base import Warehouse, WarehouseError

REJECTED_KEPT = 1000  # rejected rows kept in the plan (with reasons); the count is always exact
UNRESOLVED_KEPT = 50  # unresolved owner e-mails listed in the plan (with reasons); the count is always exact
OWNER_ID, OWNER_REASON = "__syncer_owner_id", "__syncer_owner_reason"  # columns the owner lookup adds to the model


class OwnerLookup(Protocol):
    """The destination's owners, for a destination's ``owner:``: ``field`` is where the owner id is written
    (``hubspot_owner_id``, ``OwnerId``); ``resolve`` answers each e-mail with an active user's id, or ``None``
    and the reason (unknown, departed, inactive). Raises the connector's delivery errors."""

    @property
    def field(self) -> str: ...

    def resolve(self, emails: Sequence[str]) -> Mapping[str, tuple[str | None, str]]: ...


_plan_numbers = itertools.count(1)


class WorkspaceChanges:
    """:class:`syncer.core.plan.ChangeRows` kept in a table of the planning workspace's in-memory plans catalog.

    DuckDB holds the rows (spilling to disk past its memory cap) and streams them out in key order, in Arrow
    batches, on a cursor of its own. The table is written once; it lives until the next plan of the same sync
    in this workspace replaces it, so a daemon planning every few minutes holds one such table per sync.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, table: str, count: int) -> None:
        self._con, self._table, self._count = con, table, count

    @classmethod
    def create(cls, con: duckdb.DuckDBPyConnection, sync: str, select: str) -> WorkspaceChanges:
        prefix = f"changes_{sync}_"
        stale = con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = ? AND starts_with(table_name, ?)",
            [PLANS_CATALOG, prefix],
        ).fetchall()
        for (name,) in stale:
            con.execute(f"DROP TABLE {PLANS_CATALOG}.main.{ident(str(name))}")
        table = f"{PLANS_CATALOG}.main.{prefix}{next(_plan_numbers)}"
        con.execute(f"CREATE TABLE {table} AS {select}")
        count = int(con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])
        return cls(con, table, count)

    def take_rejected(self) -> list[tuple[str, str, str]]:
        """Remove the rows a template failed on; return them as ``(key, reason, planned op)``."""
        rows = self._con.execute(
            f"SELECT key, reason, planned FROM {self._table} WHERE op = 'rejected' ORDER BY key"
        ).fetchall()
        if rows:
            self._con.execute(f"DELETE FROM {self._table} WHERE op = 'rejected'")
            self._count -= len(rows)
        return [(str(key), str(reason), str(planned)) for key, reason, planned in rows]

    @property
    def count(self) -> int:
        return self._count

    @property
    def connection(self) -> duckdb.DuckDBPyConnection:
        """The workspace connection holding the table (a write policy rewrites rows in place before delivery)."""
        return self._con

    @property
    def table(self) -> str:
        """The qualified name of the workspace table holding the rows."""
        return self._table

    def count_op(self, op: str) -> int:
        return int(self._con.execute(f"SELECT count(*) FROM {self._table} WHERE op = ?", [op]).fetchall()[0][0])

    def _select(self, op: str | None, limit: int | None) -> str:
        if op is not None and op not in PLAN_OPS:
            raise ValueError(f"unknown change op '{op}'")
        where = "" if op is None else f" WHERE op = '{op}'"
        return f"SELECT * EXCLUDE (reason, planned) FROM {self._table}{where} ORDER BY key" + (
            "" if limit is None else f" LIMIT {int(limit)}"
        )

    def batches(self, size: int = 10_000, op: str | None = None) -> Iterator[pa.RecordBatch]:
        cursor = self._con.cursor()  # its own open result: the caller may commit on the workspace meanwhile
        try:
            for batch in cursor.sql(self._select(op, None)).to_arrow_reader(size):
                if batch.num_rows:
                    yield batch
        finally:
            cursor.close()

    def to_table(self, op: str | None = None, limit: int | None = None) -> pa.Table:
        return self._con.sql(self._select(op, limit)).to_arrow_table()


def sudden_creates(store: StateStore, sync: str, model_rows: int, creates: int) -> int:
    """The creates the create guard weighs: those the model's growth since the last run that delivered explains.

    Creates left over from a sync that has not finished its backfill (a first run stopped by a daily limit, killed,
    or blocked) are rows the model already returned before, not a sudden change: they do not count. A model that
    returns ten times the rows of the last delivered run grew by nine times, and those count.
    """
    delivered = (RunStatus.SUCCEEDED, RunStatus.PARTIAL)
    previous = next(
        (
            run.model_rows
            for run in store.runs.recent(sync, limit=50)
            if run.status in delivered and run.model_rows is not None and not run.dry_run
        ),
        None,
    )
    if previous is None:
        return 0
    return min(creates, max(0, model_rows - previous))


def tasks_created(sync: SyncConfig, firings: pa.Table, alerts: AlertPolicy, *, first_run: bool) -> int:
    """How many CRM tasks the plan's ``firings`` would create: one per firing of a trigger with a task, except, on
    a ``first_run`` (as :func:`syncer.effects.engine.is_first_run` decides), those of triggers whose first-run rule
    is ``skip`` (recorded, not created). Conservative otherwise: a task already staged by an earlier run counts."""
    with_tasks = [
        t.name
        for t in sync.triggers
        if t.task is not None
        and not (first_run and alerts.rules_for(sync.name, t.name).first_run is FirstRunPolicy.SKIP)
    ]
    if not with_tasks or firings.num_rows == 0:
        return 0
    return int(pc.sum(pc.is_in(firings.column("trigger"), value_set=pa.array(with_tasks, pa.string()))).as_py() or 0)


class PlanError(Exception):
    """The model could not be planned (the warehouse failed, or the model lacks a column the mapping needs)."""


def model_columns(con: duckdb.DuckDBPyConnection, model: str) -> dict[str, str]:
    """Column name -> DuckDB type of the staged ``model`` relation."""
    return {str(row[0]): str(row[1]) for row in con.execute(f"DESCRIBE SELECT * FROM {model} AS model").fetchall()}


def owned_fields(sync: SyncConfig, owner_field: str | None) -> dict[str, FieldSpec]:
    """The sync's fields, plus the owner field fed by the owner lookup's column when the destination has ``owner:``
    (the resolved id is a field like any other: the diff sends it only when it changed)."""
    if owner_field is None or sync.destination is None or sync.destination.owner is None:
        return dict(sync.fields)
    return {**sync.fields, owner_field: FieldSpec(source=OWNER_ID)}


def diff_spec(sync: SyncConfig, column_types: dict[str, str], owner_field: str | None = None) -> DiffSpec:
    """What the diff needs for ``sync`` over a model with ``column_types`` (names resolve case-insensitively);
    ``owner_field``: where the resolved owner goes (the model then has the lookup's columns)."""
    mapped = owned_fields(sync, owner_field)
    fields = tuple(field_sql(name, spec, column_types) for name, spec in mapped.items())
    match = sync.match
    identity_columns = {sync.key.casefold(), match.column.casefold()}
    # A clear never empties what identifies the record (the match field, the key or match value written to a
    # field) nor what the mapping requires or marks ``clear: false``.
    kept = frozenset(
        name
        for name, spec in mapped.items()
        if not spec.clear
        or spec.required
        or name == match.field
        or (spec.source is not None and spec.source.casefold() in identity_columns)
    )
    dest = sync.destination
    adopt = None
    if dest is not None and dest.adopt_by is not None:
        column = dest.adopt_by.column
        adopt = identity_sql(ident(column), column_type(column_types, column) or "VARCHAR")
    owner = frozenset({owner_field}) if owner_field is not None and dest is not None and dest.owner else frozenset()
    row_errors: tuple[str, ...] = ()
    if owner and dest is not None and dest.owner is not None and dest.owner.required:
        row_errors = (f"CASE WHEN {ident(OWNER_ID)} IS NULL THEN 'owner required: ' || {ident(OWNER_REASON)} END",)
    return DiffSpec(
        key=identity_sql(ident(sync.key), column_type(column_types, sync.key) or "VARCHAR"),
        match=identity_sql(ident(match.column), column_type(column_types, match.column) or "VARCHAR"),
        match_column=match.column,
        fields=fields,
        on_remove=sync.removal,
        match_required=sync.mode is SyncMode.UPDATE,
        kept_on_clear=kept | owner,
        adopt=adopt,
        row_errors=row_errors,
        never_emptied=owner,
    )


def model_inputs(sync: SyncConfig) -> set[str] | None:
    """The model columns the plan reads: only these are staged (the model may have many more). None: every column,
    as a trigger's ``when`` may read any model column."""
    if sync.triggers:
        return None
    used = {sync.key, sync.match.column}
    if sync.destination is not None:
        dest = sync.destination
        used |= {dest.adopt_by.column} if dest.adopt_by is not None else set()
        used |= {dest.owner.column} if dest.owner is not None else set()
        if dest.create_when is not None:
            return None  # the condition may read any model column
    for spec in sync.fields.values():
        used |= {spec.source} if spec.source else set(template_columns(spec.template)) if spec.template else set()
    return used


def plan_sync(
    sync: SyncConfig,
    store: StateStore,
    warehouse: Warehouse,
    batch_size: int = 50_000,
    guards: Guards | None = None,
    alerts: AlertPolicy | None = None,
    owners: OwnerLookup | None = None,
) -> Plan:
    """Diff the model of ``sync`` against its confirmed snapshot. Sends nothing, changes no state.

    ``guards``: the project's default limits (``defaults.guards``), which the mapping's ``guards:`` override; the
    plan carries the limits it goes past (:attr:`Plan.guard_trips`). ``alerts``: the project's alert policy
    (default: its defaults), whose first-run rules say which firings' tasks a first run records without creating;
    the others count against ``max_tasks_per_run``. ``owners``: the destination's owner lookup, which a
    destination's ``owner:`` needs (its unresolved e-mails are listed in ``meta["owners"]``).
    """
    if sync.destination is not None and sync.destination.owner is not None and owners is None:
        raise PlanError(
            f"{sync.name}: the destination sets the record owner, but no owner lookup was given for "
            f"{sync.destination.connector}"
        )
    started = monotonic()
    con = store.workspace()
    register_functions(con)
    try:
        model = warehouse.stage(con, sync.model.query, batch_size, model_inputs(sync))
    except WarehouseError as exc:
        raise PlanError(f"{sync.name}: the warehouse could not run the model: {exc}") from exc
    try:
        limits = (guards or Guards()).overridden(sync.guards)
        return _plan_staged(sync, store, con, model, started, warehouse.url, limits, alerts or AlertPolicy(), owners)
    finally:
        warehouse.release(con)


def _resolve_owners(
    sync: SyncConfig, con: duckdb.DuckDBPyConnection, model: str, column: str, owners: OwnerLookup
) -> tuple[str, dict[str, object]]:
    """Resolve every distinct owner e-mail of the model once; return the model with the lookup's two columns (a
    view) and what did not resolve: ``{"unresolved": rows, "reasons": [{email, reason, rows}]}``."""
    email = f"lower(trim(CAST(model.{ident(column)} AS VARCHAR)))"
    emails = [
        str(e) for (e,) in con.execute(f"SELECT DISTINCT {email} FROM {model} AS model WHERE {email} <> ''").fetchall()
    ]
    try:
        answered = owners.resolve(emails) if emails else {}
    except Exception as exc:
        raise PlanError(f"{sync.name}: the owners could not be read: {str(exc).splitlines()[0]}") from exc
    table = pa.table(
        {
            "email": pa.array(emails, pa.string()),
            "owner_id": pa.array([answered.get(e, (None, ""))[0] for e in emails], pa.string()),
            "reason": pa.array([answered.get(e, (None, "no such user"))[1] or "" for e in emails], pa.string()),
        }
    )
    con.register("__syncer_owner_answers", table)
    con.execute("CREATE OR REPLACE TEMP TABLE __syncer_owners AS SELECT * FROM __syncer_owner_answers")
    con.unregister("__syncer_owner_answers")
    empty = literal(f"the owner column {column} is empty")
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW __syncer_owned AS SELECT model.*, o.owner_id AS {ident(OWNER_ID)}, "
        f"CASE WHEN o.owner_id IS NOT NULL THEN NULL WHEN o.email IS NULL THEN {empty} "
        f"ELSE o.email || ': ' || o.reason END AS {ident(OWNER_REASON)} "
        f"FROM {model} AS model LEFT JOIN __syncer_owners AS o ON o.email = {email}"
    )
    unresolved = con.execute(
        f"SELECT {ident(OWNER_REASON)}, count(*) FROM __syncer_owned "
        f"WHERE {ident(OWNER_ID)} IS NULL GROUP BY ALL ORDER BY 2 DESC, 1"
    ).fetchall()
    report: dict[str, object] = {
        "field": owners.field,
        "unresolved": sum(int(n) for _, n in unresolved),
        "reasons": [{"reason": str(r), "rows": int(n)} for r, n in unresolved[:UNRESOLVED_KEPT]],
    }
    return "__syncer_owned", report


def _plan_staged(
    sync: SyncConfig,
    store: StateStore,
    con: duckdb.DuckDBPyConnection,
    model: str,
    started: float,
    source: str,
    limits: Guards,
    alerts: AlertPolicy,
    owners: OwnerLookup | None = None,
) -> Plan:
    column_types = model_columns(con, model)
    trigger_columns = list(column_types)
    dest = sync.destination
    needed = {sync.key, sync.match.column} | {s.source for s in sync.fields.values() if s.source}
    needed |= {trigger.owner_column for trigger in sync.triggers}
    needed |= {dest.adopt_by.column} if dest is not None and dest.adopt_by is not None else set()
    needed |= {dest.owner.column} if dest is not None and dest.owner is not None else set()
    missing = sorted(name for name in needed if column_type(column_types, name) is None)
    if missing:
        raise PlanError(f"{sync.name}: the model has no column {', '.join(missing)} (run 'syncer validate')")
    owner_report: dict[str, object] | None = None
    owner_field = None
    if dest is not None and dest.owner is not None and owners is not None:
        model, owner_report = _resolve_owners(sync, con, model, dest.owner.column, owners)
        column_types, owner_field = model_columns(con, model), owners.field
    spec = diff_spec(sync, column_types, owner_field)
    snapshot = store.snapshot.relation(sync.name)
    try:
        con.execute(current_sql(spec, model))
        con.execute(delta_sql(spec, snapshot))
        if dest is not None and dest.create_when is not None:
            con.execute(skip_creates_sql(spec, model, dest.create_when))
        counted = con.execute(counts_sql()).fetchall()[0]
        by_op = {str(op): int(n) for op, n in con.execute(delta_counts_sql()).fetchall()}
        changes = WorkspaceChanges.create(con, sync.name, changes_sql(spec, model, snapshot))
        rejected_rows = con.execute(rejected_sql(REJECTED_KEPT)).fetchall()
        synced = int(con.execute(f"SELECT count(*) FROM {snapshot} AS s WHERE present").fetchall()[0][0])
    except duckdb.Error as exc:
        raise PlanError(f"{sync.name}: planning failed: {str(exc).splitlines()[0]}") from exc
    failed = changes.take_rejected()  # rows a template failed on, found while rendering the changed keys
    firings, fired_at, fired_in = FIRING_SCHEMA.empty_table(), monotonic(), 0.0
    landings = LANDING_SCHEMA.empty_table()
    if sync.triggers:  # evaluated over the change rows, so only the changed keys are read
        con.register("__syncer_crossings", store.crossings.table(sync.name))
        query = firings_sql(
            sync.name,
            sync.triggers,
            spec.key,
            model,
            trigger_columns,
            list(sync.fields),
            changes.table,
            snapshot,
            "__syncer_crossings",
        )
        try:
            firings = con.sql(query).to_arrow_table().cast(FIRING_SCHEMA)
            landings = con.sql(landings_sql(changes.table, snapshot, "__syncer_crossings")).to_arrow_table()
        except duckdb.Error as exc:
            raise PlanError(
                f"{sync.name}: a trigger condition failed: {str(exc).splitlines()[0]} (run 'syncer validate')"
            ) from exc
        finally:
            con.unregister("__syncer_crossings")
        fired_in = monotonic() - fired_at
    rejected = tuple(
        sorted(
            [RejectedRow(key, reason) for key, reason in rejected_rows]
            + [RejectedRow(key, reason) for key, reason, _ in failed],
            key=lambda row: (row.key is not None, row.key or ""),
        )
    )[:REJECTED_KEPT]
    model_rows, valid_keys = int(counted[0]), int(counted[1])
    refreshed = changes.count_op("refresh") if by_op.get("update") else 0
    failed_creates = sum(1 for *_, planned in failed if planned == "create")
    counts = ChangeCounts(
        create=by_op.get("create", 0) - failed_creates,
        update=by_op.get("update", 0) - refreshed - (len(failed) - failed_creates),
        clear=by_op.get("clear", 0),
        unchanged=valid_keys - by_op.get("create", 0) - by_op.get("update", 0) + refreshed - by_op.get("skipped", 0),
        removed=by_op.get("removed", 0),
        skipped=by_op.get("skipped", 0),
    )
    meta: dict[str, object] = {"seconds": round(monotonic() - started, 3), "warehouse": source}
    if sync.triggers:
        meta["trigger_seconds"] = round(fired_in, 3)
    if owner_report is not None:
        meta["owners"] = owner_report
    tasks = 0
    if firings.num_rows and any(trigger.task is not None for trigger in sync.triggers):
        tasks = tasks_created(sync, firings, alerts, first_run=synced == 0 or not store.runs.has_finished(sync.name))
    trips = evaluate_guards(
        limits,
        model_rows,
        counts.update,
        counts.clear,
        synced,
        creates=sudden_creates(store, sync.name, model_rows, counts.create),
        tasks=tasks,
    )
    return Plan(
        sync.name,
        tuple(owned_fields(sync, owner_field)),
        model_rows,
        counts,
        changes,
        rejected,
        by_op.get("rejected", 0) + len(failed),
        meta,
        synced,
        trips,
        firings,
        landings.cast(LANDING_SCHEMA),
    )
