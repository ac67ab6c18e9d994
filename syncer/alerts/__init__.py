"""Slack alerts reps trust: Block Kit rendering with every warehouse value escaped, and verified feedback from Slack's
interaction requests. The pure policy (caps, priorities, cooldowns, quiet hours, digests) and the ledger types are
:mod:`syncer.core.alerts`; its configuration is :mod:`syncer.config.alerts`.

Nothing here does I/O or reads a clock: time is an argument, and the delivery step wires these into runs::

    decisions = decide(candidates, ledger, policy, now)      # what to send, defer, digest or drop, and why
    ledger += record(decisions)                               # the next call's ledger (caps count across syncs)
    message = render_alert(trigger.alert.template, content)   # for each SEND: blocks, fallback text, metadata
    status, body, feedback = handler.handle(raw, headers, now)  # a rep pressed Claim / Snooze 7 days / Not useful
    ledger += filter(None, [snooze_entry(feedback, now)])     # a Snooze press holds that account back 7 days
"""

from syncer.alerts.interactions import (
    Feedback,
    FeedbackAction,
    InMemorySeenRequests,
    InteractionHandler,
    RequestRejectedError,
    SeenRequests,
    snooze_entry,
    update_message,
)
from syncer.alerts.render import (
    AlertContent,
    AlertRenderError,
    Change,
    DigestItem,
    SlackMessage,
    check_template,
    escape_mrkdwn,
    render_alert,
    render_digest,
)

__all__ = [
    "AlertContent", "AlertRenderError", "Change", "DigestItem", "Feedback", "FeedbackAction", "InMemorySeenRequests",
    "InteractionHandler", "RequestRejectedError", "SeenRequests", "SlackMessage", "check_template", "escape_mrkdwn",
    "render_alert", "render_digest", "snooze_entry", "update_message",
]
