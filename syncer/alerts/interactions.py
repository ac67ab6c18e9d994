"""Feedback from reps: Slack's interaction requests, verified, parsed and answered, without I/O.

When a rep presses Claim, Snooze 7 days or Not useful, Slack POSTs ``payload=<json>`` (form-encoded) to the app's
request URL, signed with the app's signing secret:

- ``X-Slack-Signature: v0=<hex>``, the HMAC-SHA256 of ``v0:{X-Slack-Request-Timestamp}:{raw body}``;
- the timestamp must be within 5 minutes of now, and a signature is accepted once (a captured request replayed
  inside those 5 minutes is refused), through a :class:`SeenRequests` store.

Slack wants a 200 within 3 seconds and ignores its body for ``block_actions``; the message is updated afterwards
by POSTing :func:`update_message` to the payload's ``response_url`` (the caller's I/O). Statuses: 200 (accepted, or
an interaction that is not feedback, such as the "Open in CRM" link), 400 malformed, 401 bad or stale signature,
409 replayed, 413 too large. Nothing raised escapes :meth:`InteractionHandler.handle`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import parse_qs

from pydantic import SecretStr

from syncer.alerts.render import (
    ACTION_CLAIM,
    ACTION_NOT_USEFUL,
    ACTION_OPEN_RECORD,
    ACTION_SNOOZE,
    BLOCKS_MAX,
    FEEDBACK_BLOCK_ID,
    mrkdwn,
)
from syncer.contract.jsonbound import loads_bounded
from syncer.core.alerts import DedupeKey, LedgerEntry, Outcome

MAX_SKEW = timedelta(minutes=5)
NOT_USEFUL_HOLD = timedelta(days=30)
SNOOZE = timedelta(days=7)
MAX_BODY_BYTES = 256 * 1024
MAX_FORM_FIELDS = 16  # Slack sends one field, 'payload'
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,30}$")  # Slack user ids; checked before being put in <@...>


class FeedbackAction(StrEnum):
    CLAIM = "claim"
    SNOOZE_7D = "snooze_7d"
    NOT_USEFUL = "not_useful"


_ACTIONS = {ACTION_CLAIM: FeedbackAction.CLAIM, ACTION_SNOOZE: FeedbackAction.SNOOZE_7D,
            ACTION_NOT_USEFUL: FeedbackAction.NOT_USEFUL}
_DONE = {FeedbackAction.CLAIM: "Claimed by", FeedbackAction.SNOOZE_7D: "Snoozed for 7 days by",
         FeedbackAction.NOT_USEFUL: "Marked not useful by"}


@dataclass(frozen=True)
class Feedback:
    """One press of a feedback button on an alert."""

    action: FeedbackAction
    user_id: str
    dedupe_key: DedupeKey
    channel_id: str | None
    message_ts: str | None
    response_url: str | None
    message_text: str
    message_blocks: tuple[Mapping[str, Any], ...]


class RequestRejectedError(Exception):
    """A request refused with an HTTP status and a one-line reason."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class SeenRequests(ABC):
    """Remembers accepted request signatures for as long as their timestamps could still be accepted."""

    @abstractmethod
    def first_time(self, signature: str, expires_at: datetime, now: datetime) -> bool:
        """Record ``signature`` until ``expires_at``; True when it was not recorded (and unexpired) before."""


class InMemorySeenRequests(SeenRequests):
    """One process's memory; several replicas share a store that implements the same contract on the database."""

    def __init__(self) -> None:
        self._expiry: dict[str, datetime] = {}

    def first_time(self, signature: str, expires_at: datetime, now: datetime) -> bool:
        self._expiry = {key: at for key, at in self._expiry.items() if at > now}
        if signature in self._expiry:
            return False
        self._expiry[signature] = expires_at
        return True

    def __len__(self) -> int:
        return len(self._expiry)


