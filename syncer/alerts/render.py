"""An alert as a Slack Block Kit message that cites the behaviour behind the score, and that data cannot subvert.

Layout: a header with the account name; the RevOps template's text; score and tier; the signals as a compact list;
what changed since the last alert; buttons to the CRM record and for feedback (Claim / Snooze 7 days / Not useful,
each with the alert's dedupe key as its value). Plus a fallback ``text`` for notifications and ``metadata`` that
carries the dedupe key (a later ``conversations.history`` read finds what was already posted).

**Escaping.** The template's own text is trusted mrkdwn (``*{{ account_name }}*`` makes the name bold); every value
that comes from the warehouse is untrusted. Such a value is either put in a ``plain_text`` object as it is (Slack
renders plain_text literally: no mentions, links or formatting), or, in mrkdwn, escaped by :func:`escape_mrkdwn`:

- ``&``, ``<``, ``>`` become ``&amp;``, ``&lt;``, ``&gt;`` (Slack's own escapes), so ``<!channel>`` pings nobody and
  ``<https://evil|click>`` is no link;
- the formatting characters ``*``, ``_``, ``~`` and `````` ` `````` are each wrapped in zero-width joiners (U+200D).
  Slack opens and closes formatting only at a word boundary; a joiner on each side glues the character to its
  neighbours, so it displays as itself and never pairs with another. The joiners are invisible.

Values are escaped by the template environment itself (``finalize``), so a template cannot forget. Messages must be
posted without ``link_names`` so a literal ``@channel`` in data stays text.

**Limits.** Texts are cut with an ellipsis to Slack's limits (header 150, section 3000, field 2000, button 75), never
inside an escape or a link, and a message keeps at most 50 blocks.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from jinja2 import Template, TemplateError, TemplateSyntaxError

from syncer.core.templates import BudgetedEnvironment, template_columns, template_value

HEADER_MAX, SECTION_MAX, FIELD_MAX, BUTTON_TEXT_MAX, BLOCKS_MAX = 150, 3000, 2000, 75, 50
BUTTON_VALUE_MAX, URL_MAX, SIGNALS_SHOWN = 2000, 3000, 12
METADATA_EVENT, DIGEST_METADATA_EVENT = "syncer_alert", "syncer_alert_digest"
ACTION_CLAIM, ACTION_SNOOZE, ACTION_NOT_USEFUL = "syncer_claim", "syncer_snooze_7d", "syncer_not_useful"
ACTION_OPEN_RECORD = "syncer_open_record"
FEEDBACK_BLOCK_ID = "syncer_feedback"
ZWJ = "\u200d"
ELLIPSIS = "…"

_ENTITIES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_FORMATTING = str.maketrans({c: f"{ZWJ}{c}{ZWJ}" for c in "*_~`"})


class AlertRenderError(ValueError):
    """The template could not be rendered for this row (the message names the reason in one line)."""


def escape_mrkdwn(value: object) -> str:
    """``value`` as mrkdwn text that displays as itself: no mention, link or formatting survives."""
    text = "" if value is None else str(value)
    return text.translate(_ENTITIES).translate(_FORMATTING)


def _finalize(value: object) -> str:
    return escape_mrkdwn(value)


# Same sandbox, strictness and render budget as field templates (syncer.core.templates), plus escaping of every
# value it prints.
_ENV = BudgetedEnvironment(finalize=_finalize)


def compile_alert_template(source: str) -> Template:
    """Compile an alert template; raises ``jinja2.TemplateSyntaxError``."""
    return _ENV.from_string(source)


def truncate(text: str, limit: int, markup: bool = True) -> str:
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


def plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": truncate(text, limit, markup=False) or " ", "emoji": True}


def mrkdwn(text: str, limit: int = SECTION_MAX) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": truncate(text, limit) or " "}


@dataclass(frozen=True)
class Change:
    """One field that moved since the last alert about this account."""

    field: str
    old: object
    new: object


@dataclass(frozen=True)
class AlertContent:
    """What one alert shows. ``row`` feeds the template; ``changes`` is None when no alert was sent before."""

    dedupe_token: str
    title: str
    row: Mapping[str, Any]
    score: object = None
    tier: str | None = None
    signals: Mapping[str, Any] = field(default_factory=dict)
    changes: Sequence[Change] | None = None
    record_url: str | None = None


@dataclass(frozen=True)
class SlackMessage:
    text: str
    blocks: list[dict[str, Any]]
    metadata: dict[str, Any]

    def payload(self) -> dict[str, Any]:
        """The ``chat.postMessage`` arguments besides ``channel``."""
        return {"text": self.text, "blocks": self.blocks, "metadata": self.metadata}


def template_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """The template's variables: the row, with JSON text parsed so ``{{ signals.seats }}`` works."""
    return {name: template_value(value) for name, value in row.items()}


