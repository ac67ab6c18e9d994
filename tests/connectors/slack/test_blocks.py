"""Alert rendering: the shipped template's message, hostile warehouse values, Block Kit limits, template checks.

The engine renders the RevOps template into marked text (:mod:`syncer.alerts.templates`); the Slack connector draws
the alert value as Block Kit (:mod:`connectors.slack.blocks`). Every message is checked with the Slack emulator's
Block Kit validator (the same one that answers ``invalid_blocks`` in the sandbox), so "within limits" means what
Slack would accept.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from connectors.slack import blocks
from connectors.slack.blocks import (
    ACTION_CLAIM,
    ACTION_NOT_USEFUL,
    ACTION_OPEN_RECORD,
    ACTION_SNOOZE,
    ZWJ,
    AlertRenderError,
    SlackMessage,
    escape_mrkdwn,
    fit_blocks,
    render_digest,
    truncate,
)
from connectors.slack.sandbox.blocks import validate_blocks
from syncer.alerts.templates import AlertTemplateError, check_template, render_marked
from syncer.contract.alerts import Alert, Change, Digest, DigestItem

MAPPING = Path(__file__).resolve().parents[3] / "mappings" / "slack_pql_alerts.yaml"
SHIPPED = yaml.safe_load(MAPPING.read_text())["triggers"][0]["alert"]["template"]
SIGNALS = {"seats": 12, "invites_30d": 5, "limit_hits_30d": 2, "active_days_30d": 18}
HOSTILE = "<!channel> *bold* _it_ ~gone~ `code` <https://evil|click> & <@U0ADMIN>"
ROW = {
    "account_id": "acc_000123",
    "account_name": "Northwind Traders",
    "domain": "northwind.io",
    "owner_email": "dana.kim@yourco.com",
    "pql_score": 83.5,
    "pql_tier": "hot",
    "pql_reason": "5 teammates invited; hit export limit twice",
    "employees": 240,
    "fit_tier": "mid_market",
    "signals": json.dumps(SIGNALS),
}
TOKEN = "slack_pql_alerts:hot_account_alert:acc_000123:2026-11-23T12%3A00%3A00Z"


def content(row: dict[str, Any] | None = None, **overrides: Any) -> dict[str, Any]:
    """The alert's fields and the row its template renders over (``dedupe_token`` names the dedupe key)."""
    row = row or ROW
    fields: dict[str, Any] = {
        "dedupe_key": overrides.pop("dedupe_token", TOKEN),
        "title": str(row["account_name"]),
        "row": row,
        "score": row["pql_score"],
        "tier": row["pql_tier"],
        "signals": SIGNALS,
        "changes": [Change("pql_score", 72, 83.5), Change("pql_tier", "warm", "hot")],
        "record_url": "https://yourco.lightning.force.com/lightning/r/Account/001000000000001/view",
    }
    return fields | overrides


def render_alert(template: str, fields: dict[str, Any]) -> SlackMessage:
    """What a run does: the engine renders the template over the row, the connector draws the alert."""
    fields = dict(fields)
    row = fields.pop("row")
    return blocks.render_alert(Alert(body=render_marked(template, row), **fields))


def texts(message: SlackMessage) -> Iterator[tuple[str, str]]:
    """Every text object in the message as (type, text), and the fallback text (which Slack parses as mrkdwn)."""
    yield "mrkdwn", message.text

    def walk(node: object) -> Iterator[tuple[str, str]]:
        if isinstance(node, dict):
            if node.get("type") in ("mrkdwn", "plain_text") and isinstance(node.get("text"), str):
                yield node["type"], node["text"]
            for value in node.values():
                yield from walk(value)
        elif isinstance(node, list):
            for item in node:
                yield from walk(item)

    yield from walk(message.blocks)


