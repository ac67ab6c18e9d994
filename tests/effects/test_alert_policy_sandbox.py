"""Alerts reps trust, end to end: the real runner, the real Slack SDK and the Slack sandbox, over simulated weeks.

Time is moved, not waited: every run is given the world's clock. What reps received is read from the sandbox.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest
from typer.testing import CliRunner

from connectors.sandbox import Sandbox
from syncer.cli import cli
from syncer.state.base import RunStatus
from tests.effects.world import ALERTS, DANA, MARCO, REPS, START, WATCH, World, dedupe_keys


@pytest.fixture
def world(tmp_path: Path, sandbox: Sandbox) -> Iterator[World]:
    built = World(tmp_path, sandbox)
    yield built
    built.close()


def _sent_at(message: dict[str, object]) -> datetime:
    return datetime.fromtimestamp(float(str(message["ts"])), tz=ZoneInfo("UTC"))


def test_a_flood_of_pqls_reaches_the_rep_as_the_three_best_a_day_a_digest_and_never_more_than_fifteen_a_week(
    world: World,
) -> None:
    world.setup({"pql_watch": WATCH})
    day_sent: list[list[str]] = []
    digests_before = 0
    world.account("seed", DANA.email, 10)
    assert world.run().status is RunStatus.SUCCEEDED  # the first run: nothing crosses, nothing is sent
    world.now = START.replace(hour=15)  # 10:00 in New York, Dana's zone
    for day in range(10):
        world.now = START + timedelta(days=day + 1)
        scores = {f"d{day}_{i:02d}": 81 + (i * 7919 + day) % 40 for i in range(40)}  # 40 new PQLs today
        for key, score in scores.items():
            world.account(key, DANA.email, score)
        before = set(dedupe_keys(world.alerts_to(DANA.email)))
        outcome = world.run()
        assert outcome.status is RunStatus.SUCCEEDED, outcome.error
        new = [k for k in dedupe_keys(world.alerts_to(DANA.email)) if k not in before]
        accounts = [k.split(":")[2] for k in new]
        day_sent.append(accounts)
        if day == 0:  # the first flood: exactly the three highest scores, and the rest wait for the digest
            best = sorted(scores, key=lambda k: (-scores[k], k))[:3]
            assert sorted(accounts) == sorted(best)
            assert outcome.effects is not None and outcome.effects.decisions["digest"] == 37
        assert len(accounts) <= 3
        digests = world.digests_to(DANA.email)
        assert len(digests) == digests_before + (1 if day > 0 else 0)  # yesterday's overflow, once, this morning
        digests_before = len(digests)
    assert [len(a) for a in day_sent[:5]] == [3, 3, 3, 3, 3]
    assert sum(len(a) for a in day_sent[:7]) == 15  # the weekly cap binds on days 6 and 7
    messages = world.alerts_to(DANA.email)
    times = sorted(_sent_at(m) for m in messages)
    assert len(times) == len(set(dedupe_keys(messages)))  # nothing twice
    # In any window of 7 days of delivery the rep saw at most 15 (the sandbox stamps real time, so count by run).
    for start in range(len(day_sent)):
        assert sum(len(a) for a in day_sent[start : start + 7]) <= 15
    first_digest = world.digests_to(DANA.email)[0]
    assert "37 more PQL signals" in str(first_digest["text"])


def test_an_account_flapping_around_the_threshold_alerts_its_rep_once_a_week(world: World) -> None:
    world.setup({"pql_watch": WATCH})
    world.account("flappy", DANA.email, 70)
    world.run()
    for hour in range(7 * 24 // 4):  # every 4 hours for a week: 79, 81, 79, 81, ...
        world.account("flappy", DANA.email, 81 if hour % 2 == 0 else 79)
        world.now = START + timedelta(hours=4 * hour + 4)
        assert world.run().status is RunStatus.SUCCEEDED
    received = world.alerts_to(DANA.email)
    assert len(received) == 1 and "flappy" in dedupe_keys(received)[0]


def test_a_rep_in_quiet_hours_gets_the_alert_when_they_end(world: World) -> None:
    world.setup({"pql_watch": WATCH})
    world.account("night", MARCO.email, 60)
    world.run()
    world.account("night", MARCO.email, 90)
    evening = datetime(2026, 1, 7, 22, 30, tzinfo=ZoneInfo(MARCO.tz))  # Marco is in Los Angeles
    outcome = world.run(at=evening.astimezone(ZoneInfo("UTC")))
    assert outcome.effects is not None and outcome.effects.decisions["defer_quiet_hours"] == 1
    assert world.alerts_to(MARCO.email) == []
    world.run(at=(evening + timedelta(hours=9)).astimezone(ZoneInfo("UTC")))  # 07:30: still quiet
    assert world.alerts_to(MARCO.email) == []
    world.run(at=(evening + timedelta(hours=10)).astimezone(ZoneInfo("UTC")))  # 08:30: the night is over
    assert len(world.alerts_to(MARCO.email)) == 1


def test_an_account_name_made_of_slack_markup_pings_nobody_and_links_nowhere(world: World) -> None:
    world.setup({"pql_watch": WATCH})
    nasty = "<!channel> *bold* <https://evil|click>"
    world.account("nasty", DANA.email, 50, name=nasty, note="<@U0000000001>")
    world.run()
    world.account("nasty", DANA.email, 95, name=nasty, note="<@U0000000001>")
    world.advance(days=1)
    world.run()
    [message] = world.alerts_to(DANA.email)
    texts = [str(message["text"]), *_mrkdwn_texts(message["blocks"])]  # plain_text objects show text literally
    joined = "\n".join(texts)
    assert "<!channel>" not in joined and "<https://evil" not in joined and "<@U" not in joined
    assert "&lt;!channel&gt;" in joined  # shown as text
    assert "*bold*" not in joined.replace("\u200d", "") or "\u200d*" in joined  # the asterisks cannot pair
    header = message["blocks"][0]
    assert header["type"] == "header" and header["text"]["type"] == "plain_text" and header["text"]["text"] == nasty


def test_an_owner_slack_does_not_know_goes_to_the_fallback_channel_with_the_reason(
    world: World, sandbox: Sandbox
) -> None:
    sandbox.slack.add_channel("C0PQLTRIAG1", "pql-triage")
    world.setup({"pql_watch": WATCH})
    world.account("orphan", "  Nobody@Example.COM ", 40)
    world.run()
    world.account("orphan", "  Nobody@Example.COM ", 85)
    outcome = world.run(at=START + timedelta(days=1))
    assert outcome.effects is not None and outcome.effects.decisions["no_owner"] == 1
    [posted] = [m for m in sandbox.slack.messages("#pql-triage")]
    assert "orphan" in str(posted["metadata"])
    log = _alert_log(world)
    [row] = [r for r in log if r["outcome"] == "no_owner"]
    reason = str(row["reason"])
    assert "knows no user nobody@example.com" in reason and "#pql-triage" in reason


def test_the_alert_log_in_the_warehouse_matches_what_slack_received(world: World) -> None:
    world.setup({"pql_watch": WATCH})
    for i in range(8):
        world.account(f"a{i}", REPS[i % 2].email, 50)
    world.run()
    for i in range(8):
        world.account(f"a{i}", REPS[i % 2].email, 85 + i)
    world.now = START + timedelta(days=1)
    world.run()
    world.now += timedelta(days=1)
    world.run()  # yesterday's digests go out
    log = _alert_log(world)
    delivered = {r["external_id"] for r in log if r["kind"] in ("alert", "digest") and r["external_id"]}
    received = {
        str(m["ts"])
        for m in world.sandbox.slack.all_messages()
        if (m.get("metadata") or {}).get("event_type") == "syncer_alert"
    }
    assert delivered == received and len(received) == 8 - 2 + 2  # 3 + 3 alerts, a digest for each rep
    outcomes = Counter(r["outcome"] for r in log if r["kind"] == "alert")
    assert outcomes == {"send": 6, "digest": 2}
    assert all(r["reason"] for r in log if r["kind"] == "alert")


def _alert_log(world: World) -> list[dict[str, object]]:
    con = duckdb.connect(str(world.root / "warehouse.duckdb"), read_only=True)
    try:
        rows: list[dict[str, object]] = con.sql("SELECT * FROM syncer_alert_log").to_arrow_table().to_pylist()
        return rows
    finally:
        con.close()


def _mrkdwn_texts(node: object) -> list[str]:
    """Every mrkdwn text object's text: what Slack parses for mentions, links and formatting."""
    if isinstance(node, dict):
        own = [str(node["text"])] if node.get("type") == "mrkdwn" and isinstance(node.get("text"), str) else []
        return own + [t for value in node.values() for t in _mrkdwn_texts(value)]
    if isinstance(node, list):
        return [t for item in node for t in _mrkdwn_texts(item)]
    return []


