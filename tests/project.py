"""A throwaway project directory: syncer.yaml, mappings and a small DuckDB warehouse of scored accounts."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

from syncer.demo.sample_warehouse import build_sample_warehouse

if TYPE_CHECKING:
    from connectors.sandbox import Sandbox


def crm_project_yaml(sandbox: Sandbox) -> str:
    """A ``syncer.yaml`` with the sample DuckDB warehouse and state and the sandbox's HubSpot and Salesforce (their
    secrets from the variables HUBSPOT_ACCESS_TOKEN, SALESFORCE_CLIENT_ID and SALESFORCE_CLIENT_SECRET)."""
    return f"""\
warehouse:
  url: duckdb:///warehouse.duckdb
state:
  url: duckdb:///.syncer/state.duckdb
connectors:
  hubspot:
    type: hubspot
    access_token: ${{HUBSPOT_ACCESS_TOKEN}}
    base_url: {sandbox.urls["hubspot"]}
  salesforce:
    type: salesforce
    instance_url: {sandbox.urls["salesforce"]}
    client_id: ${{SALESFORCE_CLIENT_ID}}
    client_secret: ${{SALESFORCE_CLIENT_SECRET}}
    ca_bundle: {sandbox.ca_file}
"""


PROJECT_YAML = """\
warehouse:
  url: duckdb:///warehouse.duckdb
state:
  url: {state_url}
connectors:
  hubspot:
    type: hubspot
    access_token: ${{TEST_HUBSPOT_TOKEN}}
    base_url: {hubspot_url}
  slack:
    type: slack
    token: ${{TEST_SLACK_TOKEN}}
"""

MAPPING_YAML = """\
name: companies
model:
  table: scored_accounts
key: account_id
destination:
  connector: hubspot
  object: companies
  match:
    column: account_id
    field: product_account_id
fields:
  pql_score:
    source: pql_score
    type: number
  pql_tier: pql_tier
schedule: every 10m
"""

ENVIRONMENT = {"TEST_HUBSPOT_TOKEN": "pat-na1-secret-token-value", "TEST_SLACK_TOKEN": "xoxb-secret-slack"}


def make_project(
    root: Path,
    mapping: str = MAPPING_YAML,
    state_url: str = "duckdb:///.syncer/state.duckdb",
    accounts: int = 200,
    hubspot_url: str = "http://127.0.0.1:9",
) -> Path:
    """A project in ``root``. Runs deliver to ``hubspot_url``: pass the sandbox's (the default refuses at once)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "syncer.yaml").write_text(PROJECT_YAML.format(state_url=state_url, hubspot_url=hubspot_url))
    (root / "mappings").mkdir(exist_ok=True)
    (root / "mappings" / "companies.yaml").write_text(textwrap.dedent(mapping))
    build_sample_warehouse(root / "warehouse.duckdb", accounts=accounts)
    return root
