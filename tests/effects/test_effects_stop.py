"""A daemon shutting down stops a run's effects before the next send: the run is partial only when an intent is
really left waiting; a run with nothing due stays succeeded (the replica test's SIGTERM once made such runs partial).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, timedelta
from pathlib import Path

import pytest

from connectors.sandbox import Sandbox
from syncer.runner import Pacing, RunOutcome
from syncer.state.base import RunStatus
from tests.effects.world import DANA, START, WATCH, World


@pytest.fixture
def world(tmp_path: Path, sandbox: Sandbox) -> Iterator[World]:
    built = World(tmp_path, sandbox)
    yield built
    built.close()


def run_stopping(world: World) -> RunOutcome:
    """One run whose daemon is already stopping (``stop`` answers true throughout)."""
    assert world.app is not None
    world.write()
    moment = world.now.astimezone(UTC).replace(tzinfo=None)
    return world.app.run(
        world.app.project.sync("pql_watch"),
        world.app.run_options(stop=lambda: True),
        now=lambda: moment,
        pacing=Pacing(world.clock, world.clock.advance),
    )


def test_a_stop_marks_a_run_partial_only_when_an_intent_is_left_waiting(world: World) -> None:
    world.setup({"pql_watch": WATCH})
    world.account("calm", DANA.email, 60)
    world.run()

    nothing_due = run_stopping(world)
    assert nothing_due.status is RunStatus.SUCCEEDED, nothing_due.error
    assert nothing_due.effects is not None and nothing_due.effects.errors == []

    world.account("calm", DANA.email, 90)  # a crossing: an alert intent is staged, then the stop leaves it waiting
    world.now = START + timedelta(hours=1)
    left = run_stopping(world)
    assert left.status is RunStatus.PARTIAL
    assert left.error == "stopped on request (shutdown); the rest waits for the next run"
    assert world.alerts_to(DANA.email) == []

    sent = world.run()  # the next run (no stop) sends what waited
    assert sent.status is RunStatus.SUCCEEDED, sent.error
    assert len(world.alerts_to(DANA.email)) == 1
