"""Previewing adoption for ``syncer plan``: which planned creates would adopt a record that already exists.

A plan computed from the warehouse and the snapshot alone counts every new key as a ``create``. When the sync
has ``adopt_by`` and its destination is an :class:`~syncer.contract.destination.AdoptionFinder`, the creates'
adopt values are looked up there (read-only, with the lookup the write path makes) and split into those a run
would adopt, those it would reject as ambiguous (naming the candidates), and the true creates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from syncer.contract.destination import AdoptionFinder
from syncer.core.plan import ChangeOp, Plan


@dataclass(frozen=True)
class AdoptionPreview:
    """``adopt``: creates that would update an existing record found by the adopt field; ``ambiguous``: by key,
    the ids of the two or more records a create would be rejected between; ``create``: the creates left."""

    create: int
    adopt: int
    ambiguous: dict[str, list[str]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "create": self.create,
            "adopt": self.adopt,
            "ambiguous": [{"key": key, "ids": ids} for key, ids in sorted(self.ambiguous.items())],
        }


def preview_adoption(plan: Plan, finder: AdoptionFinder, batch_size: int) -> AdoptionPreview:
    """Ask ``finder`` about ``plan``'s creates carrying an adopt and a match value, ``batch_size`` at a time. Writes
    nothing; raises what the finder raises when the destination refuses the read."""
    adopt = 0
    ambiguous: dict[str, list[str]] = {}
    for batch in plan.changes.batches(batch_size, ChangeOp.CREATE):
        rows = batch.to_pylist()
        wanted = [(str(r["adopt"]), str(r["match"])) for r in rows if r.get("adopt") and r.get("match")]
        if not wanted:
            continue
        found = finder.find_adoptable(wanted)
        for row in rows:
            candidates = list(found.get(str(row["match"]), [])) if row.get("adopt") and row.get("match") else []
            if len(candidates) == 1:
                adopt += 1
            elif candidates:
                ambiguous[str(row["key"])] = candidates
    return AdoptionPreview(plan.counts.create - adopt - len(ambiguous), adopt, ambiguous)
