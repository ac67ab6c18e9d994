"""What ``syncer demo`` does before running the syncs: sandbox credentials and the sample warehouse."""

from __future__ import annotations

from pathlib import Path

from syncer import output
from syncer.app import App
from syncer.demo.sample_warehouse import build_sample_warehouse
from syncer.demo.sandbox_link import DemoError, SandboxLink
from syncer.warehouse.duckdb_warehouse import DuckDBWarehouse

# The sandbox accepts these; a real deployment sets real secrets in the environment, which take precedence.
DEMO_ENVIRONMENT = {
    "HUBSPOT_ACCESS_TOKEN": "sandbox-hubspot-token",
    "SALESFORCE_CLIENT_ID": "sandbox-consumer-key",
    "SALESFORCE_CLIENT_SECRET": "sandbox-consumer-secret",
    "SLACK_BOT_TOKEN": "xoxb-sandbox-token",
}


def prepare_demo(app: App, accounts: int, day: int, *, rebuild: bool) -> Path | None:
    """Build the sample warehouse when the project's warehouse is a DuckDB file that is missing (or ``rebuild``)."""
    warehouse = app.warehouse
    if not isinstance(warehouse, DuckDBWarehouse):
        output.console.print(f"warehouse is {warehouse.url}: using it as it is")
        return None
    if rebuild or day > 0 or not warehouse.path.exists():
        rows = build_sample_warehouse(warehouse.path, accounts=accounts, day=day)
        output.console.print(f"built the sample warehouse {warehouse.path} (day {day}): {rows} scored accounts")
    return warehouse.path


def sandbox_urls(app: App) -> dict[str, str]:
    """Where ``syncer.yaml`` points the demo's HubSpot, Salesforce and Slack connectors."""
    urls: dict[str, str] = {}
    for name, settings in app.project.connectors.items():
        kind = app.project.config.connectors[name].type
        url = getattr(settings, "instance_url", None) or getattr(settings, "base_url", None)
        if kind in ("hubspot", "salesforce", "slack") and isinstance(url, str):
            urls.setdefault(kind, url)
    missing = {"hubspot", "salesforce", "slack"} - set(urls)
    if missing:
        raise DemoError(f"the demo needs a {', '.join(sorted(missing))} connector in syncer.yaml")
    return urls


def show_landed(link: SandboxLink) -> None:
    """What the sandbox CRMs hold now, read back from them: records with PQL fields, and a few examples."""
    from rich.table import Table

    companies = [c for c in link.state("hubspot")["objects"]["companies"] if c["properties"].get("pql_score")]
    accounts = [a for a in link.state("salesforce")["objects"].get("Account", []) if a.get("PQL_Score__c") is not None]
    output.console.rule("what landed, read back from the sandbox")
    output.console.print(
        f"HubSpot companies with a PQL score: {len(companies)}; Salesforce Accounts with a PQL score: {len(accounts)}"
    )
    table = Table(title="examples")
    for column in ("CRM", "record", "name", "score", "tier"):
        table.add_column(column)
    for company in companies[:3]:
        props = company["properties"]
        table.add_row(
            "HubSpot",
            str(company["id"]),
            str(props.get("name")),
            str(props.get("pql_score")),
            str(props.get("pql_tier")),
        )
    for account in accounts[:3]:
        table.add_row(
            "Salesforce",
            str(account["Id"]),
            str(account.get("Name")),
            str(account.get("PQL_Score__c")),
            str(account.get("PQL_Tier__c")),
        )
    output.console.print(table)
