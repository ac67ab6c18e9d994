"""One table per policy rule: candidates and a ledger in, outcomes and reasons out."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import yaml
from pydantic import ValidationError

from syncer.config.alerts import AlertPolicy, Caps, FirstRunPolicy, OverflowPolicy, QuietHours
from syncer.core.alerts import DedupeKey, LedgerEntry, Outcome, decide, digest_time, record
from tests.alerts.factories import NOON, Run, candidate, outcomes

DROP = AlertPolicy(overflow=OverflowPolicy.DROP)


def sent(
    account: str,
    at: datetime,
    *,
    rep: str | None = "U_DANA",
    tier: str = "hot",
    trigger: str = "hot",
    outcome: Outcome = Outcome.SEND,
    firing: str = "old",
) -> LedgerEntry:
    return LedgerEntry(DedupeKey("slack_pql", trigger, account, firing), rep, outcome, at, tier)


def test_a_candidate_with_room_is_sent() -> None:
    [decision] = decide([candidate()], [], AlertPolicy(), NOON)
    assert (decision.outcome, decision.reason, decision.decided_at) == (Outcome.SEND, "sent to dana.kim", NOON)


@pytest.mark.parametrize(
    ("scores", "expected_sent"),
    [
        ({"a": 50.0, "b": 90.0, "c": 70.0, "d": 95.0, "e": 10.0}, {"d", "b", "c"}),
        ({"a": None, "b": 1.0, "c": None, "d": 2.0}, {"d", "b", "a"}),  # no priority value ranks last, then by account
        ({"c": 80.0, "a": 80.0, "b": 80.0, "d": 80.0}, {"a", "b", "c"}),  # a tie falls to the account key
    ],
)
def test_the_highest_priority_wins_the_room(scores: dict[str, float | None], expected_sent: set[str]) -> None:
    decisions = decide([candidate(a, priority=p) for a, p in scores.items()], [], DROP, NOON)
    assert {a for a, o in outcomes(decisions).items() if o is Outcome.SEND} == expected_sent


def test_trigger_priority_breaks_a_tie_in_priority_value() -> None:
    batch = [
        candidate("a", trigger_priority=3),
        candidate("b", trigger_priority=1),
        candidate("c", trigger_priority=2),
        candidate("d", trigger_priority=1),
    ]
    got = outcomes(decide(batch, [], DROP, NOON))
    assert [a for a in "abcd" if got[a] is Outcome.SEND] == ["b", "c", "d"]


def test_the_day_cap_counts_every_sync_and_trigger_in_the_reps_local_day() -> None:
    ledger = [
        sent("x", NOON - timedelta(hours=1), trigger="other"),
        sent("y", NOON - timedelta(hours=2)),
        sent("z", NOON - timedelta(hours=3)),
    ]
    [decision] = decide([candidate()], ledger, DROP, NOON)
    assert decision.outcome is Outcome.CAPPED_DAY
    assert decision.reason == "3 of 3 alerts today (2026-11-23, Europe/London) already sent to dana.kim"


def test_the_day_is_the_reps_calendar_day_not_utcs() -> None:
    # 07:00 UTC is 23:00 the day before in Los Angeles: those three sends do not count against the rep's today.
    early = NOON.replace(hour=7)
    ledger = [sent(a, early - timedelta(minutes=i)) for i, a in enumerate("xyz")]
    la_noon = NOON.replace(hour=20)  # 12:00 in Los Angeles
    assert decide([candidate(zone="America/Los_Angeles")], ledger, DROP, la_noon)[0].outcome is Outcome.SEND
    assert decide([candidate(zone="Europe/London")], ledger, DROP, NOON)[0].outcome is Outcome.CAPPED_DAY


def test_the_week_cap_is_a_rolling_seven_days() -> None:
    ledger = [sent(f"old_{i}", NOON - timedelta(days=1 + i // 3, minutes=i)) for i in range(15)]  # 3 a day, 5 days
    [decision] = decide([candidate()], ledger, DROP, NOON)
    assert decision.outcome is Outcome.CAPPED_WEEK
    assert decision.reason == "15 of 15 alerts in the last 7 days already sent to dana.kim"
    # Once the oldest send is more than 7 x 24 h old, there is room again.
    oldest = min(e.at for e in ledger)
    assert decide([candidate()], ledger, DROP, oldest + timedelta(days=7, minutes=1))[0].outcome is Outcome.SEND


def test_overflow_goes_to_one_digest_per_rep_and_day() -> None:
    batch = [candidate(f"acc_{i}", priority=float(i)) for i in range(6)]
    decisions = decide(batch, [], AlertPolicy(), NOON)
    digested = [d for d in decisions if d.outcome is Outcome.DIGEST]
    assert [d.candidate.account for d in digested] == ["acc_2", "acc_1", "acc_0"]
    assert {d.digest_key for d in digested} == {"U_DANA/2026-11-23"}
    # Sent at the end of the next morning's quiet hours, 08:00 in London.
    assert {d.not_before for d in digested} == {datetime(2026, 11, 24, 8, 0, tzinfo=UTC)}
    assert digested[0].reason.startswith("3 of 3 alerts today")


def test_a_trigger_can_narrow_the_caps_for_its_own_alerts() -> None:
    policy = AlertPolicy(overflow=OverflowPolicy.DROP, triggers={"expansion": {"caps": {"per_day": 1, "per_week": 2}}})
    batch = [
        candidate("a", trigger="expansion", priority=90),
        candidate("b", trigger="expansion", priority=80),
        candidate("c", trigger="hot", priority=10),
    ]
    decisions = {d.candidate.account: d for d in decide(batch, [], policy, NOON)}
    assert {a: d.outcome for a, d in decisions.items()} == {
        "a": Outcome.SEND,
        "b": Outcome.CAPPED_DAY,
        "c": Outcome.SEND,
    }
    assert "1 of 1 alerts by trigger expansion today" in decisions["b"].reason
    with pytest.raises(ValidationError, match="can only narrow"):
        AlertPolicy(triggers={"expansion": {"caps": {"per_day": 4, "per_week": 15}}})


@pytest.mark.parametrize(
    ("ago", "previous_tier", "tier", "expected"),
    [
        (timedelta(days=3), "hot", "hot", Outcome.COOLDOWN),
        (timedelta(days=6, hours=23), "hot", "warm", Outcome.COOLDOWN),  # a lower tier does not break it
        (timedelta(days=7, minutes=1), "hot", "hot", Outcome.SEND),  # the cooldown is over
        (timedelta(hours=1), "warm", "hot", Outcome.SEND),  # escalation to a higher tier breaks it
        (timedelta(hours=1), "cold", "warm", Outcome.SEND),
    ],
)
def test_cooldown_per_rep_and_account(ago: timedelta, previous_tier: str, tier: str, expected: Outcome) -> None:
    [decision] = decide([candidate(tier=tier)], [sent("acc_1", NOON - ago, tier=previous_tier)], AlertPolicy(), NOON)
    assert decision.outcome is expected


def test_cooldown_reason_names_the_numbers_and_other_reps_are_not_cooled() -> None:
    ledger = [sent("acc_1", NOON - timedelta(hours=30), outcome=Outcome.DIGEST, trigger="other")]
    decisions = decide([candidate(), candidate(rep="U_LEE", firing="f2")], ledger, AlertPolicy(), NOON)
    by_rep = {d.candidate.rep: d for d in decisions}
    assert by_rep["U_LEE"].outcome is Outcome.SEND
    assert by_rep["U_DANA"].outcome is Outcome.COOLDOWN
    assert by_rep["U_DANA"].reason == (
        "dana.kim heard about acc_1 30 h ago (tier hot); cooldown 7 days, broken only by a tier above hot"
    )


def test_a_trigger_can_shorten_its_cooldown() -> None:
    policy = AlertPolicy(triggers={"slack_pql.hot": {"cooldown_days": 1}, "hot": {"cooldown_days": 30}})
    ledger = [sent("acc_1", NOON - timedelta(days=2))]
    assert decide([candidate()], ledger, policy, NOON)[0].outcome is Outcome.SEND  # sync.trigger wins


@pytest.mark.parametrize(
    ("zone", "now", "until"),
    [
        ("Europe/London", NOON.replace(hour=21), datetime(2026, 11, 24, 8, tzinfo=UTC)),
        ("Europe/London", NOON.replace(hour=3), datetime(2026, 11, 23, 8, tzinfo=UTC)),
        ("America/New_York", NOON.replace(hour=3), datetime(2026, 11, 23, 13, tzinfo=UTC)),  # 22:00 in New York
        ("Asia/Tokyo", NOON, datetime(2026, 11, 23, 23, tzinfo=UTC)),  # 21:00 in Tokyo
        # 23:00 in Berlin the night the clocks go forward: 08:00 summer time is 06:00 UTC, not 07:00.
        ("Europe/Berlin", datetime(2026, 3, 28, 22, tzinfo=UTC), datetime(2026, 3, 29, 6, tzinfo=UTC)),
    ],
)
def test_quiet_hours_defer_in_the_reps_zone(zone: str, now: datetime, until: datetime) -> None:
    [decision] = decide([candidate(zone=zone)], [], AlertPolicy(), now)
    assert (decision.outcome, decision.not_before) == (Outcome.DEFER_QUIET_HOURS, until)
    assert decision.reason.startswith("quiet hours for dana.kim until ")


def test_quiet_hours_can_be_turned_off_for_a_trigger_and_unknown_zones_use_the_default() -> None:
    late = NOON.replace(hour=22)
    policy = AlertPolicy(triggers={"urgent": {"quiet_hours": None}})
    assert decide([candidate(trigger="urgent")], [], policy, late)[0].outcome is Outcome.SEND
    assert decide([candidate(zone="Mars/Olympus")], [], policy, late)[0].outcome is Outcome.DEFER_QUIET_HOURS
    assert decide([candidate(zone=None)], [], AlertPolicy(quiet_hours=None), late)[0].outcome is Outcome.SEND


def test_deferred_alerts_do_not_count_until_they_are_sent() -> None:
    run = Run(DROP)
    evening = NOON.replace(hour=21)
    deferred = run([candidate(f"acc_{i}", priority=float(i)) for i in range(4)], evening)
    assert {d.outcome for d in deferred} == {Outcome.DEFER_QUIET_HOURS}
    morning = deferred[0].not_before
    assert morning is not None
    again = outcomes(run([d.candidate for d in deferred], morning))
    assert again == {"acc_3": Outcome.SEND, "acc_2": Outcome.SEND, "acc_1": Outcome.SEND, "acc_0": Outcome.CAPPED_DAY}


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ({}, Outcome.FIRST_RUN_SKIPPED),
        ({"first_run": "cap"}, Outcome.SEND),
        ({"triggers": {"hot": {"first_run": "cap"}}}, Outcome.SEND),
    ],
)
def test_first_run_policy(policy: dict[str, object], expected: Outcome) -> None:
    [decision] = decide([candidate(first_run=True)], [], AlertPolicy.model_validate(policy), NOON)
    assert decision.outcome is expected


def test_first_run_skips_record_but_neither_count_nor_cool_down() -> None:
    run = Run()
    run([candidate(f"acc_{i}", first_run=True) for i in range(5)], NOON)
    later = run([candidate(f"acc_{i}", firing="f2") for i in range(3)], NOON + timedelta(hours=1))
    assert {d.outcome for d in later} == {Outcome.SEND}


@pytest.mark.parametrize(
    ("channel", "reason"),
    [
        ("#pql-triage", "no owner (owner_email is empty); sent to #pql-triage"),
        (None, "no owner (owner_email is empty); no fallback channel configured, not sent"),
    ],
)
def test_unresolved_owners_go_to_the_fallback_channel(channel: str | None, reason: str) -> None:
    policy = AlertPolicy(fallback_channel=channel)
    [decision] = decide([candidate(rep=None, no_owner_reason="owner_email is empty")], [], policy, NOON)
    assert (decision.outcome, decision.channel, decision.reason) == (Outcome.NO_OWNER, channel, reason)
    again = decide([candidate(rep=None, firing="f2")], record([decision]), policy, NOON + timedelta(hours=1))
    assert again[0].outcome is Outcome.COOLDOWN  # the fallback channel is not flooded by one account either


def test_a_key_already_decided_is_dropped_and_a_deferred_one_is_not() -> None:
    key = DedupeKey("slack_pql", "hot", "acc_1", "f1")
    done = LedgerEntry(key, "U_DANA", Outcome.CAPPED_DAY, NOON - timedelta(hours=1), "hot")
    [decision] = decide([candidate()], [done], AlertPolicy(), NOON)
    assert decision.outcome is Outcome.DROPPED
    assert decision.reason == "already decided: capped_day at 2026-11-23 11:00 UTC"
    deferred = LedgerEntry(key, "U_DANA", Outcome.DEFER_QUIET_HOURS, NOON - timedelta(hours=1), "hot")
    assert decide([candidate()], [deferred], AlertPolicy(), NOON)[0].outcome is Outcome.SEND
    twice = decide([candidate(), candidate()], [], AlertPolicy(), NOON)
    assert [d.outcome for d in twice] == [Outcome.SEND, Outcome.DROPPED]


def test_stale_alerts_are_dropped() -> None:
    [decision] = decide([candidate(fired_at=NOON - timedelta(hours=49))], [], AlertPolicy(), NOON)
    assert decision.outcome is Outcome.DROPPED
    assert decision.reason == "fired 2.0 days ago; alerts older than 48 h are stale"


def test_dedupe_keys_round_trip_through_their_token() -> None:
    key = DedupeKey("sync", "trig:ger", "acc/ü 1%", "2026-11-23T12:00:00Z")
    assert DedupeKey.parse(key.token()) == key
    for bad in ["", "a:b:c", "a:b:c:d:e", "a::c:d"]:
        with pytest.raises(ValueError, match="not a dedupe key"):
            DedupeKey.parse(bad)


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ({"caps": {"per_day": 5, "per_week": 4}}, "per_day (5) cannot exceed per_week (4)"),
        ({"quiet_hours": {"start": "09:00", "end": "09:00"}}, "start and end are equal"),
        ({"default_time_zone": "Mars/Olympus"}, "not an IANA time zone"),
        ({"tiers": ["hot", "hot"]}, "tiers must be distinct"),
        ({"overflow": "email"}, "'digest' or 'drop'"),
        ({"caps": {"per_dya": 3}}, "Extra inputs are not permitted"),
    ],
)
def test_policy_config_errors(policy: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        AlertPolicy.model_validate(policy)


def test_policy_defaults_and_now_must_be_aware() -> None:
    policy = AlertPolicy()
    assert (policy.caps, policy.cooldown_days, policy.overflow.value, policy.first_run.value) == (
        Caps(per_day=3, per_week=15),
        7,
        "digest",
        "skip",
    )
    with pytest.raises(ValueError, match="timezone-aware"):
        decide([candidate()], [], policy, datetime(2026, 11, 23, 12))  # noqa: DTZ001 (naive is the point)
    assert NOON.tzinfo is UTC


def test_the_policy_reads_from_syncer_yaml() -> None:
    document = yaml.safe_load("""
