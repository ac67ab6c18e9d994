"""The emulated workspace: its members, conversations and messages, and the seed data.

Not thread-safe on its own: :class:`~connectors.slack.sandbox.emulator.SlackEmulator` holds its lock around every use.
Timestamps (``ts``) come from an injectable wall clock (epoch seconds) and are strictly increasing
``"<seconds>.<microseconds>"`` strings, unique across the workspace as Slack's are within a channel.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from connectors.sandbox.people import sample_reps
from connectors.slack.sandbox.model import MINTED_ID_LENGTH, Conversation, Message, User


@dataclass(frozen=True)
class WorkspaceIdentity:
    """Who the app is: what ``auth.test`` reports."""

    team_id: str = "T0YOURCO01"
    team: str = "YourCo"
    url: str = "https://yourco.slack.com/"
    bot_user_id: str = "U0SYNCERBOT"
    bot_name: str = "syncer"
    bot_id: str = "B0SYNCERBOT"
    app_id: str = "A0SYNCERAPP"
    installer_user_id: str = sample_reps()[0].slack_id  # who installed the app: the member user tokens act as


PQL_ALERTS_ID = "C0PQLALERTS"
GENERAL_ID = "C0GENERAL01"
DEACTIVATED_USER_ID = "U0FORMER001"


def encode_cursor(ts: str) -> str:
    """Slack's history cursors are base64 of ``next_ts:<ts without the dot>``."""
    return base64.b64encode(f"next_ts:{ts.replace('.', '')}".encode()).decode()


