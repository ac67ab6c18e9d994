"""Slack workspace objects (users, conversations, messages) and their JSON as the Web API renders them."""

from __future__ import annotations

import copy
import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

# Slack's ids: a kind letter and 8 (older workspaces) or 10 (current ones) uppercase letters and digits. The sandbox
# mints the 10-character form and accepts both from tests that add their own members and channels.
ID_KINDS = {"user": "UW", "channel": "C", "dm": "D", "group": "G", "team": "T", "bot": "B"}
MINTED_ID_LENGTH = 10


def slack_id_problem(kind: str, value: str) -> str | None:
    """Why ``value`` is not a Slack id of ``kind`` (a key of :data:`ID_KINDS`), or ``None`` when it is one."""
    letters = ID_KINDS[kind]
    if re.fullmatch(f"[{letters}]([A-Z0-9]{{8}}|[A-Z0-9]{{10}})", value) is None:
        starts = " or ".join(letters)
        return (
            f"{value!r} is not a Slack {kind} id: {starts} followed by 8 or 10 uppercase letters and digits "
            f"(e.g. {letters[0]}0123ABCD45)"
        )
    return None


# Slack labels time zones with the long name of the offset in force ("Eastern Daylight Time"); zoneinfo gives the
# abbreviation, so map the abbreviations of the zones the sample reps live in and fall back to the abbreviation.
_TZ_LABELS = {
    "EST": "Eastern Standard Time",
    "EDT": "Eastern Daylight Time",
    "CST": "Central Standard Time",
    "CDT": "Central Daylight Time",
    "MST": "Mountain Standard Time",
    "MDT": "Mountain Daylight Time",
    "PST": "Pacific Standard Time",
    "PDT": "Pacific Daylight Time",
    "GMT": "Greenwich Mean Time",
    "BST": "British Summer Time",
    "UTC": "Coordinated Universal Time",
    "CET": "Central European Time",
    "CEST": "Central European Summer Time",
}


def tz_fields(tz: str, at: float) -> dict[str, Any]:
    """``tz``, ``tz_label`` and ``tz_offset`` (seconds east of UTC) of zone ``tz`` at epoch time ``at``."""
    local = datetime.fromtimestamp(at, ZoneInfo(tz))
    offset = local.utcoffset()
    abbreviation = local.tzname() or tz
    return {
        "tz": tz,
        "tz_label": _TZ_LABELS.get(abbreviation, abbreviation),
        "tz_offset": int(offset.total_seconds()) if offset is not None else 0,
    }


@dataclass
class User:
    """A workspace member (a person or the app's bot user)."""

    id: str
    name: str
    real_name: str
    email: str | None
    tz: str = "America/Los_Angeles"
    deleted: bool = False
    is_bot: bool = False
    bot_id: str | None = None
    first_name: str = ""
    last_name: str = ""

    def to_json(self, team_id: str, now: float) -> dict[str, Any]:
        """The user object of ``users.info`` / ``users.lookupByEmail``, time zone evaluated at ``now``."""
        display = "" if self.is_bot else self.name
        profile: dict[str, Any] = {
            "real_name": self.real_name,
            "real_name_normalized": self.real_name,
            "display_name": display,
            "display_name_normalized": display,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "team": team_id,
            "status_text": "",
            "status_emoji": "",
        }
        if self.email is not None:
            profile["email"] = self.email
        if self.bot_id is not None:
            profile["bot_id"] = self.bot_id
        return {
            "id": self.id,
            "team_id": team_id,
            "name": self.name,
            "deleted": self.deleted,
            "color": "9f69e7",
            "real_name": self.real_name,
            **tz_fields(self.tz, now),
            "profile": profile,
            "is_admin": False,
            "is_owner": False,
            "is_primary_owner": False,
            "is_restricted": False,
            "is_ultra_restricted": False,
            "is_bot": self.is_bot,
            "is_app_user": False,
            "updated": 1700000000,
            "is_email_confirmed": self.email is not None,
        }


@dataclass
class Conversation:
    """A public channel (``C...``), a DM (``D...``) or a multi-person DM (``G...``)."""

    id: str
    kind: str  # "channel", "im" or "mpim"
    name: str = ""
    members: set[str] = field(default_factory=set)
    created: int = 1700000000
    user: str | None = None  # the other party of a DM

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "created": self.created,
            "is_archived": False,
            "is_im": self.kind == "im",
            "is_mpim": self.kind == "mpim",
            "is_channel": self.kind == "channel",
            "is_private": self.kind != "channel",
        }
        if self.kind == "channel":
            body["name"] = self.name
        if self.user is not None:
            body["user"] = self.user
        return body


def _block_id(ts: str, index: int) -> str:
    # Slack gives blocks without a block_id a short generated one; derive it so replays are deterministic.
    return hashlib.sha1(f"{ts}:{index}".encode()).hexdigest()[:5]


@dataclass
class Message:
    """A posted message. ``options`` keeps the posting flags (``unfurl_links``, ``mrkdwn``...) for inspection."""

    ts: str
    channel: str
    user: str
    text: str
    blocks: list[dict[str, Any]] | None = None
    metadata: dict[str, Any] | None = None
    thread_ts: str | None = None
    reply_broadcast: bool = False
    options: dict[str, Any] = field(default_factory=dict)
    replies: list[str] = field(default_factory=list)
    reply_users: list[str] = field(default_factory=list)
    edited: bool = False

    def __post_init__(self) -> None:
        if self.blocks is not None:
            self.blocks = [dict(block) for block in copy.deepcopy(self.blocks)]
            for index, block in enumerate(self.blocks):
                block.setdefault("block_id", _block_id(self.ts, index))

    @property
    def is_reply(self) -> bool:
        return self.thread_ts is not None and self.thread_ts != self.ts

    def to_json(
        self, *, bot: dict[str, Any] | None, team_id: str, include_metadata: bool, parent_user: str | None = None
    ) -> dict[str, Any]:
        """The message as ``chat.postMessage`` and ``conversations.history`` render it."""
        body: dict[str, Any] = {"user": self.user, "type": "message", "ts": self.ts}
        if bot is not None:
            body["bot_id"], body["app_id"] = bot["id"], bot["app_id"]
        body["text"] = self.text
        body["team"] = team_id
        if bot is not None:
            body["bot_profile"] = copy.deepcopy(bot)
        if self.blocks is not None:
            body["blocks"] = copy.deepcopy(self.blocks)
        if self.thread_ts is not None:
            body["thread_ts"] = self.thread_ts
        if self.is_reply:
            body["parent_user_id"] = parent_user or self.user
            if self.reply_broadcast:
                body["subtype"] = "thread_broadcast"
        elif self.replies:
            body["reply_count"] = len(self.replies)
            body["reply_users_count"] = len(self.reply_users)
            body["latest_reply"] = self.replies[-1]
            body["reply_users"] = list(self.reply_users)
        if include_metadata and self.metadata is not None:
            body["metadata"] = copy.deepcopy(self.metadata)
        return body

    def record(self) -> dict[str, Any]:
        """Everything the sandbox stored, for tests and ``/_sandbox/state``."""
        return {
            "ts": self.ts,
            "channel": self.channel,
            "user": self.user,
            "text": self.text,
            "blocks": copy.deepcopy(self.blocks),
            "metadata": copy.deepcopy(self.metadata),
            "thread_ts": self.thread_ts,
            "reply_broadcast": self.reply_broadcast,
            "options": dict(self.options),
            "edited": self.edited,
        }
