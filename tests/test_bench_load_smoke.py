"""bench/load.py, small: the sandbox in its own process, an initial sync, then cycles that each change 5% of the
accounts. Checks the figures agree with one another (every changed row planned, sent, confirmed and held by the
sandbox; nothing else sent), never how fast anything was."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).parents[1]
ROWS, CYCLES, CHANGE = 20_000, 3, 0.05


def _number(text: str) -> int:
    return int(text.replace(",", ""))


def test_small_load_prints_one_consistent_line_per_cycle(tmp_path: Path) -> None:
    figures = tmp_path / "load.json"
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "load.py"),
            "--rows",
            str(ROWS),
            "--cycles",
            str(CYCLES),
            "--change",
            str(CHANGE),
            "--json",
            str(figures),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    lines = [line for line in result.stdout.splitlines() if re.match(r"cycle +\d+  limit ", line)]
    assert [int(line.split()[1]) for line in lines] == list(range(CYCLES + 1))

    changed_per_cycle = round(ROWS * CHANGE)
    for cycle, line in enumerate(lines):
        counts = {
            name: _number(value) for name, value in re.findall(r"(changed|planned|sent|confirmed) +([\d,]+)", line)
        }
        want = ROWS if cycle == 0 else changed_per_cycle
        assert counts == {"changed": want, "planned": want, "sent": want, "confirmed": want}, line
        assert line.endswith("sandbox ok"), line

    report = json.loads(figures.read_text())
    assert report["problems"] == []
    records = report["cycles"]
    assert [r["cycle"] for r in records] == list(range(CYCLES + 1))
    assert records[0]["limit_per_10s"] > 190 and all(r["limit_per_10s"] == 190 for r in records[1:])
    for r in records:
        assert r["status"] == "succeeded"
        assert r["rejected"] == r["pending"] == r["missing"] == r["wrong"] == 0
        assert r["verified"] == r["changed"]
        # At most 100 records a call: the calls carry every row, and the few rows changed here need no retry.
        assert r["http_calls"] >= math.ceil(r["changed"] / 100)
        assert r["http_429"] <= r["http_calls"] and r["settled_rss_mb"] > 0 and r["rss_mb"] <= r["peak_rss_mb"]
    assert all(r["http_calls"] == changed_per_cycle // 100 and r["http_429"] == 0 for r in records[1:])

    summary = report["summary"]
    assert summary["cycles"] == CYCLES and summary["http_calls"] == sum(r["http_calls"] for r in records[1:])
    assert summary["settled_rss_after_cycle_2_mb"] == records[2]["settled_rss_mb"]
    assert summary[f"settled_rss_after_cycle_{CYCLES}_mb"] == records[CYCLES]["settled_rss_mb"]
    assert summary["memory"] in {"flat", "grew", "shrank"}
    assert re.search(
        rf"memory: {summary['memory']} \(settled RSS after cycle 2 {records[2]['settled_rss_mb']:,} MB, "
        rf"after cycle {CYCLES} {records[CYCLES]['settled_rss_mb']:,} MB",
        result.stdout,
    )
    assert re.search(
        rf"final check: {ROWS:,} accounts in the warehouse, {ROWS:,} companies in the sandbox, "
        r"0 missing, 0 with another score",
        result.stdout,
    )


def test_bad_options_are_one_line_errors() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "bench" / "load.py"), "--change", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].endswith("--change in (0, 1]")
    assert "Traceback" not in result.stderr
