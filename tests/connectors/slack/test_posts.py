"""post and find_posts through slack-sdk against the sandbox: DMs, channels, metadata, escaping, lost replies."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

import connectors.slack.channel as channel_module
from connectors.sandbox.core.faults import FaultRule
from connectors.sandbox.people import sample_reps
from connectors.slack.sandbox import PQL_ALERTS_ID, SlackEmulator, SlackLimits
from syncer.alerts.templates import render_marked
from syncer.contract.alerts import Alert, MarkedText, Notice
from syncer.contract.destination import RecordStatus
from syncer.contract.effects import AlertPost, EffectResult
from syncer.contract.errors import TransientError

from .conftest import MakeLimited, Open

DANA, RAVI = sample_reps()[0], sample_reps()[1]
POST_ROUTE = "POST /api/chat.postMessage"
ACME = MarkedText.of(("*Acme* ", False), ("<!channel> *", True))  # template text, then data
BLOCKS = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Acme* &lt;!channel&gt; \u200d*\u200d"}}]


def alert(key: str, **kwargs: Any) -> AlertPost:
    """A notice saying ``alert <key>`` (or ``marked=``, a MarkedText) to where ``kwargs`` say."""
    marked = kwargs.pop("marked", None) or MarkedText.of((f"alert {key}", False))
    return AlertPost(key, Notice(marked), **kwargs)


def without_block_ids(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in block.items() if k != "block_id"} for block in blocks]


def test_dm_post_lands_in_the_members_conversation(open_channel: Open, slack: SlackEmulator) -> None:
    channel = open_channel()
    first = channel.post(alert("k-1", marked=ACME, user_id=DANA.slack_id))
    second = channel.post(alert("k-2", user_id=DANA.slack_id))
    assert first.status is RecordStatus.CONFIRMED and second.status is RecordStatus.CONFIRMED
    stored = slack.dms_to(DANA.email)
    assert [m["ts"] for m in stored] == [first.external_id, second.external_id]
    assert stored[0]["channel"].startswith("D") and slack.dms_to(RAVI.email) == []
    assert stored[0]["metadata"] == {"event_type": "syncer_alert", "event_payload": {"dedupe_key": "k-1"}}
    assert without_block_ids(stored[0]["blocks"]) == BLOCKS  # data escaped once, the template's markup kept
    assert stored[0]["text"] == "*Acme* &lt;!channel&gt; \u200d*\u200d" and stored[1]["text"] == "alert k-2"
    assert stored[0]["options"]["unfurl_links"] is False and stored[0]["options"]["unfurl_media"] is False
    assert slack.log.counts()["POST /api/conversations.open"] == 1  # the DM channel is cached
    bodies = [json.loads(e.body) for e in slack.log.entries() if e.path.endswith("chat.postMessage")]
    assert all("link_names" not in body for body in bodies)


def test_channel_post(open_channel: Open, slack: SlackEmulator) -> None:
    result = open_channel().post(alert("k-c", marked=ACME, channel=PQL_ALERTS_ID))
    assert result == EffectResult(RecordStatus.CONFIRMED, external_id=result.external_id)
    [stored] = slack.messages(PQL_ALERTS_ID)
    assert stored["ts"] == result.external_id and stored["metadata"]["event_payload"] == {"dedupe_key": "k-c"}
    assert "conversations.open" not in json.dumps(slack.log.counts())


@pytest.fixture
def lost_replies(slack: SlackEmulator) -> Iterator[None]:
    slack.set_faults([FaultRule(route=POST_ROUTE, lost_response_rate=1.0)])
    yield
    slack.set_faults([])


@pytest.mark.usefixtures("lost_replies")
@pytest.mark.parametrize(
    "to",
    [{"channel": PQL_ALERTS_ID}, {"channel": "#pql-alerts"}, {"user_id": DANA.slack_id}, {"channel": DANA.slack_id}],
)
def test_find_posts_after_a_lost_reply(open_channel: Open, slack: SlackEmulator, to: dict[str, str]) -> None:
    channel = open_channel()
    before = datetime.fromtimestamp(slack.wall_clock() - 1, UTC)
    lost = alert("k-lost", posted_after=before, **to)
    with pytest.raises(TransientError) as excinfo:
        channel.post(lost)
    assert excinfo.value.code == "unreachable"
    slack.set_faults([])
    [posted] = slack.find_by_metadata("syncer_alert", dedupe_key="k-lost")
    never = alert("k-never", posted_after=before, **to)
    assert channel.find_posts([lost, never]) == {"k-lost": posted["ts"]}
    assert len(slack.all_messages()) == 1  # found, so nothing is posted again


def test_find_posts_pages_through_history_and_reads_only_since_posted_after(limited_slack: MakeLimited) -> None:
    slack = limited_slack(SlackLimits(history_max_limit=2))  # two messages a page
    emulator, channel = slack.emulator, slack.channel
    for i in range(5):
        slack.clock.advance(1)  # the channel's one post a second
        slack.wall_clock.advance(1)
        assert channel.post(alert(f"k-{i}", user_id=RAVI.slack_id)).status is RecordStatus.CONFIRMED
    stamps = [m["ts"] for m in emulator.dms_to(RAVI.email)]
    since = datetime.fromtimestamp(float(stamps[1]), UTC)
    wanted = [alert(f"k-{i}", user_id=RAVI.slack_id, posted_after=since) for i in (0, 1, 4)]
    assert channel.find_posts(wanted) == {"k-1": stamps[1], "k-4": stamps[4]}  # k-0 predates posted_after
    history = emulator.log.count("conversations.history")
    assert history == 2  # k-1..k-4 are in the window: newest first, pages [4, 3] and [2, 1]
    everything = [alert(f"k-{i}", user_id=RAVI.slack_id) for i in range(5)]
    assert channel.find_posts(everything) == {f"k-{i}": stamps[i] for i in range(5)}
    assert emulator.log.count("conversations.history") == history + 3


def test_channel_names_resolve_to_the_apps_channels(
    open_channel: Open, slack: SlackEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(channel_module, "CHANNELS_PAGE", 1)  # one channel a page, so the listing pages
    slack.add_channel("C0ZZALERTS1", "zz-alerts")
    channel = open_channel()
    for i, name in enumerate(["#zz-alerts", "pql-alerts", "#ZZ-Alerts"]):
        assert channel.post(alert(f"k-{i}", channel=name)).status is RecordStatus.CONFIRMED
    assert [m["text"] for m in slack.messages("C0ZZALERTS1")] == ["alert k-0", "alert k-2"]
    assert [m["text"] for m in slack.messages(PQL_ALERTS_ID)] == ["alert k-1"]
    assert slack.log.count("users.conversations") == 2  # listed once: the app is in two channels, one a page
    refused = channel.post(alert("k-g", channel="#general"))  # the app is not in #general
    assert refused.status is RecordStatus.REJECTED and refused.code == "channel_not_found"
    assert "#general" in (refused.message or "")


def test_rendered_alert_cannot_ping_or_link(open_channel: Open, slack: SlackEmulator) -> None:
    name = "<!channel> *bold* <https://evil|click>"
    body = render_marked("*{{ account_name }}* is now a PQL", {"account_name": name})
    value = Alert("k-evil", name, body, score=91, tier="hot", signals={"seats": name})
    result = open_channel().post(AlertPost("k-evil", value, channel=PQL_ALERTS_ID))
    assert result.status is RecordStatus.CONFIRMED
    [stored] = slack.messages(PQL_ALERTS_ID)
    texts = [stored["text"], *mrkdwn_texts(stored["blocks"])]
    assert len(texts) >= 4 and any("&lt;!channel&gt;" in text for text in texts)
    for text in texts:
        assert "<!channel>" not in text and "<https://" not in text


def mrkdwn_texts(value: Any) -> list[str]:
    """Every mrkdwn text object's text, anywhere in a block structure."""
    if isinstance(value, list):
        return [text for item in value for text in mrkdwn_texts(item)]
    if not isinstance(value, dict):
        return []
    own = [value["text"]] if value.get("type") == "mrkdwn" else []
    return own + [text for item in value.values() for text in mrkdwn_texts(item)]


def test_an_alert_that_cannot_be_drawn_is_refused_unsent(open_channel: Open, slack: SlackEmulator) -> None:
    key = "k" * 2001  # longer than a button's value may be
    result = open_channel().post(AlertPost(key, Alert(key, "Acme", MarkedText()), channel=PQL_ALERTS_ID))
    assert result.status is RecordStatus.REJECTED and result.code == "unrenderable"
    assert "button values hold 2000" in (result.message or "") and slack.all_messages() == []