def test_the_shipped_template_renders_a_message_slack_accepts() -> None:
    message = render_alert(SHIPPED, content())
    assert validate_blocks(message.blocks) == []
    header, body, facts, signals, changed, actions = message.blocks
    assert header["text"]["text"] == "Northwind Traders"
    assert body["text"]["text"].startswith(
        ":fire: *Northwind Traders* just turned into a hot PQL (score 84).\n5 teammates invited"
    )
    assert [f["text"] for f in facts["fields"]] == ["*Score*\n83.5", "*Tier*\nhot"]
    assert signals["text"]["text"] == (
        "*Signals*\nseats *12* · invites 30d *5* · limit hits 30d *2* · active days 30d *18*"
    )
    assert changed["elements"][0]["text"] == (
        f"Since the last alert: pql{ZWJ}_{ZWJ}score 72 → 83.5, pql{ZWJ}_{ZWJ}tier warm → hot"
    )
    assert [(b["action_id"], b.get("value")) for b in actions["elements"]] == [
        (ACTION_OPEN_RECORD, None),
        (ACTION_CLAIM, TOKEN),
        (ACTION_SNOOZE, TOKEN),
        (ACTION_NOT_USEFUL, TOKEN),
    ]
    assert actions["elements"][0]["url"].startswith("https://yourco.lightning.force.com/")
    assert message.text == "Northwind Traders: hot PQL, score 83.5"
    assert message.metadata == {"event_type": "syncer_alert", "event_payload": {"dedupe_key": TOKEN}}
    assert set(message.payload()) == {"text", "blocks", "metadata"}


def test_a_hostile_account_pings_nobody_links_nothing_and_formats_nothing() -> None:
    signals = {"seats": HOSTILE, "invites_30d": HOSTILE, HOSTILE: HOSTILE}
    row = {**ROW, "account_name": HOSTILE, "pql_reason": HOSTILE, "domain": HOSTILE, "signals": json.dumps(signals)}
    message = render_alert(
        SHIPPED, content(row, signals=signals, tier=HOSTILE, score=HOSTILE, changes=[Change(HOSTILE, HOSTILE, HOSTILE)])
    )
    assert validate_blocks(message.blocks) == []
    parsed = [text for kind, text in texts(message) if kind == "mrkdwn"]
    assert len(parsed) == 6  # fallback, template body, score, tier, signals, changes
    escaped = escape_mrkdwn(HOSTILE)
    for text in parsed:  # every text Slack parses: no mention, no link, no raw angle bracket from data
        assert "<!channel>" not in text and "<https://" not in text and "<@U0ADMIN>" not in text
        assert "<" not in text and ">" not in text
        assert escaped in text
    # Data's formatting characters are wrapped in zero-width joiners, so none can open or close formatting.
    assert escaped == (
        "&lt;!channel&gt; \u200d*\u200dbold\u200d*\u200d \u200d_\u200dit\u200d_\u200d "
        "\u200d~\u200dgone\u200d~\u200d \u200d`\u200dcode\u200d`\u200d "
        "&lt;https://evil|click&gt; &amp; &lt;@U0ADMIN&gt;"
    )
    # plain_text is displayed as it is: the header shows the name exactly, and Slack parses nothing in it.
    assert next(text for kind, text in texts(message) if kind == "plain_text") == HOSTILE


def _displayed(mrkdwn: str) -> str:
    """What Slack shows for escaped text: the joiners are invisible and the three entities are decoded."""
    return mrkdwn.replace(ZWJ, "").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


@given(st.text(alphabet=st.sampled_from("<>&*_~`!@|:ab ;#x\u200d"), max_size=60))
def test_escaped_values_display_as_themselves_and_carry_no_markup(value: str) -> None:
    escaped = escape_mrkdwn(value)
    assert _displayed(escaped) == value.replace(ZWJ, "")
    assert "<" not in escaped and ">" not in escaped
    for i, char in enumerate(escaped):
        if char in "*_~`":
            assert escaped[i - 1] == ZWJ and escaped[i + 1] == ZWJ


