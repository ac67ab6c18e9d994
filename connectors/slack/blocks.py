"""An alert as a Slack Block Kit message that cites the behaviour behind the score, and that data cannot subvert.

Layout: a header with the account name; the RevOps template's text; score and tier; the signals as a compact list;
what changed since the last alert; buttons to the CRM record and for feedback (Claim / Snooze 7 days / Not useful,
each with the alert's dedupe key as its value). Plus a fallback ``text`` for notifications and ``metadata`` that
carries the dedupe key (a later ``conversations.history`` read finds what was already posted). Blocks are built with
slack_sdk's Block Kit models.

**Escaping.** The template's own text is trusted mrkdwn (``*{{ account_name }}*`` makes the name bold); every value
that comes from the warehouse is untrusted (the data parts of :class:`~syncer.contract.alerts.MarkedText`, and every
plain string of the alert value). Such a value is either put in a ``plain_text`` object as it is (Slack renders
plain_text literally: no mentions, links or formatting), or, in mrkdwn, escaped by :func:`escape_mrkdwn`:

- ``&``, ``<``, ``>`` become ``&amp;``, ``&lt;``, ``&gt;`` (Slack's own escapes), so ``<!channel>`` pings nobody and
  ``<https://evil|click>`` is no link;
- the formatting characters ``*``, ``_``, ``~`` and `````` ` `````` are each wrapped in zero-width joiners (U+200D).
  Slack opens and closes formatting only at a word boundary; a joiner on each side glues the character to its
  neighbours, so it displays as itself and never pairs with another. The joiners are invisible.

Every text shown passes through :func:`~syncer.contract.text.display_text` first (headers through ``display_line``):
control characters and bidi overrides from the warehouse never reach a screen. Messages are posted without
``link_names`` so a literal ``@channel`` in data stays text.

**Limits.** Texts are cut with an ellipsis to Slack's limits (header 150, section 3000, field 2000, button 75), never
inside an escape or a link, and a message keeps at most 50 blocks.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from syncer.contract.alerts import Alert, AlertMessage, Change, Digest, FeedbackAction, MarkedText, Notice
from syncer.contract.text import display_line, display_text

HEADER_MAX, SECTION_MAX, FIELD_MAX, BUTTON_TEXT_MAX, BLOCKS_MAX = 150, 3000, 2000, 75, 50
BUTTON_VALUE_MAX, URL_MAX, SIGNALS_SHOWN = 2000, 3000, 12
METADATA_EVENT, DIGEST_METADATA_EVENT = "syncer_alert", "syncer_alert_digest"
ACTION_CLAIM, ACTION_SNOOZE, ACTION_NOT_USEFUL = "syncer_claim", "syncer_snooze_7d", "syncer_not_useful"
ACTION_OPEN_RECORD = "syncer_open_record"
FEEDBACK_BLOCK_ID = "syncer_feedback"
ZWJ = "\u200d"
ELLIPSIS = "…"

# The buttons of each feedback action, in the order they are shown: action id, label, style.
BUTTONS: dict[FeedbackAction, tuple[str, str, str | None]] = {
    FeedbackAction.CLAIM: (ACTION_CLAIM, "Claim", "primary"),
    FeedbackAction.SNOOZE_7D: (ACTION_SNOOZE, "Snooze 7 days", None),
    FeedbackAction.NOT_USEFUL: (ACTION_NOT_USEFUL, "Not useful", None),
}
ACTION_IDS: dict[str, FeedbackAction] = {action_id: action for action, (action_id, _, _) in BUTTONS.items()}

_ENTITIES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_FORMATTING = str.maketrans({c: f"{ZWJ}{c}{ZWJ}" for c in "*_~`"})


class AlertRenderError(ValueError):
    """The alert cannot be drawn as a Slack message (the message names the reason in one line)."""


def escape_mrkdwn(value: object) -> str:
    """``value`` as mrkdwn text that displays as itself: no mention, link, formatting or control survives."""
    text = "" if value is None else display_text(str(value))
    return text.translate(_ENTITIES).translate(_FORMATTING)


def marked_mrkdwn(text: MarkedText) -> str:
    """Template text as it is (trusted mrkdwn, cleaned of controls), data parts escaped."""
    return "".join(escape_mrkdwn(part.text) if part.data else display_text(part.text) for part in text.parts)


def truncate(text: str, limit: int, *, markup: bool = True) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis; mrkdwn (``markup``) is never cut inside an escape, an
    escaped character or a link."""
    if len(text) <= limit:
        return text
    cut = limit - len(ELLIPSIS)
    if not markup:
        return text[:cut] + ELLIPSIS
    amp, semi = text.rfind("&", 0, cut), text.rfind(";", 0, cut)
    if amp > semi and cut - amp < 6:  # inside "&amp;", "&lt;" or "&gt;"
        cut = amp
    while cut > 0 and text[cut - 1] in "*_~`" + ZWJ:  # a wrapped formatting character stays whole
        cut -= 1
    opened, closed = text.rfind("<", 0, cut), text.rfind(">", 0, cut)
    if opened > closed:  # only the template writes '<' (data's are escaped): keep its link whole or drop it
        cut = opened
    return text[:cut].rstrip() + ELLIPSIS


