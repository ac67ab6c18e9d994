"""Benchmark of sustained load: N accounts kept in sync with the sandbox HubSpot while a share of them changes
each cycle.

The sandbox HubSpot runs in a process of its own (this script with ``--serve``), so the RSS figures are syncer's
alone; it takes commands on stdin (set its rate limit, count its request log, check its records). The shipped
``hubspot_companies`` mapping, without its trigger (tasks are not what is measured), runs through the real runner
(``App.run``), the real HubSpot SDK and HTTP.

- Cycle 0 is the initial sync of every account. Under HubSpot's 190 requests per rolling 10 s, a million accounts
  take 10,000 calls, about nine minutes; so for cycle 0 only, the sandbox's limit and the one syncer is told are
  raised (``--seed-limit``), and the initial state is reached at full speed through the same runner and SDK.
- Cycles 1..C run under the real limit (190 per 10 s, syncer told so). Before each, ``--change`` of the accounts
  (exactly ``round(rows * change)``, chosen by a hash salted with the cycle) have their score moved by 7 points in
  the warehouse with one UPDATE; every other row stays byte-identical, so the plan must send exactly those rows.

Per cycle: rows changed, planned, sent and confirmed, wall time (plan + delivery + commit), rows/s, HTTP calls and
429 answers as the sandbox logged them, the limiter's waits, CPU of syncer and of the sandbox, RSS after the cycle
(as found, and settled: once freed memory has gone back to the system), peak RSS and syncer's files on disk; and
whether the sandbox holds the new score for every changed account. At the end every account is checked, settled
RSS after cycle 2 and after the last is printed, and memory is "flat" when the lowest settled RSS of the later half
of cycles 2..C is within 10% of the earlier half's (samples swing with what DuckDB and Arrow hold; a leak raises
the floor).

    nice -n 10 .venv/bin/python bench/load.py --rows 1000000 --cycles 20 --change 0.05
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from connectors.hubspot.sandbox import HubSpotEmulator, HubSpotLimits  # noqa: E402
from connectors.sandbox.core.server import EmulatorServer  # noqa: E402
from syncer.app import App  # noqa: E402
from syncer.demo.sample_warehouse import build_sample_warehouse  # noqa: E402

REAL_PER_10S = 190  # a Professional app's rolling limit; the sandbox enforces it and syncer is told so
SYNC = "hubspot_companies"
SECRETS = {"HUBSPOT_ACCESS_TOKEN": "sandbox-hubspot-token"}
FLAT_WITHIN = 0.10


def rss_mb(pid: int | str = "self") -> float:
    """Resident set size now, from ``/proc/<pid>/status`` (``VmRSS``, in kB)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_s(pid: int | str = "self") -> float:
    """User plus system CPU seconds a process has used, from ``/proc/<pid>/stat``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def disk_mb(directory: Path) -> float:
    """What syncer keeps on disk under ``directory`` (the state file, its WAL, the planning workspace)."""
    return sum(path.stat().st_size for path in directory.rglob("*") if path.is_file()) / 2**20


def settled_rss_mb() -> float:
    """RSS once freed memory has gone back to the system: a cycle's garbage collected, Arrow's pool and glibc's
    heap trimmed. Right after a cycle, RSS also holds memory the allocators keep for reuse and return later, so
    samples swing by a hundred MB or more from one cycle to the next; what stays after this is what is live."""
    gc.collect()
    pa.default_memory_pool().release_unused()
    with contextlib.suppress(OSError, AttributeError):  # not glibc: Arrow's release is all there is
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    return rss_mb()


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- the sandbox process ---------------------------------------------------------------------------------------
def serve() -> None:
    """Serve the HubSpot emulator; answer one JSON line per command line read from stdin, until EOF or ``quit``."""
    emulator = HubSpotEmulator()
    server = EmulatorServer(emulator).start()
    print(json.dumps({"url": server.url}), flush=True)
    for line in sys.stdin:
        command, _, argument = line.strip().partition(" ")
        reply: dict[str, Any]
        if command == "limits":  # a new limiter: the window and the daily count start again
            emulator.set_limits(HubSpotLimits(ten_second_max=int(argument)))
            reply = {"limit": int(argument)}
        elif command == "stats":
            statuses = Counter(entry.status for entry in emulator.log.entries())
            reply = {"requests": sum(statuses.values()), "rate_limited": statuses[429]}
        elif command == "verify":
            reply = _verify(emulator, Path(argument))
        else:
            break
        print(json.dumps(reply), flush=True)
    server.stop()


def _verify(emulator: HubSpotEmulator, expected: Path) -> dict[str, int]:
    """Count the accounts of ``expected`` (parquet: account_id, score) the portal lacks or holds another score for."""
    rows = duckdb.connect().execute(f"SELECT account_id, score FROM read_parquet('{expected}')").fetchall()
    missing = wrong = 0
    for account_id, score in rows:
        record = emulator.find("companies", "product_account_id", str(account_id))
        if record is None:
            missing += 1
        elif float(record["properties"].get("pql_score") or "nan") != float(score):
            wrong += 1
    return {
        "checked": len(rows),
        "missing": missing,
        "wrong": wrong,
        "companies": len(emulator.portal.store.records["companies"]),
    }


class SandboxProcess:
    """The parent's handle on ``--serve``."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        self.url = str(self._reply()["url"])

    def _reply(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise SystemExit("the sandbox process exited unexpectedly")
        reply: dict[str, Any] = json.loads(line)
        return reply

    def ask(self, command: str) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        return self._reply()

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)