def render_text(template: str, row: Mapping[str, Any]) -> str:
    """The template rendered over ``row`` with every value escaped; raises :class:`AlertRenderError`."""
    try:
        return compile_alert_template(template).render(template_row(row)).strip()
    except (TemplateError, ArithmeticError, TypeError, ValueError) as exc:
        raise AlertRenderError(f"alert template: {_one_line(exc)}") from exc


def render_alert(template: str, content: AlertContent) -> SlackMessage:
    """The Block Kit message for one alert; raises :class:`AlertRenderError` when the template fails on the row."""
    if len(content.dedupe_token) > BUTTON_VALUE_MAX:
        raise AlertRenderError(f"dedupe key is {len(content.dedupe_token)} characters; button values hold "
                               f"{BUTTON_VALUE_MAX}")
    body = render_text(template, content.row)
    title = content.title.strip() or "Untitled account"
    blocks: list[dict[str, Any]] = [{"type": "header", "text": plain(title, HEADER_MAX)}]
    if body:
        blocks.append({"type": "section", "text": mrkdwn(body)})
    facts = [("Score", content.score), ("Tier", content.tier)]
    blocks.append({"type": "section", "fields": [mrkdwn(f"*{label}*\n{escape_mrkdwn(_shown(value))}", FIELD_MAX)
                                                 for label, value in facts]})
    if content.signals:
        blocks.append({"type": "section", "text": mrkdwn(f"*Signals*\n{signal_list(content.signals)}")})
    blocks.append({"type": "context", "elements": [mrkdwn(changes_text(content.changes))]})
    blocks.append(feedback_actions(content.dedupe_token, content.record_url))
    tier, score = escape_mrkdwn(_shown(content.tier)), escape_mrkdwn(_shown(content.score))
    fallback = f"{escape_mrkdwn(title)}: {tier} PQL, score {score}"
    metadata = {"event_type": METADATA_EVENT, "event_payload": {"dedupe_key": content.dedupe_token}}
    return SlackMessage(truncate(fallback, SECTION_MAX), fit_blocks(blocks), metadata)


@dataclass(frozen=True)
class DigestItem:
    """One alert that went to a rep's daily digest instead of its own message."""

    title: str
    score: object = None
    tier: str | None = None
    record_url: str | None = None


def render_digest(digest_key: str, day: str, items: Sequence[DigestItem]) -> SlackMessage:
    """One message for a rep's overflow of one local ``day``: a line per account (in the given order, best
    first), each with its record link; beyond what 50 blocks hold, a count of the rest."""
    room = BLOCKS_MAX - 3  # header, explanation, and the "and N more" line
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": plain(f"{len(items)} more PQL signals from {day}", HEADER_MAX)},
        {"type": "context", "elements": [mrkdwn("Over your alert limit for the day; highest priority first.")]},
    ]
    for item in items[:room]:
        name, tier = escape_mrkdwn(item.title.strip() or "Untitled account"), escape_mrkdwn(_shown(item.tier))
        line = f"*{name}* · {tier} · score {escape_mrkdwn(_shown(item.score))}"
        block: dict[str, Any] = {"type": "section", "text": mrkdwn(line)}
        if _web_url(item.record_url):
            block["accessory"] = {"type": "button", "action_id": ACTION_OPEN_RECORD,
                                  "text": plain("Open", BUTTON_TEXT_MAX), "url": item.record_url}
        blocks.append(block)
    if len(items) > room:
        blocks.append({"type": "context", "elements": [mrkdwn(f"and {len(items) - room} more not shown")]})
    metadata = {"event_type": DIGEST_METADATA_EVENT, "event_payload": {"digest_key": digest_key}}
    return SlackMessage(f"{len(items)} more PQL signals from {escape_mrkdwn(day)}", blocks, metadata)