def plain(text: str, limit: int) -> PlainTextObject:
    """Data shown literally, on one line when it is a header or a label."""
    return PlainTextObject(text=truncate(display_line(text), limit, markup=False) or " ", emoji=True)


def mrkdwn(text: str, limit: int = SECTION_MAX) -> MarkdownTextObject:
    """Already escaped mrkdwn, cut to ``limit``."""
    return MarkdownTextObject(text=truncate(text, limit) or " ")


@dataclass(frozen=True)
class SlackMessage:
    text: str
    blocks: list[dict[str, Any]]
    metadata: dict[str, Any]

    def payload(self) -> dict[str, Any]:
        """The ``chat.postMessage`` arguments besides ``channel``."""
        return {"text": self.text, "blocks": self.blocks, "metadata": self.metadata}


def render(message: AlertMessage, dedupe_key: str) -> SlackMessage:
    """The Slack message for any alert value; raises :class:`AlertRenderError` when it cannot be one (the SDK's
    models check Block Kit's rules as they are built)."""
    try:
        if isinstance(message, Alert):
            return render_alert(message)
        if isinstance(message, Digest):
            return render_digest(message)
        return render_notice(message, dedupe_key)
    except SlackObjectFormationError as exc:
        raise AlertRenderError(f"not a valid Slack message: {exc}") from None


def render_alert(alert: Alert) -> SlackMessage:
    """The Block Kit message for one alert; raises :class:`AlertRenderError` when its key cannot be a button value."""
    if len(alert.dedupe_key) > BUTTON_VALUE_MAX:
        raise AlertRenderError(
            f"dedupe key is {len(alert.dedupe_key)} characters; button values hold {BUTTON_VALUE_MAX}"
        )
    body = marked_mrkdwn(alert.body).strip()
    title = display_line(alert.title) or "Untitled account"
    blocks: list[Block] = [HeaderBlock(text=plain(title, HEADER_MAX))]
    if body:
        blocks.append(SectionBlock(text=mrkdwn(body)))
    facts = [("Score", alert.score), ("Tier", alert.tier)]
    blocks.append(
        SectionBlock(fields=[mrkdwn(f"*{label}*\n{escape_mrkdwn(_shown(value))}", FIELD_MAX) for label, value in facts])
    )
    if alert.signals:
        blocks.append(SectionBlock(text=mrkdwn(f"*Signals*\n{signal_list(alert.signals)}")))
    blocks.append(ContextBlock(elements=[mrkdwn(changes_text(alert.changes))]))
    blocks.append(feedback_actions(alert.dedupe_key, alert.record_url, alert.actions))
    tier, score = escape_mrkdwn(_shown(alert.tier)), escape_mrkdwn(_shown(alert.score))
    fallback = f"{escape_mrkdwn(title)}: {tier} PQL, score {score}"
    metadata = {"event_type": METADATA_EVENT, "event_payload": {"dedupe_key": alert.dedupe_key}}
    return SlackMessage(truncate(fallback, SECTION_MAX), fit_blocks(_dicts(blocks)), metadata)


