"""A realistic warehouse of product-led accounts, generated in DuckDB SQL (the same code builds 5,000 rows for the
demo and ten million for the benchmark).

Tables, as a dbt project would leave them:

- ``reps``: the sales team (from :mod:`connectors.sandbox.people`), with role and time zone.
- ``accounts``: firmographics, the account owner's e-mail and, for most accounts, the CRM id.
- ``account_signals``: product usage over the last 30 days (seats, invites, limit hits, active days, ...).
- ``scored_accounts``: the PQL model: a weighted sum of usage signals times a fit multiplier, a tier, the reason in
  words, the signals as JSON, and ``updated_at`` stamped on every rebuild, as a full dbt run does.

Randomness comes from ``hash(account, salt)``: deterministic for a given ``seed`` and ``day``. Each ``day`` a few
percent of accounts heat up (more invites, active days, limit hits), so rebuilding with ``day + 1`` moves some scores;
in the first rep's territory a campaign makes it a fifth of the accounts, so that rep gets far more PQLs than the
alert caps let through (the demo's story).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb

from connectors.sandbox.people import sample_reps
from syncer.contract import clock
from syncer.contract.clock import naive_utc

_PREFIXES = [
    "North",
    "Blue",
    "Bright",
    "Iron",
    "Silver",
    "Cedar",
    "Harbor",
    "Summit",
    "Lumen",
    "Atlas",
    "Nimbus",
    "Quartz",
    "Maple",
    "Orbit",
    "Pioneer",
    "Crescent",
    "Falcon",
    "Granite",
    "Horizon",
    "Juniper",
]
_STEMS = ["wind", "stone", "field", "bridge", "light", "works", "forge", "path", "gate", "wave", "leaf", "peak"]
_SUFFIXES = [
    "Traders",
    "Labs",
    "Analytics",
    "Health",
    "Logistics",
    "Robotics",
    "Studios",
    "Systems",
    "Foods",
    "Energy",
    "Capital",
    "Software",
]
_INDUSTRIES = ["software", "healthcare", "logistics", "finance", "retail", "manufacturing", "media", "education"]
_COUNTRIES = ["US", "US", "US", "GB", "DE", "FR", "CA", "NL", "AU", "SE"]
_FREE_MAIL = ["gmail.com", "outlook.com", "yahoo.com"]


def _sql_list(values: list[str]) -> str:
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def build_sample_warehouse(
    path: Path, accounts: int = 5_000, day: int = 0, seed: int = 7, built_at: datetime | None = None
) -> int:
    """(Re)build the sample warehouse at ``path``; return the number of scored accounts."""
    path.parent.mkdir(parents=True, exist_ok=True)
    stamp = naive_utc(built_at or clock.now())
    reps = sample_reps()
    con = duckdb.connect(str(path))
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute("CREATE OR REPLACE TABLE reps (email VARCHAR PRIMARY KEY, name VARCHAR, role VARCHAR, tz VARCHAR)")
        con.executemany("INSERT INTO reps VALUES (?, ?, ?, ?)", [[r.email, r.name, r.role, r.tz] for r in reps])
        _build_accounts(con, accounts, seed, [r.email for r in reps])
        _build_signals(con, day, seed, reps[0].email)
        _build_scores(con, stamp)
        return int(con.execute("SELECT count(*) FROM scored_accounts").fetchall()[0][0])
    finally:
        con.close()


def _build_accounts(con: duckdb.DuckDBPyConnection, accounts: int, seed: int, owners: list[str]) -> None:
    con.execute(f"""
CREATE OR REPLACE TABLE accounts AS
WITH base AS (
    SELECT i, CAST(hash(i, {seed}, 'name') >> 1 AS BIGINT) AS hn, CAST(hash(i, {seed}, 'fit') >> 1 AS BIGINT) AS hf,
           CAST(hash(i, {seed}, 'misc') >> 1 AS BIGINT) AS hm
    FROM range({accounts}) AS t(i)
)
SELECT
    'acc_' || lpad(CAST(i AS VARCHAR), 7, '0') AS account_id,
    {_sql_list(_PREFIXES)}[1 + hn % {len(_PREFIXES)}] || {_sql_list(_STEMS)}[1 + (hn >> 8) % {len(_STEMS)}]
        || ' ' || {_sql_list(_SUFFIXES)}[1 + (hn >> 16) % {len(_SUFFIXES)}] AS account_name,
    CASE WHEN hm % 20 = 0 THEN {_sql_list(_FREE_MAIL)}[1 + (hm >> 4) % {len(_FREE_MAIL)}]
         ELSE lower({_sql_list(_PREFIXES)}[1 + hn % {len(_PREFIXES)}] || {_sql_list(_STEMS)}[1 + (hn >> 8) %
              {len(_STEMS)}]) || CAST(i AS VARCHAR) || '.io' END AS domain,
    CASE WHEN hf % 10 < 2 THEN 'enterprise' WHEN hf % 10 < 5 THEN 'mid_market' ELSE 'smb' END AS fit_tier,
    CAST(CASE WHEN hf % 10 < 2 THEN 1000 + (hf >> 8) % 9000 WHEN hf % 10 < 5 THEN 100 + (hf >> 8) % 900
              ELSE 2 + (hf >> 8) % 98 END AS INTEGER) AS employees,
    {_sql_list(_INDUSTRIES)}[1 + (hm >> 12) % {len(_INDUSTRIES)}] AS industry,
    {_sql_list(_COUNTRIES)}[1 + (hm >> 20) % {len(_COUNTRIES)}] AS country,
    {_sql_list(owners)}[1 + (hm >> 28) % {len(owners)}] AS owner_email,
    CASE WHEN (hm >> 36) % 10 < 6 THEN '001' || lpad(CAST(i AS VARCHAR), 15, '0') END AS crm_account_id
