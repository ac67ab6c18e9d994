"""Crash soak for field delivery: real ``syncer run`` processes killed with SIGKILL at random instants.

The sandbox is served by a process of its own (:mod:`tests.reliability.soak_sandbox`), so killing syncer never
takes the CRM's records with it. Each round changes a few percent of the model's scores, starts
``syncer run --all --json`` and, unless it finishes first, kills it after a seeded random delay spread over the
length of a whole run; every tenth run is left to finish. After the last kill a clean run must succeed, and then
:func:`check_invariants` compares the sandbox's records, the warehouse and the control store
(:mod:`tests.reliability.invariants`).

Tasks and alerts are in the soak too (:mod:`tests.reliability.soak_effects`): a HubSpot task and a Slack alert
whenever a score crosses 80, with their own invariants (nothing twice, nothing due left unsent, caps held). Every
``daemon_every``-th round starts ``syncer daemon`` (every sync due every 2 s) instead of ``syncer run`` and kills it
the same way, so scheduled runs die mid-flight too.

``python -m tests.reliability.soak --kills 300`` (``make soak``) prints the tally; ``test_soak.py`` runs a bounded
soak in the suite.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import ssl
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import httpx

from syncer.app import App
from tests.reliability.harness import ENVIRONMENT, SYNCS, write_project
from tests.reliability.invariants import FieldTally, destination_records, field_tally
from tests.reliability.matrix import Destination
from tests.reliability.soak_effects import ENVIRONMENT_WITH_SLACK, add_effects, check_effects, prepare
from tests.reliability.soak_sandbox import READY_FILE

REPO = Path(__file__).parents[2]
SYNCER = str(Path(sys.executable).with_name("syncer"))
DESTINATIONS = (Destination.HUBSPOT, Destination.SALESFORCE, Destination.WEBHOOK)
VENDORS = {Destination.HUBSPOT: "hubspot", Destination.SALESFORCE: "salesforce", Destination.WEBHOOK: "webhook"}
WRITE_ROUTES = ("/batch/", "/composite/", "/hook")  # a route with one of these is a field write


@dataclass(frozen=True)
class SoakSettings:
    kills: int = 30
    seed: int = 1
    accounts: int = 1_500
    change_percent: int = 3  # of the model's rows whose score changes before each round
    latency_ms: int = 10  # added to every sandbox request, so a run spends time delivering, where kills matter
    max_rounds_per_kill: int = 4  # rounds that end on their own do not count as kills; give up after this many
    state_url: str = "duckdb:///.syncer/state.duckdb"  # or a PostgreSQL URL
    finish_every: int = 10  # every n-th run is left to finish, as a later scheduled run would: the changes that
    # killed runs leave behind pile up, and past max_update_percent the mass-change guard (rightly) blocks
    daemon_every: int = 4  # every n-th round (not a finishing one) kills a `syncer daemon` instead of a `syncer run`


@dataclass
class SoakTally:
    """What a soak did and what it found; ``lost``, ``duplicated`` and ``mismatched`` must all be 0."""

    kills: int = 0  # processes killed with SIGKILL while running
    runs: int = 0  # syncer processes started (killed, finished on their own and the final clean run)
    kills_after_writing: int = 0  # kills of a process that had already sent field writes
    daemon_kills: int = 0  # of the kills, those of a `syncer daemon`
    killed_runs_recorded: int = 0  # runs the control store marks ``killed`` (found dead at the next open)
    lost: int = 0
    duplicated: int = 0
    mismatched: int = 0
    tasks: int = 0  # tasks the sandbox CRM holds at the end
    alerts: int = 0  # alert messages Slack holds at the end
    cap_violations: int = 0
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return (
            self.lost == 0
            and self.duplicated == 0
            and self.mismatched == 0
            and self.cap_violations == 0
            and not self.problems
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class ServedSandbox:
    """The sandbox process: started, waited for, inspected over HTTP, stopped."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.reliability.soak_sandbox", str(directory)],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        ready = directory / READY_FILE
        deadline = time.monotonic() + 60
        while not ready.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the soak's sandbox process did not start")
            time.sleep(0.05)
        info = json.loads(ready.read_text())
        self.urls: dict[str, str] = info["urls"]
        self.hook: str = info["hook"]
        self.ca_file = Path(info["ca_file"])
        self.http = httpx.Client(verify=ssl.create_default_context(cafile=str(self.ca_file)), timeout=30)

    def get(self, vendor: str, path: str) -> Any:
        reply = self.http.get(f"{self.urls[vendor]}/_sandbox/{path}")
        reply.raise_for_status()
        return reply.json()

    def add_latency(self, latency_ms: int) -> None:
        for vendor in (*VENDORS.values(), "slack"):
            self.http.post(
                f"{self.urls[vendor]}/_sandbox/faults", json={"rules": [{"route": "*", "latency_ms": latency_ms}]}
            ).raise_for_status()

    def writes(self) -> int:
        """Field writes the emulators have received so far."""
        return sum(
            count
            for vendor in VENDORS.values()
            for route, count in self.get(vendor, "requests/counts").items()
            if any(part in route for part in WRITE_ROUTES)
        )

    def stop(self) -> None:
        if hasattr(self, "http"):
            self.http.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def change_model(warehouse: Path, percent: int, round_number: int) -> None:
    """A new score for about ``percent`` % of the accounts (which ones depends on the round)."""
    con = duckdb.connect(str(warehouse))
    try:
        con.execute(
            "UPDATE scored_accounts SET pql_score = CAST((hash(account_id || ?) % 990) / 10.0 AS "
            "DECIMAL(4,1)) WHERE hash(account_id || ? || 'pick') % 100 < ?",
            [str(round_number), str(round_number), percent],
        )
    finally:
        con.close()


