"""Feedback from reps: Slack's interaction requests, verified, parsed, authorised and answered.

When a member presses Claim, Snooze 7 days or Not useful, Slack POSTs ``payload=<json>`` (form-encoded) to the app's
request URL, signed with the app's signing secret:

- ``X-Slack-Signature: v0=<hex>``, the HMAC-SHA256 of ``v0:{X-Slack-Request-Timestamp}:{raw body}``, checked with
  slack_sdk's :class:`~slack_sdk.signature.SignatureVerifier`;
- the timestamp must be within 5 minutes of now, and a signature is accepted once (a captured request replayed
  inside those 5 minutes is refused), through a :class:`~syncer.contract.interactions.SeenRequests` store.

Statuses: 200 (accepted; or an interaction that is not feedback, such as the "Open in CRM" link; or refused with an
ephemeral "this is not your alert"), 400 malformed, 401 bad or stale signature, 409 replayed, 413 too large.

**Who may act.** Slack wants its 200 within 3 seconds, so a well-formed press is answered at once and checked
after (:attr:`InteractionAnswer.followup`). It counts only when all of these hold, else it changes nothing and the
presser alone is told "this is not your alert" (an ephemeral reply through ``response_url``):

- the button's dedupe key names an alert this syncer sent (the engine's ledger knows it), posted as the very message
  pressed (same conversation id, same ``ts``), and the action is one that alert offered;
- a DM alert is pressed by its recipient; a channel alert by a member of that channel (``conversations.members``).

An accepted press is recorded through the engine's :class:`~syncer.contract.interactions.FeedbackLedger` with who
pressed it, and the message is updated in place with ``chat.update`` ("Claimed by X for Y" on a channel alert).

**Outbound calls only to Slack.** A ``response_url`` that does not start with one of the configured prefixes
(:attr:`SlackSettings.response_url_prefixes`, ``https://hooks.slack.com/`` by default) is never fetched: the press is
refused in the 200 body and one line is logged (the URL's scheme and host only).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from slack_sdk.signature import Clock, SignatureVerifier
from slack_sdk.webhook import WebhookClient

from connectors.slack.blocks import ACTION_IDS, ACTION_OPEN_RECORD, BLOCKS_MAX, FEEDBACK_BLOCK_ID, mrkdwn
from connectors.slack.channel import SlackAlertChannel, open_alert_channel
from connectors.slack.settings import SlackSettings
from syncer.contract.alerts import FeedbackAction
from syncer.contract.errors import DeliveryError
from syncer.contract.interactions import (
    MAX_BODY_BYTES,
    FeedbackLedger,
    InteractionAnswer,
    InteractionRequest,
    Press,
    SeenRequests,
    SentAlert,
)
from syncer.contract.jsonbound import JsonTooDeepError, loads_bounded

log = logging.getLogger("syncer.connectors.slack.interactions")

MAX_SKEW = timedelta(minutes=5)
MAX_FORM_FIELDS = 16  # Slack sends one field, 'payload'
MAX_VALUE_CHARS = 2000  # a button's value holds at most this
NOT_YOURS = "This is not your alert: only the rep it was sent to, or a member of its channel, can act on it."
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,30}$")  # Slack user ids; checked before being put in <@...>
_DONE = {
    FeedbackAction.CLAIM: "Claimed by",
    FeedbackAction.SNOOZE_7D: "Snoozed for 7 days by",
    FeedbackAction.NOT_USEFUL: "Marked not useful by",
}


@dataclass(frozen=True)
class Feedback:
    """One press of a feedback button, as the (verified) request states it."""

    action: FeedbackAction
    user_id: str
    dedupe_key: str
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


class _At(Clock):
    """The verifier's clock, set to the request's arrival time."""

    def __init__(self, now: datetime) -> None:
        self._now = now.timestamp()

    def now(self) -> float:
        return self._now


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Slack-Signature`` value Slack sends for ``body`` at ``timestamp``."""
    return str(SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=body))


def verify(body: bytes, headers: Mapping[str, str], secret: str, now: datetime, seen: SeenRequests) -> None:
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
    if not SignatureVerifier(secret, _At(now)).is_valid(body, timestamp, given):
        raise RequestRejectedError(401, "signature does not match")
    if not seen.first_time(given, now + MAX_SKEW, now):
        raise RequestRejectedError(409, "request already handled (replay)")