alerts:
  caps: {per_day: 2, per_week: 10}
  tiers: [cold, warm, hot]
  cooldown_days: 3
  quiet_hours: {start: "21:30", end: "07:00"}
  default_time_zone: America/Chicago
  overflow: drop
  first_run: cap
  fallback_channel: "#pql-triage"
  triggers:
    expansion_signal:
      caps: {per_day: 1, per_week: 3}
      quiet_hours: null
    slack_pql_alerts.hot_account_alert:
      cooldown_days: 1
""")
    policy = AlertPolicy.model_validate(document["alerts"])
    assert policy.quiet_hours is not None and policy.quiet_hours.start == time(21, 30)
    expansion = policy.rules_for("any_sync", "expansion_signal")
    assert (expansion.caps, expansion.trigger_caps, expansion.quiet_hours, expansion.cooldown) == (
        Caps(per_day=2, per_week=10),
        Caps(per_day=1, per_week=3),
        None,
        timedelta(days=3),
    )
    hot = policy.rules_for("slack_pql_alerts", "hot_account_alert")
    assert (hot.cooldown, hot.quiet_hours, hot.overflow, hot.first_run) == (
        timedelta(days=1),
        policy.quiet_hours,
        OverflowPolicy.DROP,
        FirstRunPolicy.CAP,
    )
    assert policy.rules_for("other_sync", "hot_account_alert").cooldown == timedelta(days=3)
    with pytest.raises(ValidationError, match="frozen"):
        policy.caps.per_day = 5  # type: ignore[misc]


@pytest.mark.parametrize(
    ("quiet", "expected"),
    [
        (QuietHours(), datetime(2026, 11, 24, 7, tzinfo=UTC)),  # 08:00 in Berlin, the end of the night's quiet hours
        (QuietHours(start=time(1), end=time(5)), datetime(2026, 11, 23, 23, tzinfo=UTC)),  # midnight is not quiet
        (None, datetime(2026, 11, 23, 23, tzinfo=UTC)),
    ],
)
def test_a_days_digest_goes_out_at_the_first_sendable_moment_of_the_next_day(
    quiet: QuietHours | None, expected: datetime
) -> None:
    assert digest_time(date(2026, 11, 23), quiet, ZoneInfo("Europe/Berlin")) == expected