@given(name=st.text(min_size=1, max_size=400), reason=st.text(max_size=4000))
def test_any_values_render_within_slacks_limits(name: str, reason: str) -> None:
    message = render_alert(SHIPPED, content({**ROW, "account_name": name, "pql_reason": reason}, title=name))
    assert validate_blocks(message.blocks) == []
    assert all("<" not in text for kind, text in texts(message) if kind == "mrkdwn")


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("short", 10, "short"),
        ("a" * 20, 10, "a" * 9 + "…"),
        ("abcdef&amp;xyz", 10, "abcdef…"),  # never "&am…"
        ("abcd\u200d*\u200dxyzw", 8, "abcd…"),  # a wrapped character stays whole
        ("see <https://crm/a|the record> now", 20, "see…"),  # the template's link is kept whole or dropped
    ],
)
def test_truncate_cuts_with_an_ellipsis_at_safe_places(text: str, limit: int, expected: str) -> None:
    assert truncate(text, limit) == expected
    assert len(truncate(text, limit)) <= limit


def test_long_values_are_cut_to_block_kit_limits() -> None:
    message = render_alert(SHIPPED, content({**ROW, "pql_reason": "& " * 3000}, title="N" * 400))
    assert validate_blocks(message.blocks) == []
    header, body = message.blocks[:2]
    assert len(header["text"]["text"]) == 150 and header["text"]["text"].endswith("…")
    assert len(body["text"]["text"]) <= 3000 and body["text"]["text"].endswith("&amp;…")


def test_a_message_keeps_at_most_fifty_blocks_and_its_actions() -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": f"item {i}"}} for i in range(60)]
    fitted = fit_blocks([*blocks, {"type": "actions", "elements": []}])
    assert len(fitted) == 50
    assert fitted[-1]["type"] == "actions"
    assert fitted[-2]["elements"][0]["text"] == "and 12 more not shown"


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (None, "First alert about this account."),
        ([], "Nothing changed since the last alert."),
        ([Change("seats", None, 12)], "Since the last alert: seats - → 12"),
    ],
)
def test_what_changed_since_the_last_alert(changes: list[Change] | None, expected: str) -> None:
    message = render_alert(SHIPPED, content(changes=changes))
    assert message.blocks[4]["elements"][0]["text"] == expected


@pytest.mark.parametrize(
    "url",
    [
        None,
        "javascript:alert(1)",
        "https://x/" + "a" * 3000,
        "https://crm/\u202eexe.pdf",
        "https://crm/a b",
        "https://crm/\x00",
    ],
)
def test_no_record_button_without_a_web_url(url: str | None) -> None:
    actions = render_alert(SHIPPED, content(record_url=url)).blocks[-1]
    assert [b["action_id"] for b in actions["elements"]] == [ACTION_CLAIM, ACTION_SNOOZE, ACTION_NOT_USEFUL]


def test_a_template_that_fails_on_a_row_raises_one_line() -> None:
    with pytest.raises(AlertTemplateError, match=r"^alert template: 'None' has no attribute 'seats'$"):
        render_alert("Seats: {{ signals.seats }}", content({**ROW, "signals": None}))
    with pytest.raises(AlertRenderError, match="button values hold 2000"):
        render_alert(SHIPPED, content(dedupe_token="k" * 2001))


COLUMNS = list(ROW)


@pytest.mark.parametrize(
    ("template", "sample", "expected"),
    [
        (SHIPPED, ROW, []),
        (SHIPPED, None, []),
        ("{{ account_name }", None, ["template syntax error on line 1: unexpected '}'"]),
        ("{% if %}\n", None, ["template syntax error on line 1: Expected an expression, got 'end of statement block'"]),
        (
            "{{ acount_name }} {{ score }}",
            None,
            [
                f"template variable '{name}' is not a column of the model (it has: {', '.join(COLUMNS)})"
                for name in ("acount_name", "score")
            ],
        ),
        (
            "{{ signals.seats }}",
            {**ROW, "signals": None},
            ["alert template: 'None' has no attribute 'seats' (on the sample row)"],
        ),
        (
            "{{ account_name.__class__.__mro__ }}",
            ROW,
            ["alert template: access to attribute '__class__' of 'str' object is unsafe. (on the sample row)"],
        ),
        (
            "{{ pql_reason * 400 }}",
            ROW,
            [
                "alert template renders to 17200 characters on the sample row; an alert shows "
                "at most 3000 in one block, so it would be cut"
            ],
        ),
        ("{% if false %}{{ domain }}{% endif %}", ROW, ["alert template renders to nothing on the sample row"]),
    ],
)
def test_check_template(template: str, sample: dict[str, Any] | None, expected: list[str]) -> None:
    assert check_template(template, COLUMNS, sample) == expected


