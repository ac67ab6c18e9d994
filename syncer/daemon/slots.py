"""When a sync is due: the APScheduler trigger of its schedule, and the scheduled time ("slot") a run is for.

Every replica must compute the same slots, so that a slot can be claimed once across replicas
(:meth:`syncer.daemon.leases.Leases.claim`): interval schedules count from a fixed epoch, not from when a daemon
started, and cron schedules are read in the daemon's time zone. Slots are aware datetimes in UTC.

Slots are times of the process clock (:mod:`syncer.contract.clock`). APScheduler reads the real clock itself, so
under a fake clock (``SYNCER_FAKE_NOW``) the trigger is shifted: it fires at the real moment the process clock
reaches each slot, and :func:`slot_of` turns the real time it fired for back into that slot.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from syncer.config.schedule import Schedule
from syncer.contract import clock

EPOCH = datetime(2000, 1, 3, tzinfo=UTC)  # a Monday at midnight: 'every 1d' and 'every 7d' fall on round times
_CRON_LOOKBACK_MAX = timedelta(days=800)  # further back than any five-field cron expression repeats


def make_trigger(schedule: Schedule, tz: ZoneInfo, offset: timedelta | None = None) -> BaseTrigger:
    """The APScheduler trigger that fires at each slot of ``schedule`` on the process clock (``offset``: how far
    it is ahead of real time; the current clock's by default)."""
    trigger: BaseTrigger
    if schedule.interval is not None:
        trigger = IntervalTrigger(seconds=schedule.interval.total_seconds(), start_date=EPOCH, timezone=UTC)
    else:
        assert schedule.cron is not None
        trigger = CronTrigger.from_crontab(schedule.cron, timezone=tz)
    offset = clock.current().offset if offset is None else offset
    return trigger if not offset else ShiftedTrigger(trigger, offset)


class ShiftedTrigger(BaseTrigger):  # type: ignore[misc]  # (apscheduler has no type hints)
    """``trigger`` read on a clock ``offset`` ahead of real time: fires at the real times that clock shows a
    slot (APScheduler schedules on real time)."""

    def __init__(self, trigger: BaseTrigger, offset: timedelta) -> None:
        self.trigger, self.offset = trigger, offset

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime | None:
        # In UTC: adding a timedelta to a zoned time adds wall time, an hour off across a DST change.
        previous = None if previous_fire_time is None else previous_fire_time.astimezone(UTC) + self.offset
        fire = self.trigger.get_next_fire_time(previous, now.astimezone(UTC) + self.offset)
        return None if fire is None else fire.astimezone(UTC) - self.offset

    def __str__(self) -> str:
        return f"{self.trigger} (on a clock {self.offset} ahead)"


def slot_of(fired_for: datetime, offset: timedelta | None = None) -> datetime:
    """The slot (aware, UTC, on the process clock) of the real time a trigger of :func:`make_trigger` fired for."""
    offset = clock.current().offset if offset is None else offset
    return fired_for.astimezone(UTC) + offset


def latest_slot(schedule: Schedule, tz: ZoneInfo, now: datetime) -> datetime | None:
    """The latest slot at or before ``now`` (aware), in UTC; None when the schedule never fired before ``now``."""
    now = now.astimezone(UTC)
    if schedule.interval is not None:
        step = schedule.interval
        return EPOCH + step * ((now - EPOCH) // step)
    assert schedule.cron is not None
    trigger = CronTrigger.from_crontab(schedule.cron, timezone=tz)
    lookback = timedelta(minutes=1)
    while lookback <= _CRON_LOOKBACK_MAX:
        fire = trigger.get_next_fire_time(None, now - lookback)
        if fire is not None and fire <= now:
            while True:  # walk forward to the last fire time that is not after now
                later = trigger.get_next_fire_time(fire, fire + timedelta(microseconds=1))
                if later is None or later > now:
                    return fire.astimezone(UTC)  # type: ignore[no-any-return]
                fire = later
        lookback *= 2
    return None
