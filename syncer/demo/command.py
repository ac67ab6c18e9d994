"""What ``syncer demo`` does before running the syncs: sandbox credentials and the sample warehouse."""

from __future__ import annotations

from pathlib import Path

from syncer import output
from syncer.app import App
from syncer.demo.sample_warehouse import build_sample_warehouse
from syncer.warehouse.duckdb_warehouse import DuckDBWarehouse

# The sandbox accepts these; a real deployment sets real secrets in the environment, which take precedence.
DEMO_ENVIRONMENT = {
    "HUBSPOT_ACCESS_TOKEN": "sandbox-hubspot-token",
    "SALESFORCE_CLIENT_ID": "sandbox-consumer-key",
    "SALESFORCE_CLIENT_SECRET": "sandbox-consumer-secret",
    "SLACK_BOT_TOKEN": "xoxb-sandbox-token",
}


def prepare_demo(app: App, accounts: int, day: int, rebuild: bool) -> Path | None:
    """Build the sample warehouse when the project's warehouse is a DuckDB file that is missing (or ``rebuild``)."""
    warehouse = app.warehouse
    if not isinstance(warehouse, DuckDBWarehouse):
        output.console.print(f"warehouse is {warehouse.url}: using it as it is")
        return None
    if rebuild or day > 0 or not warehouse.path.exists():
        rows = build_sample_warehouse(warehouse.path, accounts=accounts, day=day)
        output.console.print(f"built the sample warehouse {warehouse.path} (day {day}): {rows} scored accounts")
    return warehouse.path
