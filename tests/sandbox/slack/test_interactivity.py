"""Contract tests for what a button press needs: conversations.members, chat.update and response URLs."""

from __future__ import annotations

import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from connectors.sandbox.people import sample_reps
from connectors.slack.sandbox import GENERAL_ID, PQL_ALERTS_ID

from .conftest import USER_TOKEN, Sandbox

DANA = sample_reps()[0]


def error_of(excinfo: pytest.ExceptionInfo[SlackApiError]) -> str:
    assert excinfo.value.response.status_code == 200  # Slack reports method errors with HTTP 200
    return str(excinfo.value.response["error"])


def test_conversations_members_pages_through_every_member(sandbox: Sandbox, client: WebClient) -> None:
    first = client.conversations_members(channel=GENERAL_ID, limit=2)  # the bot is not in #general: still listed
    members, cursor = list(first["members"]), first["response_metadata"]["next_cursor"]
    assert len(members) == 2 and cursor
    while cursor:
        page = client.conversations_members(channel=GENERAL_ID, limit=2, cursor=cursor)
        members += page["members"]
        cursor = page["response_metadata"]["next_cursor"]
    assert members == sorted(members) and DANA.slack_id in members and "U0SYNCERBOT" not in members
    state = sandbox.emulator.state()
    deleted = {u["id"] for u in state["users"] if u["deleted"]}
    assert not deleted & set(members)
    with pytest.raises(SlackApiError) as excinfo:
        client.conversations_members(channel="C0NOSUCH001")
    assert error_of(excinfo) == "channel_not_found"
    with pytest.raises(SlackApiError) as excinfo:
        client.conversations_members(channel=GENERAL_ID, cursor="bm90LWEtY3Vyc29y")
    assert error_of(excinfo) == "invalid_cursor"


def test_chat_update_replaces_the_posters_message_only(sandbox: Sandbox, client: WebClient) -> None:
    posted = client.chat_postMessage(
        channel=PQL_ALERTS_ID, text="before", blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "before"}}]
    )
    updated = client.chat_update(
        channel=PQL_ALERTS_ID,
        ts=posted["ts"],
        text="after",
        blocks=[{"type": "context", "elements": [{"type": "mrkdwn", "text": "after"}]}],
    )
    assert (updated["channel"], updated["ts"], updated["text"]) == (PQL_ALERTS_ID, posted["ts"], "after")
    [stored] = sandbox.emulator.messages(PQL_ALERTS_ID)
    assert stored["edited"] and stored["text"] == "after" and stored["blocks"][0]["type"] == "context"
    for arguments, error in (
        ({"ts": "1.000001"}, "message_not_found"),
        ({"ts": "soon"}, "message_not_found"),
        ({"channel": "C0NOSUCH001"}, "channel_not_found"),
        ({"blocks": [{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}]}, "invalid_blocks"),
    ):
        with pytest.raises(SlackApiError) as excinfo:
            client.chat_update(**({"channel": PQL_ALERTS_ID, "ts": posted["ts"], "text": "x"} | arguments))
        assert error_of(excinfo) == error
    with pytest.raises(SlackApiError) as excinfo:  # a member's token cannot edit the bot's message
        sandbox.client(USER_TOKEN).chat_update(channel=PQL_ALERTS_ID, ts=posted["ts"], text="mine now")
    assert error_of(excinfo) == "cant_update_message"


def test_a_response_url_replaces_the_message_or_answers_the_presser_five_times_at_most(
    sandbox: Sandbox, client: WebClient
) -> None:
    posted = client.chat_postMessage(channel=PQL_ALERTS_ID, text="alert")
    payload = sandbox.emulator.interaction_payload(
        sandbox.server.url, DANA.slack_id, PQL_ALERTS_ID, posted["ts"], "syncer_claim", "k-1"
    )
    assert payload["type"] == "block_actions" and payload["user"]["id"] == DANA.slack_id
    assert payload["container"] == {
        "type": "message",
        "message_ts": posted["ts"],
        "channel_id": PQL_ALERTS_ID,
        "is_ephemeral": False,
    }
    assert payload["actions"][0]["value"] == "k-1" and payload["message"]["text"] == "alert"
    url = payload["response_url"]
    assert url.startswith(sandbox.server.url + "/actions/T")
    assert httpx.post(url, json={"response_type": "ephemeral", "text": "only you"}).status_code == 200
    assert sandbox.emulator.messages(PQL_ALERTS_ID)[0]["text"] == "alert"  # an ephemeral reply changes nothing
    assert httpx.post(url, json={"replace_original": True, "text": "claimed"}).status_code == 200
    assert sandbox.emulator.messages(PQL_ALERTS_ID)[0]["text"] == "claimed"
    for _ in range(3):
        assert httpx.post(url, json={"text": "again"}).status_code == 200
    used = httpx.post(url, json={"text": "a sixth time"})
    assert (used.status_code, used.text) == (404, "used_url")
    assert len(sandbox.emulator.responses()) == 5
    assert httpx.post(url + "x", json={"text": "?"}).status_code == 404
    assert httpx.post(url, content=b"not json").status_code == 400
