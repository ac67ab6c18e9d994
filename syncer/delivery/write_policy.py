"""Field write policies (``overwrite:``) applied to a plan's updates, with the CRM's current values.

``overwrite: if_empty`` writes a field only while the CRM's value is empty; ``overwrite: unless_changed_in_crm``
writes it only while the CRM still holds what syncer last confirmed (the snapshot's value): a value a human typed
since is kept, and counted as drift. ``always`` (the default) needs no read.

Only the updates of records with a known id that change a policy field are read, in the destination's own batch
reads (:class:`syncer.contract.destination.RecordReader`), for those fields only. A kept field leaves the update's
``changed`` list, and its planned value becomes the snapshot's, so what the snapshot records stays what syncer last
confirmed and the next change is judged against it again; an update left with nothing to send becomes a
``refresh`` (bookkeeping, committed here). A create writes every field (a new record holds nothing), and so does an
update whose record id is not known yet (there is nothing to read by).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import duckdb
import pyarrow as pa

from syncer.commit import commit_confirmed
from syncer.config.sync import SyncConfig
from syncer.contract.destination import Destination, RecordReader
from syncer.contract.enums import Overwrite
from syncer.core.plan import ChangeOp, Plan
from syncer.core.sql import ident, literal
from syncer.planning.drift import READ_CHUNK, RecordsUnreadableError, same_value
from syncer.planning.planner import WorkspaceChanges
from syncer.state.base import StateStore

EXAMPLES = 5  # keys kept per field as examples in the report


@dataclass
class KeptValues:
    """The fields a policy kept as the CRM has them: per field, how many keys and a few example keys."""

    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    examples: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    refreshed: int = 0  # updates left with nothing to send

    def keep(self, name: str, key: str) -> None:
        self.counts[name] += 1
        if len(self.examples[name]) < EXAMPLES:
            self.examples[name].append(key)

    def summary(self) -> dict[str, dict[str, object]]:
        return {name: {"keys": n, "examples": self.examples[name]} for name, n in sorted(self.counts.items())}


def policies(sync: SyncConfig) -> dict[str, Overwrite]:
    """The fields of ``sync`` with a policy other than ``always``."""
    return {name: spec.overwrite for name, spec in sync.fields.items() if spec.overwrite is not Overwrite.ALWAYS}


def keep_crm_values(
    sync: SyncConfig, plan: Plan, store: StateStore, destination: Destination, now: datetime
) -> KeptValues:
    """Apply the policies of ``sync`` to the updates of ``plan`` (in its workspace table) before they are sent.

    Raises :class:`RecordsUnreadableError` when ``sync`` has policies and ``destination`` reads no records, and the
    destination's :class:`syncer.contract.errors.DeliveryError` when its read fails (nothing has been sent).
    """
    wanted = policies(sync)
    kept = KeptValues()
    if not wanted or plan.counts.update == 0 or not isinstance(plan.changes, WorkspaceChanges):
        return kept
    if not (destination.capabilities.reads_records and isinstance(destination, RecordReader)):
        raise RecordsUnreadableError(f"{sync.name}: overwrite policies need a destination that reads records")
    changes = plan.changes
    con = changes.connection
    snapshot = store.snapshot.relation(sync.name)
    fields_sql = ", ".join(literal(name) for name in wanted)
    rows = con.execute(f"""SELECT c.key, c.record_id,
                                  list_filter(c.changed, lambda x: list_contains([{fields_sql}], x)), s.fields
                           FROM {changes.table} AS c LEFT JOIN (SELECT * FROM {snapshot}) AS s ON s.key = c.key
                           WHERE c.op = 'update' AND c.record_id IS NOT NULL
                             AND list_has_any(c.changed, [{fields_sql}])
                           ORDER BY c.key""").fetchall()
    skipped: list[tuple[str, list[str]]] = []
    for start in range(0, len(rows), READ_CHUNK):
        chunk = rows[start : start + READ_CHUNK]
        names = sorted({name for row in chunk for name in row[2]})
        current = destination.read_records([str(row[1]) for row in chunk], names)
        for key, record_id, changed, snap_json in chunk:
            confirmed = _snapshot_values(snap_json)
            crm = current.get(str(record_id))
            if crm is None:
                continue  # the record is gone: the update's own reply says so
            held = [name for name in changed if _keeps(wanted[name], crm.get(name), confirmed.get(name))]
            for name in held:
                kept.keep(name, str(key))
            if held:
                skipped.append((str(key), held))
    if skipped:
        kept.refreshed = _rewrite(con, changes, snapshot, list(sync.fields), skipped)
        if kept.refreshed:
            keys = {k for k, _ in skipped}
            for batch in changes.batches(op=ChangeOp.REFRESH.value):
                mask = pa.array([k in keys for k in batch.column("key").to_pylist()])
                commit_confirmed(store, sync.name, batch.filter(mask), now)
    return kept


def _keeps(policy: Overwrite, crm: str | None, confirmed: str | None) -> bool:
    if policy is Overwrite.IF_EMPTY:
        return bool(crm)
    return not same_value(crm, confirmed)


def _snapshot_values(snap_json: str | None) -> Mapping[str, str | None]:
    """The snapshot's fields: a flat JSON object of texts."""
    if not snap_json:
        return {}
    loaded = json.loads(snap_json)
    return {str(k): None if v is None else str(v) for k, v in loaded.items()} if isinstance(loaded, dict) else {}


def _rewrite(
    con: duckdb.DuckDBPyConnection,
    changes: WorkspaceChanges,
    snapshot: str,
    fields: Sequence[str],
    skipped: list[tuple[str, list[str]]],
) -> int:
    """Drop the kept fields from ``changed`` and put the snapshot's values in their place; updates left empty become
    refreshes. Returns how many became refreshes."""
    kept = pa.table(
        {"key": [k for k, _ in skipped], "names": [n for _, n in skipped]},
        schema=pa.schema([("key", pa.string()), ("names", pa.list_(pa.string()))]),
    )
    con.register("kept_fields", kept)
    try:
        values = ", ".join(
            f"{ident(name)} := CASE WHEN list_contains(k.names, {literal(name)}) "
            f"THEN json_extract_string(s.fields, {literal('$.' + _json_key(name))}) "
            f'ELSE c."values".{ident(name)} END'
            for name in fields
        )
        con.execute(f"""CREATE TEMP TABLE kept_rows AS
            SELECT c.key, list_filter(c.changed, lambda x: NOT list_contains(k.names, x)) AS changed,
                   struct_pack({values}) AS "values"
            FROM {changes.table} AS c JOIN kept_fields AS k ON k.key = c.key
            LEFT JOIN (SELECT * FROM {snapshot}) AS s ON s.key = c.key""")
        con.execute(f"""UPDATE {changes.table} AS c SET changed = r.changed, "values" = r."values",
                        op = CASE WHEN len(r.changed) = 0 THEN 'refresh' ELSE c.op END
                        FROM kept_rows AS r WHERE r.key = c.key""")
        refreshed = con.execute(f"""SELECT count(*) FROM {changes.table} AS c JOIN kept_rows AS r ON r.key = c.key
                                    WHERE c.op = 'refresh'""").fetchall()[0][0]
    finally:
        con.execute("DROP TABLE IF EXISTS kept_rows")
        con.unregister("kept_fields")
    return int(refreshed)


def _json_key(name: str) -> str:
    return '"' + name.replace('"', '\\"') + '"'
