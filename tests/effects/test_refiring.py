"""Re-firing: a trigger fires on each crossing of its condition, so an account that falls and rises back to exactly
the same values alerts again once the cooldown has passed; a re-plan after a crash between staging and committing
finds the same crossing (one alert, not two). End to end: the real runner, the Slack sandbox, a moved clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, timedelta
from pathlib import Path

import pytest

from connectors.sandbox import Sandbox
from syncer.effects.engine import stage
from syncer.planning.planner import plan_sync
from syncer.state.base import RunStatus
from syncer.state.outbox import EffectKind
from tests.effects.world import DANA, WATCH, World, dedupe_keys


@pytest.fixture
def world(tmp_path: Path, sandbox: Sandbox) -> Iterator[World]:
    built = World(tmp_path, sandbox)
    yield built
    built.close()


def _rise_and_fall(world: World) -> None:
    """The account crosses 80, then falls back below it a day later (both runs succeed)."""
    world.account("acme", DANA.email, 85)
    assert world.run(at=world.advance(hours=1)).status is RunStatus.SUCCEEDED
    world.account("acme", DANA.email, 60)
    assert world.run(at=world.advance(days=1)).status is RunStatus.SUCCEEDED


def test_an_account_that_falls_and_rises_with_the_same_values_alerts_again_after_the_cooldown(world: World) -> None:
    world.setup({"pql_watch": WATCH})
    world.account("acme", DANA.email, 60)
    world.run()  # the first run records, it does not alert (first_run: skip)
    _rise_and_fall(world)
    assert len(world.alerts_to(DANA.email)) == 1
    # Back to exactly the same row within the cooldown (7 days): a new crossing, held back by the policy.
    world.account("acme", DANA.email, 85)
    assert world.run(at=world.advance(days=1)).status is RunStatus.SUCCEEDED
    assert len(world.alerts_to(DANA.email)) == 1
    assert world.app is not None
    held = [r for r in world.app.store.outbox.all() if r.kind is EffectKind.ALERT]
    assert len(held) == 2  # the second crossing is its own intent, decided (cooldown) rather than deduplicated
    # Fall and rise again, same values, after the cooldown: it alerts.
    world.account("acme", DANA.email, 60)
    world.run(at=world.advance(days=1))
    world.account("acme", DANA.email, 85)
    assert world.run(at=world.advance(days=8)).status is RunStatus.SUCCEEDED
    received = world.alerts_to(DANA.email)
    assert len(received) == 2
    first, second = dedupe_keys(received)
    assert first != second and "acme" in first and "acme" in second
    # Nothing more on a run that changes nothing.
    world.run(at=world.advance(hours=1))
    assert len(world.alerts_to(DANA.email)) == 2


def test_a_replan_after_a_crash_between_staging_and_commit_keeps_the_crossing(world: World) -> None:
    world.setup({"pql_watch": WATCH})
    world.account("acme", DANA.email, 60)
    world.run()
    _rise_and_fall(world)
    assert len(world.alerts_to(DANA.email)) == 1
    app = world.app
    assert app is not None
    # The second rise, after the cooldown: a run stages its intent and records the crossing, then dies before
    # committing any field (so the snapshot still says 60).
    world.account("acme", DANA.email, 85)
    world.now = world.advance(days=8)
    world.write()
    config = app.project.sync("pql_watch")
    moment = world.now.astimezone(UTC).replace(tzinfo=None)
    dead = plan_sync(config, app.store, app.warehouse, alerts=app.project.config.alerts)
    [fired] = dead.firings.to_pylist()
    assert fired["crossing"] == 2
    assert stage(config, dead, app.store, app.project.config.alerts, world.now) == 1
    app.store.crossings.record(config.name, dead.firings, dead.landings, moment)
    # The next run plans the same change again: the same crossing, the same id, one alert.
    replanned = plan_sync(config, app.store, app.warehouse, alerts=app.project.config.alerts)
    assert replanned.firings.to_pylist()[0]["firing_id"] == fired["firing_id"]
    assert world.run(at=world.now + timedelta(minutes=5)).status is RunStatus.SUCCEEDED
    assert len(world.alerts_to(DANA.email)) == 2
    intents = [r for r in app.store.outbox.all() if r.kind is EffectKind.ALERT]
    assert len(intents) == 2 and len({r.dedupe_key for r in intents}) == 2
    world.run(at=world.advance(days=1))
    assert len(world.alerts_to(DANA.email)) == 2
