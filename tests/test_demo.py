"""`syncer demo` on the shipped project: it serves the sandbox where syncer.yaml points, delivers for real, runs a
second time without writing, and shows what landed, read back from the sandbox."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).parents[1]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_demo_delivers_the_shipped_syncs_and_a_second_run_writes_nothing(tmp_path: Path) -> None:
    shutil.copytree(REPO / "mappings", tmp_path / "mappings")
    shutil.copy(REPO / "syncer.yaml", tmp_path / "syncer.yaml")
    hubspot, salesforce, slack = _free_port(), _free_port(), _free_port()
    env = {**os.environ, "COLUMNS": "200", "HUBSPOT_BASE_URL": f"http://127.0.0.1:{hubspot}",
           "SALESFORCE_INSTANCE_URL": f"https://127.0.0.1:{salesforce}",
           "SLACK_BASE_URL": f"http://127.0.0.1:{slack}/api/"}
    result = subprocess.run([sys.executable, "-c", "from syncer.cli import main; main()", "demo", "-p", str(tmp_path),
                             "--accounts", "400"], env=env, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    out = result.stdout
    first, second = out.split("second run")[0], out.split("second run")[1]
    assert re.search(r"hubspot_companies\s+│\s+succeeded\s+│\s+400\s+│\s+400", first)
    assert re.search(r"hubspot_companies\s+│\s+succeeded\s+│\s+0\s+│\s+0", second)
    assert re.search(r"salesforce_accounts\s+│\s+succeeded\s+│\s+0\s+│\s+0", second)
    landed = re.search(r"HubSpot companies with a PQL score: (\d+); Salesforce Accounts with a PQL score: (\d+)", out)
    assert landed is not None
    assert int(landed.group(1)) == 400 and int(landed.group(2)) > 0
