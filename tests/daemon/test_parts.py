"""The daemon's parts on their own: slots, leases on a real PostgreSQL, the dispatcher, ops transitions, config."""

from __future__ import annotations

import json
import threading
from concurrent.futures import Future
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest

from connectors import REGISTRY
from syncer.cli.reference import DOCUMENT, render
from syncer.config.errors import ConfigError
from syncer.config.loader import load_project
from syncer.config.schedule import Schedule, parse_duration, parse_schedule
from syncer.daemon.dispatch import Dispatcher
from syncer.daemon.leases import PostgresLeases
from syncer.daemon.ops import transition
from syncer.daemon.slots import latest_slot, make_trigger, slot_of
from syncer.state import open_state
from syncer.state.base import RunRecord
from tests.project import ENVIRONMENT, make_project

UTC_ZONE = ZoneInfo("UTC")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("schedule", "zone", "now", "slot"),
    [
        ("every 2s", "UTC", "2026-03-01T10:00:05.300", "2026-03-01T10:00:04"),
        ("every 15m", "UTC", "2026-03-01T10:44:59", "2026-03-01T10:30:00"),
        ("every 1d", "UTC", "2026-03-01T23:59:59", "2026-03-01T00:00:00"),
        ("*/5 * * * *", "UTC", "2026-03-01T10:04:00", "2026-03-01T10:00:00"),
        ("0 9 * * *", "Europe/Paris", "2026-06-01T08:30:00", "2026-06-01T07:00:00"),  # 09:00 CEST is 07:00 UTC
        ("0 9 * * *", "Europe/Paris", "2026-06-01T06:59:59", "2026-05-31T07:00:00"),
        ("0 0 1 1 *", "UTC", "2026-06-01T00:00:00", "2026-01-01T00:00:00"),
    ],
)
def test_latest_slot(schedule: str, zone: str, now: str, slot: str) -> None:
    assert latest_slot(parse_schedule(schedule), ZoneInfo(zone), at(now)) == at(slot)


def test_every_replica_computes_the_same_slots() -> None:
    """Interval slots count from a fixed epoch, not from when a daemon started: the trigger fires at the slots."""
    schedule = parse_schedule("every 7s")
    for now in (at("2026-03-01T10:00:00.5"), at("2026-03-01T10:00:03"), at("2031-12-31T23:59:59")):
        fire = make_trigger(schedule, UTC_ZONE).get_next_fire_time(None, now)
        slot = latest_slot(schedule, UTC_ZONE, now)
        assert slot is not None and fire == slot + timedelta(seconds=7)
        assert latest_slot(schedule, UTC_ZONE, fire) == fire


@pytest.mark.parametrize(
    ("text", "zone"), [("every 7s", "UTC"), ("0 9 * * *", "Europe/Berlin"), ("30 8 * * 1-5", "America/New_York")]
)
def test_under_a_fake_clock_the_scheduler_fires_when_that_clock_reaches_each_slot(text: str, zone: str) -> None:
    """APScheduler runs on real time: the shifted trigger fires at the real moment the fake clock shows a slot, and
    slot_of gives that slot back (the Berlin case crosses its DST change of 2026-03-29)."""
    schedule, tz = parse_schedule(text), ZoneInfo(zone)
    offset = timedelta(days=24, hours=3, minutes=17, seconds=5)  # the fake clock runs this far ahead
    real = at("2026-03-04T06:00:00")
    fired: list[datetime] = []
    trigger = make_trigger(schedule, tz, offset)
    previous = None
    for _ in range(6):
        fire = trigger.get_next_fire_time(previous, real)
        assert fire is not None and fire > real
        fired.append(slot_of(fire, offset))
        previous, real = fire, fire
    expected, fake = [], at("2026-03-04T06:00:00") + offset
    for _ in range(6):
        nxt = make_trigger(schedule, tz, timedelta(0)).get_next_fire_time(None, fake + timedelta(microseconds=1))
        expected.append(nxt.astimezone(UTC))
        fake = nxt
    assert fired == expected
    assert all(latest_slot(schedule, tz, slot) == slot for slot in fired)


def test_durations() -> None:
    assert parse_duration("90m") == timedelta(minutes=90)
    for bad in ("soon", "0h", "2 hours"):
        with pytest.raises(ValueError):
            parse_duration(bad)
    assert parse_schedule("every 2s") == Schedule(interval=timedelta(seconds=2))


@pytest.fixture
def leases(pg_url: str, tmp_path: Path) -> tuple[PostgresLeases, PostgresLeases, str]:
    open_state(pg_url, tmp_path).close()  # migrates: migration 6 creates the daemon tables
    return PostgresLeases(pg_url, timedelta(seconds=30)), PostgresLeases(pg_url, timedelta(seconds=30)), pg_url


