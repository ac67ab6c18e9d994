"""Who may act on an alert, end to end: real alerts posted to the Slack emulator through slack-sdk, recorded in a
real DuckDB state as a run records them, and presses signed the way Slack signs them, with the emulator's own
``response_url``. Each attack is answered 200 and changes nothing: no ledger feedback, no snooze, no message update,
and the presser alone is told that it is not their alert."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from pydantic import SecretStr

from connectors.sandbox import Sandbox
from connectors.sandbox.people import sample_reps
from connectors.slack.blocks import ACTION_CLAIM, ACTION_NOT_USEFUL, ACTION_SNOOZE
from connectors.slack.channel import open_alert_channel
from connectors.slack.interactions import NOT_YOURS, SlackInteractions, ephemeral
from connectors.slack.sandbox import PQL_ALERTS_ID, SlackEmulator
from connectors.slack.sandbox.tokens import DEMO_BOT_TOKEN
from connectors.slack.settings import SlackSettings
from syncer.contract.alerts import Alert, Digest, DigestItem, MarkedText
from syncer.contract.effects import AlertPost
from syncer.contract.interactions import InMemorySeenRequests, InteractionAnswer, InteractionRequest
from syncer.core.alerts import DedupeKey, LedgerEntry, Outcome
from syncer.effects.feedback import StoreFeedbackLedger
from syncer.effects.payloads import AlertPayload
from syncer.effects.summary import alert_summary
from syncer.state import open_state
from syncer.state.base import StateStore
from syncer.state.outbox import EffectKind, OutboxItem, OutboxStatus

SECRET = "who-may-act-signing-secret"
DANA, RAVI = sample_reps()[0], sample_reps()[1]
OUTSIDER = "U0OUTSIDE01"  # a member of the workspace who is not in #pql-alerts
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass
class World:
    slack: SlackEmulator
    store: StateStore
    handler: SlackInteractions
    ledger: StoreFeedbackLedger
    settings: SlackSettings
    base: str  # the emulator's root URL: its response URLs live under it


@dataclass(frozen=True)
class Sent:
    token: str
    conversation: str
    ts: str


@pytest.fixture
def world(sandbox: Sandbox, tmp_path: Path) -> Iterator[World]:
    base = sandbox.urls["slack"].removesuffix("api/")
    settings = SlackSettings(
        type="slack",
        token=SecretStr(DEMO_BOT_TOKEN),
        base_url=sandbox.urls["slack"],
        signing_secret=SecretStr(SECRET),
        response_url_prefixes=(base,),
    )
    sandbox.slack.add_user(OUTSIDER, "outsider@elsewhere.example", "Out Sider")
    store = open_state("duckdb:///state.duckdb", tmp_path)

    @contextmanager
    def lend() -> Iterator[StateStore]:
        yield store

    try:
        yield World(
            sandbox.slack,
            store,
            SlackInteractions(settings, InMemorySeenRequests()),
            StoreFeedbackLedger(lend),
            settings,
            base,
        )
    finally:
        store.close()


def send(world: World, account: str, *, rep: str | None, channel: str | None = None) -> Sent:
    """An alert about ``account`` sent as a run sends it: decided, staged, posted, confirmed."""
    key = DedupeKey("pql", "hot", account, "f1")
    token, now = key.token(), datetime.now(UTC)
    world.store.ledger.add([LedgerEntry(key, rep, Outcome.SEND, now, "hot")])
    payload = AlertPayload("slack", DANA.email, "is hot", now, channel=channel, rep=rep, decision="send")
    world.store.outbox.add(
        [OutboxItem(token, key.sync, key.trigger, account, EffectKind.ALERT, payload.to_json(), OutboxStatus.PENDING)],
        now,
    )
    value = Alert(token, f"Account {account}", MarkedText.of(("is hot", False)), 90, "hot")
    result = open_alert_channel(world.settings).post(AlertPost(token, value, channel=channel, user_id=rep))
    assert result.external_id is not None
    world.store.outbox.mark_sending([token], now)
    assert world.store.outbox.done(token, result.external_id, now)
    [message] = [m for m in world.slack.all_messages() if m["ts"] == result.external_id]
    return Sent(token, str(message["channel"]), result.external_id)


def press(
    world: World,
    user: str,
    sent: Sent,
    action_id: str = ACTION_CLAIM,
    *,
    value: str | None = None,
    response_url: str | None = None,
) -> InteractionAnswer:
    """``user`` presses ``action_id`` on the message ``sent``: signed, answered, then the followup run."""
    payload = world.slack.interaction_payload(world.base, user, sent.conversation, sent.ts, action_id, value)
    if response_url is not None:
        payload["response_url"] = response_url
    body = urlencode({"payload": json.dumps(payload)}).encode()
    stamp = str(int(time.time()))
    digest = hmac.new(SECRET.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256).hexdigest()
    headers = {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": f"v0={digest}"}
    answer = world.handler.handle(InteractionRequest(body, headers, datetime.now(UTC)), world.ledger)
    if answer.followup is not None:
        answer.followup()
    return answer


def feedback_rows(world: World, token: str) -> list[tuple[Any, Any, Any]]:
    return [
        (r["outcome"], r["feedback"], r["feedback_by"])
        for r in world.store.ledger.log_rows()
        if r["dedupe_key"] == token
    ]


def snoozes(world: World) -> list[LedgerEntry]:
    return [e for e in world.store.ledger.since(None, EPOCH) if e.outcome is Outcome.SNOOZED]


def stored(world: World, sent: Sent) -> dict[str, Any]:
    return next(m for m in world.slack.messages(sent.conversation) if m["ts"] == sent.ts)


def assert_refused(world: World, answer: InteractionAnswer, user: str, *sent: Sent) -> None:
    """Answered 200, told only the presser, and nothing recorded or updated for any of ``sent``."""
    assert answer.status == 200
    assert world.slack.responses()[-1]["body"] == ephemeral(NOT_YOURS)
    assert world.slack.responses()[-1]["user"] == user
    for alert in sent:
        assert feedback_rows(world, alert.token) == [("send", None, None)]
        assert not stored(world, alert)["edited"]
    assert snoozes(world) == []


def test_the_recipient_claims_their_dm_alert_and_the_message_says_so(world: World) -> None:
    dm = send(world, "acc_1", rep=DANA.slack_id)
    answer = press(world, DANA.slack_id, dm)
    assert (answer.status, answer.body) == (200, {"ok": True})
    assert feedback_rows(world, dm.token) == [("send", "claim", DANA.slack_id)]
    message = stored(world, dm)
    assert message["edited"] and message["blocks"][-1]["elements"][0]["text"] == f"Claimed by <@{DANA.slack_id}>"
    assert world.slack.responses() == []  # nothing ephemeral: the update is the answer


def test_another_users_press_on_a_dm_alert_changes_nothing(world: World) -> None:
    dm = send(world, "acc_1", rep=DANA.slack_id)
    assert_refused(world, press(world, RAVI.slack_id, dm, ACTION_SNOOZE), RAVI.slack_id, dm)
    # Ravi's own DM alert, with Dana's dedupe key as the button's value: the key names an alert sent elsewhere.
    own = send(world, "acc_2", rep=RAVI.slack_id)
    assert_refused(world, press(world, RAVI.slack_id, own, ACTION_NOT_USEFUL, value=dm.token), RAVI.slack_id, dm, own)


def test_a_non_members_press_on_a_channel_alert_changes_nothing(world: World) -> None:
    shared = send(world, "acc_3", rep=DANA.slack_id, channel=PQL_ALERTS_ID)
    assert_refused(world, press(world, OUTSIDER, shared, ACTION_SNOOZE), OUTSIDER, shared)


def test_a_members_press_on_a_channel_alert_is_recorded_with_who_pressed_it(world: World) -> None:
    shared = send(world, "acc_3", rep=DANA.slack_id, channel=PQL_ALERTS_ID)
    assert press(world, RAVI.slack_id, shared, ACTION_SNOOZE).status == 200
    assert feedback_rows(world, shared.token) == [
        ("send", "snooze_7d", RAVI.slack_id),
        ("snoozed", "snooze_7d", RAVI.slack_id),
    ]
    [snooze] = snoozes(world)
    assert snooze.rep == DANA.slack_id  # the owner's account is held back, for the owner
    note = stored(world, shared)["blocks"][-1]["elements"][0]["text"]
    assert note == f"Snoozed for 7 days by <@{RAVI.slack_id}> for <@{DANA.slack_id}>"
    assert [s.rep for s in alert_summary(world.store, EPOCH)] == [DANA.email]  # the actor is no "rep"


def test_a_channel_member_is_found_on_any_page_of_conversations_members(world: World) -> None:
    for i in range(250):  # more members than one page holds (the connector asks 200 at a time)
        world.slack.add_user(f"U0FILL{i:05d}", None, f"Fill {i}")
    world.slack.add_channel("C0BIGROOM01", "big-room")
    shared = send(world, "acc_4", rep=DANA.slack_id, channel="C0BIGROOM01")
    room = next(c for c in world.slack.state()["conversations"] if c["id"] == "C0BIGROOM01")
    bot = world.slack.state()["team"]["bot_user_id"]
    last = sorted(m for m in room["members"] if m != bot)[-1]  # on the last page
    assert press(world, last, shared).status == 200
    assert feedback_rows(world, shared.token) == [("send", "claim", last)]
    assert world.slack.log.count("conversations.members") >= 2


def test_a_forged_dedupe_key_changes_nothing(world: World) -> None:
    shared = send(world, "acc_5", rep=DANA.slack_id, channel=PQL_ALERTS_ID)
    never = DedupeKey("pql", "hot", "acc_never_alerted", "f1").token()
    assert_refused(world, press(world, DANA.slack_id, shared, ACTION_SNOOZE, value=never), DANA.slack_id, shared)
    assert_refused(world, press(world, DANA.slack_id, shared, value="not:a:key"), DANA.slack_id, shared)


def test_an_action_the_alert_did_not_offer_changes_nothing(world: World) -> None:
    digest_key = f"digest:{DANA.slack_id}/2026-11-23"
    now = datetime.now(UTC)
    world.store.outbox.add(
        [
            OutboxItem(
                digest_key,
                "",
                "digest",
                DANA.slack_id,
                EffectKind.DIGEST,
                {"digest_key": f"{DANA.slack_id}/2026-11-23", "rep": DANA.slack_id},
                OutboxStatus.PENDING,
            )
        ],
        now,
    )
    result = open_alert_channel(world.settings).post(
        AlertPost(
            digest_key,
            Digest(f"{DANA.slack_id}/2026-11-23", "2026-11-23", [DigestItem("Acme", 80, "hot")]),
            user_id=DANA.slack_id,
        )
    )
    world.store.outbox.mark_sending([digest_key], now)
    assert result.external_id is not None and world.store.outbox.done(digest_key, result.external_id, now)
    digest = Sent(
        digest_key,
        next(m["channel"] for m in world.slack.all_messages() if m["ts"] == result.external_id),
        result.external_id,
    )
    answer = press(world, DANA.slack_id, digest, ACTION_SNOOZE, value=digest_key)  # a digest offers no feedback
    assert answer.status == 200 and world.slack.responses()[-1]["body"] == ephemeral(NOT_YOURS)
    assert not stored(world, digest)["edited"] and snoozes(world) == []


@pytest.fixture
def local_server() -> Iterator[tuple[str, list[str]]]:
    """A tiny server on 127.0.0.1 that records every request it gets."""
    hits: list[str] = []

    class Record(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # what a response_url is sent
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    server = HTTPServer(("127.0.0.1", 0), Record)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", hits
    server.shutdown()
    server.server_close()


def test_a_response_url_outside_the_allow_list_is_never_fetched(
    world: World, local_server: tuple[str, list[str]], caplog: pytest.LogCaptureFixture
) -> None:
    url, hits = local_server
    dm = send(world, "acc_6", rep=DANA.slack_id)
    answer = press(world, DANA.slack_id, dm, ACTION_SNOOZE, response_url=url + "respond")
    assert (answer.status, answer.body, answer.followup) == (200, ephemeral(NOT_YOURS), None)
    assert hits == []
    assert feedback_rows(world, dm.token) == [("send", None, None)] and snoozes(world) == []
    assert not stored(world, dm)["edited"] and world.slack.responses() == []
    [line] = [r.getMessage() for r in caplog.records if "response_url" in r.getMessage()]
    assert "127.0.0.1" in line and "respond" not in line and SECRET not in line


def test_slacks_own_host_is_the_default_allow_list() -> None:
    settings = SlackSettings(type="slack", token=SecretStr("xoxb-x"))
    assert settings.response_url_prefixes == ("https://hooks.slack.com/",)
    with pytest.raises(ValueError, match="not a URL prefix"):
        SlackSettings(type="slack", token=SecretStr("xoxb-x"), response_url_prefixes=("https://hooks.slack.com",))