def signature(secret: SecretStr, timestamp: str, body: bytes) -> str:
    """The ``X-Slack-Signature`` value Slack sends for ``body`` at ``timestamp``."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.get_secret_value().encode(), base, hashlib.sha256).hexdigest()


def verify(body: bytes, headers: Mapping[str, str], secret: SecretStr, now: datetime, seen: SeenRequests) -> None:
    """Accept a signed, fresh, first-seen request or raise :class:`RequestRejectedError` (401 or 409)."""
    lower = {name.lower(): value for name, value in headers.items()}
    timestamp, given = lower.get("x-slack-request-timestamp", ""), lower.get("x-slack-signature", "")
    if not timestamp or not given:
        raise RequestRejectedError(401, "missing X-Slack-Request-Timestamp or X-Slack-Signature")
    try:
        sent = int(timestamp)
    except ValueError:
        raise RequestRejectedError(401, "X-Slack-Request-Timestamp is not a number") from None
    skew = abs(now.timestamp() - sent)
    if skew > MAX_SKEW.total_seconds():
        raise RequestRejectedError(401, f"request timestamp is {skew:.0f} s from now (at most 300 s accepted)")
    if not hmac.compare_digest(signature(secret, timestamp, body).encode(), given.encode()):
        raise RequestRejectedError(401, "signature does not match")
    if not seen.first_time(given, now + MAX_SKEW, now):
        raise RequestRejectedError(409, "request already handled (replay)")


def parse_feedback(body: bytes) -> Feedback | None:
    """The feedback in a ``block_actions`` request; None for other interactions (e.g. the record link).

    Raises :class:`RequestRejectedError` (400) for anything that is not a well-formed interaction payload.
    """
    try:
        form = parse_qs(body.decode("utf-8"), strict_parsing=True, max_num_fields=MAX_FORM_FIELDS)
        payload = loads_bounded(form["payload"][0])  # a bounded nesting: 5,000 '[' must not raise RecursionError
    except (UnicodeDecodeError, ValueError, KeyError):
        raise RequestRejectedError(400, "body is not a form with a JSON 'payload'") from None
    if not isinstance(payload, dict):
        raise RequestRejectedError(400, "payload is not a JSON object")
    if payload.get("type") != "block_actions":
        return None
    actions = payload.get("actions")
    if not isinstance(actions, list) or not actions or not isinstance(actions[0], dict):
        raise RequestRejectedError(400, "block_actions payload without actions")
    action_id = actions[0].get("action_id")
    if action_id == ACTION_OPEN_RECORD or action_id not in _ACTIONS:
        return None
    user_id = _path(payload, "user", "id")
    if not isinstance(user_id, str) or not _USER_ID.match(user_id):
        raise RequestRejectedError(400, "payload has no valid user id")
    try:
        key = DedupeKey.parse(str(actions[0].get("value", "")))
    except ValueError as exc:
        raise RequestRejectedError(400, str(exc)) from None
    found = payload.get("message")
    message: dict[str, Any] = found if isinstance(found, dict) else {}
    listed = message.get("blocks")
    blocks: list[Any] = listed if isinstance(listed, list) else []
    return Feedback(
        action=_ACTIONS[action_id], user_id=user_id, dedupe_key=key,
        channel_id=_text(_path(payload, "container", "channel_id") or _path(payload, "channel", "id")),
        message_ts=_text(_path(payload, "container", "message_ts") or message.get("ts")),
        response_url=_text(payload.get("response_url")), message_text=_text(message.get("text")) or "",
        message_blocks=tuple(block for block in blocks if isinstance(block, dict)))


def snooze_entry(feedback: Feedback, now: datetime) -> LedgerEntry | None:
    """The ledger entry a press adds to hold that account back from that user: 7 days for "Snooze 7 days", 30 for
    "Not useful" (the rep said this signal does not help them; a month later the account may have changed).
    None for "Claim"."""
    hold = {FeedbackAction.SNOOZE_7D: SNOOZE, FeedbackAction.NOT_USEFUL: NOT_USEFUL_HOLD}.get(feedback.action)
    if hold is None:
        return None
    return LedgerEntry(feedback.dedupe_key, feedback.user_id, Outcome.SNOOZED, now, None, now + hold)


def updated_blocks(blocks: tuple[Mapping[str, Any], ...], feedback: Feedback) -> list[dict[str, Any]]:
    """The alert's blocks after feedback: the feedback buttons give way to "Claimed by <@U…>" (the record link
    stays)."""
    done = {"type": "context", "elements": [mrkdwn(f"{_DONE[feedback.action]} <@{feedback.user_id}>")]}
    out: list[dict[str, Any]] = []
    replaced = False
    for block in blocks:
        if block.get("block_id") != FEEDBACK_BLOCK_ID:
            out.append(dict(block))
            continue
        links = [e for e in block.get("elements", []) if isinstance(e, dict) and e.get("action_id") not in _ACTIONS]
        if links:
            out.append({"type": "actions", "elements": links})
        out.append(done)
        replaced = True
    if not replaced:
        out = [*out[: BLOCKS_MAX - 1], done]
    return out


def update_message(feedback: Feedback) -> dict[str, Any]:
    """The body to POST to ``feedback.response_url`` so the alert shows who acted on it."""
    return {"replace_original": True, "text": feedback.message_text or _DONE[feedback.action],
            "blocks": updated_blocks(feedback.message_blocks, feedback)}


class InteractionHandler:
    """Verifies and parses interaction requests; framework-agnostic (bytes and headers in, status and JSON out)."""

    def __init__(self, signing_secret: SecretStr, seen: SeenRequests | None = None) -> None:
        self._secret = signing_secret
        self._seen = seen if seen is not None else InMemorySeenRequests()

    def handle(self, body: bytes, headers: Mapping[str, str],
               now: datetime) -> tuple[int, dict[str, Any], Feedback | None]:
        """``(status, response JSON, feedback or None)``; never raises for bad input."""
        try:
            if len(body) > MAX_BODY_BYTES:
                raise RequestRejectedError(413, f"body over {MAX_BODY_BYTES} bytes")
            verify(body, headers, self._secret, now, self._seen)
            feedback = parse_feedback(body)
        except RequestRejectedError as exc:
            return exc.status, {"ok": False, "error": exc.reason}, None
        return 200, {"ok": True}, feedback


def _path(payload: Mapping[str, Any], *names: str) -> Any:
    node: Any = payload
    for name in names:
        node = node.get(name) if isinstance(node, dict) else None
    return node


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
