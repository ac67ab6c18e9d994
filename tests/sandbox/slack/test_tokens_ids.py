"""The emulator is as strict as Slack about tokens and as exact about id shapes, through slack_sdk.WebClient."""

from __future__ import annotations

import re

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from connectors.sandbox import Sandbox as ServedSandbox
from connectors.sandbox.people import sample_reps
from connectors.slack.sandbox import DEMO_BOT_TOKEN, PQL_ALERTS_ID, SlackEmulator, TokenKind

from .conftest import ROTATED_TOKEN, TOKEN, USER_TOKEN, Sandbox, SandboxFactory

DANA = sample_reps()[0]  # installed the app: the member user tokens act as
CHANNEL_ID = re.compile(r"C[A-Z0-9]{10}")
DM_ID = re.compile(r"D[A-Z0-9]{10}")
USER_ID = re.compile(r"U[A-Z0-9]{10}")
TS = re.compile(r"\d{10}\.\d{6}")


def error_of(call: object, *args: object, **kwargs: object) -> str:
    with pytest.raises(SlackApiError) as excinfo:
        call(*args, **kwargs)  # type: ignore[operator]
    assert excinfo.value.response.status_code == 200  # auth failures are HTTP 200, like every method error
    return str(excinfo.value.response["error"])


# -- tokens -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "token",
    [
        "xoxb-not-issued",
        "xoxp-not-issued",
        "xoxe.xoxb-1-not-issued",
        "xoxa-2-app",
        "Bearer xoxb-sandbox-test",
        "sandbox-test",
    ],
)
def test_a_token_the_workspace_did_not_issue_is_invalid_auth(sandbox: Sandbox, token: str) -> None:
    assert error_of(sandbox.client(token=token).chat_postMessage, channel=PQL_ALERTS_ID, text="hi") == "invalid_auth"
    assert sandbox.emulator.messages(PQL_ALERTS_ID) == []


def test_bot_and_rotated_tokens_act_as_the_bot(sandbox: Sandbox) -> None:
    for token in (TOKEN, ROTATED_TOKEN):
        client = sandbox.client(token=token)
        identity = client.auth_test()
        assert (identity["user_id"], identity["bot_id"]) == ("U0SYNCERBOT", "B0SYNCERBOT")
        posted = client.chat_postMessage(channel=PQL_ALERTS_ID, text=token[:5])["message"]
        assert posted["user"] == "U0SYNCERBOT" and posted["bot_id"] == "B0SYNCERBOT"


def test_a_user_token_acts_as_the_member_who_installed_the_app(sandbox: Sandbox) -> None:
    client = sandbox.client(token=USER_TOKEN)
    identity = client.auth_test()
    assert identity["user_id"] == DANA.slack_id and "bot_id" not in identity
    posted = client.chat_postMessage(channel="#general", text="as me")  # Dana is in #general; the bot is not
    assert posted["message"]["user"] == DANA.slack_id and "bot_id" not in posted["message"]
    assert error_of(sandbox.client().chat_postMessage, channel="#general", text="bot") == "not_in_channel"
    other = sample_reps()[1]
    dm = client.conversations_open(users=other.slack_id)["channel"]["id"]
    assert DM_ID.fullmatch(dm) and dm != sandbox.client().conversations_open(users=other.slack_id)["channel"]["id"]


def test_revoked_and_expired_tokens_answer_their_own_errors_until_reset(sandbox: Sandbox) -> None:
    sandbox.emulator.revoke_token(TOKEN)
    sandbox.emulator.expire_token(ROTATED_TOKEN)
    assert error_of(sandbox.client(token=TOKEN).auth_test) == "token_revoked"
    assert error_of(sandbox.client(token=ROTATED_TOKEN).auth_test) == "token_expired"
    assert sandbox.client(token=USER_TOKEN).auth_test()["ok"] is True
    with pytest.raises(ValueError, match="only rotated"):
        sandbox.emulator.expire_token(USER_TOKEN)
    sandbox.emulator.reset()
    assert sandbox.client(token=TOKEN).auth_test()["ok"] is True


def test_configured_tokens_must_be_slack_tokens(make_sandbox: SandboxFactory) -> None:
    with pytest.raises(ValueError, match=r"xoxb-, xoxp- or xoxe\.xoxb-") as excinfo:
        make_sandbox(tokens=[TOKEN, "secret-abcdef"])
    assert "secret-abcdef" not in str(excinfo.value)  # a token is a secret, even a wrong one
    assert [TokenKind.of(t) for t in (TOKEN, USER_TOKEN, ROTATED_TOKEN, "xoxb-")] == [
        TokenKind.BOT,
        TokenKind.USER,
        TokenKind.ROTATED_BOT,
        None,
    ]


def test_the_default_workspace_issues_the_demo_token_and_no_other_bot_token() -> None:
    emulator = SlackEmulator()
    assert emulator.tokens.kind(DEMO_BOT_TOKEN) is TokenKind.BOT
    assert DEMO_BOT_TOKEN in emulator.tokens.issued and "xoxb-anything" not in emulator.tokens.issued


def test_the_served_sandbox_accepts_the_demo_token(sandbox_session: ServedSandbox) -> None:
    client = WebClient(token=DEMO_BOT_TOKEN, base_url=sandbox_session.urls["slack"], retry_handlers=[], timeout=5)
    assert client.auth_test()["user_id"] == "U0SYNCERBOT"
    stranger = WebClient(token="xoxb-stranger", base_url=sandbox_session.urls["slack"], retry_handlers=[], timeout=5)
    assert error_of(stranger.auth_test) == "invalid_auth"


# -- ids ----------------------------------------------------------------------------------------------------------
def test_ids_and_timestamps_have_slacks_shapes(sandbox: Sandbox, client: WebClient) -> None:
    state = sandbox.emulator.state()
    channels = [c["id"] for c in state["conversations"] if c["is_channel"]]
    assert channels and all(CHANNEL_ID.fullmatch(c) for c in channels)
    assert all(USER_ID.fullmatch(u["id"]) for u in state["users"])
    posted = client.chat_postMessage(channel=DANA.slack_id, text="hi")
    assert DM_ID.fullmatch(posted["channel"]) and TS.fullmatch(posted["ts"])
    group = client.conversations_open(users=",".join(r.slack_id for r in sample_reps()[:2]))["channel"]["id"]
    assert re.fullmatch(r"G[A-Z0-9]{10}", group)


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("user", "U42"),
        ("user", "u0123abcd45"),
        ("user", "C0123ABCD45"),
        ("channel", "pql-alerts"),
        ("channel", "C0123ABCD4"),
    ],
)
def test_members_and_channels_added_by_tests_need_slack_ids(sandbox: Sandbox, kind: str, value: str) -> None:
    with pytest.raises(ValueError, match=f"not a Slack {kind} id"):
        if kind == "user":
            sandbox.emulator.add_user(value, "x@yourco.com", "X Y")
        else:
            sandbox.emulator.add_channel(value, "x")


def test_eight_and_ten_character_ids_are_both_accepted(sandbox: Sandbox, client: WebClient) -> None:
    sandbox.emulator.add_user("W0123ABCD", "old@yourco.com", "Old Timer")
    sandbox.emulator.add_channel("C0123ABCD45", "deals")
    assert client.chat_postMessage(channel="C0123ABCD45", text="hi")["channel"] == "C0123ABCD45"
    assert client.users_info(user="W0123ABCD")["user"]["real_name"] == "Old Timer"
