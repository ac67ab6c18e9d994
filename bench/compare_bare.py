"""The bare script the benchmark holds syncer against: the same work on the same files, nothing else.

No guardrails, no row errors, no state beyond one ``(key, hash)`` table: DuckDB hashes the mapped columns of the
bench mapping (the six fields of ``bench/compare_project.py``, normalised as the mapping does: the score rounded,
the reason cut at 255 characters), anti-joins the snapshot and fetches the changed keys' rows; delivery is httpx
POSTs of 100-row JSON batches, one after another on one keep-alive connection. Run as its own process by
``bench/compare.py``; prints one JSON line: ``{"changes": n, "calls": n}``.

    python bench/compare_bare.py first|replan|e2e|push --warehouse W --snapshot S [--url U]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import duckdb

BATCH = 100
# The mapped columns as the mapping normalises them (the comparison syncer makes, minus its guardrails).
FIELDS = (
    "account_name AS name, domain, CAST(round(pql_score) AS BIGINT) AS pql_score, pql_tier, "
    "left(pql_reason, 255) AS pql_reason, became_pql_at AS pql_since"
)
ROW_HASH = "hash(account_name, domain, round(pql_score), pql_tier, left(pql_reason, 255), became_pql_at)"


def _connect(warehouse: Path, snapshot: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(snapshot))
    con.execute(f"ATTACH '{warehouse}' AS w (READ_ONLY)")
    return con


def first_plan(con: duckdb.DuckDBPyConnection) -> int:
    """Hash every row and write the snapshot."""
    con.execute(f"CREATE OR REPLACE TABLE snap AS SELECT account_id AS key, {ROW_HASH} AS h FROM w.scored_accounts")
    return int(con.execute("SELECT count(*) FROM snap").fetchone()[0])  # type: ignore[index]


def detect(con: duckdb.DuckDBPyConnection) -> list[tuple[object, ...]]:
    """The changed keys (hash differs or key new) and their mapped rows; ``changed`` keeps the new hashes."""
    con.execute(f"""CREATE OR REPLACE TEMP TABLE changed AS
                    SELECT cur.key, cur.h FROM (SELECT account_id AS key, {ROW_HASH} AS h FROM w.scored_accounts) AS cur
                    ANTI JOIN snap ON snap.key = cur.key AND snap.h = cur.h""")
    return con.execute(
        f"SELECT account_id, {FIELDS} FROM w.scored_accounts SEMI JOIN changed ON changed.key = account_id"
    ).fetchall()


def push(url: str, rows: list[tuple[object, ...]]) -> int:
    """POST ``rows`` as 100-row JSON batches; every reply must be 2xx. Returns the calls made."""
    import httpx

    names = ("key", "name", "domain", "pql_score", "pql_tier", "pql_reason", "pql_since")
    calls = 0
    with httpx.Client(timeout=30) as client:
        for start in range(0, len(rows), BATCH):
            records = [
                {
                    "key": row[0],
                    "fields": {n: None if v is None else str(v) for n, v in zip(names[1:], row[1:], strict=True)},
                }
                for row in rows[start : start + BATCH]
            ]
            reply = client.post(
                url,
                content=json.dumps({"operation": "upsert", "records": records}),
                headers={"Content-Type": "application/json"},
            )
            reply.raise_for_status()
            calls += 1
    return calls


def update_snapshot(con: duckdb.DuckDBPyConnection) -> None:
    """Fold the changed keys' new hashes into the snapshot (as a commit of every confirmed row would)."""
    con.execute("DELETE FROM snap WHERE key IN (SELECT key FROM changed)")
    con.execute("INSERT INTO snap SELECT key, h FROM changed")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=["first", "replan", "e2e", "push"])
    parser.add_argument("--warehouse", type=Path, required=True)
    parser.add_argument("--snapshot", type=Path, required=True)
    parser.add_argument("--url")
    args = parser.parse_args(argv)
    con = _connect(args.warehouse, args.snapshot)
    calls = 0
    if args.step == "first":
        changes = first_plan(con)
    elif args.step == "push":  # a first sync: everything is new
        con.execute("CREATE OR REPLACE TABLE snap (key VARCHAR, h UBIGINT)")
        rows = detect(con)
        calls = push(args.url, rows)
        update_snapshot(con)
        changes = len(rows)
    else:
        rows = detect(con)
        changes = len(rows)
        if args.step == "e2e":
            calls = push(args.url, rows)
            update_snapshot(con)
    con.close()
    print(json.dumps({"changes": changes, "calls": calls}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
