"""Block Kit and message-size validation as Slack enforces it, seen through slack_sdk.WebClient."""

from __future__ import annotations

from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from connectors.slack.sandbox import PQL_ALERTS_ID, SlackLimits

from .conftest import SandboxFactory


def section(text: str, **extra: Any) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}, **extra}


def rejected(client: WebClient, blocks: list[dict[str, Any]]) -> list[str]:
    """Post ``blocks``; assert Slack's invalid_blocks reply and return its reasons."""
    with pytest.raises(SlackApiError) as excinfo:
        client.chat_postMessage(channel=PQL_ALERTS_ID, text="fallback", blocks=blocks)
    response = excinfo.value.response
    assert response.status_code == 200
    assert response["error"] == "invalid_blocks"
    reasons = list(response["errors"])
    assert response["response_metadata"]["messages"] == [f"[ERROR] {reason}" for reason in reasons]
    return reasons


def test_fifty_blocks_pass_and_fifty_one_are_rejected(client: WebClient) -> None:
    assert client.chat_postMessage(channel=PQL_ALERTS_ID, text="ok", blocks=[{"type": "divider"}] * 50)["ok"]
    assert rejected(client, [{"type": "divider"}] * 51) == ["no more than 50 items allowed [json-pointer:/blocks]"]


def test_section_text_limit(client: WebClient) -> None:
    assert client.chat_postMessage(channel=PQL_ALERTS_ID, text="ok", blocks=[section("x" * 3000)])["ok"]
    assert rejected(client, [section("x" * 3001)]) == [
        "must be less than 3001 characters [json-pointer:/blocks/0/text/text]"
    ]


def test_header_is_plain_text_up_to_150(client: WebClient) -> None:
    header = {"type": "header", "text": {"type": "plain_text", "text": "h" * 150}}
    assert client.chat_postMessage(channel=PQL_ALERTS_ID, text="ok", blocks=[header])["ok"]
    too_long = {"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}
    assert rejected(client, [too_long]) == ["must be less than 151 characters [json-pointer:/blocks/0/text/text]"]
    mrkdwn = {"type": "header", "text": {"type": "mrkdwn", "text": "*h*"}}
    assert rejected(client, [mrkdwn]) == ["must be one of: plain_text [json-pointer:/blocks/0/text/type]"]


def test_section_fields(client: WebClient) -> None:
    field = {"type": "mrkdwn", "text": "f"}
    assert client.chat_postMessage(
        channel=PQL_ALERTS_ID, text="ok", blocks=[{"type": "section", "fields": [field] * 10}]
    )["ok"]
    assert rejected(client, [{"type": "section", "fields": [field] * 11}]) == [
        "no more than 10 items allowed [json-pointer:/blocks/0/fields]"
    ]
    long_field = {"type": "plain_text", "text": "f" * 2001}
    assert rejected(client, [{"type": "section", "fields": [field, long_field]}]) == [
        "must be less than 2001 characters [json-pointer:/blocks/0/fields/1/text]"
    ]
    assert rejected(client, [{"type": "section"}]) == ["must provide either text or fields [json-pointer:/blocks/0]"]


def test_context_and_actions_element_counts(client: WebClient) -> None:
    text = {"type": "mrkdwn", "text": "c"}
    button = {"type": "button", "text": {"type": "plain_text", "text": "Open"}, "action_id": "open"}
    ok = [{"type": "context", "elements": [text] * 10}, {"type": "actions", "elements": [button] * 25}]
    assert client.chat_postMessage(channel=PQL_ALERTS_ID, text="ok", blocks=ok)["ok"]
    assert rejected(client, [{"type": "context", "elements": [text] * 11}]) == [
        "no more than 10 items allowed [json-pointer:/blocks/0/elements]"
    ]
    assert rejected(client, [{"type": "actions", "elements": [button] * 26}]) == [
        "no more than 25 items allowed [json-pointer:/blocks/0/elements]"
    ]


def test_block_ids(client: WebClient) -> None:
    assert rejected(client, [section("a", block_id="b" * 256)]) == [
        "must be less than 256 characters [json-pointer:/blocks/0/block_id]"
    ]
    assert rejected(client, [section("a", block_id="same"), section("b", block_id="same")]) == [
        "duplicate block_id: same [json-pointer:/blocks/1/block_id]"
    ]


def test_unknown_types(client: WebClient) -> None:
    assert rejected(client, [{"type": "carousel"}]) == [
        "unsupported block type: carousel [json-pointer:/blocks/0/type]"
    ]
    assert rejected(client, [{"type": "section", "text": {"type": "markdown", "text": "x"}}]) == [
        "must be one of: plain_text, mrkdwn [json-pointer:/blocks/0/text/type]"
    ]


def test_every_known_block_type_is_accepted(client: WebClient) -> None:
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "PQL"}},
        section("*Acme*", accessory={"type": "button", "text": {"type": "plain_text", "text": "Open"}}),
        {"type": "divider"},
        {"type": "context", "elements": [{"type": "image", "image_url": "https://x.test/a.png", "alt_text": "a"}]},
        {
            "type": "image",
            "image_url": "https://x.test/b.png",
            "alt_text": "b",
            "title": {"type": "plain_text", "text": "B"},
        },
        {
            "type": "rich_text",
            "elements": [{"type": "rich_text_section", "elements": [{"type": "text", "text": "hi"}]}],
        },
    ]
    response = client.chat_postMessage(channel=PQL_ALERTS_ID, text="all", blocks=blocks)
    assert [b["type"] for b in response["message"]["blocks"]] == [b["type"] for b in blocks]


def test_malformed_blocks_json_in_a_form_body(client: WebClient) -> None:
    with pytest.raises(SlackApiError) as excinfo:
        client.api_call("chat.postMessage", params={"channel": PQL_ALERTS_ID, "text": "x", "blocks": "[{oops"})
    assert excinfo.value.response["error"] == "invalid_blocks_format"


def test_text_over_40000_characters_is_msg_too_long(client: WebClient) -> None:
    assert client.chat_postMessage(channel=PQL_ALERTS_ID, text="x" * 40_000)["ok"]
    with pytest.raises(SlackApiError) as excinfo:
        client.chat_postMessage(channel=PQL_ALERTS_ID, text="x" * 40_001)
    assert excinfo.value.response["error"] == "msg_too_long"


def test_truncation_mode_posts_with_a_warning(make_sandbox: SandboxFactory) -> None:
    sandbox = make_sandbox(SlackLimits(truncate_long_text=True))
    response = sandbox.client().chat_postMessage(channel=PQL_ALERTS_ID, text="y" * 40_010)
    assert response["warning"] == "message_truncated"
    assert response["response_metadata"]["warnings"] == ["message_truncated"]
    assert len(sandbox.emulator.messages(PQL_ALERTS_ID)[0]["text"]) == 40_000
