"""The Slack alert channel: :class:`~syncer.contract.effects.AlertChannel` over slack-sdk's ``WebClient``.

Every call goes through the SDK with its retry handlers removed (the executor owns waits and retries) and every
failure is mapped by :mod:`connectors.slack.errors`: 429 -> ``RateLimitedError``; token and scope problems ->
``DestinationStoppedError``; no reply, 5xx -> ``TransientError``; a refusal of one message (unknown channel, bot not
in it, bad blocks) -> a ``REJECTED`` :class:`EffectResult`. Nothing here sleeps or retries.

Posts carry their dedupe key in the message ``metadata`` (event type ``syncer_alert``), so after a lost reply
:meth:`SlackAlertChannel.find_posts` finds the message in ``conversations.history`` and nothing is posted twice.
The bot must be a member of an alert channel: a bot posting with ``chat:write.public`` alone could not read the
channel back, and ``find_posts`` treats a channel it cannot read as holding none of our posts. A channel may be
given by id, by ``#name`` (a public channel the app is in, resolved once with ``users.conversations``; history is
read by id only) or as a member id (their DM).

Calls are paced by the engine's pacer, to the limits :mod:`connectors.slack.capabilities` declares. A call refused
midway through :meth:`~SlackAlertChannel.lookup_users` or :meth:`~SlackAlertChannel.find_posts` raises; the members
and DM channels found so far stay cached in the instance, so the retry continues where the refusal stopped it. One
instance serves one run from one thread.
"""

from __future__ import annotations

import http.client
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.web import SlackResponse

from connectors.slack.blocks import METADATA_EVENT, AlertRenderError, render
from connectors.slack.capabilities import LIMITS, POST_METHOD
from connectors.slack.errors import Failure, Reaction, classify, unreachable
from connectors.slack.settings import SlackSettings
from syncer.contract.destination import EffectLimits, RecordStatus
from syncer.contract.effects import AlertPost, ChatMember, EffectResult

Pace = Callable[[str, str, Callable[[], SlackResponse]], SlackResponse]

MEMBERS_PAGE = 200  # conversations.members' page size
HISTORY_PAGE = 200  # Slack advises at most 200 messages per conversations.history page
CHANNELS_PAGE = 1000  # users.conversations' largest page
TIMEOUT_S = 30  # seconds per request; a slower reply counts as no reply (TransientError)
_CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]{8,}")  # public, private/multi-person and direct conversations
_USER_ID = re.compile(r"[UW][A-Z0-9]{8,}")


class Refused(Exception):  # noqa: N818 - a value carried to the caller, which turns it into a result
    """Slack refused one call for something about its arguments (a ``REJECTED`` reaction)."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.message)
        self.failure = failure


def normalise_email(email: str) -> str:
    return email.strip().lower()


def _plain(value: Any) -> Any:
    """``value`` with every mapping a dict and every sequence a list, as the SDK's JSON encoder needs."""
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def _oldest(posted_after: datetime | None) -> float:
    """Epoch seconds to read history from; a naive datetime is UTC; ``None`` reads the whole history."""
    if posted_after is None:
        return 0.0
    if posted_after.tzinfo is None:
        posted_after = posted_after.replace(tzinfo=UTC)
    return max(posted_after.timestamp(), 0.0)


