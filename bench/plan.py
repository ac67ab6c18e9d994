"""Benchmark of planning: first sync, then a re-plan after a full rebuild that changed 1% of rows.

For each ``--rows N``: build a sample warehouse of N scored accounts, plan the first sync (every row a create),
commit it as if the destination confirmed everything, rebuild ``scored_accounts`` in full with a new ``updated_at``
on every row and 1% of scores changed (as a dbt full refresh does), and plan again. The re-plan must list exactly the
changed rows. Each step runs in its own process so its peak RSS is its own.

    .venv/bin/python bench/plan.py --rows 1000000 --rows 10000000
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from syncer.commit import commit_all  # noqa: E402
from syncer.config.sync import FieldSpec, SyncConfig  # noqa: E402
from syncer.contract.enums import FieldType  # noqa: E402
from syncer.demo.sample_warehouse import build_sample_warehouse  # noqa: E402
from syncer.planning.planner import plan_sync  # noqa: E402
from syncer.state.duckdb_store import DuckDBStateStore  # noqa: E402
from syncer.warehouse.duckdb_warehouse import DuckDBWarehouse  # noqa: E402

SYNC = SyncConfig.model_validate(
    {
        "name": "bench_companies",
        "model": {"table": "scored_accounts"},
        "key": "account_id",
        "destination": {
            "connector": "hubspot",
            "object": "companies",
            "mode": "upsert",
            "match": {"column": "account_id", "field": "product_account_id"},
        },
        "fields": {
            "name": "account_name",
            "domain": "domain",
            "pql_score": {"source": "pql_score", "type": "number", "round": 0},
            "pql_tier": "pql_tier",
            "pql_reason": {"source": "pql_reason", "max_length": 255, "truncate": True},
            "pql_since": {"source": "became_pql_at", "type": "datetime"},
        },
    }
)


TEMPLATED = SYNC.model_copy(
    update={
        "name": "bench_templated",
        "fields": {
            **SYNC.fields,
            "pql_context": FieldSpec(
                template="{{ account_name }}: {{ signals.invites_30d }} invites, "
                "{{ signals.active_days_30d }} active days"
            ),
        },
    }
)


WITH_JSON = SYNC.model_copy(
    update={
        "name": "bench_json",
        "fields": {**SYNC.fields, "pql_signals": FieldSpec(source="signals", type=FieldType.JSON)},
    }
)


def _sync(variant: str) -> SyncConfig:
    return {"template": TEMPLATED, "json": WITH_JSON}.get(variant, SYNC)


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def step_build(work: Path, rows: int) -> dict[str, Any]:
    started = time.perf_counter()
    build_sample_warehouse(work / "warehouse.duckdb", accounts=rows)
    return {"seconds": time.perf_counter() - started}


def step_plan(work: Path, *, commit: bool, variant: str) -> dict[str, Any]:
    sync = _sync(variant)
    store = DuckDBStateStore(work / "state.duckdb", memory_limit="1GB")
    warehouse = DuckDBWarehouse(work / "warehouse.duckdb")
    started = time.perf_counter()
    plan = plan_sync(sync, store, warehouse, batch_size=100_000)
    seconds = time.perf_counter() - started
    result: dict[str, Any] = {"seconds": seconds, "counts": plan.counts.as_dict(), "rejected": plan.rejected_total}
    if commit:
        started = time.perf_counter()
        commit_all(store, sync.name, plan.changes, _now())
        store.snapshot.flush(sync.name)  # the end of a run folds the commits into the snapshot
        result["commit_seconds"] = time.perf_counter() - started
    else:
        changes = plan.changes.to_table()
        expected = duckdb.connect(str(work / "expected.duckdb"), read_only=True)
        want = {row[0] for row in expected.execute("SELECT account_id FROM changed").fetchall()}
        expected.close()
        got = set(changes.column("key").to_pylist())
        result["exact"] = got == want and all(op == "update" for op in changes.column("op").to_pylist())
        result["expected_changes"] = len(want)
    store.close()
    return result


def step_rebuild(work: Path) -> dict[str, Any]:
    """Rebuild every row (new updated_at), changing the score of the accounts whose hash falls in 1%."""
    expected = duckdb.connect(str(work / "expected.duckdb"))
    expected.execute(f"ATTACH '{work / 'warehouse.duckdb'}' AS w (READ_ONLY)")
    expected.execute("CREATE OR REPLACE TABLE before AS SELECT account_id, pql_score FROM w.scored_accounts")
    expected.execute("DETACH w")
    started = time.perf_counter()
    con = duckdb.connect(str(work / "warehouse.duckdb"))
    con.execute("""CREATE OR REPLACE TABLE scored_accounts AS
                   SELECT * REPLACE (CASE WHEN hash(account_id, 'bench') % 100 = 0
                                          THEN CAST(LEAST(pql_score + 7, 100) AS DECIMAL(4, 1))
                                          ELSE pql_score END AS pql_score,
                                     current_timestamp::TIMESTAMP AS updated_at)
                   FROM scored_accounts""")
    con.close()
    seconds = time.perf_counter() - started
    # What really changed, computed independently of syncer: the score as the mapping rounds it.
    expected.execute(f"ATTACH '{work / 'warehouse.duckdb'}' AS w (READ_ONLY)")
    expected.execute("""CREATE OR REPLACE TABLE changed AS
                        SELECT account_id FROM w.scored_accounts AS after JOIN before USING (account_id)
                        WHERE round(after.pql_score) <> round(before.pql_score)""")
    expected.close()
    return {"seconds": seconds}


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC).replace(tzinfo=None)


def _child(step: str, work: Path, rows: int, variant: str) -> dict[str, Any]:
    flags = {"template": ["--with-template"], "json": ["--with-json"]}.get(variant, [])
    out = subprocess.run(
        [sys.executable, __file__, "--step", step, "--work", str(work), "--rows", str(rows), *flags],
        check=False,
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        raise SystemExit(f"step {step} failed:\n{out.stderr}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, action="append", help="accounts (repeatable)")
    parser.add_argument(
        "--with-template",
        action="store_true",
        help="add a Jinja template field to the mapping (rendered in Python for every row)",
    )
    parser.add_argument("--with-json", action="store_true", help="add a JSON field (the signals) to the mapping")
    parser.add_argument("--step", choices=["build", "first", "rebuild", "replan"], help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    variant = "template" if args.with_template else "json" if args.with_json else "plain"
    if args.step:
        work, rows = args.work, args.rows[0]
        steps = {
            "build": lambda: step_build(work, rows),
            "first": lambda: step_plan(work, commit=True, variant=variant),
            "rebuild": lambda: step_rebuild(work),
            "replan": lambda: step_plan(work, commit=False, variant=variant),
        }
        result = steps[args.step]()
        result["peak_rss_mb"] = _peak_mb()
        print(json.dumps(result))
        return
    print(f"duckdb {duckdb.__version__}, python {sys.version.split()[0]}, cores: 2 (machine limit)")
    for rows in args.rows or [1_000_000]:
        with tempfile.TemporaryDirectory(
            prefix="syncer-bench-", dir=ROOT / ".syncer" if (ROOT / ".syncer").exists() else None
        ) as tmp:
            work = Path(tmp)
            build = _child("build", work, rows, variant)
            first = _child("first", work, rows, variant)
            rebuild = _child("rebuild", work, rows, variant)
            replan = _child("replan", work, rows, variant)
            extra = {"template": " (with a template field)", "json": " (with a JSON field)"}.get(variant, "")
            print(f"\n== {rows:,} accounts{extra} ==")
            print(f"build sample warehouse  {build['seconds']:7.2f} s  peak RSS {build['peak_rss_mb']:7.0f} MB")
            print(
                f"first plan (all create) {first['seconds']:7.2f} s  peak RSS {first['peak_rss_mb']:7.0f} MB  "
                f"{first['counts']}"
            )
            print(f"commit all confirmed    {first['commit_seconds']:7.2f} s")
            print(f"rebuild, 1% changed     {rebuild['seconds']:7.2f} s")
            print(
                f"re-plan                 {replan['seconds']:7.2f} s  peak RSS {replan['peak_rss_mb']:7.0f} MB  "
                f"{replan['counts']}"
            )
            print(f"re-plan lists exactly the {replan['expected_changes']:,} changed rows: {replan['exact']}")


if __name__ == "__main__":
    main()