def test_leases_share_claim_once_and_fence(leases: tuple[PostgresLeases, PostgresLeases, str]) -> None:
    a, b, url = leases
    syncs = [f"s{i}" for i in range(4)]
    first = a.tick(syncs, busy=set())
    assert first.held == frozenset(syncs) and set(first.acquired) == set(syncs)
    assert b.tick(syncs, busy=set()).held == frozenset()  # a holds everything, unexpired
    rebalanced = a.tick(syncs, busy={"s3"})  # two replicas live now: a keeps its share, never a busy sync
    assert len(rebalanced.held) == 2 and "s3" in rebalanced.held
    taken = b.tick(syncs, busy=set())
    assert taken.held == frozenset(syncs) - rebalanced.held

    slot = at("2026-03-01T10:00:00")
    mine = sorted(rebalanced.held)[0]
    assert a.claim(mine, slot) and not a.claim(mine, slot)  # once
    assert not b.claim(mine, slot + timedelta(seconds=2))  # not b's lease
    with psycopg.connect(url, autocommit=True) as conn:  # a stalls past its lease
        conn.execute(
            "UPDATE daemon_leases SET expires_at = expires_at - interval '1 hour' WHERE owner = %s", (a.replica,)
        )
        conn.execute(
            "UPDATE daemon_replicas SET heartbeat_at = heartbeat_at - interval '1 hour' WHERE replica = %s",
            (a.replica,),
        )
    assert not a.claim(mine, slot + timedelta(seconds=2))  # fenced: its lease expired
    takeover = b.tick(syncs, busy=set())
    assert takeover.held == frozenset(syncs) and takeover.acquired[mine] == slot.replace(tzinfo=None)
    assert not b.claim(mine, slot) and b.claim(mine, slot + timedelta(seconds=2))

    seen = b.seen_requests()
    now = datetime.now(UTC)
    assert seen.first_time("v0=abc", now + timedelta(minutes=5), now)
    assert not a.seen_requests().first_time("v0=abc", now + timedelta(minutes=5), now)  # shared by replicas
    b.release_all()
    assert a.tick(syncs, busy=set()).held == frozenset(syncs)
    a.close()
    b.close()


def test_dispatcher_never_overlaps_a_sync_and_coalesces(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="syncer.daemon")
    started, release = threading.Event(), threading.Event()
    calls: list[tuple[str, datetime | None, bool]] = []
    running = {"now": 0, "max": 0}
    guard = threading.Lock()

    def execute(sync: str, due: datetime | None, *, triggered: bool) -> dict[str, Any]:
        with guard:
            running["now"] += 1
            running["max"] = max(running["max"], running["now"])
            calls.append((sync, due, triggered))
        started.set()
        release.wait(10)
        with guard:
            running["now"] -= 1
        return {"sync": sync, "due": due}

    dispatcher = Dispatcher(4, execute)
    t0 = at("2026-03-01T10:00:00")
    assert dispatcher.submit("a", t0)
    assert started.wait(10)
    waiter: Future[dict[str, Any] | None] = Future()
    for step in (1, 2, 3):  # slots that come while the run goes on fold into one
        dispatcher.submit("a", t0 + timedelta(seconds=2 * step))
    dispatcher.submit("a", None, waiter)
    assert dispatcher.busy() == {"a"}
    release.set()
    assert waiter.result(10) == {"sync": "a", "due": t0 + timedelta(seconds=6)}
    assert dispatcher.shutdown(10)
    assert calls == [("a", t0, False), ("a", t0 + timedelta(seconds=6), True)]
    assert running["max"] == 1
    assert not dispatcher.submit("a", t0)  # stopped
    merged = [record.__dict__["syncer_fields"] for record in caplog.records if record.getMessage() == "coalesced"]
    assert [m["due_at"] for m in merged] == [(t0 + timedelta(seconds=s)).isoformat() for s in (2, 4)]


def _run(run_id: int, status: str, *, dry_run: bool = False) -> RunRecord:
    moment = datetime(2026, 3, 1)  # noqa: DTZ001 (the state's times are naive UTC)
    return RunRecord(run_id, "s", dry_run, status, moment, moment, None, None, None, None, None, None, None)


@pytest.mark.parametrize(
    ("history", "expected"),
    [
        ([_run(1, "failed")], "failing"),
        ([_run(2, "failed"), _run(1, "succeeded")], "failing"),
        ([_run(2, "failed"), _run(1, "failed")], None),
        ([_run(3, "blocked"), _run(2, "killed"), _run(1, "failed")], None),
        ([_run(2, "succeeded"), _run(1, "failed")], "recovered"),
        ([_run(3, "partial"), _run(2, "planned", dry_run=True), _run(1, "blocked")], "recovered"),
        ([_run(2, "succeeded"), _run(1, "succeeded")], None),
    ],
)
def test_ops_transitions(history: list[RunRecord], expected: str | None) -> None:
    assert transition(history, history[0].id) == expected