def parse_feedback(body: bytes) -> Feedback | None:
    """The feedback in a ``block_actions`` request; None for other interactions (e.g. the record link).

    Raises :class:`RequestRejectedError` (400) for anything that is not a well-formed interaction payload.
    """
    try:
        form = parse_qs(body.decode("utf-8"), strict_parsing=True, max_num_fields=MAX_FORM_FIELDS)
        payload = loads_bounded(form["payload"][0])  # bounded nesting: 5,000 '[' must not raise RecursionError
    except JsonTooDeepError:
        raise RequestRejectedError(400, "payload JSON is nested too deeply") from None
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
    if action_id == ACTION_OPEN_RECORD or action_id not in ACTION_IDS:
        return None
    user_id = _path(payload, "user", "id")
    if not isinstance(user_id, str) or not _USER_ID.match(user_id):
        raise RequestRejectedError(400, "payload has no valid user id")
    value = actions[0].get("value")
    if not isinstance(value, str) or not value or len(value) > MAX_VALUE_CHARS:
        raise RequestRejectedError(400, "the button has no dedupe key")
    found = payload.get("message")
    message: dict[str, Any] = found if isinstance(found, dict) else {}
    listed = message.get("blocks")
    blocks: list[Any] = listed if isinstance(listed, list) else []
    return Feedback(
        action=ACTION_IDS[action_id],
        user_id=user_id,
        dedupe_key=value,
        channel_id=_text(_path(payload, "container", "channel_id") or _path(payload, "channel", "id")),
        message_ts=_text(_path(payload, "container", "message_ts") or message.get("ts")),
        response_url=_text(payload.get("response_url")),
        message_text=_text(message.get("text")) or "",
        message_blocks=tuple(block for block in blocks if isinstance(block, dict)),
    )


def allowed_url(url: str, prefixes: Sequence[str]) -> bool:
    """Whether ``url`` starts with one of ``prefixes`` (each ending in ``/``, so a host cannot be extended)."""
    return any(url.startswith(prefix) for prefix in prefixes)


def done_note(feedback: Feedback, owner: str | None) -> str:
    """``Claimed by <@X>``, and ``for <@Y>`` when X acted on an alert for another member Y."""
    note = f"{_DONE[feedback.action]} <@{feedback.user_id}>"
    if owner and owner != feedback.user_id and _USER_ID.match(owner):
        note += f" for <@{owner}>"
    return note


def updated_blocks(blocks: tuple[Mapping[str, Any], ...], note: str) -> list[dict[str, Any]]:
    """The alert's blocks after feedback: the feedback buttons give way to ``note`` (the record link stays)."""
    done = {"type": "context", "elements": [mrkdwn(note).to_dict()]}
    out: list[dict[str, Any]] = []
    replaced = False
    for block in blocks:
        if block.get("block_id") != FEEDBACK_BLOCK_ID:
            out.append(dict(block))
            continue
        links = [e for e in block.get("elements", []) if isinstance(e, dict) and e.get("action_id") not in ACTION_IDS]
        if links:
            out.append({"type": "actions", "elements": links})
        out.append(done)
        replaced = True
    if not replaced:
        out = [*out[: BLOCKS_MAX - 1], done]
    return out


def ephemeral(text: str) -> dict[str, Any]:
    """A reply only the presser sees, leaving the alert as it is."""
    return {"response_type": "ephemeral", "replace_original": False, "text": text}


