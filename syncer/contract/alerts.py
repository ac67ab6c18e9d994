"""What an alert says, not how a vendor draws it: the values the engine hands an alert channel.

The engine decides *what* to say (the account, the RevOps template's text rendered over the row, score, tier,
signals, what changed, the CRM record's URL, the dedupe key, the recipient, the feedback actions offered); the
connector turns it into the vendor's message format (its block layout, say) and applies the vendor's escaping.

**Trusted and untrusted text.** A template's own text is trusted markup written by RevOps (the channel's markup,
such as ``*bold*``); every value the template prints comes from the warehouse and is not. :class:`MarkedText` keeps
that distinction through rendering: each :class:`TextPart` says whether it is template text or data, so the
connector can escape exactly the data and nothing else. Plain strings in these values (titles, fields) are data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class FeedbackAction(StrEnum):
    """The feedback a recipient can give on an alert."""

    CLAIM = "claim"
    SNOOZE_7D = "snooze_7d"
    NOT_USEFUL = "not_useful"


ALERT_ACTIONS: tuple[FeedbackAction, ...] = (FeedbackAction.CLAIM, FeedbackAction.SNOOZE_7D, FeedbackAction.NOT_USEFUL)


@dataclass(frozen=True)
class TextPart:
    """A run of text: ``data`` True when it came from the warehouse (escape it), False for template text."""

    text: str
    data: bool


@dataclass(frozen=True)
class MarkedText:
    """Rendered template text whose data parts are known (see the module docstring)."""

    parts: tuple[TextPart, ...] = ()

    @classmethod
    def of(cls, *parts: tuple[str, bool]) -> MarkedText:
        """``MarkedText.of(("*sync* ", False), (name, True))``: empty parts are dropped."""
        return cls(tuple(TextPart(text, data) for text, data in parts if text))

    @classmethod
    def data(cls, text: str) -> MarkedText:
        """All of ``text`` is data."""
        return cls.of((text, True))

    def plain(self) -> str:
        """The text as it reads, markup and data joined."""
        return "".join(part.text for part in self.parts)

    def strip(self) -> MarkedText:
        """Without leading and trailing whitespace (across parts)."""
        parts = list(self.parts)
        while parts and not parts[0].text.strip():
            parts.pop(0)
        while parts and not parts[-1].text.strip():
            parts.pop()
        if parts:
            parts[0] = TextPart(parts[0].text.lstrip(), parts[0].data)
            parts[-1] = TextPart(parts[-1].text.rstrip(), parts[-1].data)
        return MarkedText(tuple(parts))

    def __len__(self) -> int:
        return sum(len(part.text) for part in self.parts)


@dataclass(frozen=True)
class Change:
    """One field that moved since the last alert about this account."""

    field: str
    old: object
    new: object


@dataclass(frozen=True)
class Alert:
    """One alert. ``body``: the RevOps template rendered over the row; ``changes`` None when no alert came before.

    ``actions``: the feedback buttons it offers (their value is ``dedupe_key``).
    """

    dedupe_key: str
    title: str
    body: MarkedText
    score: object = None
    tier: str | None = None
    signals: Mapping[str, Any] = field(default_factory=dict)
    changes: Sequence[Change] | None = None
    record_url: str | None = None
    actions: tuple[FeedbackAction, ...] = ALERT_ACTIONS


@dataclass(frozen=True)
class DigestItem:
    """One alert that went to a rep's daily digest instead of its own message."""

    title: str
    score: object = None
    tier: str | None = None
    record_url: str | None = None


@dataclass(frozen=True)
class Digest:
    """A rep's overflow of one local ``day``, best first. It offers no feedback actions."""

    digest_key: str
    day: str
    items: Sequence[DigestItem]


@dataclass(frozen=True)
class Notice:
    """A short operational message (a sync failing or recovering): marked text, no actions."""

    text: MarkedText


AlertMessage = Alert | Digest | Notice


def offered_actions(message: AlertMessage) -> tuple[FeedbackAction, ...]:
    """The feedback actions ``message`` offers."""
    return message.actions if isinstance(message, Alert) else ()
