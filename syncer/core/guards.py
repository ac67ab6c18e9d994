"""Mass-change guardrails: decide, from a plan's counts and the snapshot's size, whether a run may go ahead (pure).

A model that a broken upstream job emptied, or a rebuild that re-typed a column, looks to a diff like "clear
everything" or "update everything". Sending that would overwrite the CRM. :func:`evaluate_guards` names every limit
a plan goes past; the run is refused (``RunStatus.BLOCKED``) unless the operator allows it once
(``syncer run SYNC --allow-mass-change``) or raises the limit in the mapping's ``guards:``.

Rules, with ``synced`` the keys the snapshot holds as present:

- ``max_clear_percent``: trips when ``clears / synced`` is *more than* the limit;
- ``max_update_percent``: trips when ``updates / synced`` is *more than* the limit (``refresh`` rows send nothing
  and do not count);
- both only when ``synced >= min_records``: a small sync may legitimately change most of its rows;
- ``allow_empty_model: false``: trips when the model returned no rows while ``synced > 0``, whatever its size.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from syncer.config.sync import Guards


class Guard(StrEnum):
    """Which limit tripped; the value is the setting's name under ``guards:``."""

    MAX_CLEAR_PERCENT = "max_clear_percent"
    MAX_UPDATE_PERCENT = "max_update_percent"
    ALLOW_EMPTY_MODEL = "allow_empty_model"


@dataclass(frozen=True)
class GuardTrip:
    """One limit a plan goes past: ``count`` of the ``synced`` records would change, beyond ``threshold``.

    For :attr:`Guard.ALLOW_EMPTY_MODEL`, ``count`` is the model's rows (0) and ``threshold`` is 0.
    """

    guard: Guard
    count: int
    synced: int
    threshold: float

    @property
    def percent(self) -> float:
        return 100.0 * self.count / self.synced if self.synced else 0.0

    def describe(self) -> str:
        """What the run would have done, in words: ``would clear 300 of 1000 synced records (30%, ...)``."""
        if self.guard is Guard.ALLOW_EMPTY_MODEL:
            return (f"the model returned no rows while {self.synced} records are synced "
                    "(allow_empty_model is false)")
        verb = "clear" if self.guard is Guard.MAX_CLEAR_PERCENT else "update"
        return (f"would {verb} {self.count} of {self.synced} synced records ({self.percent:.3g}%, "
                f"more than {self.guard.value} {self.threshold:g})")

    def as_dict(self) -> dict[str, object]:
        return {"guard": self.guard.value, "count": self.count, "synced": self.synced,
                "percent": round(self.percent, 2), "threshold": self.threshold, "message": self.describe()}


def evaluate_guards(limits: Guards, model_rows: int, updates: int, clears: int, synced: int) -> tuple[GuardTrip, ...]:
    """Every limit of ``limits`` that a plan with these counts goes past, in a fixed order (empty: it may run)."""
    trips: list[GuardTrip] = []
    if model_rows == 0 and synced > 0 and not limits.allow_empty_model:
        trips.append(GuardTrip(Guard.ALLOW_EMPTY_MODEL, 0, synced, 0))
    if synced == 0 or synced < limits.min_records:
        return tuple(trips)
    # Compare count * 100 with limit * synced: no division, so "exactly at the limit" is exact.
    if clears * 100 > limits.max_clear_percent * synced:
        trips.append(GuardTrip(Guard.MAX_CLEAR_PERCENT, clears, synced, limits.max_clear_percent))
    if updates * 100 > limits.max_update_percent * synced:
        trips.append(GuardTrip(Guard.MAX_UPDATE_PERCENT, updates, synced, limits.max_update_percent))
    return tuple(trips)


def allow_hint(sync: str) -> str:
    """How an operator lets a guarded change through."""
    return (f"allow it once with 'syncer run {sync} --allow-mass-change', or for good by raising the limit "
            "under 'guards:' in the mapping")
