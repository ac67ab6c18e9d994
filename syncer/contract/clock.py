"""The one clock: every part of syncer that needs the time of day or a duration asks this module.

- :func:`now` is the current time, timezone-aware, in UTC. Everything time-dependent (quiet hours, cooldowns,
  digests, leases, run stamps) starts from it, so setting the clock here moves all of them together.
- :func:`naive_utc` is the one conversion for storage: the state tables hold naive UTC. :func:`aware_utc` reads a
  stored time back as an aware one.
- :func:`monotonic` is for pacing, timeouts and durations: it never jumps and is never faked.
- :func:`real_now` is the real time even under a fake clock, for checks against another party's clock only (the
  replay window of a signed interaction request).

Setting the clock for a process: ``SYNCER_FAKE_NOW=2026-12-07T07:30:00Z`` (ISO 8601; a time without an offset is
taken as UTC), read by the ``syncer`` command line (so by ``syncer daemon`` too) when a command starts, and
``syncer plan --now <ISO>`` for one plan. The fake clock *starts* at that time and advances with real time: a daemon
started on a fake clock still sees its schedules come due, its leases expire and its cooldowns run out, as it would
on that day; a one-off ``plan`` is over in seconds, so the drift does not matter there. A fixed clock would freeze a
daemon (nothing would ever come due again).

This module lives on the contract floor because connectors may need the time too and import nothing else of the
engine; it imports nothing of ``syncer``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

FAKE_NOW_VARIABLE = "SYNCER_FAKE_NOW"


class ClockError(ValueError):
    """A time given to set the clock cannot be read; the message is one line, fit to show a user."""


class Clock:
    """The real clock, or one shifted by a fixed offset (a fake clock that advances with real time)."""

    def __init__(self, offset: timedelta = timedelta(0)) -> None:
        self.offset = offset

    @classmethod
    def starting_at(cls, moment: datetime) -> Clock:
        """A clock that reads ``moment`` (aware) now and advances with real time from there."""
        return cls(aware_utc(moment) - datetime.now(UTC))

    @property
    def fake(self) -> bool:
        return self.offset != timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset


REAL = Clock()
_current = REAL


def now() -> datetime:
    """The current time (of the process's clock), aware, in UTC."""
    return _current.now()


def naive_now() -> datetime:
    """:func:`now` as the state tables store it: naive UTC."""
    return naive_utc(_current.now())


def real_now() -> datetime:
    """The real time, aware, in UTC, whatever the process's clock says: only for checks against other parties'
    real clocks (a request signature's replay window), never for business time."""
    return REAL.now()


def monotonic() -> float:
    """Seconds on a clock that never jumps (not the wall clock, and never faked): for pacing and timeouts."""
    return time.monotonic()


def naive_utc(moment: datetime) -> datetime:
    """``moment`` as the state tables store time: naive UTC. A naive ``moment`` is taken to be UTC already."""
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def aware_utc(moment: datetime) -> datetime:
    """A time as an aware one in UTC; a naive ``moment`` (as stored) is taken to be UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def utc_text(moment: datetime) -> str:
    """``2026-12-07 07:30 UTC``: a time as reasons and messages show it."""
    return f"{aware_utc(moment):%Y-%m-%d %H:%M} UTC"


def parse_instant(text: str, source: str = "the time") -> datetime:
    """An ISO 8601 date-time (``2026-12-07T07:30:00Z``, ``...+01:00``; no offset means UTC) as an aware UTC time.

    Raises :class:`ClockError` naming ``source`` when ``text`` is not one.
    """
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ClockError(
            f"{source}: {text!r} is not an ISO 8601 date-time (for example 2026-12-07T07:30:00Z)"
        ) from None
    return aware_utc(moment)


def from_environment(environ: Mapping[str, str] | None = None) -> Clock:
    """The clock ``SYNCER_FAKE_NOW`` asks for (the real clock when it is unset or empty).

    Raises :class:`ClockError` for a value that is not an ISO 8601 date-time.
    """
    value = (os.environ if environ is None else environ).get(FAKE_NOW_VARIABLE, "").strip()
    return Clock.starting_at(parse_instant(value, FAKE_NOW_VARIABLE)) if value else REAL


def current() -> Clock:
    return _current


def install(clock: Clock) -> Clock:
    """Make ``clock`` the process's clock; return the one it replaces (to put back with :func:`install`)."""
    global _current
    previous, _current = _current, clock
    return previous


@contextmanager
def using(clock: Clock) -> Iterator[Clock]:
    """``clock`` for the duration of the block, the previous one afterwards."""
    previous = install(clock)
    try:
        yield clock
    finally:
        install(previous)
