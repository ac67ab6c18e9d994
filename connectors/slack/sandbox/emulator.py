"""The Slack Web API emulator: ``POST|GET /api/{method}`` as ``slack_sdk.WebClient`` calls it.

Point the SDK at it with ``WebClient(token="xoxb-...", base_url=server.url + "/api/")``. The request pipeline is
Slack's: unknown method -> ``unknown_method``; unreadable body -> ``invalid_json``/``invalid_form_data``; no token ->
``not_authed``; a token the workspace did not issue -> ``invalid_auth`` (revoked: ``token_revoked``, an expired
rotated token: ``token_expired``); the method's tier limit -> 429; then the method itself. Every reply
but 429 and 5xx is HTTP 200.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Collection
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from connectors.sandbox.core.base import Clock, VendorEmulator
from connectors.slack.sandbox.errors import (
    RateLimited,
    SlackError,
    json_reply,
    ratelimited_reply,
    server_error_reply,
    with_warnings,
)
from connectors.slack.sandbox.handlers import SlackMethods
from connectors.slack.sandbox.limits import RateLimits, SlackLimits
from connectors.slack.sandbox.model import Conversation, User, slack_id_problem
from connectors.slack.sandbox.params import read_call
from connectors.slack.sandbox.responses import ResponseUrls
from connectors.slack.sandbox.store import Workspace, WorkspaceIdentity
from connectors.slack.sandbox.tokens import SANDBOX_TOKENS, TokenKind, TokenRegistry


class SlackEmulator(VendorEmulator):
    """A stateful Slack workspace with one installed bot, served over the Web API.

    ``tokens``: the tokens the workspace issued: bot (``xoxb-``), user (``xoxp-``, acting as
    ``identity.installer_user_id``) and rotated bot (``xoxe.xoxb-``) tokens; by default :data:`SANDBOX_TOKENS`,
    which the demo and the test suite use. ``clock`` (monotonic seconds) drives
    every rate-limit window; ``wall_clock`` (epoch seconds) stamps message ``ts`` values and evaluates members'
    time-zone offsets.
    """

    vendor = "slack"

    def __init__(
        self,
        limits: SlackLimits | None = None,
        *,
        tokens: Collection[str] | None = None,
        identity: WorkspaceIdentity | None = None,
        seed: int = 0,
        clock: Clock = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        # seed() runs inside the base constructor, so everything it reads must exist first.
        self.limits = limits or SlackLimits()
        self.tokens = TokenRegistry(SANDBOX_TOKENS if tokens is None else tokens)
        self.identity = identity or WorkspaceIdentity()
        self.wall_clock = wall_clock
        super().__init__(seed=seed, clock=clock)

    # -- VendorEmulator ---------------------------------------------------------------------------------------
    def routes(self) -> list[BaseRoute]:
        # One route per method, so the request log counts calls per method; the catch-all answers unknown_method.
        known: list[BaseRoute] = [Route(f"/api/{name}", self._call, methods=["GET", "POST"]) for name in self._table]
        return [
            *known,
            Route("/api/{method}", self._call, methods=["GET", "POST"]),
            Route("/actions/{team}/{hook}/{token}", self._respond, methods=["POST"]),
        ]

    def seed(self) -> None:
        self.workspace = Workspace(self.wall_clock, self.identity)
        self.workspace.seed()
        self.tokens.clear()
        self.rates = RateLimits(self.limits, self.clock)
        self.methods = SlackMethods(self.workspace, self.limits, self.rates)
        self._table = self.methods.table()
        self.response_urls = ResponseUrls(self.identity.team_id, self.wall_clock)

    def state(self) -> dict[str, Any]:
        ws = self.workspace
        now = ws.wall_clock()
        return {
            "team": {"id": ws.identity.team_id, "name": ws.identity.team, "bot_user_id": ws.identity.bot_user_id},
            "users": [user.to_json(ws.identity.team_id, now) for user in ws.users.values()],
            "conversations": [{**c.to_json(), "members": sorted(c.members)} for c in ws.conversations.values()],
            "messages": {channel: [m.record() for m in messages] for channel, messages in ws.messages.items()},
        }

    def rate_limited_response(self) -> Response:
        return ratelimited_reply(1)

    def server_error_response(self, status: int) -> Response:
        return server_error_reply(status)

    # -- the Web API ------------------------------------------------------------------------------------------
    async def _call(self, request: Request) -> Response:
        method = request.url.path.rsplit("/", 1)[-1]
        entry = self._table.get(method)
        if entry is None:
            return json_reply({"ok": False, "error": "unknown_method", "req_method": method})
        handler, accepts_json = entry
        try:
            call = await read_call(request, accepts_json=accepts_json)
        except SlackError as error:
            return json_reply(error.body())
        try:
            with self.lock:
                kind = self.tokens.kind(call.token)
                call.actor = self.identity.installer_user_id if kind is TokenKind.USER else self.identity.bot_user_id
                retry_after = self.rates.method(method)
                if retry_after is not None:
                    raise RateLimited(retry_after)
                body = handler(call)
        except RateLimited as limited:
            return ratelimited_reply(limited.retry_after)
        except SlackError as error:
            body = error.body()
        return json_reply(with_warnings(body, call.warnings))

    # -- response_url -----------------------------------------------------------------------------------------
    async def _respond(self, request: Request) -> Response:
        """A POST to a response URL: replace the original message, or record an ephemeral reply to the presser."""
        try:
            body = json.loads(await request.body())
        except ValueError:
            return Response("invalid_payload", status_code=400, media_type="text/plain")
        if not isinstance(body, dict):
            return Response("invalid_payload", status_code=400, media_type="text/plain")
        with self.lock:
            issued, error = self.response_urls.accept(request.url.path, body)
            if issued is None:
                return Response(error or "no_such_url", status_code=404, media_type="text/plain")
            if body.get("replace_original") is True and body.get("response_type") != "ephemeral":
                message = self.workspace.find_message(issued.channel, issued.ts)
                if message is not None:
                    self.workspace.update(message, str(body.get("text") or message.text), body.get("blocks"))
        return Response("ok", media_type="text/plain")

    def interaction_payload(
        self, base_url: str, user_id: str, channel: str, ts: str, action_id: str, value: str | None = None
    ) -> dict[str, Any]:
        """The ``block_actions`` payload Slack sends when ``user_id`` presses the button ``action_id`` on the
        message ``ts`` of ``channel`` (as it is stored now), with a fresh ``response_url`` under ``base_url``
        (the emulator's root URL). ``value``: the button's value (by default the one on the stored message)."""
        with self.lock:
            ws = self.workspace
            message = ws.find_message(channel, ts)
            if message is None:
                raise KeyError(f"no message {ts} in {channel}")
            buttons = [
                e
                for b in message.blocks or []
                for e in b.get("elements", [])
                if isinstance(e, dict) and e.get("action_id") == action_id
            ]
            shown = ws.render(message, include_metadata=False)
            path = self.response_urls.issue(channel, ts, user_id)
            user = ws.users.get(user_id)
        action = {
            "type": "button",
            "action_id": action_id,
            "block_id": "syncer_feedback",
            "value": value if value is not None else (buttons[0].get("value") if buttons else None),
            "action_ts": f"{self.wall_clock():.6f}",
        }
        return {
            "type": "block_actions",
            "team": {"id": self.identity.team_id},
            "user": {"id": user_id, "username": user.name if user else user_id, "team_id": self.identity.team_id},
            "api_app_id": self.identity.app_id,
            "token": "deprecated-verification-token",
            "container": {"type": "message", "message_ts": ts, "channel_id": channel, "is_ephemeral": False},
            "trigger_id": f"{int(self.wall_clock())}.{path[-12:]}",
            "channel": {"id": channel},
            "message": shown,
            "response_url": base_url.rstrip("/") + path,
            "actions": [action],
        }

    def responses(self) -> list[dict[str, Any]]:
        """Every body POSTed to a response URL, oldest first, with the interaction it answered."""
        with self.lock:
            return [
                {"channel": i.channel, "ts": i.ts, "user": i.user, "body": body}
                for i in self.response_urls.issued.values()
                for body in i.posts
            ]

    # -- Python API for tests and the demo --------------------------------------------------------------------
    def revoke_token(self, token: str) -> None:
        """From now on ``token`` answers ``token_revoked`` (until :meth:`reset`)."""
        with self.lock:
            self.tokens.revoke(token)

    def expire_token(self, token: str) -> None:
        """From now on the rotated ``token`` answers ``token_expired`` (until :meth:`reset`)."""
        with self.lock:
            self.tokens.expire(token)

    def _conversation(self, channel: str) -> Conversation | None:
        ws = self.workspace
        if channel in ws.users:
            return ws.dm_with(channel)
        user = ws.user_by_email(channel) if "@" in channel else None
        if user is not None:
            return ws.dm_with(user.id)
        return ws.conversations.get(channel) or ws.channel_by_name(channel)

    def messages(self, channel: str) -> list[dict[str, Any]]:
        """Messages of a channel (id, ``#name``) or of the bot's DM with a user (id or e-mail), oldest first."""
        with self.lock:
            conversation = self._conversation(channel)
            if conversation is None:
                return []
            return [m.record() for m in self.workspace.messages.get(conversation.id, [])]

    def dms_to(self, user: str) -> list[dict[str, Any]]:
        """What the bot sent a member (by user id or e-mail) in their DM, oldest first."""
        with self.lock:
            ws = self.workspace
            found = ws.users.get(user) or ws.user_by_email(user)
        return self.messages(found.id) if found is not None else []

    def all_messages(self) -> list[dict[str, Any]]:
        """Every message of the workspace, in posting order."""
        with self.lock:
            every = [m for messages in self.workspace.messages.values() for m in messages]
            return [m.record() for m in sorted(every, key=lambda m: float(m.ts))]

    def find_by_metadata(self, event_type: str, **payload: Any) -> list[dict[str, Any]]:
        """Messages whose metadata has ``event_type`` and whose ``event_payload`` contains every ``payload`` item."""
        found = []
        for message in self.all_messages():
            metadata = message["metadata"]
            if metadata is None or metadata["event_type"] != event_type:
                continue
            if all(metadata["event_payload"].get(key) == value for key, value in payload.items()):
                found.append(message)
        return found

    def add_user(
        self, user_id: str, email: str | None, real_name: str, *, tz: str = "America/Los_Angeles", deleted: bool = False
    ) -> dict[str, Any]:
        """Add a member (``user_id`` like ``U0123ABCD45``); returns it as ``users.info`` would.

        Raises ``ValueError`` for an id Slack would never issue, so tests cannot pass on ids production never sees.
        """
        _check_id("user", user_id)
        first, _, last = real_name.partition(" ")
        name = email.split("@")[0] if email else real_name.lower().replace(" ", ".")
        with self.lock:
            user = self.workspace.add_user(
                User(user_id, name, real_name, email, tz=tz, deleted=deleted, first_name=first, last_name=last)
            )
            return user.to_json(self.identity.team_id, self.wall_clock())

    def add_channel(self, channel_id: str, name: str, *, bot_is_member: bool = True) -> None:
        """Add a public channel (``channel_id`` like ``C0123ABCD45``) with every active person as a member, and the
        bot if ``bot_is_member``. Raises ``ValueError`` for an id that is not a Slack channel id."""
        _check_id("channel", channel_id)
        with self.lock:
            ws = self.workspace
            members = {u.id for u in ws.users.values() if not u.is_bot and not u.deleted}
            if bot_is_member:
                members.add(ws.identity.bot_user_id)
            ws.add_channel(channel_id, name, members)

    def set_bot_membership(self, channel: str, *, member: bool) -> None:
        """Invite the bot to (or remove it from) a public channel given by id or name."""
        with self.lock:
            conversation = self._conversation(channel)
            if conversation is None or conversation.kind != "channel":
                raise KeyError(channel)
            if member:
                conversation.members.add(self.identity.bot_user_id)
            else:
                conversation.members.discard(self.identity.bot_user_id)


def _check_id(kind: str, value: str) -> None:
    problem = slack_id_problem(kind, value)
    if problem is not None:
        raise ValueError(problem)
