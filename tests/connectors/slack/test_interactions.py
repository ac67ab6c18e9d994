"""Slack interaction requests, signed the way Slack signs them: valid, forged, stale, replayed and malformed.

These are answered before anything is looked up: the ledger here records any use and must see none for a request
that is refused. Who may act on which alert is tested end to end in ``test_who_may_act.py``."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from connectors.slack.blocks import ACTION_CLAIM, ACTION_NOT_USEFUL, ACTION_OPEN_RECORD, ACTION_SNOOZE
from connectors.slack.blocks import render_alert as draw
from connectors.slack.interactions import (
    Feedback,
    SlackInteractions,
    done_note,
    parse_feedback,
    updated_blocks,
)
from connectors.slack.sandbox.blocks import validate_blocks
from connectors.slack.settings import SlackSettings
from syncer.alerts.templates import render_marked
from syncer.config.alerts import AlertPolicy
from syncer.contract.alerts import Alert, FeedbackAction
from syncer.contract.interactions import InMemorySeenRequests, InteractionAnswer, InteractionRequest, Press, SentAlert
from syncer.core.alerts import Candidate, DedupeKey, Outcome, decide
from syncer.effects.feedback import hold_entry
from tests.connectors.slack.test_blocks import ROW, SHIPPED

SECRET = SecretStr("8f742231b10e8888abcd99yyyzzz85a5")
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
KEY = DedupeKey("slack_pql_alerts", "hot_account_alert", "acc_000123", "2026-11-23T12:00:00Z")
MESSAGE = draw(
    Alert(
        KEY.token(),
        "Northwind Traders",
        render_marked(SHIPPED, ROW),
        83.5,
        "hot",
        record_url="https://yourco.lightning.force.com/lightning/r/Account/001000000000001/view",
    )
)


def payload(
    action_id: str = ACTION_CLAIM, value: str = KEY.token(), user: str = "U061F7AUR", **extra: Any
) -> dict[str, Any]:
    return {
        "type": "block_actions",
        "user": {"id": user, "username": "dana.kim"},
        "container": {"type": "message", "message_ts": "1763899200.000100", "channel_id": "D0123"},
        "channel": {"id": "D0123"},
        "response_url": "https://hooks.slack.com/actions/T0/1/abc",
        "message": {"ts": "1763899200.000100", "text": MESSAGE.text, "blocks": MESSAGE.blocks},
        "actions": [
            {
                "action_id": action_id,
                "block_id": "syncer_feedback",
                "value": value,
                "type": "button",
                "action_ts": "1763899260.1",
            }
        ],
    } | extra


def form(data: object) -> bytes:
    return urlencode({"payload": json.dumps(data)}).encode()


def signed(body: bytes, at: datetime = NOW, secret: SecretStr = SECRET) -> dict[str, str]:
    timestamp = str(int(at.timestamp()))
    # Computed here as Slack documents it, independently of the connector's verifier.
    digest = hmac.new(secret.get_secret_value().encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256)
    return {
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": f"v0={digest.hexdigest()}",
        "Content-Type": "application/x-www-form-urlencoded",
    }


class UntouchedLedger:
    """A ledger these requests must never reach: verification and parsing happen before any lookup."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def sent_alert(self, dedupe_key: str) -> SentAlert | None:
        self.calls.append(dedupe_key)
        return None

    def record(self, press: Press) -> int:
        self.calls.append(press.alert.dedupe_key)
        return 0


class Handler:
    """The connector's handler with a fixed clock, as the tests call it: ``(status, body, feedback or None)``."""

    def __init__(self, seen: InMemorySeenRequests | None = None) -> None:
        settings = SlackSettings(type="slack", token=SecretStr("xoxb-unused"), signing_secret=SECRET)
        self.inner = SlackInteractions(settings, seen if seen is not None else InMemorySeenRequests())
        self.ledger = UntouchedLedger()

    def handle(
        self, body: bytes, headers: dict[str, str], now: datetime
    ) -> tuple[int, dict[str, Any], Feedback | None]:
        answer: InteractionAnswer = self.inner.handle(InteractionRequest(body, headers, now), self.ledger)
        assert self.ledger.calls == []  # nothing is looked up before the answer
        feedback = parse_feedback(body) if answer.followup is not None else None
        return answer.status, answer.body, feedback


@pytest.fixture
def handler() -> Handler:
    return Handler()