def decode_cursor(cursor: str) -> str | None:
    """The ``ts`` a cursor points at, or ``None`` when the cursor is not one this workspace issued."""
    try:
        raw = base64.b64decode(cursor.encode(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    prefix, _, digits = raw.partition(":")
    if prefix != "next_ts" or not digits.isdigit() or len(digits) <= 6:
        return None
    return f"{digits[:-6]}.{digits[-6:]}"


def encode_id_cursor(channel_id: str) -> str:
    """A listing cursor (users.conversations): base64 of ``next_id:<the next page's first channel id>``."""
    return base64.b64encode(f"next_id:{channel_id}".encode()).decode()


def decode_id_cursor(cursor: str) -> str | None:
    """The channel id a listing cursor points at, or ``None`` when the cursor is not one this workspace issued."""
    try:
        raw = base64.b64decode(cursor.encode(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    prefix, _, channel_id = raw.partition(":")
    return channel_id if prefix == "next_id" and channel_id else None


def ts_value(ts: str) -> float | None:
    """A ``ts`` (or any Unix timestamp argument) as a number, ``None`` when it is not one."""
    try:
        return float(ts)
    except ValueError:
        return None


class Workspace:
    """One Slack workspace with one installed app (the bot)."""

    def __init__(self, wall_clock: Callable[[], float], identity: WorkspaceIdentity | None = None) -> None:
        self.wall_clock = wall_clock
        self.identity = identity or WorkspaceIdentity()
        self.users: dict[str, User] = {}
        self.conversations: dict[str, Conversation] = {}
        self.messages: dict[str, list[Message]] = {}  # channel id -> messages in ts order
        self._last_ts_micros = 0
        self._mpim_count = 0

    # -- seed -------------------------------------------------------------------------------------------------
    def seed(self) -> None:
        """The bot, the sample reps, a deactivated member, #pql-alerts (bot is in) and #general (bot is not)."""
        ident = self.identity
        self.add_user(
            User(ident.bot_user_id, ident.bot_name, ident.bot_name.capitalize(), None, is_bot=True, bot_id=ident.bot_id)
        )
        for rep in sample_reps():
            self.add_user(
                User(
                    rep.slack_id,
                    rep.email.split("@")[0],
                    rep.name,
                    rep.email,
                    tz=rep.tz,
                    first_name=rep.first_name,
                    last_name=rep.last_name,
                )
            )
        self.add_user(
            User(
                DEACTIVATED_USER_ID,
                "pat.former",
                "Pat Former",
                "pat.former@yourco.com",
                tz="America/New_York",
                deleted=True,
                first_name="Pat",
                last_name="Former",
            )
        )
        people = {user.id for user in self.users.values() if not user.is_bot and not user.deleted}
        self.add_channel(PQL_ALERTS_ID, "pql-alerts", people | {ident.bot_user_id})
        self.add_channel(GENERAL_ID, "general", people)

    def add_user(self, user: User) -> User:
        self.users[user.id] = user
        return user

    def add_channel(self, channel_id: str, name: str, members: set[str]) -> Conversation:
        conversation = Conversation(channel_id, "channel", name=name, members=set(members))
        self.conversations[channel_id] = conversation
        self.messages.setdefault(channel_id, [])
        return conversation

    # -- lookups ----------------------------------------------------------------------------------------------
    def user_by_email(self, email: str) -> User | None:
        wanted = email.strip().lower()
        return next((u for u in self.users.values() if u.email is not None and u.email.lower() == wanted), None)

    def channel_by_name(self, name: str) -> Conversation | None:
        name = name.removeprefix("#")
        return next((c for c in self.conversations.values() if c.kind == "channel" and c.name == name), None)

    def dm_with(self, user_id: str, actor: str | None = None) -> Conversation | None:
        """The DM of ``actor`` (the bot by default) with ``user_id``, if it was opened."""
        members = {actor or self.identity.bot_user_id, user_id}
        return next((c for c in self.conversations.values() if c.kind == "im" and c.members == members), None)

    def is_member(self, conversation: Conversation, actor: str | None = None) -> bool:
        """Whether ``actor`` (the bot by default) is in ``conversation``."""
        return (actor or self.identity.bot_user_id) in conversation.members

    # -- writes -----------------------------------------------------------------------------------------------
    def open_dm(self, user_id: str, actor: str | None = None) -> tuple[Conversation, bool]:
        """The DM of ``actor`` (the bot by default) with ``user_id`` and whether it existed.

        The bot's DMs have a stable ``D`` id derived from the member's id; other members' DMs one derived from both.
        """
        actor = actor or self.identity.bot_user_id
        existing = self.dm_with(user_id, actor)
        if existing is not None:
            return existing, True
        if actor == self.identity.bot_user_id:
            dm_id = f"D{user_id[1:]}"
        else:
            digest = hashlib.sha1(f"{actor}:{user_id}".encode()).hexdigest().upper()
            dm_id = f"D{digest[:MINTED_ID_LENGTH]}"
        conversation = Conversation(dm_id, "im", members={actor, user_id}, user=user_id, created=int(self.wall_clock()))
        self.conversations[conversation.id] = conversation
        self.messages.setdefault(conversation.id, [])
        return conversation, False

    def open_mpim(self, user_ids: list[str], actor: str | None = None) -> tuple[Conversation, bool]:
        """The multi-person DM of ``actor`` (the bot by default) and ``user_ids`` and whether it existed."""
        members = {actor or self.identity.bot_user_id, *user_ids}
        for conversation in self.conversations.values():
            if conversation.kind == "mpim" and conversation.members == members:
                return conversation, True
        self._mpim_count += 1
        conversation = Conversation(
            f"G0MPIM{self._mpim_count:05d}", "mpim", members=members, created=int(self.wall_clock())
        )
        self.conversations[conversation.id] = conversation
        self.messages.setdefault(conversation.id, [])
        return conversation, False

    def next_ts(self) -> str:
        micros = max(int(self.wall_clock() * 1_000_000), self._last_ts_micros + 1)
        self._last_ts_micros = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def post(
        self,
        channel: str,
        user: str,
        text: str,
        *,
        blocks: list[dict[str, Any]] | None = None,
        metadata: dict[str, Any] | None = None,
        thread_ts: str | None = None,
        reply_broadcast: bool = False,
        options: dict[str, Any] | None = None,
    ) -> Message:
        """Store a message in ``channel`` (the caller has checked it exists and ``thread_ts`` is a parent)."""
        message = Message(
            self.next_ts(), channel, user, text, blocks, metadata, thread_ts, reply_broadcast, dict(options or {})
        )
        self.messages.setdefault(channel, []).append(message)
        if message.is_reply:
            parent = self.find_message(channel, message.thread_ts or "")
            if parent is not None:
                parent.thread_ts = parent.ts
                parent.replies.append(message.ts)
                if user not in parent.reply_users:
                    parent.reply_users.append(user)
        return message

    def update(self, message: Message, text: str, blocks: list[dict[str, Any]] | None) -> None:
        """Replace ``message``'s text and blocks in place (``chat.update``, a ``response_url`` replace)."""
        replaced = Message(message.ts, message.channel, message.user, text, blocks)
        message.text, message.blocks = replaced.text, replaced.blocks
        message.edited = True

    # -- reads ------------------------------------------------------------------------------------------------
    def find_message(self, channel: str, ts: str) -> Message | None:
        return next((m for m in self.messages.get(channel, []) if m.ts == ts), None)

    def history(
        self, channel: str, *, oldest: float, latest: float | None, inclusive: bool, start_ts: str | None
    ) -> list[Message]:
        """Top-level messages (and broadcast replies) of ``channel`` in the window, newest first.

        ``start_ts`` (from a cursor) is the newest message the page may start at.
        """

        def in_window(message: Message) -> bool:
            value = float(message.ts)
            above = value >= oldest if inclusive else value > oldest
            below = latest is None or (value <= latest if inclusive else value < latest)
            return above and below

        selected = [m for m in self.messages.get(channel, []) if (not m.is_reply or m.reply_broadcast) and in_window(m)]
        if start_ts is not None:
            selected = [m for m in selected if float(m.ts) <= float(start_ts)]
        return list(reversed(selected))

    def bot_profile(self) -> dict[str, Any]:
        ident = self.identity
        return {
            "id": ident.bot_id,
            "app_id": ident.app_id,
            "name": ident.bot_name,
            "deleted": False,
            "updated": 1700000000,
            "team_id": ident.team_id,
            "icons": {
                "image_36": "https://a.slack-edge.com/80588/img/plugins/app/bot_36.png",
                "image_48": "https://a.slack-edge.com/80588/img/plugins/app/bot_48.png",
                "image_72": "https://a.slack-edge.com/80588/img/plugins/app/service_72.png",
            },
        }

    def render(self, message: Message, *, include_metadata: bool) -> dict[str, Any]:
        bot = self.bot_profile() if message.user == self.identity.bot_user_id else None
        parent = None
        if message.is_reply and message.thread_ts is not None:
            parent = self.find_message(message.channel, message.thread_ts)
        return message.to_json(
            bot=bot,
            team_id=self.identity.team_id,
            include_metadata=include_metadata,
            parent_user=parent.user if parent else None,
        )
