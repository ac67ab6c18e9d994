"""syncer against the bare script doing the same work on the same files, as whole processes, interleaved.

For each scenario the harness runs syncer's command and the bare script's (``bench/compare_bare.py``) in turn,
syncer, bare, syncer, bare, ... ``--repeats`` times, each a process of its own timed from spawn to exit, and prints
the medians, the ratio, each side's peak RSS (``os.wait4``: the child's own high-water mark) and the HTTP calls the
bench's counting sink received (which must equal the calls each side reports). State is put back before every
run, so each repeat does the same work.

    .venv/bin/python bench/compare.py --rows 1000000                 # or: make bench
    .venv/bin/python bench/compare.py --rows 10000000 --skip first-sync --skip effects   # make bench-10m

Scenarios: ``first-plan`` (syncer plan of an empty state; bare: hash every row, write the snapshot),
``first-sync`` (every row to the sink), ``re-plan`` (after a rebuild with 1% changed), ``e2e`` (the same rebuild
planned, delivered and committed), ``effects`` (N alert firings decided and recorded, syncer only) and ``start``
(``syncer --help`` and ``syncer validate`` of the demo project against ``python -c pass``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.metadata import version
from pathlib import Path
from statistics import median
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))

from compare_start import import_times  # noqa: E402

SYNC = "bench_hook"  # the mapping bench/compare_project.py writes
SCENARIOS = ("first-plan", "first-sync", "re-plan", "e2e", "effects", "start")


class Sink(ThreadingHTTPServer):
    """A webhook receiver on 127.0.0.1 that confirms every batch (2xx, empty body) and counts the requests."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _SinkHandler)
        self.requests = 0
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"


class _SinkHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a real receiver would

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        assert isinstance(self.server, Sink)
        with self.server.lock:
            self.server.requests += 1
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class Run:
    seconds: float
    peak_mb: float
    output: str
    calls: int  # counted by the sink
    reported_calls: int | None = None  # what the process said it made


def run_process(command: list[str], sink: Sink | None, cwd: Path | None = None, *, ok: tuple[int, ...] = (0,)) -> Run:
    """Run ``command`` to its end: wall time from spawn to exit, its own peak RSS, the sink requests it caused."""
    before = sink.requests if sink else 0
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        process = subprocess.Popen(
            command, cwd=cwd, stdout=out, stderr=err, text=True, env={**os.environ, "COLUMNS": "200"}
        )
        _, status, usage = os.wait4(process.pid, 0)  # reaped here, so the child's own rusage is ours to read
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        text, problems = out.read(), err.read()
    if process.returncode not in ok:
        raise SystemExit(f"{' '.join(command)} exited {process.returncode}:\n{problems[-3000:]}")
    return Run(seconds, usage.ru_maxrss / 1024, text, (sink.requests - before) if sink else 0)


def syncer_command(*args: str) -> list[str]:
    """The installed ``syncer`` command, as a user runs it."""
    script = Path(sys.executable).parent / "syncer"
    return (
        [str(script), *args]
        if script.exists()
        else [sys.executable, "-c", "from syncer.cli import main; main()", *args]
    )


@dataclass
class Side:
    """One side of a scenario: how to put its state back (not timed), the command, and what its output reports."""

    command: list[str]
    reset: Callable[[], None] = lambda: None
    cwd: Path | None = None
    changes: Callable[[str], int] = lambda output: 0
    reported_calls: Callable[[str], int] | None = None
    runs: list[Run] = field(default_factory=list)
    ok: tuple[int, ...] = (0,)


@dataclass
class Result:
    scenario: str
    syncer: list[Run]
    bare: list[Run]
    changes: tuple[int, int]
    notes: str = ""

    def row(self) -> dict[str, Any]:
        def med(runs: list[Run], attr: str) -> float | None:
            return median(getattr(r, attr) for r in runs) if runs else None

        s, b = med(self.syncer, "seconds"), med(self.bare, "seconds")
        return {
            "scenario": self.scenario,
            "syncer_s": s,
            "bare_s": b,
            "ratio": s / b if s and b else None,
            "syncer_rss_mb": med(self.syncer, "peak_mb"),
            "bare_rss_mb": med(self.bare, "peak_mb"),
            "syncer_calls": [r.calls for r in self.syncer],
            "bare_calls": [r.calls for r in self.bare],
            "calls_match": all(r.reported_calls in (None, r.calls) for r in self.syncer + self.bare),
            "syncer_changes": self.changes[0],
            "bare_changes": self.changes[1],
            "notes": self.notes,
            "syncer_all_s": [round(r.seconds, 3) for r in self.syncer],
            "bare_all_s": [round(r.seconds, 3) for r in self.bare],
        }