def test_a_digest_lists_the_overflow_within_fifty_blocks() -> None:
    items = [DigestItem(f"Account {i}", 90 - i, "hot", f"https://crm/a/{i}") for i in range(60)]
    items[0] = DigestItem(HOSTILE, 99.0, HOSTILE, "javascript:alert(1)")
    message = render_digest(Digest("U_DANA/2026-11-23", "2026-11-23", items))
    assert validate_blocks(message.blocks) == []
    assert len(message.blocks) == 50
    assert message.blocks[0]["text"]["text"] == "60 more PQL signals from 2026-11-23"
    first, second = message.blocks[2:4]
    assert first["text"]["text"] == f"*{escape_mrkdwn(HOSTILE)}* · {escape_mrkdwn(HOSTILE)} · score 99"
    assert "accessory" not in first  # no link that is not a web URL
    assert second["accessory"]["url"] == "https://crm/a/1"
    assert message.blocks[-1]["elements"][0]["text"] == "and 13 more not shown"
    assert message.metadata == {
        "event_type": "syncer_alert_digest",
        "event_payload": {"digest_key": "U_DANA/2026-11-23"},
    }
    assert all("<" not in text for kind, text in texts(message) if kind == "mrkdwn")


@pytest.mark.parametrize(
    "template",
    [
        "{{ account_name | safe }}",
        "{% autoescape false %}{{ account_name }}{% endautoescape %}",
        "{{ account_name ~ '' }}",
        "{% for c in account_name %}{{ c }}{% endfor %}",
        "{{ [account_name] | join }}",
    ],
)
def test_a_template_cannot_opt_out_of_escaping(template: str) -> None:
    message = render_alert(template, content({**ROW, "account_name": HOSTILE}))
    assert message.blocks[1]["text"]["text"] == escape_mrkdwn(HOSTILE)


def test_markup_written_in_the_template_stays_and_markup_in_expressions_is_escaped() -> None:
    message = render_alert("<!here> {{ '<!channel>' }} <https://crm/x|*record*>", content())
    assert message.blocks[1]["text"]["text"] == "<!here> &lt;!channel&gt; <https://crm/x|*record*>"


def test_control_characters_and_bidi_overrides_never_reach_slack() -> None:
    name = "Evil\x00 Corp\u202etxt.exe\x1b[31m\r\nInc"
    message = render_alert(SHIPPED, content({**ROW, "account_name": name}, title=name, tier="hot\u202e\x00"))
    assert validate_blocks(message.blocks) == []
    assert message.blocks[0]["text"]["text"] == "Evil Corptxt.exe[31m Inc"  # a header is one clean line
    every = [text for _, text in texts(message)]
    digest = render_digest(Digest("U_DANA/2026-11-23", "2026-11-23\u202e", [DigestItem(name, 1, "hot\x00")]))
    every += [text for _, text in texts(digest)]
    for text in every:
        assert not any(char in text for char in "\x00\x1b\r\u202e"), text
    assert "Evil Corptxt.exe" in message.blocks[1]["text"]["text"]


def test_the_template_text_is_trusted_and_only_data_is_marked() -> None:
    marked = render_marked("*{{ account_name }}* is {{ pql_tier }}", {**ROW, "account_name": "<!channel>"})
    assert [(part.text, part.data) for part in marked.parts] == [
        ("*", False),
        ("<!channel>", True),
        ("* is ", False),
        ("hot", True),
    ]
    forged = render_marked("{{ account_name }}", {**ROW, "account_name": "\ue001*\ue000"})
    assert [(part.text, part.data) for part in forged.parts] == [("*", True)]  # data cannot close its own part
