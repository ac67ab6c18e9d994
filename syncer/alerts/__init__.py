"""Alerts reps trust: the pure policy (caps, priorities, cooldowns, quiet hours, digests) and alert templates
rendered with every warehouse value marked as data. Drawing messages and taking button presses is the alert
connector's (``connectors/<vendor>/``), through :mod:`syncer.contract.alerts` and
:mod:`syncer.contract.interactions`.

Nothing here does I/O or reads a clock: time is an argument, and the delivery step wires these into runs::

    decisions = decide(candidates, ledger, policy, now)      # what to send, defer, digest or drop, and why
    ledger += record(decisions)                               # the next call's ledger (caps count across syncs)
    body = render_marked(trigger.alert.template, row)         # for each SEND: the text, its data marked
"""

from syncer.alerts.config import AlertPolicy, Caps, FirstRunPolicy, OverflowPolicy, QuietHours, Rules, TriggerRules
from syncer.alerts.policy import Candidate, Decision, DedupeKey, LedgerEntry, Outcome, decide, record
from syncer.alerts.templates import AlertTemplateError, check_template, render_marked

__all__ = [
    "AlertPolicy", "AlertTemplateError", "Candidate", "Caps", "Decision", "DedupeKey", "FirstRunPolicy",
    "LedgerEntry", "Outcome", "OverflowPolicy", "QuietHours", "Rules", "TriggerRules", "check_template", "decide",
    "record", "render_marked",
]
