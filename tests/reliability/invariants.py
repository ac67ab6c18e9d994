"""What "nothing lost, nothing duplicated" means for field delivery, checked from the outside after the faults clear.

Three sources are compared, none of them trusted alone:

- the **destination's stored records** (an emulator's ``state()``, in process or from ``GET /_sandbox/state``);
- the **snapshot** in the control store (what syncer believes the destination confirmed);
- the **model** in the warehouse, through a dry-run plan: a plan with nothing to create, update or clear means the
  snapshot holds every model row's current values.

Plan empty and snapshot == destination together mean every model row reached the destination with its current
values. :func:`field_tally` returns counts rather than asserting, so the fault matrix and the crash soak report the
same figures; effects (tasks, alerts) will add their own counts beside these.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from syncer.config.sync import SyncConfig
from syncer.planning.planner import plan_sync
from syncer.state.base import StateStore
from syncer.warehouse.base import Warehouse


@dataclass(frozen=True)
class DestinationRecord:
    """One record as the destination holds it: the value of its match field and its field values."""

    match: str
    fields: Mapping[str, Any]


@dataclass
class FieldTally:
    """Counts of broken promises; all zero when field delivery kept its guarantees."""

    keys: int = 0  # model keys the plan saw (unchanged ones included)
    lost: int = 0  # model rows whose current values are not confirmed, or confirmed but absent at the destination
    duplicated: int = 0  # destination records beyond the first for one match value
    mismatched: int = 0  # confirmed rows whose values differ from what the destination holds
    examples: tuple[str, ...] = ()  # a few keys with what is wrong with them, for the failure message

    @property
    def clean(self) -> bool:
        return self.lost == 0 and self.duplicated == 0 and self.mismatched == 0

    def counts(self) -> dict[str, int]:
        return {k: v for k, v in asdict(self).items() if k != "examples"}


def destination_records(
    vendor: str, state: Mapping[str, Any], object_name: str, match_field: str
) -> list[DestinationRecord]:
    """The records of ``object_name`` in an emulator's ``state()`` document (``vendor``: hubspot, salesforce or
    webhook), each with its match value; records without one (seed data, other syncs) are left out."""
    if vendor == "hubspot":
        rows: Iterable[Mapping[str, Any]] = (r["properties"] for r in state["objects"][object_name])
    elif vendor == "salesforce":
        rows = state["objects"][object_name]
    elif vendor == "webhook":
        rows = ({**r["fields"], match_field: r["key"]} for r in state["records"] if r["object"] == object_name)
    else:
        raise ValueError(f"no field records for vendor {vendor!r}")
    return [DestinationRecord(str(r[match_field]), r) for r in rows if r.get(match_field) not in (None, "")]


def field_tally(
    sync: SyncConfig, store: StateStore, warehouse: Warehouse, records: list[DestinationRecord]
) -> FieldTally:
    """Check field delivery of ``sync`` against ``records``, the destination's records of its object."""
    by_match: dict[str, list[DestinationRecord]] = defaultdict(list)
    for record in records:
        by_match[record.match.lower()].append(record)
    tally = FieldTally()
    problems: list[str] = []
    tally.duplicated = sum(len(found) - 1 for found in by_match.values())
    problems += [f"{match}: {len(found)} records" for match, found in by_match.items() if len(found) > 1]
    plan = plan_sync(sync, store, warehouse)
    counts = plan.counts
    tally.keys = counts.create + counts.update + counts.unchanged
    tally.lost = counts.create + counts.update + counts.clear + plan.rejected_total
    if tally.lost:
        problems.append(f"the plan still has changes: {counts.as_dict()}, rejected {plan.rejected_total}")
    store.snapshot.flush(sync.name)
    relation = store.snapshot.relation(sync.name)
    rows = store.workspace().execute(f"SELECT key, match_value, fields FROM {relation} WHERE present").fetchall()
    for key, match, fields in rows:
        found = by_match.get(str(match or key).lower())
        if not found:
            tally.lost += 1
            problems.append(f"{key}: confirmed but not at the destination")
            continue
        wrong = {
            name: (want, found[0].fields.get(name))
            for name, want in json.loads(fields).items()
            if not same_value(want, found[0].fields.get(name))
        }
        if wrong:
            tally.mismatched += 1
            problems.append(f"{key}: {wrong}")
    tally.examples = tuple(problems[:5])
    return tally


def same_value(confirmed: Any, held: Any) -> bool:
    """Whether the normalised text syncer confirmed and the value a destination holds mean the same thing.

    Destinations store types of their own (Salesforce numbers and datetimes, HubSpot strings), so numbers compare
    as decimals, datetimes as instants and empty as empty.
    """
    if confirmed in (None, "") or held in (None, ""):
        return confirmed in (None, "") and held in (None, "")
    if str(confirmed) == str(held):
        return True
    try:
        return Decimal(str(confirmed)) == Decimal(str(held))
    except InvalidOperation:
        pass
    try:
        return _instant(str(confirmed)) == _instant(str(held))
    except ValueError:
        return False


def _instant(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError("a naive datetime is no instant")
    return moment
