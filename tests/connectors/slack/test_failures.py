"""Every failure mapped by the one table in connectors/slack/errors.py, through slack-sdk against the sandbox."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

import connectors.slack.channel as channel_module
from connectors.sandbox.core.faults import FaultRule
from connectors.sandbox.people import sample_reps
from connectors.slack.blocks import SlackMessage
from connectors.slack.channel import open_alert_channel
from connectors.slack.errors import Reaction, classify
from connectors.slack.sandbox import GENERAL_ID, PQL_ALERTS_ID, SlackEmulator
from syncer.contract.alerts import MarkedText, Notice
from syncer.contract.destination import RecordStatus
from syncer.contract.effects import AlertPost
from syncer.contract.errors import DestinationStoppedError, RateLimitedError, TransientError

from .conftest import TOKEN, Open, settings_for

DANA = sample_reps()[0]
NOTICE = Notice(MarkedText.of(("alert", False)))
POST_ROUTE = "POST /api/chat.postMessage"


@pytest.fixture
def faults(slack: SlackEmulator) -> Iterator[SlackEmulator]:
    yield slack
    slack.set_faults([])


def divider_alert(channel: str | None = None, user_id: str | None = None) -> AlertPost:
    return AlertPost("k-1", NOTICE, channel=channel, user_id=user_id)


def drawn_as(monkeypatch: pytest.MonkeyPatch, message: SlackMessage) -> None:
    """Make the channel draw every alert as ``message`` (a message Slack refuses, as after a change of limits)."""
    monkeypatch.setattr(channel_module, "render", lambda value, key: message)


def test_429_is_rate_limited_with_retry_after(open_channel: Open, faults: SlackEmulator) -> None:
    faults.set_faults([FaultRule(route=POST_ROUTE, ratelimit_rate=1.0)])
    with pytest.raises(RateLimitedError) as excinfo:
        open_channel().post(divider_alert(channel=PQL_ALERTS_ID))
    assert excinfo.value.retry_after == 1.0 and excinfo.value.code == "ratelimited"
    assert faults.messages(PQL_ALERTS_ID) == []


@pytest.mark.parametrize("token", ["xoxb-not-issued-secret-123", ""])
def test_bad_token_stops_without_echoing_it(
    open_channel: Open, slack: SlackEmulator, token: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # the SDK logs each request at DEBUG
    channel = open_channel(token=token)
    with pytest.raises(DestinationStoppedError) as excinfo:
        channel.post(divider_alert(channel=PQL_ALERTS_ID))
    assert excinfo.value.code == ("invalid_auth" if token else "not_authed")
    assert "token in syncer.yaml" in str(excinfo.value)
    assert token == "" or token not in str(excinfo.value)
    assert excinfo.value.__cause__ is None and excinfo.value.__suppress_context__  # no SDK reply in the chain
    with pytest.raises(DestinationStoppedError):
        channel.lookup_users([DANA.email])
    assert "chat.postMessage" in caplog.text and (token == "" or token not in caplog.text)


def test_revoked_token_stops(open_channel: Open, slack: SlackEmulator) -> None:
    slack.revoke_token(TOKEN)
    with pytest.raises(DestinationStoppedError) as excinfo:
        open_channel().find_posts([AlertPost("k-1", NOTICE, channel=PQL_ALERTS_ID)])
    assert excinfo.value.code == "token_revoked" and TOKEN not in str(excinfo.value)


@pytest.mark.parametrize(
    ("to", "code"),
    [
        ({"channel": "C0NOSUCH001"}, "channel_not_found"),
        ({"channel": GENERAL_ID}, "not_in_channel"),
        ({"user_id": "U0NOSUCH001"}, "user_not_found"),
        ({}, "no_destination"),
    ],
)
def test_undeliverable_alert_is_rejected(
    open_channel: Open, slack: SlackEmulator, to: dict[str, str], code: str
) -> None:
    channel = open_channel()
    result = channel.post(divider_alert(**to))
    assert result.status is RecordStatus.REJECTED and result.code == code and result.message
    assert slack.all_messages() == []
    assert channel.find_posts([divider_alert(**to)]) == {}  # nothing can be there, and reading says so


def test_invalid_blocks_are_rejected_with_slacks_reasons(
    open_channel: Open, slack: SlackEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    header = {"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}
    drawn_as(monkeypatch, SlackMessage("alert", [header], {}))
    result = open_channel().post(AlertPost("k-1", NOTICE, channel=PQL_ALERTS_ID))
    assert result.status is RecordStatus.REJECTED and result.code == "invalid_blocks"
    assert "must be less than 151 characters [json-pointer:/blocks/0/text/text]" in (result.message or "")


def test_too_long_text_is_rejected(open_channel: Open, slack: SlackEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    drawn_as(monkeypatch, SlackMessage("x" * 40_001, [], {}))
    result = open_channel().post(AlertPost("k-1", NOTICE, channel=PQL_ALERTS_ID))
    assert result.status is RecordStatus.REJECTED and result.code == "msg_too_long"


@pytest.mark.parametrize(
    "rule",
    [
        FaultRule(route=POST_ROUTE, error_rate=1.0, error_status=503),
        FaultRule(route=POST_ROUTE, error_rate=1.0, error_status=500),
        FaultRule(route=POST_ROUTE, drop_rate=1.0),
    ],
)
def test_outages_and_dropped_connections_are_transient(
    open_channel: Open, faults: SlackEmulator, rule: FaultRule
) -> None:
    faults.set_faults([rule])
    with pytest.raises(TransientError):
        open_channel().post(AlertPost("k-1", NOTICE, channel=PQL_ALERTS_ID))
    assert faults.messages(PQL_ALERTS_ID) == []


def test_a_refused_connection_is_transient() -> None:
    with pytest.raises(TransientError) as excinfo:  # nothing listens on the discard port
        open_alert_channel(settings_for("http://127.0.0.1:9/api/"), timeout_s=5).lookup_users([DANA.email])
    assert excinfo.value.code == "unreachable"


# Codes the sandbox never answers with (archiving, scopes, deactivated bots) are checked against the table itself.
@pytest.mark.parametrize(
    ("status", "code", "reaction"),
    [
        (200, "is_archived", Reaction.REJECTED),
        (200, "cannot_dm_bot", Reaction.REJECTED),
        (200, "missing_scope", Reaction.STOPPED),
        (200, "account_inactive", Reaction.STOPPED),
        (200, "token_expired", Reaction.STOPPED),
        (200, "fatal_error", Reaction.TRANSIENT),
        (200, "some_future_code", Reaction.REJECTED),
        (502, "Received a response in a non-JSON format: <html>", Reaction.TRANSIENT),
        (404, None, Reaction.STOPPED),
    ],
)
def test_table(status: int, code: str | None, reaction: Reaction) -> None:
    failure = classify("chat.postMessage", status, {"ok": False, "error": code} if code else {}, {})
    assert failure.reaction is reaction
    assert failure.message.startswith(f"Slack chat.postMessage answered {status} ")
    assert len(failure.code) <= 60


def test_retry_after_header_in_any_case() -> None:
    failure = classify("users.info", 429, {"ok": False, "error": "ratelimited"}, {"retry-after": ["30"]})
    assert failure.retry_after == 30.0
    error = failure.error()
    assert isinstance(error, RateLimitedError) and error.retry_after == 30.0
    assert classify("users.info", 429, {}, {"Retry-After": "soon"}).retry_after is None