# -- the project and the warehouse -----------------------------------------------------------------------------
def write_project(root: Path, url: str, per_10s: int) -> None:
    """The shipped HubSpot mapping without its trigger, and a ``syncer.yaml`` telling syncer the limit. The load is
    every account written: the mapping's ``create_when`` (hot and warm accounts only) and ``adopt_by`` (a search
    before each create batch, into an empty portal here) are dropped too."""
    mapping = yaml.safe_load((ROOT / "mappings" / f"{SYNC}.yaml").read_text())
    mapping.pop("triggers", None)
    for option in ("create_when", "adopt_by"):
        mapping["destination"].pop(option, None)
    (root / "mappings").mkdir(parents=True, exist_ok=True)
    (root / "mappings" / f"{SYNC}.yaml").write_text(yaml.safe_dump(mapping, sort_keys=False))
    (root / "syncer.yaml").write_text(f"""\
warehouse: {{url: "duckdb:///warehouse.duckdb"}}
state: {{url: "duckdb:///.syncer/state.duckdb"}}
connectors:
  hubspot: {{type: hubspot, access_token: "${{HUBSPOT_ACCESS_TOKEN}}", base_url: "{url}",
            requests_per_10s: {per_10s}, daily_limit: 10000000}}
""")


def change_scores(warehouse: Path, cycle: int, share: float, expected: Path) -> int:
    """Move the score of exactly ``round(rows * share)`` accounts by 7 points (down from 50 up, else up), chosen by
    a hash salted with ``cycle``; write what the CRM must then hold for them to ``expected``."""
    con = duckdb.connect(str(warehouse))
    try:
        total = int(con.execute("SELECT count(*) FROM scored_accounts").fetchall()[0][0])
        con.execute(
            "CREATE TEMP TABLE picked AS SELECT account_id FROM scored_accounts "
            "ORDER BY hash(account_id, ?), account_id LIMIT ?",
            [f"load-{cycle}", round(total * share)],
        )
        con.execute(
            "UPDATE scored_accounts SET pql_score = CASE WHEN pql_score >= 50 THEN pql_score - 7 "
            "ELSE pql_score + 7 END WHERE account_id IN (SELECT account_id FROM picked)"
        )
        _expected(con, expected, "WHERE account_id IN (SELECT account_id FROM picked)")
        return int(con.execute("SELECT count(*) FROM picked").fetchall()[0][0])
    finally:
        con.close()


def expect_all(warehouse: Path, expected: Path) -> None:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        _expected(con, expected, "")
    finally:
        con.close()


def _expected(con: duckdb.DuckDBPyConnection, path: Path, where: str) -> None:
    # The mapping rounds the score to a whole number (DuckDB's round, half away from zero, as syncer's SQL does).
    con.execute(
        f"COPY (SELECT account_id, round(pql_score) AS score FROM scored_accounts {where}) TO '{path}' (FORMAT parquet)"
    )


