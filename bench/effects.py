"""Benchmark of the effects engine: a day on which N accounts cross the alert threshold at once.

A watch sync over N accounts (owners spread over the 24 sample reps) runs once quietly, then every account crosses
80 and a second run stages N alert intents, decides them under the caps (3 a day per rep, the rest to digests),
posts what may go out through the real Slack SDK to the sandbox (paced per channel) and writes the alert log to the
warehouse. Prints the time of each step, the Slack calls, and peak RSS. The sandbox runs in this process.

    .venv/bin/python bench/effects.py --accounts 20000
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from connectors.sandbox import Sandbox  # noqa: E402
from connectors.sandbox.people import sample_reps  # noqa: E402
from syncer.app import App  # noqa: E402
from syncer.runner import Pacing  # noqa: E402

WATCH = """\
name: watch
model: {table: accounts}
key: account_id
fields:
  pql_score: {source: pql_score, type: number}
triggers:
  - name: crossed
    when: "new.pql_score >= 80 AND coalesce(CAST(old.pql_score AS DOUBLE), 0) < 80"
    alert: {connector: slack, template: "*{{ account_name }}* crossed 80 ({{ pql_score }})"}
"""


def _warehouse(path: Path, accounts: int, *, hot: bool) -> None:
    reps = [rep.email for rep in sample_reps()]
    con = duckdb.connect(str(path))
    try:
        con.execute(
            "CREATE OR REPLACE TABLE accounts AS SELECT 'acc_' || i AS account_id, 'Account ' || i AS "
            f"account_name, {reps!r}[1 + i % {len(reps)}] AS owner_email, "
            f"CAST({'80 + i % 20' if hot else '40 + i % 20'} AS DOUBLE) AS pql_score "
            f"FROM range({accounts}) AS t(i)"
        )
    finally:
        con.close()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--json", action="store_true", help="end with one JSON line (for bench/compare.py)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as work, Sandbox.start(Path(work) / "sandbox") as sandbox:
        root = Path(work) / "project"
        (root / "mappings").mkdir(parents=True)
        (root / "mappings" / "watch.yaml").write_text(WATCH)
        (root / "syncer.yaml").write_text(f"""\
warehouse: {{url: "duckdb:///warehouse.duckdb"}}
state: {{url: "duckdb:///.syncer/state.duckdb"}}
connectors:
  slack: {{type: slack, token: xoxb-sandbox-token, base_url: "{sandbox.urls["slack"]}"}}
alerts: {{quiet_hours: null, first_run: skip}}
""")
        _warehouse(root / "warehouse.duckdb", args.accounts, hot=False)
        app = App(root)
        day = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=1)
        sync = app.project.sync("watch")
        app.run(sync, app.run_options(), now=lambda: day)
        _warehouse(root / "warehouse.duckdb", args.accounts, hot=True)
        started = time.perf_counter()
        # Every account moves at once: past the mass-change guard, which a human allows here.
        outcome = app.run(
            sync, app.run_options(allow_mass_change=True), now=lambda: day + timedelta(hours=1), pacing=Pacing()
        )
        seconds = time.perf_counter() - started
        effects = outcome.effects
        assert effects is not None, outcome.error
        calls = sum(sandbox.slack.log.counts().values())
        app.close()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    plan_s = outcome.plan.meta.get("seconds") if outcome.plan else None
    print(f"accounts crossing: {args.accounts}")
    print(
        f"run: {seconds:.2f} s (plan {plan_s} s, trigger evaluation {outcome.plan.meta.get('trigger_seconds')} s)"
        if outcome.plan
        else f"run: {seconds:.2f} s"
    )
    print(f"staged: {effects.staged}; decisions: {dict(effects.decisions)}; posted: {dict(effects.alerts)}")
    print(
        f"Slack calls through the pacer: {effects.api_calls} (429s: {effects.rate_limited}); sandbox requests: {calls}"
    )
    print(f"alert log: {effects.log}")
    print(f"peak RSS: {peak_mb:.0f} MB (sandbox included)")
    if args.json:
        print(json.dumps({"run_s": seconds, "decided": sum(effects.decisions.values()), "staged": effects.staged}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
