"""`syncer sandbox` serves all three emulators on 127.0.0.1, prints where, and each answers its inspection API."""

from __future__ import annotations

import os
import re
import signal
import ssl
import subprocess
import sys
from pathlib import Path

import httpx


def test_syncer_sandbox_serves_all_three_and_prints_where(tmp_path: Path) -> None:
    command = [
        sys.executable,
        "-c",
        "from syncer.cli import main; main()",
        "sandbox",
        "--directory",
        str(tmp_path),
        "--hubspot-port",
        "0",
        "--salesforce-port",
        "0",
        "--slack-port",
        "0",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env={**os.environ, "COLUMNS": "200"})
    try:
        assert process.stdout is not None
        urls: dict[str, str] = {}
        while len(urls) < 3:
            line = process.stdout.readline()
            assert line, "the sandbox exited before printing its URLs"
            match = re.match(r"(hubspot|salesforce|slack)\s+(\S+)", line)
            if match:
                urls[match.group(1)] = match.group(2)
        assert urls["salesforce"].startswith("https://127.0.0.1:")
        assert urls["slack"].endswith("/api/")
        trust = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
        for name, url in urls.items():
            base = url.removesuffix("/api/")
            state = httpx.get(f"{base}/_sandbox/state", verify=trust if name == "salesforce" else True).json()
            assert state, name
        owners_url, query = f"{urls['hubspot']}/crm/v3/owners/", {"email": "dana.kim@yourco.com"}
        owners = httpx.get(owners_url, params=query, headers={"Authorization": "Bearer sandbox-hubspot-token"}).json()
        assert [o["email"] for o in owners["results"]] == ["dana.kim@yourco.com"]
        # Only the demo's token: HubSpot answers any other with 401, as a real portal does.
        refused = httpx.get(owners_url, params=query, headers={"Authorization": "Bearer demo"})
        assert refused.status_code == 401 and refused.json()["category"] == "INVALID_AUTHENTICATION"
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=20)  # waits, and closes the pipe it drained
    assert process.returncode == 0
