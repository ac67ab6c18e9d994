"""Slack alerts reps trust: the pure policy (caps, priorities, cooldowns, quiet hours, digests), Block Kit rendering
with every warehouse value escaped, and verified feedback from Slack's interaction requests.

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
from syncer.config.alerts import AlertPolicy, Caps, FirstRunPolicy, OverflowPolicy, QuietHours, Rules, TriggerRules
from syncer.core.alerts import Candidate, Decision, DedupeKey, LedgerEntry, Outcome, decide, record

__all__ = [
    "AlertContent", "AlertPolicy", "AlertRenderError", "Candidate", "Caps", "Change", "Decision", "DedupeKey",
    "DigestItem", "Feedback", "FeedbackAction", "FirstRunPolicy", "InMemorySeenRequests", "InteractionHandler",
    "LedgerEntry", "Outcome", "OverflowPolicy", "QuietHours", "RequestRejectedError", "Rules", "SeenRequests",
    "SlackMessage", "TriggerRules", "check_template", "decide", "escape_mrkdwn", "record", "render_alert",
    "render_digest", "snooze_entry", "update_message",
]
