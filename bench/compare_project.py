"""The project ``bench/compare.py`` runs syncer on: one webhook mapping of six fields to the bench's counting sink.

``write_project`` lays out ``syncer.yaml``, ``mappings/bench_hook.yaml`` and the sample warehouse;
``rebuild`` rebuilds ``scored_accounts`` in full as a dbt full refresh does (every ``updated_at`` new, 1% of scores
moved); ``seed`` plans every row and commits it as confirmed, the state a re-plan starts from, without sending a
million rows first; ``demo_project`` copies the repository's demo project with its sample warehouse. Each runs in a
process of its own (``python bench/compare_project.py STEP ARGS...``), so the harness stays small: a child's peak
RSS counts what its parent held when it was spawned.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
SYNC = "bench_hook"

MAPPING = f"""\
name: {SYNC}
model: {{table: scored_accounts}}
key: account_id
destination:
  connector: hook
  object: accounts
  mode: upsert
  match: {{column: account_id, field: account_id}}
fields:
  name: account_name
  domain: domain
  pql_score: {{source: pql_score, type: number, round: 0}}
  pql_tier: pql_tier
  pql_reason: {{source: pql_reason, max_length: 255, truncate: true}}
  pql_since: {{source: became_pql_at, type: datetime}}
"""

PROJECT = """\
warehouse: {{url: "duckdb:///warehouse.duckdb"}}
state: {{url: "duckdb:///.syncer/state.duckdb"}}
connectors:
  hook: {{type: webhook, url: "{url}", batch_size: 100, requests_per_second: 1000000}}
"""


def write_project(root: Path, url: str, rows: int) -> None:
    """The project in ``root`` (created), its warehouse of ``rows`` sample accounts built."""
    sys.path.insert(0, str(ROOT))
    from syncer.demo.sample_warehouse import build_sample_warehouse

    (root / "mappings").mkdir(parents=True)
    (root / "mappings" / f"{SYNC}.yaml").write_text(MAPPING)
    (root / "syncer.yaml").write_text(PROJECT.format(url=url))
    build_sample_warehouse(root / "warehouse.duckdb", accounts=rows)


def rebuild(warehouse: Path) -> None:
    """Every row rewritten with a new ``updated_at``; the accounts whose hash falls in 1% gain 7 score points."""
    con = duckdb.connect(str(warehouse))
    try:
        con.execute("""CREATE OR REPLACE TABLE scored_accounts AS
                       SELECT * REPLACE (CASE WHEN hash(account_id, 'bench') % 100 = 0
                                              THEN CAST(LEAST(pql_score + 7, 100) AS DECIMAL(4, 1))
                                              ELSE pql_score END AS pql_score,
                                         current_timestamp::TIMESTAMP AS updated_at)
                       FROM scored_accounts""")
    finally:
        con.close()


def seed(root: Path) -> int:
    """Plan every row of the project's sync and commit it as confirmed; returns the rows committed."""
    sys.path.insert(0, str(ROOT))
    from syncer.app import App
    from syncer.commit import commit_all
    from syncer.contract.clock import naive_now
    from syncer.planning.planner import plan_sync

    app = App(root)
    try:
        config = app.project.sync(SYNC)
        plan = plan_sync(config, app.store, app.warehouse, app.batch_size)
        committed = commit_all(app.store, config.name, plan.changes, naive_now())
        app.store.snapshot.flush(config.name)
    finally:
        app.close()
    return committed


def demo_project(directory: Path, accounts: int = 5_000) -> None:
    """A copy of the repository's demo project (``syncer.yaml``, ``mappings/``) with its sample warehouse built."""
    sys.path.insert(0, str(ROOT))
    from syncer.demo.sample_warehouse import build_sample_warehouse

    directory.mkdir(parents=True)
    shutil.copy(ROOT / "syncer.yaml", directory / "syncer.yaml")
    shutil.copytree(ROOT / "mappings", directory / "mappings")
    (directory / "demo").mkdir()
    build_sample_warehouse(directory / "demo" / "warehouse.duckdb", accounts=accounts)


def main(argv: list[str]) -> int:
    steps = {
        "project": lambda: write_project(Path(argv[1]), argv[2], int(argv[3])),
        "rebuild": lambda: rebuild(Path(argv[1])),
        "seed": lambda: print(seed(Path(argv[1]))),
        "demo": lambda: demo_project(Path(argv[1])),
    }
    if not argv or argv[0] not in steps:
        print("usage: compare_project.py project ROOT URL ROWS | rebuild WAREHOUSE | seed ROOT | demo DIRECTORY")
        return 2
    steps[argv[0]]()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