NO_QUIET = ALERTS.replace('quiet_hours: {start: "20:00", end: "08:00"}', "quiet_hours: null")


def test_plan_shows_the_tasks_and_alerts_a_run_would_cause_after_the_policy_and_sends_nothing(world: World) -> None:
    world.setup({"pql_watch": WATCH}, alerts=NO_QUIET)
    for i in range(5):
        world.account(f"p{i}", DANA.email, 50)
    world.account("orphan", "ghost@yourco.com", 50)
    world.run()
    for i in range(5):
        world.account(f"p{i}", DANA.email, 90 + i)
    world.account("orphan", "ghost@yourco.com", 90)
    world.write()
    assert world.app is not None
    world.app.close()  # the CLI opens the state itself
    world.app = None
    result = CliRunner().invoke(
        cli,
        ["plan", "pql_watch", "--project", str(world.root), "--json"],
        env={"SLACK_BOT_TOKEN": "xoxb-sandbox-token"},
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["effects"] == {"alert": {"digest": 2, "no_owner": 1, "send": 3}}
    reasons = {e["account"]: e["reason"] for e in summary["effect_samples"]}
    assert "the slack connector knows no user ghost@yourco.com" in reasons["orphan"]
    assert world.sandbox.slack.all_messages() == []  # a plan sends nothing
    assert "xoxb-sandbox-token" not in result.output


def test_syncer_alerts_summarises_sent_held_back_by_reason_and_feedback_per_rep(world: World) -> None:
    world.setup({"pql_watch": WATCH}, alerts=NO_QUIET)
    for i in range(5):
        world.account(f"s{i}", DANA.email, 50)
    world.account("m0", MARCO.email, 50)
    world.run()
    for i in range(5):
        world.account(f"s{i}", DANA.email, 90 + i)
    world.account("m0", MARCO.email, 95)
    world.run(at=START + timedelta(hours=1))
    assert world.app is not None
    [claimed] = dedupe_keys(world.alerts_to(MARCO.email))
    world.app.store.ledger.feedback(claimed, "claim", START + timedelta(hours=2))
    world.app.close()
    world.app = None
    result = CliRunner().invoke(
        cli, ["alerts", "--project", str(world.root), "--json", "--since", "2026-01-01"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    reps = {r["rep"]: r for r in json.loads(result.output)["reps"]}
    assert (reps[DANA.email]["sent"], reps[DANA.email]["digested"]) == (3, 2)
    assert reps[MARCO.email]["sent"] == 1 and reps[MARCO.email]["feedback"] == {"claim": 1}
    bad = CliRunner().invoke(cli, ["alerts", "--project", str(world.root), "--since", "last tuesday"])
    assert bad.exit_code == 2 and "--since: 'last tuesday'" in bad.output


def test_a_second_alert_about_an_account_says_what_changed_since_the_first(world: World) -> None:
    world.setup({"pql_watch": WATCH}, alerts=NO_QUIET)
    world.account("again", DANA.email, 50, seats=5)
    world.run()
    world.account("again", DANA.email, 90, seats=5)
    world.run(at=START + timedelta(days=1))
    world.account("again", DANA.email, 60, seats=5)
    world.run(at=START + timedelta(days=2))
    world.account("again", DANA.email, 95, seats=9)  # crosses again after the cooldown, busier than before
    world.run(at=START + timedelta(days=9))
    first, second = world.alerts_to(DANA.email)
    assert _context(first) == "First alert about this account."
    assert _context(second) == "Since the last alert: score 90 → 95, seats 5 → 9"


def _context(message: dict[str, object]) -> str:
    blocks = message["blocks"]
    assert isinstance(blocks, list)
    [context] = [b for b in blocks if b["type"] == "context"]
    return str(context["elements"][0]["text"])
