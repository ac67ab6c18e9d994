"""Previewing another time with ``syncer plan``: ``--now`` and ``SYNCER_FAKE_NOW`` move the whole engine's clock, so a
RevOps user sees tomorrow's quiet hours and what goes out once they end. Real CLI, real Slack SDK, Slack sandbox."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from connectors.sandbox import Sandbox
from syncer.cli import cli
from syncer.contract import clock
from syncer.state import open_state
from tests.effects.world import DANA, WATCH, World

SECRETS = {"SLACK_BOT_TOKEN": "xoxb-sandbox-token", "HUBSPOT_ACCESS_TOKEN": "sandbox-token"}
# Dana works in New York; quiet hours are 20:00-08:00 there.
NIGHT = "2026-01-06T06:30:00-05:00"
MORNING = "2026-01-06T13:30:00Z"  # 08:30 in New York


@pytest.fixture
def world(tmp_path: Path, sandbox: Sandbox) -> Iterator[World]:
    built = World(tmp_path, sandbox)
    built.setup({"pql_watch": WATCH})
    built.account("acc_1", DANA.email, 60)
    built.run()  # the first run sees nothing cross
    built.account("acc_1", DANA.email, 91)
    built.write()
    assert built.app is not None
    built.app.close()  # the CLI opens the state itself
    built.app = None
    yield built
    built.close()


def _plan(world: World, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    result = CliRunner().invoke(
        cli,
        ["plan", "pql_watch", "--project", str(world.root), "--json", *args],
        env={**SECRETS, **(env or {})},
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert clock.current() is clock.REAL  # the command's clock is put back when it ends
    return dict(json.loads(result.output))


def test_plan_now_at_a_reps_quiet_hour_defers_the_alert_and_at_half_past_eight_sends_it(world: World) -> None:
    night = _plan(world, "--now", NIGHT)
    assert night["effects"] == {"alert": {"defer_quiet_hours": 1}}
    [alert] = night["effect_samples"]
    assert alert["account"] == "acc_1" and "quiet hours" in alert["reason"]
    morning = _plan(world, "--now", MORNING)
    assert morning["effects"] == {"alert": {"send": 1}}
    assert world.sandbox.slack.all_messages() == []  # a plan sends nothing


def test_syncer_fake_now_sets_the_same_clock_and_plan_now_overrides_it(world: World) -> None:
    assert _plan(world, env={"SYNCER_FAKE_NOW": NIGHT})["effects"] == {"alert": {"defer_quiet_hours": 1}}
    assert _plan(world, env={"SYNCER_FAKE_NOW": MORNING})["effects"] == {"alert": {"send": 1}}
    assert _plan(world, "--now", MORNING, env={"SYNCER_FAKE_NOW": NIGHT})["effects"] == {"alert": {"send": 1}}


def test_a_run_under_syncer_fake_now_is_recorded_at_that_time(world: World) -> None:
    result = CliRunner().invoke(
        cli,
        ["run", "pql_watch", "--project", str(world.root)],
        env={**SECRETS, "SYNCER_FAKE_NOW": MORNING},
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    store = open_state("duckdb:///.syncer/state.duckdb", world.root)
    try:
        latest = store.runs.recent("pql_watch", limit=1)[0]
    finally:
        store.close()
    fake = clock.naive_utc(datetime.fromisoformat(MORNING))
    assert fake <= latest.started_at < fake.replace(minute=fake.minute + 1)
    assert len(world.alerts_to(DANA.email)) == 1  # 08:30 in New York: sent


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--now", "next tuesday"], {}, "--now: 'next tuesday' is not an ISO 8601 date-time"),
        ([], {"SYNCER_FAKE_NOW": "2026-13-01T00:00:00Z"}, "SYNCER_FAKE_NOW: '2026-13-01T00:00:00Z' is not an ISO 8601"),
    ],
)
def test_a_malformed_time_is_refused_in_one_line(
    world: World, args: list[str], env: dict[str, str], message: str
) -> None:
    result = CliRunner().invoke(
        cli, ["plan", "pql_watch", "--project", str(world.root), *args], env={**SECRETS, **env}, catch_exceptions=False
    )
    assert result.exit_code == 2
    assert message in result.output and len(result.output.strip().splitlines()) == 1
    assert "Traceback" not in result.output
