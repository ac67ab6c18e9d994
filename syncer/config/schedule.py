"""Schedules: ``every 15m`` (interval) or a five-field cron expression, checked with APScheduler's own parser."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

_EVERY = re.compile(r"^every\s+(\d+)\s*(s|m|h|d)$")
_DURATION = re.compile(r"^(\d+)\s*(s|m|h|d)$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


@dataclass(frozen=True)
class Schedule:
    """Either ``interval`` or ``cron`` is set."""

    interval: timedelta | None = None
    cron: str | None = None


def parse_duration(text: str) -> timedelta:
    """A duration written as ``<n>s|m|h|d`` (``90m``, ``2h``); raise ``ValueError`` saying what is wrong."""
    match = _DURATION.match(text.strip())
    if match is None:
        raise ValueError(f"'{text}' is not a duration: write '<n>s', '<n>m', '<n>h' or '<n>d'")
    amount = int(match.group(1))
    if amount <= 0:
        raise ValueError("a duration must be positive")
    try:
        return timedelta(**{_UNITS[match.group(2)]: amount})
    except OverflowError:
        raise ValueError(f"'{text}' is longer than any duration can be") from None


def parse_schedule(text: str) -> Schedule:
    """Parse ``text``; raise ``ValueError`` saying what is wrong."""
    text = text.strip()
    match = _EVERY.match(text)
    if match:
        amount = int(match.group(1))
        if amount <= 0:
            raise ValueError("an interval must be positive")
        try:
            interval = timedelta(**{_UNITS[match.group(2)]: amount})
        except OverflowError:
            raise ValueError(f"'{text}' is longer than any interval can be") from None
        return Schedule(interval=interval)
    if len(text.split()) != 5:
        raise ValueError(f"'{text}' is neither 'every <n>s|m|h|d' nor a five-field cron expression")
    from apscheduler.triggers.cron import CronTrigger  # only for cron schedules: `every 15m` needs no scheduler

    try:
        CronTrigger.from_crontab(text, timezone="UTC")
    except ValueError as exc:
        raise ValueError(f"bad cron expression '{text}': {exc}") from exc
    return Schedule(cron=text)
