"""Contract tests for the emulated Web API methods, through slack_sdk.WebClient over real HTTP."""

from __future__ import annotations

import json

import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from connectors.sandbox.people import sample_reps
from connectors.slack.sandbox import GENERAL_ID, PQL_ALERTS_ID

from .conftest import TOKEN, Sandbox, SandboxFactory

DANA = sample_reps()[0]  # America/New_York
ERIK_TZ_REP = sample_reps()[5]  # Europe/Berlin


def error_of(excinfo: pytest.ExceptionInfo[SlackApiError]) -> str:
    assert excinfo.value.response.status_code == 200  # Slack reports method errors with HTTP 200
    return str(excinfo.value.response["error"])


# -- auth ---------------------------------------------------------------------------------------------------------
def test_auth_test_describes_the_bot(client: WebClient) -> None:
    response = client.auth_test()
    assert response["ok"] is True
    assert response["user_id"] == "U0SYNCERBOT"
    assert response["bot_id"] == "B0SYNCERBOT"
    assert response["team_id"] == "T0YOURCO01"
    assert response["team"] == "YourCo"
    assert response["url"] == "https://yourco.slack.com/"


def test_missing_token_is_not_authed(sandbox: Sandbox) -> None:
    with pytest.raises(SlackApiError) as excinfo:
        sandbox.client(token=None).auth_test()
    assert error_of(excinfo) == "not_authed"


def test_unknown_token_is_invalid_auth(make_sandbox: SandboxFactory) -> None:
    sandbox = make_sandbox(tokens={TOKEN})
    with pytest.raises(SlackApiError) as excinfo:
        sandbox.client(token="xoxb-someone-else").chat_postMessage(channel=PQL_ALERTS_ID, text="hi")
    assert error_of(excinfo) == "invalid_auth"
    with pytest.raises(SlackApiError) as excinfo:
        sandbox.client(token="xoxp-user-token").auth_test()
    assert error_of(excinfo) == "invalid_auth"
    assert sandbox.client().auth_test()["ok"] is True
    assert sandbox.emulator.messages(PQL_ALERTS_ID) == []


def test_unknown_method(client: WebClient) -> None:
    with pytest.raises(SlackApiError) as excinfo:
        client.api_call("chat.postMessageX", params={"channel": PQL_ALERTS_ID})
    assert error_of(excinfo) == "unknown_method"


# -- chat.postMessage ---------------------------------------------------------------------------------------------
def test_post_json_body_returns_channel_ts_and_message(sandbox: Sandbox, client: WebClient) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Acme* is a PQL"}}]
    response = client.chat_postMessage(
        channel=PQL_ALERTS_ID, text="Acme is a PQL", blocks=blocks, unfurl_links=False, mrkdwn=True
    )
    assert response["channel"] == PQL_ALERTS_ID
    ts = response["ts"]
    assert ts.count(".") == 1 and len(ts.split(".")[1]) == 6
    message = response["message"]
    assert message["ts"] == ts and message["text"] == "Acme is a PQL"
    assert message["user"] == "U0SYNCERBOT" and message["bot_id"] == "B0SYNCERBOT"
    assert message["blocks"][0]["text"]["text"] == "*Acme* is a PQL"
    assert message["blocks"][0]["block_id"]  # Slack fills in a block_id
    stored = sandbox.emulator.messages("#pql-alerts")
    assert [m["ts"] for m in stored] == [ts]
    assert stored[0]["options"]["unfurl_links"] is False
    assert json.loads(sandbox.last_request_body())["channel"] == PQL_ALERTS_ID  # the SDK sent JSON


def test_post_form_body_with_json_encoded_blocks_and_metadata(sandbox: Sandbox, client: WebClient) -> None:
    response = client.api_call(
        "chat.postMessage",
        params={
            "channel": "#pql-alerts",
            "text": "form post",
            "blocks": json.dumps([{"type": "divider"}]),
            "metadata": json.dumps({"event_type": "pql_alert", "event_payload": {"account_id": "001"}}),
        },
    )
    assert response["channel"] == PQL_ALERTS_ID
    assert response["message"]["metadata"]["event_payload"] == {"account_id": "001"}
    assert sandbox.last_request_body().startswith("channel=")  # a form body, not JSON
    assert sandbox.emulator.find_by_metadata("pql_alert", account_id="001")[0]["text"] == "form post"


def test_ts_values_are_unique_and_increasing(client: WebClient) -> None:
    stamps = [client.chat_postMessage(channel=rep.slack_id, text="x")["ts"] for rep in sample_reps()[:5]]
    assert stamps == sorted(stamps, key=float) and len(set(stamps)) == 5