def test_daemon_section_problems_name_file_line_and_key(tmp_path: Path) -> None:
    root = make_project(tmp_path, accounts=5)
    with (root / "syncer.yaml").open("a") as out:
        out.write(
            "daemon:\n  port: 0\n  timezone: Mars/Base\n  overdue_after: soon\n  lease_s: 0.1\n"
            "  bogus: 1\n  ops_alerts:\n    connector: hubspot\n    channel: C1\n"
        )
    with pytest.raises(ConfigError) as caught:
        load_project(root, REGISTRY, ENVIRONMENT)
    lines = [str(problem) for problem in caught.value.problems]
    expected = {
        "daemon.port": 14,
        "daemon.timezone": 15,
        "daemon.overdue_after": 16,
        "daemon.lease_s": 17,
        "daemon.bogus": 18,
    }
    for key, line in expected.items():
        assert any(text.startswith(f"syncer.yaml:{line}: {key}:") for text in lines), (key, lines)
    assert any("Mars/Base" in text and "IANA" in text for text in lines)


def test_ops_alerts_must_name_a_slack_connector(tmp_path: Path) -> None:
    root = make_project(tmp_path, accounts=5)
    with (root / "syncer.yaml").open("a") as out:
        out.write("daemon:\n  ops_alerts:\n    connector: hubspot\n    channel: C1\n")
    with pytest.raises(ConfigError) as caught:
        load_project(root, REGISTRY, ENVIRONMENT)
    assert [str(p) for p in caught.value.problems] == [
        "syncer.yaml:15: daemon.ops_alerts.connector: 'hubspot' is not a connector that posts alerts "
        "(known: hubspot, slack)"
    ]


def test_configuration_reference_is_current() -> None:
    assert DOCUMENT.read_text(encoding="utf-8") == render(), "run: python -m syncer.cli.reference"


def test_metrics_count_a_run_summary_with_its_effects() -> None:
    from prometheus_client.parser import text_string_to_metric_families

    from syncer.daemon.metrics import Metrics

    metrics = Metrics(lambda: [("a", 12.5, False), ("b", None, True)], lambda: 2)
    summary = {
        "run_id": 1,
        "sync": "a",
        "status": "partial",
        "error": None,
        "planned": {"create": 3, "update": 2, "clear": 1, "unchanged": 9},
        "rejected_in_plan": 1,
        "sent": 6,
        "confirmed": 5,
        "rejected": 1,
        "pending": 0,
        "api_calls": 4,
        "rate_limited": 2,
        "retries": 3,
        "stopped": None,
        "duration_s": 1.5,
        "effects": {
            "tasks": {"created": 2, "failed": 1},
            "decisions": {"send": 1, "capped_day": 4},
            "alerts": {"sent": 1},
        },
    }
    metrics.observe(summary, "hubspot")
    metrics.observe({**summary, "effects": None, "planned": None, "status": "failed"}, "hubspot")
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(metrics.render().decode())
        for s in family.samples
    }

    def value(name: str, **labels: str) -> float:
        return samples[(name, tuple(sorted(labels.items())))]

    assert value("syncer_runs_total", sync="a", status="partial") == 1
    assert value("syncer_runs_total", sync="a", status="failed") == 1
    assert value("syncer_rows_planned_total", sync="a", op="create") == 3
    assert value("syncer_rows_confirmed_total", sync="a") == 10
    assert value("syncer_rows_rejected_total", sync="a") == 4  # plan and destination, both runs
    assert value("syncer_rate_limited_total", destination="hubspot") == 4
    assert value("syncer_retries_total", destination="hubspot") == 6
    assert value("syncer_tasks_total", sync="a", status="failed") == 1
    assert value("syncer_alert_decisions_total", sync="a", outcome="capped_day") == 4
    assert value("syncer_alert_posts_total", sync="a", status="sent") == 1
    assert value("syncer_run_duration_seconds_count", sync="a") == 2
    assert value("syncer_seconds_since_last_success", sync="a") == 12.5
    assert ("syncer_seconds_since_last_success", (("sync", "b"),)) not in samples
    assert value("syncer_sync_overdue", sync="b") == 1
    assert value("syncer_leases_held") == 2


def test_json_logs_redact_secrets(capsys: pytest.CaptureFixture[str]) -> None:
    import logging

    from syncer.config.errors import remember_secrets
    from syncer.daemon.logs import configure_logging, event

    remember_secrets(["hunter2-very-secret"])
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    configure_logging(as_json=True)
    try:
        event(logging.getLogger("syncer.test"), "run", sync="a", error="login failed for hunter2-very-secret")
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert json.loads(line)["error"] == "login failed for ***"
    assert json.loads(line)["event"] == "run" and "hunter2" not in line