def interleave(name: str, syncer: Side, bare: Side | None, repeats: int, sink: Sink | None) -> Result:
    """syncer, bare, syncer, bare, ...: each side reset before each of its runs."""
    for _ in range(repeats):
        for side in (syncer, bare):
            if side is None:
                continue
            side.reset()
            run = run_process(side.command, sink, side.cwd, ok=side.ok)
            run.reported_calls = side.reported_calls(run.output) if side.reported_calls else None
            side.runs.append(run)
    changes = (syncer.changes(syncer.runs[-1].output), bare.changes(bare.runs[-1].output) if bare else 0)
    return Result(name, syncer.runs, bare.runs if bare else [], changes)


def _restore(saved: Path, target: Path) -> Callable[[], None]:
    def reset() -> None:
        if target.is_dir():
            shutil.rmtree(target)
        target.unlink(missing_ok=True)
        if saved.is_dir():
            shutil.copytree(saved, target)
        elif saved.exists():
            shutil.copy(saved, target)

    return reset


def _planned(output: str) -> int:
    counts = json.loads(output)["changes"]
    return int(counts["create"] + counts["update"])


def _sent(output: str) -> int:
    return int(json.loads(output)[0]["confirmed"])


def _bare_changes(output: str) -> int:
    return int(json.loads(output.strip().splitlines()[-1])["changes"])


def _run_calls(output: str) -> int:
    return int(json.loads(output)[0]["api_calls"])


def _bare_calls(output: str) -> int:
    return int(json.loads(output.strip().splitlines()[-1])["calls"])


def scenarios(args: argparse.Namespace, work: Path, sink: Sink) -> list[Result]:
    project, state = work / "project", work / "project" / ".syncer"
    snapshot, seeds = work / "bare.duckdb", work / "seeds"
    warehouse = project / "warehouse.duckdb"
    setup = [sys.executable, str(BENCH / "compare_project.py")]
    run_process([*setup, "project", str(project), sink.url, str(args.rows)], None)
    bare = [sys.executable, str(BENCH / "compare_bare.py")]
    where = ["--warehouse", str(warehouse), "--snapshot", str(snapshot)]
    empty = _restore(seeds / "none", state)
    no_snapshot = _restore(seeds / "none", snapshot)
    results = []
    wanted = [name for name in SCENARIOS if name not in args.skip]
    if "first-plan" in wanted:
        results.append(
            interleave(
                "first plan",
                Side(syncer_command("plan", SYNC, "--json"), empty, project, _planned),
                Side([*bare, "first", *where], no_snapshot, changes=_bare_changes),
                args.repeats,
                sink,
            )
        )
    if "first-sync" in wanted:
        results.append(
            interleave(
                f"first sync to the sink, {args.rows:,} rows",
                Side(syncer_command("run", SYNC, "--json"), empty, project, _sent, _run_calls),
                Side(
                    [*bare, "push", *where, "--url", sink.url],
                    no_snapshot,
                    changes=_bare_changes,
                    reported_calls=_bare_calls,
                ),
                args.first_sync_repeats,
                sink,
            )
        )
    seeds.mkdir()
    run_process([*setup, "seed", str(project)], None)
    shutil.copytree(state, seeds / "state")
    run_process([*bare, "first", *where], None)
    shutil.copy(snapshot, seeds / "bare.duckdb")
    run_process([*setup, "rebuild", str(warehouse)], None)
    seeded, bare_seeded = _restore(seeds / "state", state), _restore(seeds / "bare.duckdb", snapshot)
    if "re-plan" in wanted:
        results.append(
            interleave(
                "re-plan after a rebuild, 1% changed",
                Side(syncer_command("plan", SYNC, "--json"), seeded, project, _planned),
                Side([*bare, "replan", *where], bare_seeded, changes=_bare_changes),
                args.repeats,
                sink,
            )
        )
    if "e2e" in wanted:
        results.append(
            interleave(
                "end to end rebuild (plan, deliver, commit)",
                Side(syncer_command("run", SYNC, "--json"), seeded, project, _sent, _run_calls),
                Side(
                    [*bare, "e2e", *where, "--url", sink.url],
                    bare_seeded,
                    changes=_bare_changes,
                    reported_calls=_bare_calls,
                ),
                args.repeats,
                sink,
            )
        )
    if "effects" in wanted:
        effects = Side(
            [sys.executable, str(BENCH / "effects.py"), "--accounts", str(args.firings), "--json"],
            changes=lambda output: int(json.loads(output.strip().splitlines()[-1])["decided"]),
        )
        result = interleave(
            f"effects, {args.firings:,} firings decided and recorded", effects, None, args.effects_repeats, sink
        )
        inner = [json.loads(r.output.strip().splitlines()[-1])["run_s"] for r in result.syncer]
        result.notes = f"the run itself (in-process): median {median(inner):.2f} s"
        results.append(result)
    if "start" in wanted:
        run_process([*setup, "demo", str(work / "demo")], None)
        results += start_runs(work / "demo", args.repeats)
    return results


