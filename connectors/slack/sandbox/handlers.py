"""The emulated Web API methods. Each takes the parsed call and returns the ``ok: true`` body or raises.

Handlers run with the emulator's lock held. They raise :class:`SlackError` for ``ok: false`` replies and
:class:`RateLimited` for 429s; the emulator turns both into HTTP replies.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from connectors.slack.sandbox.blocks import validate_blocks
from connectors.slack.sandbox.errors import RateLimited, SlackError
from connectors.slack.sandbox.limits import RateLimits, SlackLimits
from connectors.slack.sandbox.model import Conversation
from connectors.slack.sandbox.params import CallArgs
from connectors.slack.sandbox.store import (
    Workspace,
    decode_cursor,
    decode_id_cursor,
    encode_cursor,
    encode_id_cursor,
    ts_value,
)

Handler = Callable[[CallArgs], dict[str, Any]]

MPIM_MAX_USERS = 8
# users.conversations' ``types`` -> the emulated conversation kinds (private channels are not emulated).
CONVERSATION_TYPES = {"public_channel": "channel", "private_channel": None, "mpim": "mpim", "im": "im"}
USERS_CONVERSATIONS_DEFAULT_LIMIT, USERS_CONVERSATIONS_MAX_LIMIT = 100, 1000
MEMBERS_DEFAULT_LIMIT, MEMBERS_MAX_LIMIT = 100, 1000


def _json_arg(call: CallArgs, name: str, format_error: str) -> Any:
    """A JSON-valued argument: as sent in a JSON body, or JSON-encoded text in a form body."""
    value = call.args.get(name)
    if isinstance(value, str):
        if not value.strip():
            return None
        try:
            return json.loads(value)
        except ValueError as exc:
            raise SlackError(format_error) from exc
    return value


class SlackMethods:
    """The Web API methods over one :class:`Workspace`."""

    def __init__(self, workspace: Workspace, limits: SlackLimits, rates: RateLimits) -> None:
        self.ws = workspace
        self.limits = limits
        self.rates = rates

    def table(self) -> dict[str, tuple[Handler, bool]]:
        """Method name -> (handler, accepts a JSON body)."""
        return {
            "auth.test": (self.auth_test, True),
            "chat.postMessage": (self.chat_post_message, True),
            "users.lookupByEmail": (self.users_lookup_by_email, False),
            "users.info": (self.users_info, False),
            "conversations.open": (self.conversations_open, True),
            "conversations.history": (self.conversations_history, False),
            "users.conversations": (self.users_conversations, False),
            "conversations.members": (self.conversations_members, False),
            "chat.update": (self.chat_update, True),
        }

    # -- auth.test --------------------------------------------------------------------------------------------
    def auth_test(self, call: CallArgs) -> dict[str, Any]:
        ident = self.ws.identity
        actor = self.ws.users[call.actor or ident.bot_user_id]
        body: dict[str, Any] = {
            "ok": True,
            "url": ident.url,
            "team": ident.team,
            "user": actor.name,
            "team_id": ident.team_id,
            "user_id": actor.id,
        }
        if actor.is_bot:  # a user token's auth.test names the member and has no bot_id
            body["bot_id"] = ident.bot_id
        body["is_enterprise_install"] = False
        return body

    # -- chat.postMessage -------------------------------------------------------------------------------------
    def _destination(self, channel: str | None, actor: str | None) -> Conversation:
        """Resolve ``channel`` (a channel/DM id, a user id, ``#name`` or ``name``) to a conversation to post in."""
        if channel is None:
            raise SlackError("channel_not_found")
        if channel[:1] in {"U", "W"} and channel in self.ws.users:
            user = self.ws.users[channel]
            if user.is_bot:
                raise SlackError("cannot_dm_bot")
            if user.deleted:
                raise SlackError("user_disabled")
            return self.ws.open_dm(channel, actor)[0]
        conversation = self.ws.conversations.get(channel) or self.ws.channel_by_name(channel)
        if conversation is None:
            raise SlackError("channel_not_found")
        if not self.ws.is_member(conversation, actor):
            # Without chat:write.public, a bot can only post to public channels it has been added to.
            raise SlackError("not_in_channel")
        return conversation

    def _blocks(self, call: CallArgs) -> list[dict[str, Any]] | None:
        blocks = _json_arg(call, "blocks", "invalid_blocks_format")
        if blocks is None:
            return None
        if not isinstance(blocks, list):
            raise SlackError("invalid_blocks_format")
        problems = validate_blocks(blocks, self.limits.max_blocks)
        if problems:
            raise SlackError("invalid_blocks", problems, errors=problems)
        return blocks or None

    @staticmethod
    def _metadata(call: CallArgs) -> dict[str, Any] | None:
        metadata = _json_arg(call, "metadata", "invalid_metadata_format")
        if metadata is None:
            return None
        if not isinstance(metadata, dict):
            raise SlackError("invalid_metadata_format")
        event_type, payload = metadata.get("event_type"), metadata.get("event_payload")
        if not isinstance(event_type, str) or not event_type or not isinstance(payload, dict):
            raise SlackError(
                "invalid_metadata_schema", ["metadata must have a string event_type and an object event_payload"]
            )
        return {"event_type": event_type, "event_payload": payload}

    def _thread_parent(self, channel: str, thread_ts: str | None) -> str | None:
        if thread_ts is None:
            return None
        parent = self.ws.find_message(channel, thread_ts) if ts_value(thread_ts) is not None else None
        if parent is None:
            raise SlackError("invalid_thread_ts")
        # A reply's ts names its thread's parent, as Slack advises callers to use the parent's ts.
        return parent.thread_ts if parent.is_reply and parent.thread_ts else parent.ts

    def chat_post_message(self, call: CallArgs) -> dict[str, Any]:
        conversation = self._destination(call.text("channel"), call.actor)
        blocks = self._blocks(call)
        attachments = _json_arg(call, "attachments", "invalid_attachments")
        text = call.text("text") or ""
        if not text and not blocks and not attachments:
            raise SlackError("no_text")
        truncated = len(text) > self.limits.max_text_chars
        if truncated:
            if not self.limits.truncate_long_text:
                raise SlackError("msg_too_long")
            text = text[: self.limits.max_text_chars]
        metadata = self._metadata(call)
        thread_ts = self._thread_parent(conversation.id, call.text("thread_ts"))
        retry_after = self.rates.post(conversation.id)
        if retry_after is not None:
            raise RateLimited(retry_after)
        options = {
            name: call.flag(name, default=default)
            for name, default in (
                ("unfurl_links", False),
                ("unfurl_media", True),
                ("mrkdwn", True),
                ("reply_broadcast", False),
            )
        }
        if attachments:
            options["attachments"] = attachments
        poster = call.actor or self.ws.identity.bot_user_id
        message = self.ws.post(
            conversation.id,
            poster,
            text,
            blocks=blocks,
            metadata=metadata,
            thread_ts=thread_ts,
            reply_broadcast=options["reply_broadcast"] and bool(thread_ts),
            options=options,
        )
        body: dict[str, Any] = {
            "ok": True,
            "channel": conversation.id,
            "ts": message.ts,
            "message": self.ws.render(message, include_metadata=True),
        }
        if truncated:
            call.warnings.append("message_truncated")
            body["response_metadata"] = {
                "messages": [
                    f"[WARN] Your message was truncated but still posted. The `text` field accepts up to "
                    f"{self.limits.max_text_chars:,} characters."
                ],
            }
        return body

    # -- users.* ----------------------------------------------------------------------------------------------
    def users_lookup_by_email(self, call: CallArgs) -> dict[str, Any]:
        email = call.text("email")
        if email is None:
            raise SlackError("invalid_arguments", ["missing required field: email"])
        user = self.ws.user_by_email(email)
        if user is None or user.deleted:  # Slack documents users_not_found for deactivated accounts
            raise SlackError("users_not_found")
        return {"ok": True, "user": user.to_json(self.ws.identity.team_id, self.ws.wall_clock())}

    def users_info(self, call: CallArgs) -> dict[str, Any]:
        user = self.ws.users.get(call.text("user") or "")
        if user is None:
            raise SlackError("user_not_found")
        return {"ok": True, "user": user.to_json(self.ws.identity.team_id, self.ws.wall_clock())}

    # -- conversations.* --------------------------------------------------------------------------------------
    def conversations_open(self, call: CallArgs) -> dict[str, Any]:
        users_arg, channel_arg = call.text("users"), call.text("channel")
        if users_arg is not None:
            user_ids = [u.strip() for u in users_arg.split(",") if u.strip()]
            user_ids = [u for u in dict.fromkeys(user_ids) if u != (call.actor or self.ws.identity.bot_user_id)]
            if not user_ids:
                raise SlackError("not_enough_users")
            if len(user_ids) > MPIM_MAX_USERS:
                raise SlackError("too_many_users")
            for user_id in user_ids:
                user = self.ws.users.get(user_id)
                if user is None:
                    raise SlackError("user_not_found")
                if user.deleted:
                    raise SlackError("user_disabled")
            if len(user_ids) == 1:
                conversation, existed = self.ws.open_dm(user_ids[0], call.actor)
            else:
                conversation, existed = self.ws.open_mpim(user_ids, call.actor)
        elif channel_arg is not None:
            found = self.ws.conversations.get(channel_arg)
            if found is None:
                raise SlackError("channel_not_found")
            if found.kind == "channel":
                raise SlackError("method_not_supported_for_channel_type")
            conversation, existed = found, True
        else:
            raise SlackError("users_list_not_supplied")
        body: dict[str, Any] = {"ok": True}
        if existed:
            body["no_op"], body["already_open"] = True, True
        body["channel"] = conversation.to_json() if call.flag("return_im") else {"id": conversation.id}
        return body

    def _history_limit(self, call: CallArgs) -> int:
        raw = call.text("limit")
        if raw is None:
            return self.limits.history_default_limit
        try:
            limit = int(raw)
        except ValueError as exc:
            raise SlackError("invalid_arguments", [f"invalid value for limit: {raw}"]) from exc
        if limit <= 0:
            return self.limits.history_default_limit
        return min(limit, self.limits.history_max_limit)

    def conversations_history(self, call: CallArgs) -> dict[str, Any]:
        conversation = self.ws.conversations.get(call.text("channel") or "")
        if conversation is None:
            raise SlackError("channel_not_found")
        if not self.ws.is_member(conversation, call.actor):
            raise SlackError("not_in_channel")
        limit = self._history_limit(call)
        oldest_arg, latest_arg, cursor = call.text("oldest"), call.text("latest"), call.text("cursor")
        oldest = ts_value(oldest_arg) if oldest_arg is not None else 0.0
        if oldest is None:
            raise SlackError("invalid_ts_oldest")
        latest = ts_value(latest_arg) if latest_arg is not None else None
        if latest_arg is not None and latest is None:
            raise SlackError("invalid_ts_latest")
        start_ts = None
        if cursor is not None:
            start_ts = decode_cursor(cursor)
            if start_ts is None:
                raise SlackError("invalid_cursor")
        messages = self.ws.history(
            conversation.id, oldest=oldest, latest=latest, inclusive=call.flag("inclusive"), start_ts=start_ts
        )
        page, rest = messages[:limit], messages[limit:]
        include_metadata = call.flag("include_all_metadata")
        body: dict[str, Any] = {
            "ok": True,
            "messages": [self.ws.render(m, include_metadata=include_metadata) for m in page],
            "has_more": bool(rest),
            "pin_count": 0,
            "channel_actions_ts": None,
            "channel_actions_count": 0,
        }
        if rest:
            body["response_metadata"] = {"next_cursor": encode_cursor(rest[0].ts)}
        return body

    def users_conversations(self, call: CallArgs) -> dict[str, Any]:
        """The conversations the caller (or ``user``) is a member of, of ``types`` (default ``public_channel``), in
        id order, paged with an opaque cursor (base64 of ``next_id:<channel id>``)."""
        member = call.text("user") or call.actor or self.ws.identity.bot_user_id
        if member not in self.ws.users:
            raise SlackError("user_not_found")
        names = [t.strip() for t in (call.text("types") or "public_channel").split(",") if t.strip()]
        if not names or any(name not in CONVERSATION_TYPES for name in names):
            raise SlackError("invalid_types")
        kinds = {CONVERSATION_TYPES[name] for name in names} - {None}
        raw_limit = call.text("limit")
        try:
            limit = int(raw_limit) if raw_limit is not None else USERS_CONVERSATIONS_DEFAULT_LIMIT
        except ValueError as exc:
            raise SlackError("invalid_limit") from exc
        limit = min(limit if limit > 0 else USERS_CONVERSATIONS_DEFAULT_LIMIT, USERS_CONVERSATIONS_MAX_LIMIT)
        selected = sorted(
            (c for c in self.ws.conversations.values() if c.kind in kinds and self.ws.is_member(c, member)),
            key=lambda c: c.id,
        )
        cursor = call.text("cursor")
        if cursor is not None:
            start = decode_id_cursor(cursor)
            if start is None:
                raise SlackError("invalid_cursor")
            selected = [c for c in selected if c.id >= start]
        page, rest = selected[:limit], selected[limit:]
        return {
            "ok": True,
            "channels": [c.to_json() for c in page],
            "response_metadata": {"next_cursor": encode_id_cursor(rest[0].id) if rest else ""},
        }

    # -- conversations.members, chat.update -------------------------------------------------------------------
    def conversations_members(self, call: CallArgs) -> dict[str, Any]:
        """The member ids of a conversation in id order, paged with an opaque cursor, as Slack answers it: deleted
        members are left out, and the bot needs to see the conversation (any public channel; DMs it is in)."""
        conversation = self.ws.conversations.get(call.text("channel") or "")
        if conversation is None:
            raise SlackError("channel_not_found")
        if conversation.kind != "channel" and not self.ws.is_member(conversation, call.actor):
            raise SlackError("channel_not_found")  # Slack does not say a private conversation exists
        raw_limit = call.text("limit")
        try:
            limit = int(raw_limit) if raw_limit is not None else MEMBERS_DEFAULT_LIMIT
        except ValueError as exc:
            raise SlackError("invalid_limit") from exc
        limit = min(limit if limit > 0 else MEMBERS_DEFAULT_LIMIT, MEMBERS_MAX_LIMIT)
        members = sorted(m for m in conversation.members if m in self.ws.users and not self.ws.users[m].deleted)
        cursor = call.text("cursor")
        if cursor is not None:
            start = decode_id_cursor(cursor)
            if start is None:
                raise SlackError("invalid_cursor")
            members = [m for m in members if m >= start]
        page, rest = members[:limit], members[limit:]
        return {
            "ok": True,
            "members": page,
            "response_metadata": {"next_cursor": encode_id_cursor(rest[0]) if rest else ""},
        }

    def chat_update(self, call: CallArgs) -> dict[str, Any]:
        """Replace a message's text and blocks. Only its poster may (``cant_update_message``); the ``ts`` must name
        a message of the channel (``message_not_found``)."""
        conversation = self.ws.conversations.get(call.text("channel") or "")
        if conversation is None:
            raise SlackError("channel_not_found")
        ts = call.text("ts")
        message = self.ws.find_message(conversation.id, ts) if ts and ts_value(ts) is not None else None
        if message is None:
            raise SlackError("message_not_found")
        if message.user != (call.actor or self.ws.identity.bot_user_id):
            raise SlackError("cant_update_message")
        blocks = self._blocks(call)
        text = call.text("text")
        if text is None and blocks is None:
            raise SlackError("no_text")
        if text is not None and len(text) > self.limits.max_text_chars:
            raise SlackError("msg_too_long")
        self.ws.update(message, text if text is not None else message.text, blocks)
        return {
            "ok": True,
            "channel": conversation.id,
            "ts": message.ts,
            "text": message.text,
            "message": self.ws.render(message, include_metadata=False),
        }
