"""Slack interaction requests, signed the way Slack signs them: valid, forged, stale, replayed and malformed."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from connectors.slack.sandbox.blocks import validate_blocks
from syncer.alerts.interactions import (
    FeedbackAction,
    InMemorySeenRequests,
    InteractionHandler,
    signature,
    snooze_entry,
    update_message,
)
from syncer.alerts.render import ACTION_CLAIM, ACTION_NOT_USEFUL, ACTION_OPEN_RECORD, ACTION_SNOOZE, render_alert
from syncer.config.alerts import AlertPolicy
from syncer.core.alerts import Candidate, DedupeKey, Outcome, decide
from tests.alerts.test_render import SHIPPED, content

SECRET = SecretStr("8f742231b10e8888abcd99yyyzzz85a5")
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
KEY = DedupeKey("slack_pql_alerts", "hot_account_alert", "acc_000123", "2026-11-23T12:00:00Z")
MESSAGE = render_alert(SHIPPED, content(dedupe_token=KEY.token()))


def payload(action_id: str = ACTION_CLAIM, value: str = KEY.token(), user: str = "U061F7AUR",
            **extra: Any) -> dict[str, Any]:
    return {"type": "block_actions", "user": {"id": user, "username": "dana.kim"},
            "container": {"type": "message", "message_ts": "1763899200.000100", "channel_id": "D0123"},
            "channel": {"id": "D0123"}, "response_url": "https://hooks.slack.com/actions/T0/1/abc",
            "message": {"ts": "1763899200.000100", "text": MESSAGE.text, "blocks": MESSAGE.blocks},
            "actions": [{"action_id": action_id, "block_id": "syncer_feedback", "value": value,
                         "type": "button", "action_ts": "1763899260.1"}]} | extra


def form(data: object) -> bytes:
    return urlencode({"payload": json.dumps(data)}).encode()


def signed(body: bytes, at: datetime = NOW, secret: SecretStr = SECRET) -> dict[str, str]:
    timestamp = str(int(at.timestamp()))
    return {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature(secret, timestamp, body),
            "Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
def handler() -> InteractionHandler:
    return InteractionHandler(SECRET, InMemorySeenRequests())


@pytest.mark.parametrize(("action_id", "action", "done"), [
    (ACTION_CLAIM, FeedbackAction.CLAIM, "Claimed by <@U061F7AUR>"),
    (ACTION_SNOOZE, FeedbackAction.SNOOZE_7D, "Snoozed for 7 days by <@U061F7AUR>"),
    (ACTION_NOT_USEFUL, FeedbackAction.NOT_USEFUL, "Marked not useful by <@U061F7AUR>"),
])
def test_a_signed_feedback_press_is_accepted_and_updates_the_message(
        handler: InteractionHandler, action_id: str, action: FeedbackAction, done: str) -> None:
    body = form(payload(action_id))
    status, response, feedback = handler.handle(body, signed(body), NOW)
    assert (status, response) == (200, {"ok": True})
    assert feedback is not None
    assert (feedback.action, feedback.user_id, feedback.dedupe_key) == (action, "U061F7AUR", KEY)
    assert (feedback.channel_id, feedback.message_ts) == ("D0123", "1763899200.000100")
    assert feedback.response_url == "https://hooks.slack.com/actions/T0/1/abc"
    update = update_message(feedback)
    assert update["replace_original"] is True and update["text"] == MESSAGE.text
    assert validate_blocks(update["blocks"]) == []
    assert update["blocks"][:-2] == MESSAGE.blocks[:-1]  # the alert itself is unchanged
    link, note = update["blocks"][-2:]
    assert [e["action_id"] for e in link["elements"]] == [ACTION_OPEN_RECORD]  # the CRM link stays
    assert note == {"type": "context", "elements": [{"type": "mrkdwn", "text": done}]}


def test_headers_are_matched_whatever_their_case(handler: InteractionHandler) -> None:
    body = form(payload())
    headers = {name.lower(): value for name, value in signed(body).items()}
    assert handler.handle(body, headers, NOW)[0] == 200


@pytest.mark.parametrize(("tamper", "reason"), [
    (lambda body, headers: (body, signed(body, secret=SecretStr("another-secret"))), "signature does not match"),
    (lambda body, headers: (body.replace(b"U061F7AUR", b"U0ATTACKR"), headers), "signature does not match"),
    (lambda body, headers: (body, headers | {"X-Slack-Signature": "v1=" + headers["X-Slack-Signature"][3:]}),
     "signature does not match"),
    (lambda body, headers: (body, {"X-Slack-Signature": headers["X-Slack-Signature"]}),
     "missing X-Slack-Request-Timestamp or X-Slack-Signature"),
    (lambda body, headers: (body, headers | {"X-Slack-Request-Timestamp": "noon"}),
     "X-Slack-Request-Timestamp is not a number"),
])
def test_forged_requests_are_refused(handler: InteractionHandler, tamper: Any, reason: str) -> None:
    body = form(payload())
    forged_body, forged_headers = tamper(body, signed(body))
    assert handler.handle(forged_body, forged_headers, NOW) == (401, {"ok": False, "error": reason}, None)


@pytest.mark.parametrize(("sent", "status"), [
    (NOW - timedelta(seconds=301), 401), (NOW + timedelta(seconds=301), 401),
    (NOW - timedelta(seconds=299), 200), (NOW + timedelta(seconds=299), 200),
])
def test_only_fresh_timestamps_are_accepted(handler: InteractionHandler, sent: datetime, status: int) -> None:
    body = form(payload())
    got, response, _ = handler.handle(body, signed(body, at=sent), NOW)
    assert got == status
    if status == 401:
        assert response["error"] == "request timestamp is 301 s from now (at most 300 s accepted)"


def test_a_replayed_request_is_refused_and_remembered_only_while_it_could_be_accepted() -> None:
    seen = InMemorySeenRequests()
    handler = InteractionHandler(SECRET, seen)
    body = form(payload())
    headers = signed(body)
    assert handler.handle(body, headers, NOW)[0] == 200
    assert handler.handle(body, headers, NOW + timedelta(seconds=30)) == (
        409, {"ok": False, "error": "request already handled (replay)"}, None)
    assert handler.handle(body, headers, NOW + timedelta(minutes=6))[0] == 401  # stale by then
    other = form(payload(ACTION_SNOOZE))
    assert handler.handle(other, signed(other, at=NOW + timedelta(minutes=11)), NOW + timedelta(minutes=11))[0] == 200
    assert len(seen) == 1  # the first signature expired and was forgotten


@pytest.mark.parametrize(("body", "reason"), [
    (b"not a form", "body is not a form with a JSON 'payload'"),
    (b"payload=%7Bnot+json", "body is not a form with a JSON 'payload'"),
    (b"\xff\xfe=\x00", "body is not a form with a JSON 'payload'"),
    (b"other=1", "body is not a form with a JSON 'payload'"),
    (form([1, 2]), "payload is not a JSON object"),
    (form(payload(actions=[])), "block_actions payload without actions"),
    (form(payload(actions=["claim"])), "block_actions payload without actions"),
    (form(payload(value="acc_000123")), "not a dedupe key: 'acc_000123'"),
    (form(payload(user="U1> <!channel")), "payload has no valid user id"),
    (form(payload() | {"user": {"id": None}}), "payload has no valid user id"),
])
def test_malformed_payloads_get_a_400_with_a_reason(handler: InteractionHandler, body: bytes, reason: str) -> None:
    assert handler.handle(body, signed(body), NOW) == (400, {"ok": False, "error": reason}, None)


@pytest.mark.parametrize("data", [
    payload(ACTION_OPEN_RECORD), payload("someone_elses_button"), {"type": "view_submission", "view": {}},
])
def test_interactions_that_are_not_feedback_are_acknowledged_and_ignored(handler: InteractionHandler,
                                                                         data: dict[str, Any]) -> None:
    body = form(data)
    assert handler.handle(body, signed(body), NOW) == (200, {"ok": True}, None)


def test_an_oversized_body_is_refused_before_anything_else(handler: InteractionHandler) -> None:
    body = b"payload=" + b"x" * 300_000
    assert handler.handle(body, signed(body), NOW)[0] == 413


@given(body=st.binary(max_size=300) | st.text(max_size=300).map(lambda t: urlencode({"payload": t}).encode()))
def test_any_signed_body_gets_a_status_and_never_a_traceback(body: bytes) -> None:
    status, response, feedback = InteractionHandler(SECRET).handle(body, signed(body), NOW)
    assert status in (200, 400)
    assert (feedback is None) or status == 200
    assert SECRET.get_secret_value() not in json.dumps(response)


def test_feedback_on_a_message_without_a_feedback_block_appends_the_note() -> None:
    body = form(payload() | {"message": {"text": "old", "blocks": [{"type": "divider"}] * 60}})
    _, _, feedback = InteractionHandler(SECRET).handle(body, signed(body), NOW)
    assert feedback is not None
    blocks = update_message(feedback)["blocks"]
    assert len(blocks) == 50 and blocks[-1]["elements"][0]["text"] == "Claimed by <@U061F7AUR>"


def test_a_snooze_press_silences_that_account_for_that_rep_for_seven_days() -> None:
    body = form(payload(ACTION_SNOOZE))
    _, _, feedback = InteractionHandler(SECRET).handle(body, signed(body), NOW)
    assert feedback is not None
    entry = snooze_entry(feedback, NOW)
    assert entry is not None and entry.not_before == NOW + timedelta(days=7)
    policy = AlertPolicy(cooldown_days=0)
    hot = Candidate(DedupeKey(KEY.sync, KEY.trigger, KEY.account, "later"), "U061F7AUR", "UTC", "hot", 99.0, 1,
                    NOW + timedelta(days=3), rep_name="dana.kim")
    [decision] = decide([hot], [entry], policy, NOW + timedelta(days=3))
    assert (decision.outcome, decision.reason) == (
        Outcome.SNOOZED, "dana.kim snoozed acc_000123 until 2026-11-30 12:00 UTC")
    other_rep = Candidate(hot.key, "U0OTHER", "UTC", "hot", 99.0, 1, NOW + timedelta(days=3))
    assert decide([other_rep], [entry], policy, NOW + timedelta(days=3))[0].outcome is Outcome.SEND
    after = Candidate(hot.key, "U061F7AUR", "UTC", "hot", 99.0, 1, NOW + timedelta(days=7, hours=1))
    assert decide([after], [entry], policy, NOW + timedelta(days=7, hours=1))[0].outcome is Outcome.SEND
    claim = form(payload(ACTION_CLAIM))
    claimed = InteractionHandler(SECRET).handle(claim, signed(claim), NOW)[2]
    assert claimed is not None and snooze_entry(claimed, NOW) is None
