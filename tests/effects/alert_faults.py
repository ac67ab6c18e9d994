"""The fault matrix of Slack alerts, as data: the sandbox's faults on ``chat.postMessage`` (and a revoked token), the
outcome of the run that meets each, and what the next run does once the fault clears. It parametrises
``test_alert_faults.py`` and is written into ``docs/reliability.md`` by ``python -m tests.effects.alert_faults``
(``--check`` fails when the page is stale), so the two cannot drift. Daily allowances and Bulk jobs do not exist
at Slack: those rows of the field matrix have no counterpart here.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from connectors.sandbox.core.faults import FaultRule
from tests.helpers import splice_section, write_or_check

POST = "POST /api/chat.postMessage"
DOC = Path(__file__).parents[2] / "docs" / "reliability.md"
START, END = "<!-- alert-faults:start -->", "<!-- alert-faults:end -->"


@dataclass(frozen=True)
class AlertFault:
    name: str
    title: str
    what: str
    rules: tuple[FaultRule, ...]  # what the sandbox does (empty: see ``revoke``)
    sent_in_run: int  # of the 3 due alerts, how many the faulty run confirms
    outcome: str  # what the faulty run does
    revoke: bool = False  # revoke the bot token for the faulty run instead of a fault rule


FAULTS: tuple[AlertFault, ...] = (
    AlertFault(
        "rate_limit_storm",
        "429 storm",
        "`ratelimit_rate=1`, first 3 posts",
        (FaultRule(POST, ratelimit_rate=1.0, max_faults=3),),
        3,
        "**confirmed**: the pacer holds the channel for Retry-After and posts again",
    ),
    AlertFault(
        "server_error_burst",
        "5xx burst",
        "`error_rate=1`, first 2 posts",
        (FaultRule(POST, error_rate=1.0, max_faults=2),),
        1,
        "**next run**: a post with no answer stays `sending`; the next run finds it was not posted, posts it",
    ),
    AlertFault(
        "latency", "latency", "`latency_ms=200` on every post", (FaultRule(POST, latency_ms=200),), 3, "**confirmed**"
    ),
    AlertFault(
        "timeouts",
        "timeouts",
        "first 2 posts hang, then the connection closes with no reply",
        (FaultRule(POST, timeout_rate=1.0, timeout_seconds=0.3, max_faults=2),),
        1,
        "**next run**: looked for in the channel's history first, then posted once",
    ),
    AlertFault(
        "dropped_connections",
        "dropped connections",
        "`drop_rate=1`, first 2 posts",
        (FaultRule(POST, drop_rate=1.0, max_faults=2),),
        1,
        "**next run**: nothing was posted; looked for, then posted once",
    ),
    AlertFault(
        "lost_responses",
        "lost responses",
        "`lost_response_rate=1`, first 2 posts: posted, no reply",
        (FaultRule(POST, lost_response_rate=1.0, max_faults=2),),
        1,
        "**next run**: found in `conversations.history` by its metadata, marked done, never posted again",
    ),
    AlertFault(
        "token_revoked",
        "token revoked",
        "the bot token answers `token_revoked` for the run",
        (),
        0,
        "**stopped**: owners cannot be looked up; every alert waits (deferred) with the reason",
        revoke=True,
    ),
)


def table() -> str:
    lines = ["| fault | what the sandbox does | the faulty run | once the fault clears |", "|---|---|---|---|"]
    for fault in FAULTS:
        lines.append(f"| {fault.title} | {fault.what} | {fault.outcome} | every due alert posted exactly once |")
    return "\n".join(lines)


def rendered(page: str) -> str:
    return splice_section(page, START, END, table())


def main(argv: list[str]) -> int:
    return write_or_check(DOC, rendered, argv)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