@pytest.mark.parametrize(
    ("action_id", "action", "done"),
    [
        (ACTION_CLAIM, FeedbackAction.CLAIM, "Claimed by <@U061F7AUR>"),
        (ACTION_SNOOZE, FeedbackAction.SNOOZE_7D, "Snoozed for 7 days by <@U061F7AUR>"),
        (ACTION_NOT_USEFUL, FeedbackAction.NOT_USEFUL, "Marked not useful by <@U061F7AUR>"),
    ],
)
def test_a_signed_feedback_press_is_accepted_and_updates_the_message(
    handler: Handler, action_id: str, action: FeedbackAction, done: str
) -> None:
    body = form(payload(action_id))
    status, response, feedback = handler.handle(body, signed(body), NOW)
    assert (status, response) == (200, {"ok": True})
    assert feedback is not None
    assert (feedback.action, feedback.user_id, feedback.dedupe_key) == (action, "U061F7AUR", KEY.token())
    assert (feedback.channel_id, feedback.message_ts) == ("D0123", "1763899200.000100")
    assert feedback.response_url == "https://hooks.slack.com/actions/T0/1/abc"
    assert feedback.message_text == MESSAGE.text
    blocks = updated_blocks(feedback.message_blocks, done_note(feedback, None))
    assert validate_blocks(blocks) == []
    assert blocks[:-2] == MESSAGE.blocks[:-1]  # the alert itself is unchanged
    link, note = blocks[-2:]
    assert [e["action_id"] for e in link["elements"]] == [ACTION_OPEN_RECORD]  # the CRM link stays
    assert note == {"type": "context", "elements": [{"type": "mrkdwn", "text": done}]}


def test_headers_are_matched_whatever_their_case(handler: Handler) -> None:
    body = form(payload())
    headers = {name.lower(): value for name, value in signed(body).items()}
    assert handler.handle(body, headers, NOW)[0] == 200


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        (lambda body, headers: (body, signed(body, secret=SecretStr("another-secret"))), "signature does not match"),
        (lambda body, headers: (body.replace(b"U061F7AUR", b"U0ATTACKR"), headers), "signature does not match"),
        (
            lambda body, headers: (body, headers | {"X-Slack-Signature": "v1=" + headers["X-Slack-Signature"][3:]}),
            "signature does not match",
        ),
        (
            lambda body, headers: (body, {"X-Slack-Signature": headers["X-Slack-Signature"]}),
            "missing X-Slack-Request-Timestamp or X-Slack-Signature",
        ),
        (
            lambda body, headers: (body, headers | {"X-Slack-Request-Timestamp": "noon"}),
            "X-Slack-Request-Timestamp is not a number",
        ),
    ],
)
def test_forged_requests_are_refused(handler: Handler, tamper: Any, reason: str) -> None:
    body = form(payload())
    forged_body, forged_headers = tamper(body, signed(body))
    assert handler.handle(forged_body, forged_headers, NOW) == (401, {"ok": False, "error": reason}, None)


@pytest.mark.parametrize(
    ("sent", "status"),
    [
        (NOW - timedelta(seconds=301), 401),
        (NOW + timedelta(seconds=301), 401),
        (NOW - timedelta(seconds=299), 200),
        (NOW + timedelta(seconds=299), 200),
    ],
)
def test_only_fresh_timestamps_are_accepted(handler: Handler, sent: datetime, status: int) -> None:
    body = form(payload())
    got, response, _ = handler.handle(body, signed(body, at=sent), NOW)
    assert got == status
    if status == 401:
        assert response["error"] == "request timestamp is 301 s from now (at most 300 s accepted)"


def test_a_replayed_request_is_refused_and_remembered_only_while_it_could_be_accepted() -> None:
    seen = InMemorySeenRequests()
    handler = Handler(seen)
    body = form(payload())
    headers = signed(body)
    assert handler.handle(body, headers, NOW)[0] == 200
    assert handler.handle(body, headers, NOW + timedelta(seconds=30)) == (
        409,
        {"ok": False, "error": "request already handled (replay)"},
        None,
    )
    assert handler.handle(body, headers, NOW + timedelta(minutes=6))[0] == 401  # stale by then
    other = form(payload(ACTION_SNOOZE))
    assert handler.handle(other, signed(other, at=NOW + timedelta(minutes=11)), NOW + timedelta(minutes=11))[0] == 200
    assert len(seen) == 1  # the first signature expired and was forgotten


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not a form", "body is not a form with a JSON 'payload'"),
        (b"payload=%7Bnot+json", "body is not a form with a JSON 'payload'"),
        (b"\xff\xfe=\x00", "body is not a form with a JSON 'payload'"),
        (b"other=1", "body is not a form with a JSON 'payload'"),
        (form([1, 2]), "payload is not a JSON object"),
        (form(payload(actions=[])), "block_actions payload without actions"),
        (form(payload(actions=["claim"])), "block_actions payload without actions"),
        (form(payload(value="")), "the button has no dedupe key"),
        (form(payload(value="k" * 2001)), "the button has no dedupe key"),
        (form(payload() | {"actions": [{"action_id": ACTION_CLAIM}]}), "the button has no dedupe key"),
        (b"payload=" + b"%5B" * 5000, "payload JSON is nested too deeply"),
        (form(payload(user="U1> <!channel")), "payload has no valid user id"),
        (form(payload() | {"user": {"id": None}}), "payload has no valid user id"),
    ],
)
def test_malformed_payloads_get_a_400_with_a_reason(handler: Handler, body: bytes, reason: str) -> None:
    assert handler.handle(body, signed(body), NOW) == (400, {"ok": False, "error": reason}, None)