def render_digest(digest: Digest) -> SlackMessage:
    """One message for a rep's overflow of one local day: a line per account (in the given order, best first), each
    with its record link; beyond what 50 blocks hold, a count of the rest."""
    items, day = digest.items, display_line(digest.day)
    room = BLOCKS_MAX - 3  # header, explanation, and the "and N more" line
    blocks: list[Block] = [
        HeaderBlock(text=plain(f"{len(items)} more PQL signals from {day}", HEADER_MAX)),
        ContextBlock(elements=[mrkdwn("Over your alert limit for the day; highest priority first.")]),
    ]
    for item in items[:room]:
        name = escape_mrkdwn(display_line(item.title) or "Untitled account")
        line = f"*{name}* · {escape_mrkdwn(_shown(item.tier))} · score {escape_mrkdwn(_shown(item.score))}"
        accessory = None
        if item.record_url and _web_url(item.record_url):
            accessory = ButtonElement(
                text=plain("Open", BUTTON_TEXT_MAX), action_id=ACTION_OPEN_RECORD, url=item.record_url
            )
        blocks.append(SectionBlock(text=mrkdwn(line), accessory=accessory))
    if len(items) > room:
        blocks.append(ContextBlock(elements=[mrkdwn(f"and {len(items) - room} more not shown")]))
    metadata = {"event_type": DIGEST_METADATA_EVENT, "event_payload": {"digest_key": digest.digest_key}}
    return SlackMessage(f"{len(items)} more PQL signals from {escape_mrkdwn(day)}", _dicts(blocks), metadata)


def render_notice(notice: Notice, dedupe_key: str) -> SlackMessage:
    """An operational message: its text as one section (data escaped)."""
    text = marked_mrkdwn(notice.text)
    metadata = {"event_type": METADATA_EVENT, "event_payload": {"dedupe_key": dedupe_key}}
    return SlackMessage(truncate(text, SECTION_MAX), _dicts([SectionBlock(text=mrkdwn(text))]), metadata)


def signal_list(signals: Mapping[str, Any]) -> str:
    """``seats 12 · invites 30d 5 · ...`` (escaped), the first few signals and how many more."""
    items = [
        f"{escape_mrkdwn(str(name).replace('_', ' '))} *{escape_mrkdwn(_shown(value))}*"
        for name, value in list(signals.items())[:SIGNALS_SHOWN]
    ]
    more = len(signals) - SIGNALS_SHOWN
    return " · ".join(items) + (f" · and {more} more" if more > 0 else "")


def changes_text(changes: Sequence[Change] | None) -> str:
    if changes is None:
        return "First alert about this account."
    if not changes:
        return "Nothing changed since the last alert."
    moved = ", ".join(
        f"{escape_mrkdwn(c.field)} {escape_mrkdwn(_shown(c.old))} → {escape_mrkdwn(_shown(c.new))}" for c in changes
    )
    return f"Since the last alert: {moved}"


def feedback_actions(
    dedupe_key: str, record_url: str | None, actions: Sequence[FeedbackAction] = tuple(BUTTONS)
) -> ActionsBlock:
    """The actions block: open the CRM record (when its URL is a web URL), then the feedback buttons offered."""
    buttons: list[ButtonElement] = []
    if record_url and _web_url(record_url):
        buttons.append(
            ButtonElement(text=plain("Open in CRM", BUTTON_TEXT_MAX), action_id=ACTION_OPEN_RECORD, url=record_url)
        )
    for action, (action_id, label, style) in BUTTONS.items():
        if action in actions:
            buttons.append(
                ButtonElement(text=plain(label, BUTTON_TEXT_MAX), action_id=action_id, value=dedupe_key, style=style)
            )
    return ActionsBlock(block_id=FEEDBACK_BLOCK_ID, elements=buttons)


def fit_blocks(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """At most 50 blocks: the last block (the actions) is kept and a context line says how many were left out."""
    if len(blocks) <= BLOCKS_MAX:
        return blocks
    kept = blocks[: BLOCKS_MAX - 2]
    note = ContextBlock(elements=[mrkdwn(f"and {len(blocks) - BLOCKS_MAX + 1} more not shown")]).to_dict()
    return [*kept, note, blocks[-1]]


def _dicts(blocks: Sequence[Block]) -> list[dict[str, Any]]:
    return [block.to_dict() for block in blocks]


def _web_url(url: str) -> bool:
    """An http(s) URL Slack can link: no spaces, controls or bidi marks (a URL is never cleaned, only refused)."""
    return re.match(r"https?://\S+$", url) is not None and display_line(url) == url and len(url) <= URL_MAX


def _shown(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
