"""bench/compare.py, tiny: syncer and the bare script on the same 3,000 accounts, as processes. Checks the figures
agree with one another (both sides find the same changes; the sink counted the calls each side reported, the
minimum for 100-row batches), never how fast anything was."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).parents[1]
ROWS = 3_000


def test_tiny_comparison_prints_consistent_figures_for_both_sides(tmp_path: Path) -> None:
    figures = tmp_path / "compare.json"
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "compare.py"),
            "--rows",
            str(ROWS),
            "--repeats",
            "2",
            "--skip",
            "effects",
            "--json",
            str(figures),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    rows = {row["scenario"].split(",")[0]: row for row in json.loads(figures.read_text())}
    assert set(rows) == {
        "first plan",
        "first sync to the sink",
        "re-plan after a rebuild",
        "end to end rebuild (plan",
        "`syncer --help`",
        "`syncer validate` (demo project)",
    }

    assert rows["first plan"]["syncer_changes"] == rows["first plan"]["bare_changes"] == ROWS
    first_sync = rows["first sync to the sink"]
    assert first_sync["syncer_changes"] == first_sync["bare_changes"] == ROWS
    assert first_sync["syncer_calls"] == first_sync["bare_calls"] == [math.ceil(ROWS / 100)]
    replan = rows["re-plan after a rebuild"]
    assert 0 < replan["syncer_changes"] == replan["bare_changes"] < ROWS / 10  # about 1% of scores moved
    e2e = rows["end to end rebuild (plan"]
    assert e2e["syncer_changes"] == e2e["bare_changes"] == replan["syncer_changes"]
    assert e2e["syncer_calls"] == e2e["bare_calls"] == [math.ceil(replan["syncer_changes"] / 100)] * 2
    for row in rows.values():
        assert row["calls_match"], row
        assert len(row["syncer_all_s"]) == len(row["bare_all_s"]) == (1 if row is first_sync else 2)
        assert row["ratio"] == row["syncer_s"] / row["bare_s"] and row["syncer_rss_mb"] > 0 and row["bare_rss_mb"] > 0
        assert row["scenario"] in result.stdout
    assert "import syncer.cli" in result.stdout