@pytest.mark.parametrize(
    "data",
    [
        payload(ACTION_OPEN_RECORD),
        payload("someone_elses_button"),
        {"type": "view_submission", "view": {}},
    ],
)
def test_interactions_that_are_not_feedback_are_acknowledged_and_ignored(
    handler: Handler, data: dict[str, Any]
) -> None:
    body = form(data)
    assert handler.handle(body, signed(body), NOW) == (200, {"ok": True}, None)


def test_an_oversized_body_is_refused_before_anything_else(handler: Handler) -> None:
    body = b"payload=" + b"x" * 300_000
    assert handler.handle(body, signed(body), NOW)[0] == 413


@given(body=st.binary(max_size=300) | st.text(max_size=300).map(lambda t: urlencode({"payload": t}).encode()))
def test_any_signed_body_gets_a_status_and_never_a_traceback(body: bytes) -> None:
    status, response, feedback = Handler().handle(body, signed(body), NOW)
    assert status in (200, 400)
    assert (feedback is None) or status == 200
    assert SECRET.get_secret_value() not in json.dumps(response)


def test_feedback_on_a_message_without_a_feedback_block_appends_the_note() -> None:
    body = form(payload() | {"message": {"text": "old", "blocks": [{"type": "divider"}] * 60}})
    _, _, feedback = Handler().handle(body, signed(body), NOW)
    assert feedback is not None
    blocks = updated_blocks(feedback.message_blocks, done_note(feedback, None))
    assert len(blocks) == 50 and blocks[-1]["elements"][0]["text"] == "Claimed by <@U061F7AUR>"


def test_a_press_for_another_member_says_for_whom() -> None:
    _, _, feedback = Handler().handle(form(payload()), signed(form(payload())), NOW)
    assert feedback is not None
    assert done_note(feedback, "U0DANA0001") == "Claimed by <@U061F7AUR> for <@U0DANA0001>"
    assert done_note(feedback, "U061F7AUR") == "Claimed by <@U061F7AUR>"
    assert done_note(feedback, "<!channel>") == "Claimed by <@U061F7AUR>"  # never a mention from data


def test_a_snooze_press_silences_that_account_for_that_rep_for_seven_days() -> None:
    alert = SentAlert(KEY.token(), "1763899200.000100", None, "U061F7AUR", tuple(FeedbackAction))
    entry = hold_entry(Press(alert, FeedbackAction.SNOOZE_7D, "U061F7AUR", NOW))
    assert entry is not None and entry.not_before == NOW + timedelta(days=7)
    policy = AlertPolicy(cooldown_days=0)
    hot = Candidate(
        DedupeKey(KEY.sync, KEY.trigger, KEY.account, "later"),
        "U061F7AUR",
        "UTC",
        "hot",
        99.0,
        1,
        NOW + timedelta(days=3),
        rep_name="dana.kim",
    )
    [decision] = decide([hot], [entry], policy, NOW + timedelta(days=3))
    assert (decision.outcome, decision.reason) == (
        Outcome.SNOOZED,
        "dana.kim snoozed acc_000123 until 2026-11-30 12:00 UTC",
    )
    other_rep = Candidate(hot.key, "U0OTHER", "UTC", "hot", 99.0, 1, NOW + timedelta(days=3))
    assert decide([other_rep], [entry], policy, NOW + timedelta(days=3))[0].outcome is Outcome.SEND
    after = Candidate(hot.key, "U061F7AUR", "UTC", "hot", 99.0, 1, NOW + timedelta(days=7, hours=1))
    assert decide([after], [entry], policy, NOW + timedelta(days=7, hours=1))[0].outcome is Outcome.SEND
    assert hold_entry(Press(alert, FeedbackAction.CLAIM, "U061F7AUR", NOW)) is None
    not_useful = hold_entry(Press(alert, FeedbackAction.NOT_USEFUL, "U061F7AUR", NOW))
    assert not_useful is not None and not_useful.not_before == NOW + timedelta(days=30)