@pytest.mark.parametrize("channel", [PQL_ALERTS_ID, "#pql-alerts", "pql-alerts"])
def test_channel_by_id_or_name(client: WebClient, channel: str) -> None:
    assert client.chat_postMessage(channel=channel, text="hi")["channel"] == PQL_ALERTS_ID


def test_post_to_user_id_opens_the_dm(sandbox: Sandbox, client: WebClient) -> None:
    response = client.chat_postMessage(channel=DANA.slack_id, text="You have a new PQL")
    dm_id = response["channel"]
    assert dm_id.startswith("D")
    assert client.conversations_open(users=DANA.slack_id)["channel"]["id"] == dm_id
    assert client.chat_postMessage(channel=dm_id, text="second")["channel"] == dm_id
    assert [m["text"] for m in sandbox.emulator.dms_to(DANA.email)] == ["You have a new PQL", "second"]
    assert sandbox.emulator.dms_to(sample_reps()[1].slack_id) == []


def test_thread_reply(client: WebClient) -> None:
    parent = client.chat_postMessage(channel=PQL_ALERTS_ID, text="parent")["ts"]
    reply = client.chat_postMessage(channel=PQL_ALERTS_ID, text="reply", thread_ts=parent)
    assert reply["message"]["thread_ts"] == parent and reply["message"]["parent_user_id"] == "U0SYNCERBOT"
    history = client.conversations_history(channel=PQL_ALERTS_ID)["messages"]
    assert [m["text"] for m in history] == ["parent"]  # replies stay in the thread
    assert history[0]["reply_count"] == 1 and history[0]["latest_reply"] == reply["ts"]
    with pytest.raises(SlackApiError) as excinfo:
        client.chat_postMessage(channel=PQL_ALERTS_ID, text="orphan", thread_ts="1.000001")
    assert error_of(excinfo) == "invalid_thread_ts"


@pytest.mark.parametrize("channel", ["C0NOSUCH001", "#no-such-channel", "U0NOSUCH001", "D0NOSUCH001"])
def test_missing_channel(client: WebClient, channel: str) -> None:
    with pytest.raises(SlackApiError) as excinfo:
        client.chat_postMessage(channel=channel, text="hi")
    assert error_of(excinfo) == "channel_not_found"


def test_bot_must_be_in_a_public_channel(sandbox: Sandbox, client: WebClient) -> None:
    with pytest.raises(SlackApiError) as excinfo:
        client.chat_postMessage(channel=GENERAL_ID, text="hi")
    assert error_of(excinfo) == "not_in_channel"
    with pytest.raises(SlackApiError) as excinfo:
        client.conversations_history(channel=GENERAL_ID)
    assert error_of(excinfo) == "not_in_channel"
    sandbox.emulator.set_bot_membership("#general", member=True)
    assert client.chat_postMessage(channel="#general", text="hi")["channel"] == GENERAL_ID


def test_deactivated_user_cannot_be_messaged(client: WebClient) -> None:
    with pytest.raises(SlackApiError) as excinfo:
        client.chat_postMessage(channel="U0FORMER001", text="hi")
    assert error_of(excinfo) == "user_disabled"


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
def test_no_text(client: WebClient) -> None:
    with pytest.raises(SlackApiError) as excinfo:
        client.chat_postMessage(channel=PQL_ALERTS_ID, text="")
    assert error_of(excinfo) == "no_text"


@pytest.mark.parametrize(
    ("metadata", "code"),
    [
        ("{not json", "invalid_metadata_format"),
        ('"a string"', "invalid_metadata_format"),
        ('{"event_payload": {}}', "invalid_metadata_schema"),
        ('{"event_type": "pql_alert", "event_payload": 3}', "invalid_metadata_schema"),
    ],
)
def test_invalid_metadata(client: WebClient, metadata: str, code: str) -> None:
    with pytest.raises(SlackApiError) as excinfo:
        client.api_call("chat.postMessage", params={"channel": PQL_ALERTS_ID, "text": "x", "metadata": metadata})
    assert error_of(excinfo) == code


# -- users.* ------------------------------------------------------------------------------------------------------
def test_lookup_by_email_and_info_with_time_zone(client: WebClient) -> None:
    user = client.users_lookupByEmail(email=DANA.email)["user"]
    assert user["id"] == DANA.slack_id and user["real_name"] == DANA.name
    assert user["profile"]["email"] == DANA.email and user["is_bot"] is False and user["deleted"] is False
    assert (user["tz"], user["tz_offset"], user["tz_label"]) == ("America/New_York", -18000, "Eastern Standard Time")
    berlin = client.users_info(user=ERIK_TZ_REP.slack_id)["user"]
    assert (berlin["tz"], berlin["tz_offset"], berlin["tz_label"]) == ("Europe/Berlin", 3600, "Central European Time")
    bot = client.users_info(user="U0SYNCERBOT")["user"]
    assert bot["is_bot"] is True and "email" not in bot["profile"]