def signal_list(signals: Mapping[str, Any]) -> str:
    """``seats 12 · invites 30d 5 · ...`` (escaped), the first few signals and how many more."""
    items = [f"{escape_mrkdwn(str(name).replace('_', ' '))} *{escape_mrkdwn(_shown(value))}*"
             for name, value in list(signals.items())[:SIGNALS_SHOWN]]
    more = len(signals) - SIGNALS_SHOWN
    return " · ".join(items) + (f" · and {more} more" if more > 0 else "")


def changes_text(changes: Sequence[Change] | None) -> str:
    if changes is None:
        return "First alert about this account."
    if not changes:
        return "Nothing changed since the last alert."
    moved = ", ".join(f"{escape_mrkdwn(c.field)} {escape_mrkdwn(_shown(c.old))} → {escape_mrkdwn(_shown(c.new))}"
                      for c in changes)
    return f"Since the last alert: {moved}"


def feedback_actions(dedupe_token: str, record_url: str | None) -> dict[str, Any]:
    """The actions block: open the CRM record (when its URL is a web URL), then the three feedback buttons."""
    buttons: list[dict[str, Any]] = []
    if _web_url(record_url):
        buttons.append({"type": "button", "action_id": ACTION_OPEN_RECORD, "text": plain("Open in CRM", 75),
                        "url": record_url})
    for action_id, label, style in ((ACTION_CLAIM, "Claim", "primary"), (ACTION_SNOOZE, "Snooze 7 days", None),
                                    (ACTION_NOT_USEFUL, "Not useful", None)):
        button = {"type": "button", "action_id": action_id, "text": plain(label, BUTTON_TEXT_MAX),
                  "value": dedupe_token}
        if style:
            button["style"] = style
        buttons.append(button)
    return {"type": "actions", "block_id": FEEDBACK_BLOCK_ID, "elements": buttons}


def fit_blocks(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """At most 50 blocks: the last block (the actions) is kept and a context line says how many were left out."""
    if len(blocks) <= BLOCKS_MAX:
        return blocks
    kept = blocks[: BLOCKS_MAX - 2]
    note = {"type": "context", "elements": [mrkdwn(f"and {len(blocks) - BLOCKS_MAX + 1} more not shown")]}
    return [*kept, note, blocks[-1]]


def check_template(template: str, columns: Sequence[str], sample: Mapping[str, Any] | None = None) -> list[str]:
    """Problems with an alert template: syntax, variables that are not model columns, and on a sample row (when
    given) rendering errors and Slack's section limit. Empty when the template is fine."""
    try:
        used = template_columns(template)
    except TemplateSyntaxError as exc:
        return [f"template syntax error on line {exc.lineno}: {exc.message}"]
    shown = ", ".join(columns[:12]) + (", ..." if len(columns) > 12 else "")
    problems = [f"template variable '{name}' is not a column of the model (it has: {shown})"
                for name in sorted(used - set(columns))]
    if problems or sample is None:
        return problems
    try:
        text = render_text(template, sample)
    except AlertRenderError as exc:
        return [f"{exc} (on the sample row)"]
    if not text:
        problems.append("alert template renders to nothing on the sample row")
    if len(text) > SECTION_MAX:
        problems.append(f"alert template renders to {len(text)} characters on the sample row; Slack shows at most "
                        f"{SECTION_MAX} in a section, so it would be cut")
    return problems


def _web_url(url: str | None) -> bool:
    return bool(url) and re.match(r"https?://", url or "") is not None and len(url or "") <= URL_MAX


def _shown(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200] or type(exc).__name__