FROM base""")


def _build_signals(con: duckdb.DuckDBPyConnection, day: int, seed: int, surge_owner: str) -> None:
    # Each day up to `day`, about 3% of accounts (20% of the surge owner's) have a burst of activity; bursts add up.
    con.execute(f"""
CREATE OR REPLACE TABLE account_signals AS
WITH raw AS (
    SELECT account_id, CAST(hash(account_id, {seed}, 'usage') >> 1 AS BIGINT) AS hu,
           CAST(hash(account_id, {seed}, 'more') >> 1 AS BIGINT) AS hx,
           (SELECT count(*) FROM range(1, {day} + 1) AS d(n)
            WHERE hash(account_id, {seed}, n) % 100 < CASE WHEN owner_email = '{surge_owner}' THEN 20 ELSE 3 END)
            AS bursts
    FROM accounts
)
SELECT account_id,
       CAST(1 + hu % 12 + (hu >> 8) % 3 * (hu >> 12) % 15 + bursts * 2 AS INTEGER) AS seats,
       CAST(LEAST(CASE WHEN (hu >> 36) % 10 < 2 THEN (hu >> 16) % 8 ELSE (hu >> 16) % 2 END + bursts * 2, 40)
            AS INTEGER) AS invites_30d,
       CAST(LEAST(CASE WHEN (hu >> 40) % 10 < 3 THEN (hu >> 20) % 4 ELSE 0 END + bursts, 10) AS INTEGER)
            AS limit_hits_30d,
       CAST(LEAST(CASE WHEN (hu >> 32) % 10 < 3 THEN 5 + (hu >> 24) % 25 ELSE (hu >> 24) % 6 END + bursts * 3, 30)
            AS INTEGER) AS active_days_30d,
       CAST(CASE WHEN (hx >> 44) % 10 < 2 THEN hx % 7 ELSE 0 END AS INTEGER) AS paid_gate_clicks,
       CAST(CASE WHEN (hx >> 40) % 10 < 3 THEN 1 + (hx >> 8) % 4 ELSE 0 END AS INTEGER) AS integrations,
       (hx >> 16) % 4 = 0 AS api_usage_started
FROM raw""")


def _build_scores(con: duckdb.DuckDBPyConnection, stamp: datetime) -> None:
    con.execute(
        """
CREATE OR REPLACE TABLE scored_accounts AS
WITH points AS (
    SELECT a.*, s.* EXCLUDE (account_id),
           (CASE WHEN s.active_days_30d >= 5 THEN 30 ELSE s.active_days_30d * 4 END
            + CASE WHEN s.invites_30d >= 3 THEN 20 ELSE s.invites_30d * 5 END
            + CASE WHEN s.integrations > 0 THEN 15 ELSE 0 END
            + LEAST(s.limit_hits_30d, 3) * 6
            + LEAST(s.paid_gate_clicks, 4) * 3
            + CASE WHEN s.api_usage_started THEN 5 ELSE 0 END)
           * CASE a.fit_tier WHEN 'enterprise' THEN 1.2 WHEN 'mid_market' THEN 1.0 ELSE 0.85 END
           * CASE WHEN a.domain IN ('gmail.com', 'outlook.com', 'yahoo.com') THEN 0.5 ELSE 1.0 END AS raw_score
    FROM accounts AS a JOIN account_signals AS s USING (account_id)
)
SELECT account_id, account_name, domain, owner_email, employees, fit_tier,
       CAST(LEAST(round(raw_score, 1), 100) AS DECIMAL(4, 1)) AS pql_score,
       CASE WHEN raw_score >= 65 THEN 'hot' WHEN raw_score >= 45 THEN 'warm' ELSE 'cold' END AS pql_tier,
       NULLIF(concat_ws('; ',
           CASE WHEN invites_30d >= 3 THEN invites_30d || ' teammates invited' END,
           CASE WHEN limit_hits_30d >= 2 THEN 'hit the free-tier limit ' || limit_hits_30d || ' times' END,
           CASE WHEN integrations > 0 THEN integrations || ' integrations connected' END,
           CASE WHEN paid_gate_clicks >= 3 THEN paid_gate_clicks || ' paid-feature clicks' END,
           CASE WHEN active_days_30d >= 5 THEN 'active ' || active_days_30d || ' of 30 days' END), '') AS pql_reason,
       CAST(to_json(struct_pack(seats := seats, invites_30d := invites_30d, limit_hits_30d := limit_hits_30d,
                               active_days_30d := active_days_30d, paid_gate_clicks := paid_gate_clicks,
                               integrations := integrations, api_usage_started := api_usage_started)) AS JSON)
           AS signals,
       CASE WHEN raw_score >= 45
            THEN TIMESTAMP '2026-11-01 00:00:00' + to_minutes(CAST(hash(account_id, 'since') % 30000 AS INTEGER))
       END AS became_pql_at,
       crm_account_id,
       CAST(? AS TIMESTAMP) AS updated_at
FROM points""",
        [stamp],
    )