def check_invariants(root: Path, sandbox: ServedSandbox) -> dict[str, FieldTally]:
    """Field delivery's invariants for every sync of the project at ``root``, from the sandbox's stored records."""
    app = App(root, ENVIRONMENT)
    try:
        tallies = {}
        for destination in DESTINATIONS:
            sync = app.project.sync(SYNCS[destination])
            vendor = VENDORS[destination]
            assert sync.destination is not None
            records = destination_records(
                vendor, sandbox.get(vendor, "state"), sync.destination.object, sync.destination.match.field
            )
            tallies[sync.name] = field_tally(sync, app.store, app.warehouse, records)
        return tallies
    finally:
        app.close()


def soak(root: Path, settings: SoakSettings, say: Any = None) -> SoakTally:
    """Run the soak in ``root`` (a fresh directory); ``say`` (optional) is called with a line per kill."""
    started = time.monotonic()
    tally = SoakTally()
    rng = random.Random(settings.seed)
    sandbox = ServedSandbox(root / "sandbox")
    try:
        sandbox.add_latency(settings.latency_ms)
        urls = {"hubspot": sandbox.urls["hubspot"], "salesforce": sandbox.urls["salesforce"], "webhook": sandbox.hook}
        project = root / "project"
        project.mkdir()
        write_project(project, urls, sandbox.ca_file, settings.state_url, settings.accounts, DESTINATIONS)
        add_effects(project, sandbox.urls["slack"])
        prepare(project)
        environment = {**os.environ, **ENVIRONMENT_WITH_SLACK}
        recent: list[float] = [2.0]  # how long the latest runs that ended on their own took (seconds)
        rounds = 0
        while tally.kills < settings.kills and rounds < settings.kills * settings.max_rounds_per_kill:
            rounds += 1
            change_model(project / "warehouse.duckdb", settings.change_percent, rounds)
            writes_before = sandbox.writes()
            began = time.monotonic()
            finishing = rounds % settings.finish_every == 0
            daemon = not finishing and rounds % settings.daemon_every == 0
            command = [SYNCER, "daemon", "--port", str(_free_port())] if daemon else [SYNCER, "run", "--all", "--json"]
            process = subprocess.Popen(
                command, cwd=project, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            tally.runs += 1
            delay = rng.uniform(0.0, max(recent[-5:]))  # spread over the length of a whole run
            if daemon:
                delay += 1.0  # a daemon starts its first runs once it has loaded and validated the project
            try:
                process.wait(timeout=None if finishing else delay)
                recent.append(time.monotonic() - began)
                continue
            except subprocess.TimeoutExpired:
                process.send_signal(signal.SIGKILL)
                process.wait()
            tally.kills += 1
            tally.daemon_kills += daemon
            if sandbox.writes() > writes_before:
                tally.kills_after_writing += 1
            if say is not None:
                say(f"kill {tally.kills}: after {time.monotonic() - began:.2f} s")
        final = subprocess.run(
            [SYNCER, "run", "--all", "--json"],
            cwd=project,
            env=environment,
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        tally.runs += 1
        if final.returncode != 0 or any(o["status"] != "succeeded" for o in json.loads(final.stdout or "[]")):
            tally.problems.append(f"the clean run did not succeed: {final.stdout[-2000:]} {final.stderr[-2000:]}")
        for name, found in check_invariants(project, sandbox).items():
            tally.lost += found.lost
            tally.duplicated += found.duplicated
            tally.mismatched += found.mismatched
            tally.problems += [f"{name}: {example}" for example in found.examples]
        effects = check_effects(project, sandbox.get("hubspot", "state"), sandbox.get("slack", "state"))
        tally.lost += effects.lost
        tally.duplicated += effects.duplicated
        tally.cap_violations += effects.cap_violations
        tally.tasks, tally.alerts = effects.tasks, effects.alerts
        tally.problems += [f"effects: {example}" for example in effects.examples]
        tally.killed_runs_recorded = _killed_runs(project)
    finally:
        sandbox.stop()
    tally.seconds = round(time.monotonic() - started, 1)
    return tally


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _killed_runs(project: Path) -> int:
    app = App(project, ENVIRONMENT)
    try:
        return sum(1 for run in app.store.runs.recent(limit=1_000_000) if run.status == "killed")
    finally:
        app.close()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dir", type=Path, default=Path(".syncer/soak"), help="a working directory (emptied)")
    parser.add_argument(
        "--state-url",
        default=SoakSettings.state_url,
        help="the control store (default: a DuckDB file; an empty PostgreSQL database works too)",
    )
    args = parser.parse_args(argv)
    if args.dir.exists():
        import shutil

        shutil.rmtree(args.dir)
    args.dir.mkdir(parents=True)
    tally = soak(
        args.dir.resolve(),
        SoakSettings(kills=args.kills, seed=args.seed, state_url=args.state_url),
        say=lambda line: print(line, flush=True),
    )
    shown = {k: v for k, v in tally.as_dict().items() if k != "problems"}
    print(json.dumps(shown, indent=2))
    for problem in tally.problems[:20]:
        print(f"problem: {problem}")
    return 0 if tally.clean else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
