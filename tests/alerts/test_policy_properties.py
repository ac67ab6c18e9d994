"""Properties of ``decide`` over any sequence of candidate batches, with the ledger built by applying the decisions.

- No rep ever receives more sends than the caps allow: per local calendar day, in any rolling 7-day window,
  and per trigger under a trigger's narrower caps.
- No rep hears about the same account twice within the cooldown unless its tier went up.
- ``decide`` is deterministic and does not depend on the order of its input list.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from syncer.config.alerts import AlertPolicy
from syncer.core.alerts import Candidate, Decision, LedgerEntry, Outcome, decide
from tests.alerts.factories import Run, candidate

START = datetime(2026, 3, 27, 18, 0, tzinfo=UTC)  # spans Europe's switch to summer time
ZONES = {"U_A": "Europe/Berlin", "U_B": "America/Los_Angeles", "U_C": None, None: None}
EXPANSION_CAPS = (1, 2)


@st.composite
def candidates(draw: st.DrawFn, now: datetime) -> Candidate:
    rep = draw(st.sampled_from(list(ZONES)))
    return candidate(
        draw(st.sampled_from([f"acc_{i}" for i in range(6)])),
        rep=rep,
        zone=ZONES[rep],
        firing=f"f{draw(st.integers(0, 30))}",
        trigger=draw(st.sampled_from(["hot", "expansion"])),
        tier=draw(st.sampled_from(["cold", "warm", "hot", None])),
        priority=draw(st.one_of(st.none(), st.floats(0, 100, allow_nan=False))),
        trigger_priority=draw(st.integers(1, 3)),
        fired_at=now - timedelta(hours=draw(st.sampled_from([0, 0, 0, 1, 5, 50]))),
        first_run=draw(st.booleans()) and draw(st.booleans()),
    )


@st.composite
def policies(draw: st.DrawFn) -> AlertPolicy:
    per_day = draw(st.integers(1, 3))
    per_week = draw(st.integers(per_day, 6))
    return AlertPolicy.model_validate(
        {
            "caps": {"per_day": per_day, "per_week": per_week},
            "cooldown_days": draw(st.sampled_from([0, 1, 7])),
            "quiet_hours": draw(
                st.sampled_from([None, {"start": "20:00", "end": "08:00"}, {"start": "01:00", "end": "05:00"}])
            ),
            "overflow": draw(st.sampled_from(["digest", "drop"])),
            "first_run": draw(st.sampled_from(["skip", "cap"])),
            "triggers": {"expansion": {"caps": {"per_day": EXPANSION_CAPS[0], "per_week": EXPANSION_CAPS[1]}}}
            if draw(st.booleans()) and (per_day, per_week) >= EXPANSION_CAPS
            else {},
        }
    )


@st.composite
def histories(draw: st.DrawFn) -> list[tuple[datetime, list[Candidate]]]:
    """Batches at increasing times (gaps of 0 to 30 hours), each with up to 12 candidates."""
    now, batches = START, []
    for _ in range(draw(st.integers(1, 12))):
        now += timedelta(minutes=15 * draw(st.integers(0, 120)))
        batches.append((now, draw(st.lists(candidates(now), max_size=12))))
    return batches


def replay(policy: AlertPolicy, history: list[tuple[datetime, list[Candidate]]]) -> Run:
    """Apply every batch, offering deferred alerts again in the first batch at or after their time."""
    run, deferred = Run(policy), list[Decision]()
    for now, batch in history:
        due = [d.candidate for d in deferred if d.not_before is not None and d.not_before <= now]
        deferred = [d for d in deferred if d.not_before is not None and d.not_before > now]
        made = run(batch + due, now)
        deferred += [d for d in made if d.outcome is Outcome.DEFER_QUIET_HOURS]
    return run


def _local_day(entry: LedgerEntry) -> date:
    zone = ZONES[entry.rep]
    return entry.at.astimezone(ZoneInfo(zone or "UTC")).date()


def _assert_within(sends: list[LedgerEntry], per_day: int, per_week: int) -> None:
    assert max(Counter(_local_day(e) for e in sends).values(), default=0) <= per_day
    for end in sends:
        assert sum(1 for e in sends if end.at - timedelta(days=7) < e.at <= end.at) <= per_week


@settings(max_examples=100, deadline=None)
@given(policy=policies(), history=histories())
def test_caps_and_cooldowns_hold(policy: AlertPolicy, history: list[tuple[datetime, list[Candidate]]]) -> None:
    run = replay(policy, history)
    for rep in ("U_A", "U_B", "U_C"):
        sends = run.sent(rep)
        _assert_within(sends, policy.caps.per_day, policy.caps.per_week)
        if "expansion" in policy.triggers:
            _assert_within([e for e in sends if e.key.trigger == "expansion"], *EXPANSION_CAPS)
    informed = [e for e in run.history if e.outcome in (Outcome.SEND, Outcome.DIGEST, Outcome.NO_OWNER)]
    cooldown = timedelta(days=policy.cooldown_days)
    for index, later in enumerate(informed):
        earlier = [
            e
            for e in informed[:index]
            if (e.rep, e.key.account) == (later.rep, later.key.account) and later.at - cooldown < e.at
        ]
        if earlier:  # heard about again within the cooldown: only because the tier went up
            assert policy.tier_rank(later.tier) > max(policy.tier_rank(e.tier) for e in earlier)


@settings(max_examples=80, deadline=None)
@given(policy=policies(), history=histories(), data=st.data())
def test_decide_is_deterministic_and_ignores_input_order(
    policy: AlertPolicy, data: st.DataObject, history: list[tuple[datetime, list[Candidate]]]
) -> None:
    *earlier, (now, batch) = history
    ledger = replay(policy, earlier).ledger
    shuffled = data.draw(st.permutations(batch))
    first = decide(batch, ledger, policy, now)
    assert first == decide(shuffled, list(reversed(ledger)), policy, now)
    assert first == decide(batch, ledger, policy, now)
    assert sorted(d.candidate.key for d in first) == sorted(c.key for c in batch)
