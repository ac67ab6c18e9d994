"""The fault matrix of CRM task creation, as data: the sandbox's faults on the task-creating request (HubSpot
``batch/create``, Salesforce's sObject Collections insert), what the run that meets each does, and that once the fault
clears every task exists exactly once. It parametrises ``test_task_faults.py`` and is written into
``docs/reliability.md`` by ``python -m tests.effects.task_faults`` (``--check`` fails when the page is stale).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path

from connectors.sandbox.core.faults import FaultRule
from tests.helpers import splice_section, write_or_check

CREATE = {
    "hubspot": "POST /crm/v3/objects/tasks/batch/create",
    "salesforce": "POST /services/data/*/composite/sobjects",
}
TITLES = {"hubspot": "HubSpot", "salesforce": "Salesforce"}
DOC = Path(__file__).parents[2] / "docs" / "reliability.md"
START, END = "<!-- task-faults:start -->", "<!-- task-faults:end -->"


class TaskOutcome(StrEnum):
    CREATED = "created in the run"  # every due task created in the faulty run itself, once
    PENDING = "pending"  # none created after retrying within the run; every intent left pending (not failed)
    STOPPED = "stopped"  # the CRM said stop at once (nothing more is sent in the run); every intent left pending
    REFUSED = "refused"  # the tasks the CRM refused failed for good with its reason; the others created in the run


@dataclass(frozen=True)
class TaskCell:
    outcome: TaskOutcome | None  # None: the fault cannot happen at this CRM
    note: str


@dataclass(frozen=True)
class TaskFault:
    name: str
    title: str
    what: str
    rule: FaultRule  # its route is replaced by the CRM's task-creating request
    cells: dict[str, TaskCell]

    def rule_for(self, crm: str) -> FaultRule:
        return replace(self.rule, route=CREATE[crm])


_C, _P, _S, _R = TaskOutcome.CREATED, TaskOutcome.PENDING, TaskOutcome.STOPPED, TaskOutcome.REFUSED
_NO_429 = "Salesforce has no per-request rate limit; its only limit reply is the daily allocation (403), which stops"

FAULTS: tuple[TaskFault, ...] = (
    TaskFault(
        "rate_limit_burst",
        "429 burst",
        "`ratelimit_rate=1`, first 3 creations",
        FaultRule(ratelimit_rate=1.0, max_faults=3),
        {
            "hubspot": TaskCell(_C, "each 429 holds the portal's limiter for its window; the batch is sent again"),
            "salesforce": TaskCell(None, _NO_429),
        },
    ),
    TaskFault(
        "rate_limit_endless",
        "429s that outlast the run",
        "`ratelimit_rate=1` on every creation",
        FaultRule(ratelimit_rate=1.0),
        {
            "hubspot": TaskCell(_P, "after `max_wait_s` of waits (900 s) the tasks are left pending"),
            "salesforce": TaskCell(None, _NO_429),
        },
    ),
    TaskFault(
        "daily_allocation_spent",
        "daily allocation spent",
        "`ratelimit_rate=1` on every creation",
        FaultRule(ratelimit_rate=1.0),
        {
            "hubspot": TaskCell(None, "the same knob is HubSpot's rolling-window 429: the row above"),
            "salesforce": TaskCell(_S, "403 `REQUEST_LIMIT_EXCEEDED`: the tasks stay pending for the next run"),
        },
    ),
    TaskFault(
        "server_error_burst",
        "5xx burst",
        "`error_rate=1`, first 2 creations",
        FaultRule(error_rate=1.0, max_faults=2),
        {
            crm: TaskCell(_C, "backs off with jitter; the keys are looked up, then the batch is sent again")
            for crm in CREATE
        },
    ),
    TaskFault(
        "server_outage",
        "5xx outage",
        "`error_rate=1` on every creation",
        FaultRule(error_rate=1.0),
        {crm: TaskCell(_P, "the attempts run out: pending with the 5xx as reason") for crm in CREATE},
    ),
    TaskFault(
        "dropped_connections",
        "dropped connections",
        "`drop_rate=1`, first 2 creations",
        FaultRule(drop_rate=1.0, max_faults=2),
        {crm: TaskCell(_C, "looked up (nothing was created), sent again") for crm in CREATE},
    ),
    TaskFault(
        "records_refused",
        "tasks refused in a batch",
        "`reject_rate=0.3` per task",
        FaultRule(reject_rate=0.3),
        {
            "hubspot": TaskCell(_R, "`VALIDATION_ERROR` in the 207: failed for good with HubSpot's reason"),
            "salesforce": TaskCell(_C, "`UNABLE_TO_LOCK_ROW` is retryable: those tasks are sent again"),
        },
    ),
    TaskFault(
        "lost_response",
        "lost response",
        "`lost_response_rate=1`, first creation: created, no reply",
        FaultRule(lost_response_rate=1.0, max_faults=1),
        {
            crm: TaskCell(_C, "the re-sending looks the keys up first and finds the tasks: none created twice")
            for crm in CREATE
        },
    ),
)


def cases() -> list[tuple[TaskFault, str]]:
    return [(fault, crm) for fault in FAULTS for crm in CREATE]


def table() -> str:
    lines = [
        "| fault | what the sandbox does | " + " | ".join(TITLES[crm] for crm in CREATE) + " |",
        "|---|---|" + "---|" * len(CREATE),
    ]
    for fault in FAULTS:
        cells = []
        for crm in CREATE:
            cell = fault.cells[crm]
            cells.append(f"n/a: {cell.note}" if cell.outcome is None else f"**{cell.outcome.value}**: {cell.note}")
        lines.append(f"| {fault.title} | {fault.what} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def rendered(page: str) -> str:
    return splice_section(page, START, END, table())


def main(argv: list[str]) -> int:
    return write_or_check(DOC, rendered, argv)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
