"""Benchmark of delivery: a first sync of N accounts to the sandbox CRMs, then a 1% re-sync.

The sandbox (HubSpot, Salesforce, Slack emulators at their documented limits: HubSpot 100 requests per rolling
10 s) runs in its own process, so the peak RSS printed is syncer's own. For each CRM it runs the shipped mapping
through the real runner and SDKs twice: a first sync (every account created), then, after a rebuild that moves 1% of
scores and stamps a new ``updated_at`` everywhere, a re-sync. It prints time, rows per second, HTTP calls, 429
answers, the time the limiter held requests back, the most HubSpot requests in any rolling 10 s (against the limit
syncer was given) and peak RSS.

    .venv/bin/python bench/deliver.py --rows 100000
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb
import httpx
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from syncer.app import App  # noqa: E402
from syncer.contract.clock import naive_now  # noqa: E402
from syncer.demo.sample_warehouse import build_sample_warehouse  # noqa: E402
from syncer.runner import RunOptions, run_sync  # noqa: E402

HUBSPOT_WINDOW_S, HUBSPOT_PER_WINDOW = 10.0, 190  # the sandbox emulates a Professional app; syncer is told so
SECRETS = {
    "HUBSPOT_ACCESS_TOKEN": "sandbox-hubspot-token",
    "SALESFORCE_CLIENT_ID": "sandbox-consumer-key",
    "SALESFORCE_CLIENT_SECRET": "sandbox-consumer-secret",
}


def _start_sandbox(directory: Path) -> tuple[subprocess.Popen[str], dict[str, str]]:
    command = [
        sys.executable,
        "-c",
        "from syncer.cli import main; main()",
        "sandbox",
        "--directory",
        str(directory),
        "--hubspot-port",
        "0",
        "--salesforce-port",
        "0",
        "--slack-port",
        "0",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env={**os.environ, "COLUMNS": "200"})
    assert process.stdout is not None
    urls: dict[str, str] = {}
    while len(urls) < 3:
        line = process.stdout.readline()
        if not line:
            raise SystemExit("the sandbox exited before printing its URLs")
        match = re.match(r"(hubspot|salesforce|slack)\s+(\S+)", line)
        if match:
            urls[match.group(1)] = match.group(2)
    return process, urls


def _project(root: Path, urls: dict[str, str], ca_file: Path, rows: int) -> None:
    (root / "mappings").mkdir(parents=True)
    for name in ("hubspot_companies", "salesforce_accounts"):
        # Every account is written (the bench measures rows per second): the shipped mappings' ``create_when`` (hot
        # and warm accounts only) and ``adopt_by`` (a lookup before each create batch, into empty sandboxes) go.
        mapping = yaml.safe_load((ROOT / "mappings" / f"{name}.yaml").read_text())
        for option in ("create_when", "adopt_by"):
            mapping["destination"].pop(option, None)
        (root / "mappings" / f"{name}.yaml").write_text(yaml.safe_dump(mapping, sort_keys=False))
    (root / "syncer.yaml").write_text(f"""\
warehouse: {{url: "duckdb:///warehouse.duckdb"}}
state: {{url: "duckdb:///.syncer/state.duckdb"}}
connectors:
  hubspot: {{type: hubspot, access_token: "${{HUBSPOT_ACCESS_TOKEN}}", base_url: "{urls["hubspot"]}",
            requests_per_10s: {HUBSPOT_PER_WINDOW}}}
  salesforce: {{type: salesforce, instance_url: "{urls["salesforce"]}", client_id: "${{SALESFORCE_CLIENT_ID}}",
               client_secret: "${{SALESFORCE_CLIENT_SECRET}}", ca_bundle: "{ca_file}"}}
""")
    build_sample_warehouse(root / "warehouse.duckdb", accounts=rows)


def _move_scores(path: Path, percent: float) -> None:
    con = duckdb.connect(str(path))
    try:
        con.execute(
            f"UPDATE scored_accounts SET pql_score = least(pql_score + 7, 100), updated_at = now() "
            f"WHERE hash(account_id, 'bench') % 10000 < {int(percent * 100)}"
        )
        con.execute("UPDATE scored_accounts SET updated_at = now()")
    finally:
        con.close()


def _requests(url: str, verify: Any) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = httpx.get(f"{url}/_sandbox/requests", verify=verify, timeout=60).json()
    return entries


def _peak_in_window(moments: list[float]) -> int:
    """The most requests that started within any rolling window of HubSpot's length."""
    peak, first = 0, 0
    for last, moment in enumerate(moments):
        while moments[first] <= moment - HUBSPOT_WINDOW_S:
            first += 1
        peak = max(peak, last - first + 1)
    return peak


def _measure(app: App, sync: str, url: str, verify: Any) -> dict[str, Any]:
    before = len(_requests(url, verify))
    started = time.perf_counter()
    outcome = run_sync(
        app.project.sync(sync),
        app.store,
        app.warehouse,
        naive_now,
        app.open_destination,
        RunOptions(batch_size=app.batch_size),
    )
    seconds = time.perf_counter() - started
    entries = _requests(url, verify)[before:]
    report = outcome.summary()
    statuses = [int(entry["status"]) for entry in entries]
    figures: dict[str, Any] = {
        "sync": sync,
        "status": report["status"],
        "confirmed": report["confirmed"],
        "seconds": round(seconds, 2),
        "rows_per_s": round(report["confirmed"] / seconds) if seconds else 0,
        "http_calls": len(entries),
        "http_429": statuses.count(429),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    figures["waited_for_limits_s"] = round(outcome.delivery.waited_s, 2) if outcome.delivery else 0.0
    if sync.startswith("hubspot"):
        figures |= {
            "peak_requests_in_10s": _peak_in_window(sorted(float(entry["at"]) for entry in entries)),
            "limit_per_10s": HUBSPOT_PER_WINDOW,
        }
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--percent", type=float, default=1.0, help="Share of scores moved before the re-sync.")
    parser.add_argument("--only", choices=("hubspot_companies", "salesforce_accounts"), action="append")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="syncer-bench-") as tmp:
        root = Path(tmp)
        process, urls = _start_sandbox(root / "sandbox")
        try:
            _project(root / "project", urls, root / "sandbox" / "ca.pem", args.rows)
            app = App(root / "project", SECRETS)
            verify = {"hubspot_companies": True, "salesforce_accounts": str(root / "sandbox" / "ca.pem")}
            vendor = {"hubspot_companies": "hubspot", "salesforce_accounts": "salesforce"}
            for sync in args.only or ("hubspot_companies", "salesforce_accounts"):
                print(
                    json.dumps(
                        {
                            "step": "first sync",
                            "rows": args.rows,
                            **_measure(app, sync, urls[vendor[sync]], verify[sync]),
                        }
                    ),
                    flush=True,
                )
            _move_scores(root / "project" / "warehouse.duckdb", args.percent)
            for sync in args.only or ("hubspot_companies", "salesforce_accounts"):
                print(
                    json.dumps(
                        {
                            "step": f"re-sync after {args.percent}% moved",
                            "rows": args.rows,
                            **_measure(app, sync, urls[vendor[sync]], verify[sync]),
                        }
                    ),
                    flush=True,
                )
            app.close()
        finally:
            process.terminate()
            process.wait(timeout=30)


if __name__ == "__main__":
    main()
