"""Mass-change guardrails: decide, from a plan's counts and the snapshot's size, whether a run may go ahead (pure).

A model that a broken upstream job emptied, or a rebuild that re-typed a column, looks to a diff like "clear
everything" or "update everything". Sending that would overwrite the CRM. :func:`evaluate_guards` names every limit
a plan goes past; the run is refused (``RunStatus.BLOCKED``) unless the operator allows it once
(``syncer run SYNC --allow-mass-change``) or raises the limit in the mapping's ``guards:``.

Rules, with ``synced`` the keys the snapshot holds as present:

- ``max_clear_percent``: trips when ``clears / synced`` is *more than* the limit;
- ``max_update_percent``: trips when ``updates / synced`` is *more than* the limit (``refresh`` rows send nothing
  and do not count);
- ``max_create_percent``: trips when ``creates / synced`` is *more than* the limit (a model that suddenly returns
  ten times its rows); the planner counts only the creates the model's growth since the last delivered run explains,
  so the rest of an unfinished backfill (a first sync stopped by a daily limit) is no sudden change;
- these three only when ``synced >= min_records``: a small sync may legitimately change most of its rows, and a
  first sync (nothing synced yet) creates every record;
- ``allow_empty_model: false``: trips when the model returned no rows while ``synced > 0``, whatever its size;
- ``max_tasks_per_run``: trips when the run would create *more than* that many CRM tasks, whatever the sync's size.

One guard judges a run *after* delivery instead (:func:`evaluate_rejects`): ``max_reject_percent`` trips when the
rows rejected (by the plan or the destination) or skipped as parked are *more than* that share of the rows the run
attempted (every row of the model, rejected ones included, plus the clears), once at least ``min_records`` rows were
attempted. It does not
block (the rows were already tried): the run is recorded ``failed`` with the trip's words.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from syncer.config.sync import Guards


class Guard(StrEnum):
    """Which limit tripped; the value is the setting's name under ``guards:``."""

    MAX_CLEAR_PERCENT = "max_clear_percent"
    MAX_UPDATE_PERCENT = "max_update_percent"
    MAX_CREATE_PERCENT = "max_create_percent"
    MAX_TASKS_PER_RUN = "max_tasks_per_run"
    ALLOW_EMPTY_MODEL = "allow_empty_model"
    MAX_REJECT_PERCENT = "max_reject_percent"


@dataclass(frozen=True)
class GuardTrip:
    """One limit a plan goes past: ``count`` of the ``synced`` records would change, beyond ``threshold``.

    For :attr:`Guard.ALLOW_EMPTY_MODEL`, ``count`` is the model's rows (0) and ``threshold`` is 0; for
    :attr:`Guard.MAX_TASKS_PER_RUN`, ``count`` is the tasks and ``threshold`` the limit (a number, not a percentage);
    for :attr:`Guard.MAX_REJECT_PERCENT`, ``count`` is the rows rejected or parked and ``synced`` the rows attempted.
    """

    guard: Guard
    count: int
    synced: int
    threshold: float

    @property
    def percent(self) -> float:
        """``count`` as a percentage of ``synced`` (0 for the guards that are not percentages)."""
        if self.guard is Guard.MAX_TASKS_PER_RUN or not self.synced:
            return 0.0
        return 100.0 * self.count / self.synced

    def describe(self) -> str:
        """What the run would have done, in words: ``would clear 300 of 1000 synced records (30%, ...)``."""
        if self.guard is Guard.ALLOW_EMPTY_MODEL:
            return f"the model returned no rows while {self.synced} records are synced (allow_empty_model is false)"
        if self.guard is Guard.MAX_TASKS_PER_RUN:
            return f"would create {self.count} CRM tasks (more than {self.guard.value} {self.threshold:g})"
        if self.guard is Guard.MAX_REJECT_PERCENT:
            return (
                f"rejected or parked {self.count} of the {self.synced} rows it attempted ({self.percent:.3g}%, "
                f"more than {self.guard.value} {self.threshold:g})"
            )
        if self.guard is Guard.MAX_CREATE_PERCENT:
            return (
                f"would create {self.count} records, {self.percent:.3g}% of the {self.synced} synced (more than "
                f"{self.guard.value} {self.threshold:g})"
            )
        verb = "clear" if self.guard is Guard.MAX_CLEAR_PERCENT else "update"
        return (
            f"would {verb} {self.count} of {self.synced} synced records ({self.percent:.3g}%, "
            f"more than {self.guard.value} {self.threshold:g})"
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "guard": self.guard.value,
            "count": self.count,
            "synced": self.synced,
            "percent": round(self.percent, 2),
            "threshold": self.threshold,
            "message": self.describe(),
        }


def evaluate_guards(
    limits: Guards, model_rows: int, updates: int, clears: int, synced: int, *, creates: int = 0, tasks: int = 0
) -> tuple[GuardTrip, ...]:
    """Every limit of ``limits`` that a plan with these counts goes past, in a fixed order (empty: it may run).

    ``creates``: records the plan creates; ``tasks``: CRM tasks its firings would create.
    """
    trips: list[GuardTrip] = []
    if model_rows == 0 and synced > 0 and not limits.allow_empty_model:
        trips.append(GuardTrip(Guard.ALLOW_EMPTY_MODEL, 0, synced, 0))
    if synced > 0 and synced >= limits.min_records:
        # Compare count * 100 with limit * synced: no division, so "exactly at the limit" is exact.
        for guard, count, limit in (
            (Guard.MAX_CLEAR_PERCENT, clears, limits.max_clear_percent),
            (Guard.MAX_UPDATE_PERCENT, updates, limits.max_update_percent),
            (Guard.MAX_CREATE_PERCENT, creates, limits.max_create_percent),
        ):
            if count * 100 > limit * synced:
                trips.append(GuardTrip(guard, count, synced, limit))
    if tasks > limits.max_tasks_per_run:
        trips.append(GuardTrip(Guard.MAX_TASKS_PER_RUN, tasks, synced, limits.max_tasks_per_run))
    return tuple(trips)


def evaluate_rejects(limits: Guards, attempted: int, rejected: int) -> GuardTrip | None:
    """The ``max_reject_percent`` trip of a delivered run (None: within the limit, or fewer than ``min_records``
    rows attempted). ``attempted``: the model's rows (rejected ones included) plus the clears; ``rejected``: those
    rejected by the plan or the destination, or skipped as parked."""
    if attempted <= 0 or attempted < limits.min_records:
        return None
    if rejected * 100 > limits.max_reject_percent * attempted:
        return GuardTrip(Guard.MAX_REJECT_PERCENT, rejected, attempted, limits.max_reject_percent)
    return None


def allow_hint(sync: str) -> str:
    """How an operator lets a guarded change through."""
    return (
        f"allow it once with 'syncer run {sync} --allow-mass-change', or for good by raising the limit "
        "under 'guards:' in the mapping"
    )