def test_time_zone_offset_follows_the_date(sandbox: Sandbox, client: WebClient) -> None:
    sandbox.wall_clock.now = 1_784_116_800.0  # 2026-07-15: daylight saving time
    user = client.users_info(user=DANA.slack_id)["user"]
    assert (user["tz_offset"], user["tz_label"]) == (-14400, "Eastern Daylight Time")


def test_every_sample_rep_resolves(client: WebClient) -> None:
    for rep in sample_reps()[:8]:
        assert client.users_lookupByEmail(email=rep.email)["user"]["id"] == rep.slack_id


def test_lookup_misses(client: WebClient) -> None:
    for email in ["nobody@yourco.com", "pat.former@yourco.com"]:  # Slack hides deactivated users here
        with pytest.raises(SlackApiError) as excinfo:
            client.users_lookupByEmail(email=email)
        assert error_of(excinfo) == "users_not_found"
    with pytest.raises(SlackApiError) as excinfo:
        client.api_call("users.lookupByEmail", params={})
    assert error_of(excinfo) == "invalid_arguments"
    assert excinfo.value.response["response_metadata"]["messages"] == ["[ERROR] missing required field: email"]


def test_users_info_of_deactivated_and_unknown(client: WebClient) -> None:
    assert client.users_info(user="U0FORMER001")["user"]["deleted"] is True
    with pytest.raises(SlackApiError) as excinfo:
        client.users_info(user="U0NOSUCH001")
    assert error_of(excinfo) == "user_not_found"


def test_json_body_is_not_read_by_form_only_methods(client: WebClient) -> None:
    with pytest.raises(SlackApiError) as excinfo:
        client.api_call("users.lookupByEmail", json={"email": DANA.email})
    assert error_of(excinfo) == "invalid_arguments"


# -- conversations.open -------------------------------------------------------------------------------------------
def test_conversations_open_is_stable(client: WebClient) -> None:
    first = client.conversations_open(users=DANA.slack_id)
    assert first["channel"]["id"].startswith("D") and "already_open" not in first
    again = client.conversations_open(users=DANA.slack_id, return_im=True)
    assert again["already_open"] is True and again["no_op"] is True
    assert again["channel"]["id"] == first["channel"]["id"] and again["channel"]["is_im"] is True
    assert again["channel"]["user"] == DANA.slack_id


def test_conversations_open_errors(client: WebClient) -> None:
    cases = {"U0NOSUCH001": "user_not_found", "U0FORMER001": "user_disabled"}
    for users, code in cases.items():
        with pytest.raises(SlackApiError) as excinfo:
            client.conversations_open(users=users)
        assert error_of(excinfo) == code
    with pytest.raises(SlackApiError) as excinfo:
        client.api_call("conversations.open", params={})
    assert error_of(excinfo) == "users_list_not_supplied"
    many = ",".join(rep.slack_id for rep in sample_reps()[:9])
    with pytest.raises(SlackApiError) as excinfo:
        client.conversations_open(users=many)
    assert error_of(excinfo) == "too_many_users"
    group = client.conversations_open(users=f"{DANA.slack_id},{ERIK_TZ_REP.slack_id}")["channel"]["id"]
    assert group.startswith("G")


# -- conversations.history ----------------------------------------------------------------------------------------
def post_spaced(sandbox: Sandbox, client: WebClient, count: int) -> list[str]:
    """Post ``count`` messages to #pql-alerts a second apart (within the channel's 1 message/s allowance)."""
    stamps = []
    for i in range(count):
        stamps.append(client.chat_postMessage(channel=PQL_ALERTS_ID, text=f"m{i}")["ts"])
        sandbox.clock.advance(1)
    return stamps


def test_history_newest_first_with_cursor_paging(sandbox: Sandbox, client: WebClient) -> None:
    posted = post_spaced(sandbox, client, 5)
    first = client.conversations_history(channel=PQL_ALERTS_ID, limit=2)
    assert [m["text"] for m in first["messages"]] == ["m4", "m3"]
    assert first["has_more"] is True
    cursor = first["response_metadata"]["next_cursor"]
    second = client.conversations_history(channel=PQL_ALERTS_ID, limit=2, cursor=cursor)
    assert [m["text"] for m in second["messages"]] == ["m2", "m1"]
    third = client.conversations_history(
        channel=PQL_ALERTS_ID, limit=2, cursor=second["response_metadata"]["next_cursor"]
    )
    assert [m["ts"] for m in third["messages"]] == [posted[0]] and third["has_more"] is False
    assert isinstance(third.data, dict) and "response_metadata" not in third.data