class SlackAlertChannel:
    """Posts alerts through one Slack app's bot token. Not thread-safe (its caches are plain dicts)."""

    def __init__(self, client: WebClient) -> None:
        self._client = client
        self._pace: Pace | None = None
        self._dms: dict[str, str] = {}  # user id -> the bot's DM channel with them
        self._members: dict[str, ChatMember | None] = {}  # normalised e-mail -> member (None: Slack knows none)
        self._names: dict[str, str] | None = None  # public channel name -> id, of the channels the app is in

    # -- AlertChannel -----------------------------------------------------------------------------------------
    @property
    def limits(self) -> EffectLimits:
        """How fast each method may be called (:data:`connectors.slack.capabilities.LIMITS`)."""
        return LIMITS

    def set_pacer(self, pace: Pace) -> None:
        """Route every call through ``pace(method, scope, request)`` (scope: the channel of a post, else '')."""
        self._pace = pace

    def lookup_users(self, emails: Sequence[str]) -> Mapping[str, ChatMember]:
        """The member for each of ``emails`` Slack knows, keyed by the e-mail as given. One ``users.lookupByEmail``
        per distinct normalised address (and ``users.info`` when the reply lacks the time zone); cached."""
        found: dict[str, ChatMember] = {}
        for email in emails:
            wanted = normalise_email(email)
            if not wanted:
                continue
            if wanted not in self._members:
                self._members[wanted] = self._lookup(wanted)
            member = self._members[wanted]
            if member is not None:
                found[email] = member
        return found

    def post(self, alert: AlertPost) -> EffectResult:
        """Post ``alert`` (drawn as Block Kit) to its channel, or to the DM with ``alert.user_id`` (opened once,
        then cached). A message that cannot be drawn is refused unsent."""
        try:
            channel = self._channel_of(alert)
            reply = self._call("chat.postMessage", self._client.chat_postMessage, **self._message(alert, channel))
        except Refused as refused:
            return EffectResult(RecordStatus.REJECTED, code=refused.failure.code, message=refused.failure.message)
        except AlertRenderError as exc:
            return EffectResult(RecordStatus.REJECTED, code="unrenderable", message=str(exc))
        return EffectResult(RecordStatus.CONFIRMED, external_id=str(reply["ts"]))

    def find_posts(self, alerts: Sequence[AlertPost]) -> Mapping[str, str]:
        """``{dedupe key: ts}`` for the alerts already posted, read from each channel's history since the earliest
        ``posted_after`` of its alerts. A channel Slack will not show us (gone, archived, the bot is not in it)
        holds none of our posts."""
        wanted: dict[str, set[str]] = {}  # channel id -> dedupe keys
        oldest: dict[str, float] = {}
        for alert in alerts:
            try:
                channel = self._channel_of(alert)
            except Refused:
                continue  # nowhere to post (an unknown member, a channel the app is not in): nothing is there
            wanted.setdefault(channel, set()).add(alert.dedupe_key)
            since = _oldest(alert.posted_after)
            oldest[channel] = min(oldest.get(channel, since), since)
        found: dict[str, str] = {}
        for channel, keys in wanted.items():
            try:
                found.update(self._posts_in(channel, keys, oldest[channel]))
            except Refused:
                continue
        return found

    def close(self) -> None:
        """Nothing to release: the SDK opens a connection per request."""

    # -- interactions (connectors.slack.interactions) ---------------------------------------------------------
    def conversation_of(self, channel: str | None, user_id: str | None) -> str | None:
        """The id of the conversation an alert to ``channel`` (or a DM to ``user_id``) was posted in; None when
        Slack cannot say (the channel is gone, the member unknown)."""
        try:
            return self._target(channel, user_id)
        except Refused:
            return None

    def is_member(self, conversation: str, user_id: str) -> bool:
        """Whether ``user_id`` is a member of ``conversation`` (``conversations.members``, every page)."""
        cursor: str | None = None
        while True:
            arguments: dict[str, Any] = {"channel": conversation, "limit": MEMBERS_PAGE}
            if cursor:
                arguments["cursor"] = cursor
            try:
                reply = self._call("conversations.members", self._client.conversations_members, **arguments)
            except Refused:
                return False  # a conversation the bot cannot see has no members we can vouch for
            if user_id in (reply.get("members") or []):
                return True
            cursor = (reply.get("response_metadata") or {}).get("next_cursor") or None
            if cursor is None:
                return False

    def update(self, conversation: str, ts: str, text: str, blocks: Sequence[Mapping[str, Any]]) -> bool:
        """Replace the message ``ts`` in ``conversation`` (``chat.update``); False when Slack refused it."""
        try:
            self._call(
                "chat.update", self._client.chat_update, channel=conversation, ts=ts, text=text, blocks=_plain(blocks)
            )
        except Refused:
            return False
        return True

    # -- calls ------------------------------------------------------------------------------------------------
    def _call(self, method: str, function: Callable[..., SlackResponse], **arguments: Any) -> SlackResponse:
        """One SDK call. Raises :class:`Refused` for a ``REJECTED`` reaction, else the mapped ``DeliveryError``."""
        if self._pace is None:
            return self._raw(method, function, arguments)
        scope = str(arguments.get("channel", "")) if method == POST_METHOD else ""
        return self._pace(method, scope, lambda: self._raw(method, function, arguments))

    def _raw(self, method: str, function: Callable[..., SlackResponse], arguments: dict[str, Any]) -> SlackResponse:
        """One request; a failure is raised already mapped (so a pacer sees a 429 as ``RateLimitedError``)."""
        try:
            return function(**arguments)
        except SlackApiError as error:
            response = error.response
            data = response.data if isinstance(response.data, Mapping) else {}
            failure = classify(method, response.status_code, data, response.headers)
        except (OSError, http.client.HTTPException) as error:  # refused, reset, cut mid-body, timed out
            raise unreachable(method, error) from None
        if failure.reaction is Reaction.REJECTED:
            raise Refused(failure) from None
        raise failure.error() from None

    def _lookup(self, email: str) -> ChatMember | None:
        try:
            user = self._call("users.lookupByEmail", self._client.users_lookupByEmail, email=email)["user"]
        except Refused:
            return None  # users_not_found: no member (or only a deactivated one) has this address
        if not isinstance(user, Mapping) or user.get("deleted") or not user.get("id"):
            return None
        tz = user.get("tz")
        if not tz:
            try:
                tz = self._call("users.info", self._client.users_info, user=user["id"])["user"].get("tz")
            except Refused:
                return None  # the member went away between the two calls
        return ChatMember(id=str(user["id"]), email=email, tz=str(tz) if tz else None)

    def _channel_of(self, alert: AlertPost) -> str:
        """The id of the conversation ``alert`` goes to: its channel (an id, or a name resolved to one) or the DM
        with its member (``alert.user_id``, or a member id given as the channel), opened the first time."""
        return self._target(alert.channel, alert.user_id)

    def _target(self, channel: str | None, user_id: str | None) -> str:
        target = (channel or "").strip()
        if _USER_ID.fullmatch(target) or (not target and user_id):
            return self._dm(target or str(user_id))
        if _CHANNEL_ID.fullmatch(target):
            return target
        if target:
            return self._named(target)
        raise Refused(
            Failure(
                "chat.postMessage",
                0,
                "no_destination",
                Reaction.REJECTED,
                "The alert names neither a channel nor a member to DM.",
            )
        )

    def _dm(self, user_id: str) -> str:
        if user_id not in self._dms:
            reply = self._call("conversations.open", self._client.conversations_open, users=user_id)
            self._dms[user_id] = str(reply["channel"]["id"])
        return self._dms[user_id]

    def _named(self, name: str) -> str:
        """The id of the public channel ``name`` (``#name`` or ``name``) the app is in. History is read by id only,
        so names are resolved before the first post, from the app's own channels (``users.conversations``)."""
        wanted = name.removeprefix("#").lower()
        if self._names is None:
            self._names = self._channel_names()
        if wanted not in self._names:
            raise Refused(
                Failure(
                    "users.conversations",
                    200,
                    "channel_not_found",
                    Reaction.REJECTED,
                    f"The app is in no public channel named #{wanted}: invite it there, or give a "
                    "private channel by its id.",
                )
            )
        return self._names[wanted]

    def _channel_names(self) -> dict[str, str]:
        names: dict[str, str] = {}
        cursor: str | None = None
        while True:
            arguments: dict[str, Any] = {"types": "public_channel", "exclude_archived": True, "limit": CHANNELS_PAGE}
            if cursor:
                arguments["cursor"] = cursor
            reply = self._call("users.conversations", self._client.users_conversations, **arguments)
            for channel in reply.get("channels") or []:
                names[str(channel.get("name") or "").lower()] = str(channel["id"])
            cursor = (reply.get("response_metadata") or {}).get("next_cursor") or None
            if cursor is None:
                return names

    @staticmethod
    def _message(alert: AlertPost, channel: str) -> dict[str, Any]:
        # No link_names: a literal "@channel" in data must stay text. No unfurls: a link in data shows no preview.
        # The metadata carries the dedupe key whatever the message is, so find_posts finds every post of ours.
        message = render(alert.message, alert.dedupe_key)
        arguments: dict[str, Any] = {
            "channel": channel,
            "text": message.text,
            "unfurl_links": False,
            "unfurl_media": False,
            "metadata": {"event_type": METADATA_EVENT, "event_payload": {"dedupe_key": alert.dedupe_key}},
        }
        if message.blocks:
            arguments["blocks"] = _plain(message.blocks)
        return arguments

    def _posts_in(self, channel: str, keys: set[str], oldest: float) -> dict[str, str]:
        """Our posts in ``channel`` since ``oldest`` that carry one of ``keys``; pages until all are found."""
        found: dict[str, str] = {}
        cursor: str | None = None
        while True:
            arguments: dict[str, Any] = {
                "channel": channel,
                "oldest": f"{oldest:.6f}",
                "inclusive": True,
                "include_all_metadata": True,
                "limit": HISTORY_PAGE,
            }
            if cursor:
                arguments["cursor"] = cursor
            reply = self._call("conversations.history", self._client.conversations_history, **arguments)
            for message in reply.get("messages") or []:
                metadata = message.get("metadata") or {}
                if metadata.get("event_type") != METADATA_EVENT:
                    continue
                key = (metadata.get("event_payload") or {}).get("dedupe_key")
                if key in keys and key not in found:
                    found[key] = str(message["ts"])
            cursor = (reply.get("response_metadata") or {}).get("next_cursor") or None
            if cursor is None or len(found) == len(keys) or not reply.get("has_more", True):
                return found


def open_alert_channel(settings: SlackSettings, *, timeout_s: int = TIMEOUT_S) -> SlackAlertChannel:
    """The alert channel for a ``type: slack`` destination (the token is only ever handed to the SDK)."""
    client = WebClient(
        token=settings.token.get_secret_value(), base_url=settings.base_url, timeout=timeout_s, retry_handlers=[]
    )
    return SlackAlertChannel(client)