def test_the_vendor_sdk_loggers_the_daemon_quiets_are_declared_by_their_connectors() -> None:
    """The daemon names no vendor: each connector names its SDK's chatty loggers, which must be real packages."""
    import importlib.util
    import logging

    from syncer.daemon.logs import quiet

    declared = {name for kind in REGISTRY.values() for name in kind.quiet_loggers}
    assert "slack_sdk" in declared
    assert all(importlib.util.find_spec(name) is not None for name in declared), declared
    saved = {name: logging.getLogger(name).level for name in declared}
    try:
        quiet(declared)
        assert {logging.getLogger(name).getEffectiveLevel() for name in declared} == {logging.WARNING}
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


def test_overdue_is_measured_from_the_last_success_or_from_when_scheduling_began() -> None:
    from syncer.daemon.health import Health

    start = datetime(2026, 3, 1, 8, 0)  # noqa: DTZ001 (health keeps naive UTC, as the state)
    health = Health(timedelta(hours=1), start)
    health.track(["a", "b", "c"], start)
    health.merge({"a": start - timedelta(minutes=30)})
    health.ran("b", "failed", start + timedelta(minutes=10))
    health.ran("c", "partial", start + timedelta(minutes=50))
    report = {h.sync: h for h in health.report(start + timedelta(minutes=61))}
    assert report["a"].overdue and report["a"].seconds_since_success == 91 * 60
    assert report["b"].overdue and report["b"].last_status == "failed" and report["b"].last_success is None
    assert not report["c"].overdue
    health.track(["c"], start)
    assert [h.sync for h in health.report(start)] == ["c"]


def test_local_leases_hold_everything_and_claim_each_slot_once() -> None:
    from syncer.daemon.leases import LocalLeases

    ran_at = datetime(2026, 3, 1, 7, 59)  # noqa: DTZ001 (as the state stores it: naive UTC)
    leases = LocalLeases({"a": ran_at})
    first = leases.tick(["a", "b"], busy=set())
    assert first.held == {"a", "b"} and first.acquired == {"a": ran_at, "b": None}
    slot = at("2026-03-01T08:00:00")
    assert leases.claim("a", slot) and not leases.claim("a", slot) and not leases.claim("a", slot - timedelta(1))
    assert leases.tick(["a"], busy=set()).released == {"b"} and not leases.claim("b", slot)


def test_readiness_names_what_cannot_be_reached(tmp_path: Path) -> None:
    from syncer.daemon.control import DaemonControl
    from syncer.daemon.service import Daemon

    root = make_project(tmp_path, accounts=5)
    daemon = Daemon(root, ENVIRONMENT, load_project(root, REGISTRY, ENVIRONMENT))
    control = DaemonControl(daemon)
    try:
        assert control.ready() == (True, {"config": "ok", "state": "ok", "warehouse": "ok", "overdue": []})
        (root / "warehouse.duckdb").unlink()
        daemon.pool.reload(daemon.project)  # fresh connections: the warehouse file is gone
        ready, detail = control.ready()
        assert not ready and detail["state"] == "ok" and "does not exist" in detail["warehouse"]
        daemon.config_problems = ["mappings/companies.yaml:3: model: unknown key"]
        assert control.ready()[1]["config"] == daemon.config_problems
        assert control.trigger_token() is None  # none configured: triggers refused
    finally:
        daemon.pool.close()


def test_only_values_of_secret_typed_settings_stay_redacted_once_the_project_validates(tmp_path: Path) -> None:
    from syncer.config.errors import redact

    root = make_project(tmp_path, state_url="duckdb:///${STATE_DIR_FROM_ENV}/state.duckdb", accounts=5)
    text = (root / "syncer.yaml").read_text()
    (root / "syncer.yaml").write_text(text + "daemon:\n  port: ${PORT_FROM_ENV}\n")
    environment = {**ENVIRONMENT, "PORT_FROM_ENV": "18781", "STATE_DIR_FROM_ENV": "state-dir-4411"}
    loaded = load_project(root, REGISTRY, environment)
    assert loaded.config.daemon.port == 18781
    assert redact("listening on 127.0.0.1:18781") == "listening on 127.0.0.1:18781"  # a port is no secret
    # Part of a secret-typed setting (the state URL), and the connector's token: hidden.
    assert redact("cannot open state-dir-4411/state.duckdb") == "cannot open ***/state.duckdb"
    assert redact(f"login with {ENVIRONMENT['TEST_HUBSPOT_TOKEN']}") == "login with ***"