# -- one cycle -------------------------------------------------------------------------------------------------
def run_cycle(
    app: App, sandbox: SandboxProcess, cycle: int, limit: int, changed: int, expected: Path
) -> dict[str, Any]:
    before = sandbox.ask("stats")
    cpu_before, sandbox_cpu_before = cpu_s(), cpu_s(sandbox.process.pid)
    started = time.perf_counter()
    outcome = app.run(app.project.sync(SYNC), app.run_options())
    seconds = time.perf_counter() - started
    cpu, sandbox_cpu = cpu_s() - cpu_before, cpu_s(sandbox.process.pid) - sandbox_cpu_before
    after = sandbox.ask("stats")
    summary = outcome.summary()
    check = sandbox.ask(f"verify {expected}")
    planned = summary["planned"] or {}
    calls = after["requests"] - before["requests"]
    limited = after["rate_limited"] - before["rate_limited"]
    return {
        "cycle": cycle,
        "limit_per_10s": limit,
        "status": summary["status"],
        "changed": changed,
        "planned": planned.get("create", 0) + planned.get("update", 0) + planned.get("clear", 0),
        "sent": summary["sent"],
        "confirmed": summary["confirmed"],
        "rejected": summary["rejected"],
        "pending": summary["pending"],
        "seconds": round(seconds, 2),
        "rows_per_s": round(summary["confirmed"] / seconds) if seconds else 0,
        "http_calls": calls,
        "http_429": limited,
        "share_429": round(limited / calls, 4) if calls else 0.0,
        "api_calls": summary["api_calls"],
        "waited_s": round(outcome.delivery.waited_s, 2) if outcome.delivery else 0,
        "cpu_s": round(cpu, 2),
        "sandbox_cpu_s": round(sandbox_cpu, 2),
        "rss_mb": round(rss_mb()),
        "settled_rss_mb": round(settled_rss_mb()),
        "peak_rss_mb": round(peak_rss_mb()),
        "sandbox_rss_mb": round(rss_mb(sandbox.process.pid)),
        "state_disk_mb": round(disk_mb(app.root / ".syncer")),
        "verified": check["checked"],
        "missing": check["missing"],
        "wrong": check["wrong"],
    }


def cycle_line(r: dict[str, Any]) -> str:
    ok = "ok" if r["missing"] == 0 and r["wrong"] == 0 and r["verified"] == r["changed"] else "MISMATCH"
    return (
        f"cycle {r['cycle']:>3}  limit {r['limit_per_10s']:>9,}/10s  changed {r['changed']:>9,}  "
        f"planned {r['planned']:>9,}  sent {r['sent']:>9,}  confirmed {r['confirmed']:>9,}  "
        f"{r['seconds']:7.2f} s  {r['rows_per_s']:>6,} rows/s  calls {r['http_calls']:>6,}  "
        f"429s {r['http_429']:>3} ({r['share_429']:.2%})  waited {r['waited_s']:6.2f} s  "
        f"CPU {r['cpu_s']:6.2f} s (sandbox {r['sandbox_cpu_s']:6.2f} s)  "
        f"RSS {r['rss_mb']:>5,} MB (settled {r['settled_rss_mb']:>5,} MB)  peak {r['peak_rss_mb']:>5,} MB  "
        f"state on disk {r['state_disk_mb']:>5,} MB  "
        f"sandbox {ok}"
    )


def problems(r: dict[str, Any]) -> list[str]:
    """Where a cycle's numbers disagree: every changed row planned, sent and confirmed; the sandbox holds them."""
    found = [
        f"{name} {r[name]:,} != changed {r['changed']:,}"
        for name in ("planned", "sent", "confirmed")
        if r[name] != r["changed"]
    ]
    found += [f"{name} {r[name]:,}" for name in ("rejected", "pending", "missing", "wrong") if r[name]]
    if r["http_calls"] < math.ceil(r["changed"] / 100):
        found.append(f"{r['http_calls']} calls cannot carry {r['changed']:,} rows at 100 per call")
    return [f"cycle {r['cycle']}: {text}" for text in found]