def test_history_oldest_latest_window(sandbox: Sandbox, client: WebClient) -> None:
    ts = post_spaced(sandbox, client, 4)
    window = client.conversations_history(channel=PQL_ALERTS_ID, oldest=ts[0], latest=ts[3])
    assert [m["text"] for m in window["messages"]] == ["m2", "m1"]  # both ends exclusive by default
    inclusive = client.conversations_history(channel=PQL_ALERTS_ID, oldest=ts[0], latest=ts[3], inclusive=True)
    assert [m["text"] for m in inclusive["messages"]] == ["m3", "m2", "m1", "m0"]


def test_history_metadata_only_when_asked(client: WebClient) -> None:
    metadata = {"event_type": "pql_alert", "event_payload": {"account_id": "001", "score": 91}}
    client.chat_postMessage(channel=PQL_ALERTS_ID, text="Acme", metadata=metadata)
    plain = client.conversations_history(channel=PQL_ALERTS_ID)["messages"][0]
    assert "metadata" not in plain
    full = client.conversations_history(channel=PQL_ALERTS_ID, include_all_metadata=True)["messages"][0]
    assert full["metadata"] == metadata


def test_history_errors(client: WebClient) -> None:
    cases = [
        ({"channel": "C0NOSUCH01"}, "channel_not_found"),
        ({"channel": PQL_ALERTS_ID, "cursor": "bm90LWEtY3Vyc29y"}, "invalid_cursor"),
        ({"channel": PQL_ALERTS_ID, "cursor": "%%%"}, "invalid_cursor"),
        ({"channel": PQL_ALERTS_ID, "limit": "many"}, "invalid_arguments"),
        ({"channel": PQL_ALERTS_ID, "oldest": "yesterday"}, "invalid_ts_oldest"),
        ({"channel": PQL_ALERTS_ID, "latest": "now"}, "invalid_ts_latest"),
    ]
    for params, code in cases:
        with pytest.raises(SlackApiError) as excinfo:
            client.api_call("conversations.history", params=params)
        assert error_of(excinfo) == code, params


# -- request encodings --------------------------------------------------------------------------------------------
def test_charset_warnings_and_unreadable_bodies(sandbox: Sandbox) -> None:
    url, headers = sandbox.base_url, {"Authorization": f"Bearer {TOKEN}"}
    no_charset = httpx.post(url + "auth.test", content=b"{}", headers={**headers, "Content-Type": "application/json"})
    assert no_charset.status_code == 200
    assert no_charset.json()["warning"] == "missing_charset"
    assert no_charset.json()["response_metadata"]["warnings"] == ["missing_charset"]
    superfluous = httpx.post(
        url + "users.info",
        content=f"user={DANA.slack_id}".encode(),
        headers={**headers, "Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    assert superfluous.json()["ok"] is True and superfluous.json()["warning"] == "superfluous_charset"
    broken = httpx.post(
        url + "chat.postMessage",
        content=b"{nope",
        headers={**headers, "Content-Type": "application/json; charset=utf-8"},
    )
    assert broken.json() == {"ok": False, "error": "invalid_json"}
    token_in_form = httpx.post(url + "users.info", data={"token": TOKEN, "user": DANA.slack_id})
    assert token_in_form.json()["user"]["id"] == DANA.slack_id
    via_get = httpx.get(url + "users.info", params={"user": DANA.slack_id}, headers=headers)
    assert via_get.json()["user"]["id"] == DANA.slack_id
    multipart = httpx.post(
        url + "chat.postMessage",
        headers=headers,
        files={"file": ("a.txt", b"x")},
        data={"channel": PQL_ALERTS_ID, "text": "multipart"},
    )
    assert multipart.json()["ok"] is True and sandbox.emulator.messages(PQL_ALERTS_ID)[0]["text"] == "multipart"


def test_state_and_reset(sandbox: Sandbox, client: WebClient) -> None:
    client.chat_postMessage(channel=DANA.slack_id, text="hello")
    state = httpx.get(sandbox.server.url + "/_sandbox/state").json()
    dm = next(c for c in state["conversations"] if c.get("user") == DANA.slack_id)
    assert state["messages"][dm["id"]][0]["text"] == "hello"
    assert {u["id"] for u in state["users"]} >= {rep.slack_id for rep in sample_reps()}
    sandbox.emulator.reset()
    assert sandbox.emulator.all_messages() == []
