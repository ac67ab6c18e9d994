"""When a sync is due: the APScheduler trigger of its schedule, and the scheduled time ("slot") a run is for.

Every replica must compute the same slots, so that a slot can be claimed once across replicas
(:meth:`syncer.daemon.leases.Leases.claim`): interval schedules count from a fixed epoch, not from when a daemon
started, and cron schedules are read in the daemon's time zone. Slots are aware datetimes in UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from syncer.config.schedule import Schedule

EPOCH = datetime(2000, 1, 3, tzinfo=UTC)  # a Monday at midnight: 'every 1d' and 'every 7d' fall on round times
_CRON_LOOKBACK_MAX = timedelta(days=800)  # further back than any five-field cron expression repeats


def make_trigger(schedule: Schedule, tz: ZoneInfo) -> BaseTrigger:
    """The APScheduler trigger that fires at each slot of ``schedule``."""
    if schedule.interval is not None:
        return IntervalTrigger(seconds=schedule.interval.total_seconds(), start_date=EPOCH, timezone=UTC)
    assert schedule.cron is not None
    return CronTrigger.from_crontab(schedule.cron, timezone=tz)


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