def summarise(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Figures over the cycles under the real limit (1..C)."""
    steady = [r for r in records if r["cycle"] >= 1] or records
    seconds = [r["seconds"] for r in steady]
    calls = sum(r["http_calls"] for r in steady)
    by_cycle = {r["cycle"]: r["settled_rss_mb"] for r in records}
    last = records[-1]["cycle"]
    summary: dict[str, Any] = {
        "cycles": len(steady),
        "seconds_min": min(seconds),
        "seconds_median": statistics.median(seconds),
        "seconds_max": max(seconds),
        "rows_per_s_median": statistics.median(r["rows_per_s"] for r in steady),
        "http_calls": calls,
        "http_429": sum(r["http_429"] for r in steady),
        "share_429": round(sum(r["http_429"] for r in steady) / calls, 4) if calls else 0.0,
        "settled_rss_after_cycle_2_mb": by_cycle.get(2),
        f"settled_rss_after_cycle_{last}_mb": by_cycle[last],
        "rss_min_mb": min(r["rss_mb"] for r in steady),
        "rss_max_mb": max(r["rss_mb"] for r in steady),
        "peak_rss_mb": max(r["peak_rss_mb"] for r in records),
    }
    if 2 in by_cycle and last > 2:
        summary["rss_growth"] = round((by_cycle[last] - by_cycle[2]) / by_cycle[2], 4)
        later = [r["settled_rss_mb"] for r in records if r["cycle"] >= 2]
        summary["settled_rss_trend_mb_per_cycle"] = round(
            statistics.linear_regression(range(len(later)), later).slope, 2
        )
        # What DuckDB and Arrow hold between runs swings from one cycle to the next; a leak shows as a rising
        # floor. So the verdict compares the lowest settled RSS of the later half of cycles 2..C with the earlier.
        half = len(later) // 2
        floors = min(later[:half]), min(later[half:])
        growth = (floors[1] - floors[0]) / floors[0]
        summary |= {
            "settled_rss_floor_first_half_mb": floors[0],
            "settled_rss_floor_second_half_mb": floors[1],
            "floor_growth": round(growth, 4),
            "memory": "flat" if abs(growth) <= FLAT_WITHIN else "grew" if growth > 0 else "shrank",
        }
    return summary


def print_table(records: list[dict[str, Any]], summary: dict[str, Any]) -> None:
    print(
        "\n| cycle | limit/10s | changed | sent | confirmed | time s | rows/s | calls | 429s | waited s | RSS MB | "
        "settled RSS MB |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in records:
        print(
            f"| {r['cycle']} | {r['limit_per_10s']:,} | {r['changed']:,} | {r['sent']:,} | {r['confirmed']:,} | "
            f"{r['seconds']:.2f} | {r['rows_per_s']:,} | {r['http_calls']:,} | {r['http_429']} | "
            f"{r['waited_s']:.2f} | {r['rss_mb']:,} | {r['settled_rss_mb']:,} |"
        )
    print(
        f"\ncycles 1..{records[-1]['cycle']} under {REAL_PER_10S}/10s: time per cycle "
        f"min {summary['seconds_min']:.2f} s, median {summary['seconds_median']:.2f} s, "
        f"max {summary['seconds_max']:.2f} s; median "
        f"{summary['rows_per_s_median']:,} rows/s; {summary['http_calls']:,} calls, {summary['http_429']} answered "
        f"429 ({summary['share_429']:.2%}); RSS after a cycle {summary['rss_min_mb']:,} to {summary['rss_max_mb']:,} "
        f"MB; peak RSS {summary['peak_rss_mb']:,} MB"
    )
    if "memory" in summary:
        last = records[-1]["cycle"]
        half = 2 + (last - 1) // 2
        print(
            f"memory: {summary['memory']} (settled RSS after cycle 2 {summary['settled_rss_after_cycle_2_mb']:,} "
            f"MB, after cycle {last} {summary[f'settled_rss_after_cycle_{last}_mb']:,} MB, "
            f"{summary['rss_growth']:+.1%}; trend {summary['settled_rss_trend_mb_per_cycle']:+.1f} MB per cycle; "
            f"lowest in cycles 2..{half - 1} {summary['settled_rss_floor_first_half_mb']:,} MB, in cycles "
            f"{half}..{last} {summary['settled_rss_floor_second_half_mb']:,} MB, {summary['floor_growth']:+.1%}; "
            f"flat means the lowest moved less than {FLAT_WITHIN:.0%})"
        )
    else:
        print("memory: not judged (needs at least 3 cycles after the initial sync)")


def run(rows: int, cycles: int, share: float, seed_limit: int, work: Path) -> tuple[list[dict[str, Any]], list[str]]:
    project, warehouse = work / "project", work / "project" / "warehouse.duckdb"
    sandbox = SandboxProcess()
    try:
        print(f"sandbox HubSpot at {sandbox.url} (pid {sandbox.process.pid}); building {rows:,} accounts", flush=True)
        build_sample_warehouse(warehouse, accounts=rows)
        records: list[dict[str, Any]] = []
        print(
            f"cycle 0 is the initial sync at a raised limit: the sandbox and syncer both at {seed_limit:,} "
            f"requests per 10 s; cycles 1..{cycles} at HubSpot's {REAL_PER_10S}",
            flush=True,
        )
        for cycle in range(cycles + 1):
            limit = seed_limit if cycle == 0 else REAL_PER_10S
            expected = work / f"expected-{cycle}.parquet"
            if cycle <= 1:  # syncer is told the limit in syncer.yaml: a new App reads it
                write_project(project, sandbox.url, limit)
                sandbox.ask(f"limits {limit}")
                app = App(project, SECRETS)
            if cycle == 0:
                expect_all(warehouse, expected)
                changed = rows
            else:
                changed = change_scores(warehouse, cycle, share, expected)
            records.append(run_cycle(app, sandbox, cycle, limit, changed, expected))
            print(cycle_line(records[-1]), flush=True)
            expected.unlink()
            if cycle == 0:
                app.close()
        app.close()
        expect_all(warehouse, work / "expected-final.parquet")
        final = sandbox.ask(f"verify {work / 'expected-final.parquet'}")
        print(
            f"final check: {final['checked']:,} accounts in the warehouse, {final['companies']:,} companies in "
            f"the sandbox, {final['missing']:,} missing, {final['wrong']:,} with another score",
            flush=True,
        )
    finally:
        sandbox.close()
    found = [text for r in records for text in problems(r)]
    if final["missing"] or final["wrong"] or final["companies"] != rows:
        found.append(f"final: {final['missing']} missing, {final['wrong']} wrong, {final['companies']} companies")
    return records, found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="accounts (default 1,000,000)")
    parser.add_argument("--cycles", type=int, default=20, help="cycles after the initial sync (default 20)")
    parser.add_argument("--change", type=float, default=0.05, help="share of accounts changed per cycle (0.05)")
    parser.add_argument(
        "--seed-limit",
        type=int,
        default=1_000_000,
        help="requests per 10 s for the initial sync only (sandbox and syncer; default 1,000,000)",
    )
    parser.add_argument("--json", type=Path, help="also write every cycle's figures and the summary here")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve()
        return
    if args.rows < 1 or args.cycles < 1 or not 0 < args.change <= 1 or args.seed_limit < 1:
        parser.error("--rows, --cycles and --seed-limit must be positive and --change in (0, 1]")
    print(
        f"duckdb {duckdb.__version__}, python {sys.version.split()[0]}, {os.cpu_count()} cores; {args.rows:,} "
        f"accounts, {args.cycles} cycles, {args.change:.1%} changed per cycle",
        flush=True,
    )
    scratch = ROOT / ".syncer" if (ROOT / ".syncer").exists() else None
    with tempfile.TemporaryDirectory(prefix="syncer-load-", dir=scratch) as tmp:
        records, found = run(args.rows, args.cycles, args.change, args.seed_limit, Path(tmp))
    summary = summarise(records)
    print_table(records, summary)
    if args.json:
        args.json.write_text(json.dumps({"cycles": records, "summary": summary, "problems": found}, indent=1))
    for text in found:
        print(f"PROBLEM {text}")
    if found:
        raise SystemExit(1)
    print("consistent: every cycle planned, sent and confirmed exactly the changed rows, and the sandbox holds them")


if __name__ == "__main__":
    main()
