"""lookup_users through slack-sdk against the sandbox: e-mails normalised, time zones read, unknown ones absent."""

from __future__ import annotations

import pytest

from connectors.sandbox.people import sample_reps
from connectors.slack.sandbox import SlackEmulator, SlackLimits, Tier
from syncer.contract.effects import ChatMember
from syncer.contract.errors import RateLimitedError

from .conftest import MakeLimited, Open

DANA, RAVI, TOM = sample_reps()[0], sample_reps()[1], sample_reps()[5]


def lookups(slack: SlackEmulator) -> int:
    return slack.log.counts().get("POST /api/users.lookupByEmail", 0)


def test_lookups_ignore_case_and_spaces_and_return_the_time_zone(open_channel: Open, slack: SlackEmulator) -> None:
    shouting, padded = DANA.email.upper(), f"  {TOM.email}\t"
    found = open_channel().lookup_users([shouting, padded, DANA.email])
    assert found == {
        shouting: ChatMember(DANA.slack_id, DANA.email, "America/New_York"),
        padded: ChatMember(TOM.slack_id, TOM.email, "Europe/Berlin"),
        DANA.email: ChatMember(DANA.slack_id, DANA.email, "America/New_York"),
    }
    assert lookups(slack) == 2  # one call per distinct normalised address


def test_unknown_and_deactivated_emails_are_absent(open_channel: Open, slack: SlackEmulator) -> None:
    found = open_channel().lookup_users(["nobody@yourco.com", "pat.former@yourco.com", " ", RAVI.email])
    assert found == {RAVI.email: ChatMember(RAVI.slack_id, RAVI.email, "America/Chicago")}


def test_a_member_added_later_is_found_with_their_zone(open_channel: Open, slack: SlackEmulator) -> None:
    slack.add_user("U0NOTZUSER1", "no.tz@yourco.com", "No Tz", tz="Asia/Tokyo")
    found = open_channel().lookup_users(["No.Tz@yourco.com"])
    assert found["No.Tz@yourco.com"].tz == "Asia/Tokyo"


def test_rate_limit_midway_keeps_what_was_found(limited_slack: MakeLimited) -> None:
    slack = limited_slack(
        SlackLimits(tier_per_minute={Tier.TIER_1: 1, Tier.TIER_2: 20, Tier.TIER_3: 2, Tier.TIER_4: 100})
    )
    emulator, channel, clock = slack.emulator, slack.channel, slack.clock
    emails = [rep.email for rep in sample_reps()[:3]]
    with pytest.raises(RateLimitedError) as excinfo:  # the third lookup in a minute
        channel.lookup_users(emails)
    assert excinfo.value.retry_after == 60 and excinfo.value.code == "ratelimited"
    clock.advance(60)
    found = channel.lookup_users(emails)
    assert [found[e].id for e in emails] == [rep.slack_id for rep in sample_reps()[:3]]
    assert lookups(emulator) == 4  # two, one refused, then only the one still missing
