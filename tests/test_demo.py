"""`syncer demo` on the shipped project: it serves the sandbox where syncer.yaml points, runs a first sync, simulates a
day of product usage, runs a second sync that sends only the changes, creates tasks and alerts reps under the caps,
and shows what landed, read back from the sandbox."""

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


def test_demo_tells_the_story_first_sync_a_simulated_day_and_a_second_sync_under_the_caps(tmp_path: Path) -> None:
    shutil.copytree(REPO / "mappings", tmp_path / "mappings")
    shutil.copy(REPO / "syncer.yaml", tmp_path / "syncer.yaml")
    hubspot, salesforce, slack = _free_port(), _free_port(), _free_port()
    env = {
        **os.environ,
        "COLUMNS": "200",
        "HUBSPOT_BASE_URL": f"http://127.0.0.1:{hubspot}",
        "SALESFORCE_INSTANCE_URL": f"https://127.0.0.1:{salesforce}",
        "SLACK_BASE_URL": f"http://127.0.0.1:{slack}/api/",
    }
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from syncer.cli import main; main()",
            "demo",
            "-p",
            str(tmp_path),
            "--accounts",
            "1500",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    out = result.stdout
    stages = [out.index(f"{n}. ") for n in (1, 2, 3, 4)]
    assert stages == sorted(stages)
    first, second, did = out[stages[0] : stages[1]], out[stages[2] : stages[3]], out[stages[3] :]
    # The shipped mapping creates companies for hot and warm accounts only: the cold ones are skipped, not sent.
    ran = re.search(r"hubspot_companies\s+│\s+succeeded\s+│\s+(\d+)\s+│\s+(\d+)", first)
    created = re.search(r"hubspot_companies: created (\d+), adopted 0", first)
    skipped = re.search(r"hubspot_companies: (\d+) new key\(s\) skipped by create_when", first)
    assert ran is not None and created is not None and skipped is not None
    assert ran.group(1) == ran.group(2) == created.group(1)
    assert 0 < int(created.group(1)) < 1500 and int(created.group(1)) + int(skipped.group(1)) == 1500
    warmed = re.search(r"hubspot_companies: created (\d+), adopted 0", second)
    assert warmed is not None and int(warmed.group(1)) > 0
    sent = re.search(
        r"hubspot_companies: (\d+) row\(s\) sent, (\d+) unchanged, (\d+) API call\(s\); "
        r"tasks created: (\d+)",
        did,
    )
    assert sent is not None
    changed, unchanged, calls, tasks = (int(g) for g in sent.groups())
    new, updated = int(warmed.group(1)), changed - int(warmed.group(1))
    assert updated > 0 and changed + unchanged == int(created.group(1)) + new and tasks > 0
    # Updates go by record id (one call per 100); each batch of creates is a search by domain for a company to
    # adopt, then an upsert; the creates' upsert reads the property definitions once.
    assert calls == -(-updated // 100) + 2 * -(-new // 100) + 1
    dana = re.search(r"dana\.kim@yourco\.com\s+│\s+(\d+)\s+│\s+(\d+)", did)
    assert dana is not None and int(dana.group(1)) == 3 and int(dana.group(2)) >= 1  # 3 sent; the rest digested
    per_rep = [int(n) for n in re.findall(r"@yourco\.com\s+│\s+(\d+)\s+│", did)]
    received = re.search(r"Slack received (\d+) alert message", did)
    assert received is not None and int(received.group(1)) == sum(per_rep) > 3
    landed = re.search(r"HubSpot companies with a PQL score: (\d+); Salesforce Accounts with a PQL score: (\d+)", out)
    assert landed is not None
    assert int(landed.group(1)) == int(created.group(1)) + new and int(landed.group(2)) > 0
    assert "syncer daemon" in out