def start_runs(project: Path, repeats: int) -> list[Result]:
    """``syncer --help`` and ``syncer validate`` of the demo project, each against ``python -c pass``."""
    bare = [sys.executable, "-c", "pass"]
    results = [
        interleave("`syncer --help`", Side(syncer_command("--help")), Side(bare), repeats, None),
        interleave(
            "`syncer validate` (demo project)", Side(syncer_command("validate"), cwd=project), Side(bare), repeats, None
        ),
    ]
    total, packages = import_times()
    results[0].notes = f"import syncer.cli {total:.3f} s; largest: " + ", ".join(
        f"{name} {seconds:.3f} s" for name, seconds in packages
    )
    return results


NONE, TIMES = "\u2013", "\u00d7"  # an en dash where a side has no figure; the ratio's sign


def _figure(value: float | None, unit: str) -> str:
    return NONE if value is None else f"{value:.2f} {unit}" if unit == "s" else f"{value:,.0f} {unit}"


def report(results: list[Result]) -> list[str]:
    """A markdown table: ratio first, then medians, peak RSS, sink-counted calls and changes per side."""
    lines = [
        "| scenario | ratio | syncer | bare | syncer peak RSS | bare peak RSS | calls (syncer / bare) | "
        "changes (syncer / bare) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for result in results:
        row = result.row()
        ratio = NONE if row["ratio"] is None else f"**{row['ratio']:.1f}{TIMES}**"
        calls = f"{median(row['syncer_calls']):,.0f} / " + (
            f"{median(row['bare_calls']):,.0f}" if row["bare_calls"] else NONE
        )
        changes = f"{row['syncer_changes']:,} / " + (f"{row['bare_changes']:,}" if result.bare else NONE)
        lines.append(
            f"| {row['scenario']} | {ratio} | {_figure(row['syncer_s'], 's')} | {_figure(row['bare_s'], 's')}"
            f" | {_figure(row['syncer_rss_mb'], 'MB')} | {_figure(row['bare_rss_mb'], 'MB')} | {calls} "
            f"| {changes} |"
        )
    lines += [f"- {r.scenario}: {r.notes}" for r in results if r.notes]
    lines += [
        f"- {r.scenario}: the calls a process reported differ from the sink's count"
        for r in results
        if not r.row()["calls_match"]
    ]
    return lines


def machine() -> str:
    """Cores, CPU model and the load average when the run ended."""
    model = (
        next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            "unknown CPU",
        )
        if Path("/proc/cpuinfo").exists()
        else "unknown CPU"
    )
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{os.cpu_count()} cores, {model}, load average {load}"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="accounts in the warehouse")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each side (medians are printed)")
    parser.add_argument("--first-sync-repeats", type=int, default=1, help="runs of each side of the first sync")
    parser.add_argument("--firings", type=int, default=20_000, help="alert firings of the effects scenario")
    parser.add_argument("--effects-repeats", type=int, default=1, help="runs of the effects scenario")
    parser.add_argument("--skip", action="append", default=[], choices=SCENARIOS, help="leave a scenario out")
    parser.add_argument("--json", type=Path, help="also write every run's figures here")
    args = parser.parse_args(argv)
    print(
        f"syncer against the bare script: {args.rows:,} rows, {args.repeats} repeats, interleaved; "
        f"duckdb {version('duckdb')}, python {sys.version.split()[0]}; {machine()}",
        flush=True,
    )
    sink = Sink()
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    try:
        with tempfile.TemporaryDirectory(prefix="syncer-compare-") as tmp:
            results = scenarios(args, Path(tmp), sink)
    finally:
        sink.shutdown()
    print("\n".join(report(results)))
    print(f"after the run: {machine()}")
    if args.json:
        args.json.write_text(json.dumps([r.row() for r in results], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