class SlackInteractions:
    """The ``type: slack`` connector's :class:`~syncer.contract.interactions.InteractionHandler`."""

    def __init__(
        self,
        settings: SlackSettings,
        seen: SeenRequests,
        channel: Callable[[], SlackAlertChannel] | None = None,
        respond: Callable[[str, dict[str, Any]], None] | None = None,
    ) -> None:
        if settings.signing_secret is None:
            raise ValueError("a Slack connector without a signing_secret takes no interactions")
        self._secret = settings.signing_secret
        self._prefixes = tuple(settings.response_url_prefixes)
        self._seen = seen
        self._channel = channel or (lambda: open_alert_channel(settings))
        self._respond = respond or _post_to_response_url

    def handle(self, request: InteractionRequest, ledger: FeedbackLedger) -> InteractionAnswer:
        """Verify and parse; a feedback press is answered 200 and authorised and applied in the followup."""
        try:
            if len(request.body) > MAX_BODY_BYTES:
                raise RequestRejectedError(413, f"body over {MAX_BODY_BYTES} bytes")
            if not _utf8(request.body):  # Slack sends UTF-8 forms; the verifier reads the body as text
                raise RequestRejectedError(400, "body is not a form with a JSON 'payload'")
            verify(request.body, request.headers, self._secret.get_secret_value(), request.now, self._seen)
            feedback = parse_feedback(request.body)
        except RequestRejectedError as exc:
            return InteractionAnswer(exc.status, {"ok": False, "error": exc.reason})
        if feedback is None:
            return InteractionAnswer(200, {"ok": True})
        if feedback.response_url is not None and not allowed_url(feedback.response_url, self._prefixes):
            where = urlsplit(feedback.response_url)
            log.warning(
                "slack interaction refused: response_url %s://%s is not an allowed prefix",
                where.scheme[:10],
                where.hostname or "?",
            )
            return InteractionAnswer(200, ephemeral(NOT_YOURS), action=feedback.action.value)

        def followup() -> None:
            self.apply(feedback, ledger, request.now)

        return InteractionAnswer(200, {"ok": True}, followup, action=feedback.action.value)

    def apply(self, feedback: Feedback, ledger: FeedbackLedger, now: datetime) -> bool:
        """Authorise the press; record it and update the message, or tell the presser it is not theirs. True when
        it was recorded. Never raises: failures are logged."""
        channel = self._channel()
        try:
            alert, reason = self._authorise(feedback, ledger, channel)
            if alert is None:
                log.warning("slack interaction refused: %s (user %s)", reason, feedback.user_id)
                if feedback.response_url:
                    self._respond(feedback.response_url, ephemeral(NOT_YOURS))
                return False
            touched = ledger.record(Press(alert, feedback.action, feedback.user_id, now))
            log.info(
                "slack press recorded: %s by %s on %s (%d ledger rows)",
                feedback.action.value,
                feedback.user_id,
                "a DM alert" if alert.is_direct else "a channel alert",
                touched,
            )
            note = done_note(feedback, None if alert.is_direct else alert.rep)
            conversation = feedback.channel_id or ""
            channel.update(
                conversation,
                alert.message_id,
                feedback.message_text or note,
                updated_blocks(feedback.message_blocks, note),
            )
            return True
        except (DeliveryError, OSError) as exc:
            log.warning("slack interaction not completed: %s: %s", type(exc).__name__, exc)
            return False
        finally:
            channel.close()

    def _authorise(
        self, feedback: Feedback, ledger: FeedbackLedger, channel: SlackAlertChannel
    ) -> tuple[SentAlert | None, str]:
        alert = ledger.sent_alert(feedback.dedupe_key)
        if alert is None:
            return None, "the dedupe key names no alert this syncer sent"
        if feedback.message_ts != alert.message_id:
            return None, "the pressed message is not the alert the dedupe key names"
        if feedback.action not in alert.actions:
            return None, f"the alert did not offer {feedback.action.value}"
        conversation = channel.conversation_of(alert.channel, alert.rep)
        if conversation is None or feedback.channel_id != conversation:
            return None, "the alert was not sent to this conversation"
        if alert.is_direct:
            if feedback.user_id != alert.rep:
                return None, "only the recipient of a DM alert can act on it"
        elif not channel.is_member(conversation, feedback.user_id):
            return None, "only members of the alert's channel can act on it"
        return alert, ""


def open_interactions(settings: SlackSettings, seen: SeenRequests) -> SlackInteractions | None:
    """The interaction handler of a Slack connector, or None when it has no ``signing_secret``."""
    return SlackInteractions(settings, seen) if settings.signing_secret is not None else None


def _post_to_response_url(url: str, body: dict[str, Any]) -> None:
    response = WebhookClient(url, timeout=5).send_dict(body)
    if response.status_code >= 300:
        log.warning("slack response_url answered %s", response.status_code)


def _utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _path(payload: Mapping[str, Any], *names: str) -> Any:
    node: Any = payload
    for name in names:
        node = node.get(name) if isinstance(node, dict) else None
    return node


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
