"""Every Slack fault the sandbox can inject against alert delivery (``alert_faults.FAULTS``): the faulty run ends as
the matrix says, and once the fault clears every due alert exists exactly once in Slack."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from connectors.sandbox import Sandbox
from tests.effects.alert_faults import DOC, FAULTS, AlertFault, rendered
from tests.effects.world import REPS, START, WATCH, World

OWNERS = [REPS[0], REPS[6], REPS[12]]  # New York, New York, New York: one zone, no quiet hours at 17:00 UTC


@pytest.fixture
def world(tmp_path: Path, sandbox: Sandbox) -> Iterator[World]:
    built = World(tmp_path, sandbox)
    yield built
    built.close()


@pytest.mark.parametrize("fault", FAULTS, ids=[f.name for f in FAULTS])
def test_a_slack_fault_ends_as_the_matrix_says_and_then_every_alert_lands_once(
    world: World, sandbox: Sandbox, fault: AlertFault
) -> None:
    world.setup({"pql_watch": WATCH})
    for i, rep in enumerate(OWNERS):
        world.account(f"f{i}", rep.email, 50)
    world.run()
    for i, rep in enumerate(OWNERS):
        world.account(f"f{i}", rep.email, 90 + i)
    if fault.revoke:
        sandbox.slack.revoke_token("xoxb-sandbox-token")
    else:
        sandbox.slack.set_faults(list(fault.rules), seed=7)
    faulty = world.run(at=START + timedelta(days=1, hours=2))
    assert faulty.effects is not None
    posted_in_run = faulty.effects.alerts["sent"]
    assert posted_in_run == fault.sent_in_run, faulty.effects.summary()
    if fault.sent_in_run < len(OWNERS):
        assert faulty.effects.errors or faulty.effects.alerts["unknown"], faulty.effects.summary()
    sandbox.slack.set_faults([])
    with sandbox.slack.lock:
        sandbox.slack.tokens.clear()
    for hours in (3, 4):
        world.run(at=START + timedelta(days=1, hours=hours))
    received = Counter(
        m["metadata"]["event_payload"]["dedupe_key"]
        for m in sandbox.slack.all_messages()
        if (m.get("metadata") or {}).get("event_type") == "syncer_alert"
    )
    assert sorted(k.split(":")[2] for k in received) == ["f0", "f1", "f2"]
    assert set(received.values()) == {1}


def test_the_alert_fault_table_in_the_docs_is_current() -> None:
    page = DOC.read_text()
    assert rendered(page) == page, "run: python -m tests.effects.alert_faults"
