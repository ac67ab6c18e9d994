"""The issue's scenarios, with time moved as a value through runs every 15 minutes.

Each tick offers the candidates that fire then plus every deferred alert whose time has come (what the delivery
step will do), and the ledger grows by the decisions, exactly as in production.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from syncer.config.alerts import AlertPolicy, OverflowPolicy
from syncer.core.alerts import Candidate, Decision, Outcome
from tests.alerts.factories import Run, candidate

MONDAY = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)  # a Monday; London is on UTC from November
TICK = timedelta(minutes=15)


def simulate(run: Run, start: datetime, ticks: int, firing: Callable[[datetime], list[Candidate]]) -> list[Decision]:
    """Run ``ticks`` runs from ``start``; deferred alerts are offered again once their ``not_before`` has come."""
    deferred: list[Decision] = []
    decisions: list[Decision] = []
    for step in range(ticks):
        now = start + step * TICK
        due = [d.candidate for d in deferred if d.not_before is not None and d.not_before <= now]
        deferred = [d for d in deferred if d.not_before is None or d.not_before > now]
        made = run(firing(now) + due, now)
        deferred += [d for d in made if d.outcome is Outcome.DEFER_QUIET_HOURS]
        decisions += made
    return decisions


def daily_batch(scores: dict[int, list[float]]) -> Callable[[datetime], list[Candidate]]:
    """40 accounts qualify at 09:00 every day (a nightly dbt rebuild), each with its own PQL score."""

    def firing(now: datetime) -> list[Candidate]:
        if (now.hour, now.minute) != (9, 0):
            return []
        day = (now - MONDAY).days
        return [
            candidate(f"d{day:02}_acc_{i:02}", priority=score, fired_at=now, firing=now.isoformat())
            for i, score in enumerate(scores[day])
        ]

    return firing


@pytest.mark.parametrize("overflow", list(OverflowPolicy))
def test_a_month_of_forty_accounts_a_day_under_caps_of_3_and_15(overflow: OverflowPolicy) -> None:
    rng = random.Random(8)
    scores = {day: [round(rng.uniform(60, 100), 1) for _ in range(40)] for day in range(31)}
    run = Run(AlertPolicy(overflow=overflow))
    decisions = simulate(run, MONDAY, 31 * 96, daily_batch(scores))

    sends = sorted(e.at for e in run.sent("U_DANA"))
    first_day = [d for d in decisions if d.candidate.account.startswith("d00_")]
    sent_first_day = sorted(d.candidate.priority or 0 for d in first_day if d.outcome is Outcome.SEND)
    assert sent_first_day == sorted(scores[0])[-3:]  # exactly the three highest scores
    overflowed = Counter(d.outcome for d in first_day if d.outcome is not Outcome.SEND)
    if overflow is OverflowPolicy.DIGEST:
        assert overflowed == {Outcome.DIGEST: 37}
        assert {d.digest_key for d in first_day if d.digest_key} == {"U_DANA/2026-11-02"}
    else:
        assert overflowed == {Outcome.CAPPED_DAY: 37}

    assert max(Counter(at.date() for at in sends).values()) == 3
    assert max(sum(1 for s in sends if at - timedelta(days=7) < s <= at) for at in sends) == 15
    # Five days of 3 fill the rolling week; days 6 and 7 send nothing; the pattern repeats: 15 per 7 days.
    assert [Counter(at.date() for at in sends)[(MONDAY + timedelta(days=d)).date()] for d in range(8)] == [
        3,
        3,
        3,
        3,
        3,
        0,
        0,
        3,
    ]
    assert len(sends) == 3 * 5 * 4 + 3 * 3  # weeks 1-4, then days 29-31
    digests = {d.digest_key for d in decisions if d.outcome is Outcome.DIGEST}
    assert len(digests) == (31 if overflow is OverflowPolicy.DIGEST else 0)  # one digest per day


def test_an_account_flapping_around_the_threshold_for_a_week_alerts_once() -> None:
    """79 / 81 around an 80 threshold every 15 minutes: each upward crossing fires the trigger anew."""
    run = Run()

    def firing(now: datetime) -> list[Candidate]:
        crossed_up = (now - MONDAY) // TICK % 2 == 1  # 79 at even ticks, 81 at odd ones
        return (
            [
                candidate(
                    "acc_flappy",
                    tier="hot",
                    priority=81.0,
                    zone="America/New_York",
                    fired_at=now,
                    firing=now.isoformat(),
                )
            ]
            if crossed_up
            else []
        )

    sunday_9pm_in_new_york = MONDAY + timedelta(hours=2)
    decisions = simulate(run, sunday_9pm_in_new_york, 7 * 96, firing)
    counts = Counter(d.outcome for d in decisions)
    assert counts[Outcome.SEND] == 1
    assert len(run.sent()) == 1
    assert counts[Outcome.COOLDOWN] > 300
    assert set(counts) == {Outcome.SEND, Outcome.COOLDOWN, Outcome.DEFER_QUIET_HOURS}
    # The crossings of the first night wait for 08:00 in New York (13:00 UTC); then one is sent, the rest cool down.
    [send] = [d for d in decisions if d.outcome is Outcome.SEND]
    assert send.decided_at == MONDAY + timedelta(hours=13)
    assert counts[Outcome.DEFER_QUIET_HOURS] == 22


def test_an_account_that_escalates_breaks_the_cooldown_once() -> None:
    run = Run()
    warm = candidate("acc_1", tier="warm", firing="1")
    assert run([warm], MONDAY.replace(hour=10))[0].outcome is Outcome.SEND
    again = [candidate("acc_1", tier="warm", firing="2"), candidate("acc_1", tier="hot", firing="3")]
    got = run(again, MONDAY.replace(hour=11))
    assert sorted((d.candidate.tier, d.outcome) for d in got) == [("hot", Outcome.SEND), ("warm", Outcome.COOLDOWN)]
    assert run([candidate("acc_1", tier="hot", firing="4")], MONDAY.replace(hour=12))[0].outcome is Outcome.COOLDOWN


def test_a_rep_in_quiet_hours_is_deferred_then_sent_when_they_end() -> None:
    run = Run()
    evening = datetime(2026, 11, 2, 21, 30, tzinfo=UTC)  # 22:30 in Berlin

    def firing(now: datetime) -> list[Candidate]:
        return [candidate(zone="Europe/Berlin", fired_at=now)] if now == evening else []

    decisions = simulate(run, evening, 48, firing)
    assert [d.outcome for d in decisions] == [Outcome.DEFER_QUIET_HOURS, Outcome.SEND]
    deferral, send = decisions
    assert deferral.not_before == datetime(2026, 11, 3, 7, 0, tzinfo=UTC)  # 08:00 in Berlin
    assert deferral.reason == "quiet hours for dana.kim until 2026-11-03 08:00 Europe/Berlin"
    assert send.decided_at == deferral.not_before
