"""The one clock: how it is set (SYNCER_FAKE_NOW, plan --now), and that nothing else in the engine reads the time."""

from __future__ import annotations

import ast
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from syncer.contract import clock

ROOT = Path(__file__).resolve().parents[1]
# Reading these is reading the wall clock (or a clock that should come from syncer.contract.clock).
_CLOCK_READS = {
    "datetime": {"now", "utcnow", "today"},
    "date": {"today"},
    "time": {
        "time",
        "time_ns",
        "monotonic",
        "monotonic_ns",
        "perf_counter",
        "perf_counter_ns",
        "localtime",
        "gmtime",
        "ctime",
        "asctime",
    },
}
# The emulators' own framework (connectors/sandbox/core/) lives outside the engine and keeps its clocks.
_EXEMPT = (ROOT / "syncer" / "contract" / "clock.py",)


def clock_reads(source: str) -> list[str]:
    """``line: name`` for every read of a clock in ``source``: ``datetime.now``, ``time.monotonic``,
    ``datetime.datetime.now``, or such a name imported from ``time``/``datetime``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute):
            owner = node.value
            name = owner.attr if isinstance(owner, ast.Attribute) else owner.id if isinstance(owner, ast.Name) else ""
            if node.attr in _CLOCK_READS.get(name, set()):
                found.append(f"{node.lineno}: {name}.{node.attr}")
        elif isinstance(node, ast.ImportFrom) and node.module == "time":
            found += [f"{node.lineno}: time.{a.name}" for a in node.names if a.name in _CLOCK_READS["time"]]
    return sorted(found, key=lambda read: int(read.split(":")[0]))


def test_the_check_finds_each_way_of_reading_the_clock() -> None:
    source = (
        "import time\nimport datetime as dt\nfrom datetime import UTC, date, datetime\n"
        "from time import monotonic\n"
        "a = datetime.now(UTC)\nb = time.perf_counter\nc = date.today()\nd = dt.datetime.utcnow()\n"
        "e = datetime.fromisoformat('2026-01-01')\nf = time.sleep\n"
    )
    assert clock_reads(source) == [
        "4: time.monotonic",
        "5: datetime.now",
        "6: time.perf_counter",
        "7: date.today",
        "8: datetime.utcnow",
    ]


def test_no_module_of_the_engine_but_the_clock_reads_the_clock() -> None:
    offenders = []
    for path in sorted((ROOT / "syncer").rglob("*.py")):
        if any(path == exempt or exempt in path.parents for exempt in _EXEMPT):
            continue
        offenders += [f"{path.relative_to(ROOT)}:{read}" for read in clock_reads(path.read_text())]
    assert offenders == [], "use syncer.contract.clock (now, naive_now, monotonic) instead"


def test_a_fake_clock_starts_where_it_is_told_and_runs_on() -> None:
    start = datetime(2026, 12, 7, 7, 30, tzinfo=UTC)
    with clock.using(clock.Clock.starting_at(start)) as fake:
        first = clock.now()
        assert fake.fake and timedelta(0) <= first - start < timedelta(seconds=5)
        assert clock.naive_now().tzinfo is None and clock.naive_now() >= first.replace(tzinfo=None)
        assert clock.now() >= first  # it advances with real time
        assert abs(clock.real_now() - datetime.now(UTC)) < timedelta(seconds=5)
    assert clock.current() is clock.REAL


def test_the_environment_sets_the_clock_and_a_bad_value_is_one_clear_line() -> None:
    assert clock.from_environment({}) is clock.REAL
    assert clock.from_environment({"SYNCER_FAKE_NOW": " "}) is clock.REAL
    berlin = clock.from_environment({"SYNCER_FAKE_NOW": "2026-12-07T08:30:00+01:00"})
    assert abs(berlin.now() - datetime(2026, 12, 7, 7, 30, tzinfo=UTC)) < timedelta(seconds=5)
    naive = clock.from_environment({"SYNCER_FAKE_NOW": "2026-12-07T07:30:00"})  # no offset: UTC
    assert abs(naive.now() - datetime(2026, 12, 7, 7, 30, tzinfo=UTC)) < timedelta(seconds=5)
    with pytest.raises(clock.ClockError) as caught:
        clock.from_environment({"SYNCER_FAKE_NOW": "tomorrow 9am"})
    assert str(caught.value) == (
        "SYNCER_FAKE_NOW: 'tomorrow 9am' is not an ISO 8601 date-time (for example 2026-12-07T07:30:00Z)"
    )


def test_storage_conversion_round_trips_and_takes_naive_as_utc() -> None:
    moment = datetime(2026, 12, 7, 8, 30, tzinfo=timezone(timedelta(hours=1)))
    stored = clock.naive_utc(moment)
    assert stored == datetime(2026, 12, 7, 7, 30) and stored.tzinfo is None  # noqa: DTZ001 (storage is naive)
    assert clock.naive_utc(stored) == stored
    assert clock.aware_utc(stored) == moment and clock.aware_utc(stored).tzinfo is UTC
    assert clock.utc_text(moment) == "2026-12-07 07:30 UTC"
