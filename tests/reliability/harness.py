"""The fault matrix's project and runs: four field syncs of one warehouse, each to one destination of the sandbox.

Runs go through :func:`syncer.runner.run_sync` with a fake clock and sleep (:class:`FakeTime`), so rate-limit waits
and backoffs cost no real time; only the timeout fault waits for real, for the client's one-second timeout. The
destinations are opened with the registry's settings and public constructors, with that short client timeout.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connectors import REGISTRY
from connectors.hubspot.client import HubSpotClient
from connectors.hubspot.connector import HubSpotDestination
from connectors.hubspot.settings import HubSpotSettings
from connectors.salesforce.bulk import BulkWait
from connectors.salesforce.connector import SalesforceDestination
from connectors.salesforce.settings import SalesforceSettings
from connectors.sandbox import Sandbox
from connectors.webhook.sandbox.emulator import DEFAULT_SECRET
from syncer.app import App
from syncer.config.sync import SyncConfig
from syncer.contract.clock import naive_now
from syncer.contract.destination import Destination as Writer
from syncer.contract.destination import Target
from syncer.contract.enums import FieldType
from syncer.delivery.executor import RetryPolicy
from syncer.demo.sample_warehouse import build_sample_warehouse
from syncer.runner import Pacing, RunOptions, RunOutcome, run_sync
from tests.reliability.invariants import DestinationRecord, FieldTally, destination_records, field_tally
from tests.reliability.matrix import Destination

REPO = Path(__file__).parents[2]
ACCOUNTS = 500
PARK_AFTER = 3
CLIENT_TIMEOUT_S = 1.0
MAX_WAIT_S = 300.0  # a run's waiting budget per destination (900 s by default): fewer 429s to outlast it

SYNCS = {
    Destination.HUBSPOT: "hubspot_companies",
    Destination.SALESFORCE: "salesforce_accounts",
    Destination.SALESFORCE_BULK: "salesforce_bulk_accounts",
    Destination.WEBHOOK: "webhook_accounts",
}
# Each destination's write requests, as fault rules name them ("METHOD /path", fnmatch).
WRITE_ROUTES = {
    Destination.HUBSPOT: "POST /crm/v3/objects/companies/batch/*",
    Destination.SALESFORCE: "PATCH /services/data/*/composite/sobjects/*",
    Destination.SALESFORCE_BULK: "* /services/data/*/jobs/ingest*",
    Destination.WEBHOOK: "POST /hook",
}

WEBHOOK_MAPPING = """\
name: webhook_accounts
model:
  table: scored_accounts
key: account_id
destination:
  connector: webhook
  object: accounts
  mode: upsert
  match: {column: account_id, field: account_id}
fields:
  account_name: account_name
  pql_score: {source: pql_score, type: number, round: 0}
  pql_tier: pql_tier
schedule: every 15m
"""

PROJECT_YAML = """\
warehouse:
  url: duckdb:///warehouse.duckdb
state:
  url: {state_url}
  row_errors: {{park_after: {park_after}}}
connectors:
  hubspot:
    type: hubspot
    access_token: ${{HUBSPOT_ACCESS_TOKEN}}
    base_url: {hubspot}
  salesforce:
    type: salesforce
    instance_url: {salesforce}
    client_id: ${{SALESFORCE_CLIENT_ID}}
    client_secret: ${{SALESFORCE_CLIENT_SECRET}}
    ca_bundle: {ca_file}
  salesforce_bulk:
    type: salesforce
    instance_url: {salesforce}
    client_id: ${{SALESFORCE_CLIENT_ID}}
    client_secret: ${{SALESFORCE_CLIENT_SECRET}}
    ca_bundle: {ca_file}
    bulk_threshold: 50
  webhook:
    type: webhook
    url: {webhook}
    signing_secret: ${{WEBHOOK_SIGNING_SECRET}}
    batch_size: 100
    timeout_s: {timeout}
"""

ENVIRONMENT = {
    "HUBSPOT_ACCESS_TOKEN": "sandbox-hubspot-token",
    "SALESFORCE_CLIENT_ID": "sandbox-consumer-key",
    "SALESFORCE_CLIENT_SECRET": "sandbox-consumer-secret",
    "WEBHOOK_SIGNING_SECRET": DEFAULT_SECRET,
}


def write_project(
    root: Path,
    urls: dict[str, str],
    ca_file: Path,
    state_url: str = "duckdb:///.syncer/state.duckdb",
    accounts: int = ACCOUNTS,
    destinations: tuple[Destination, ...] = tuple(Destination),
) -> None:
    """syncer.yaml, the mappings of ``destinations`` and the sample warehouse in ``root``."""
    (root / "mappings").mkdir(parents=True, exist_ok=True)
    for destination in destinations:
        if destination is Destination.WEBHOOK:
            text = WEBHOOK_MAPPING
        else:
            shipped = "hubspot_companies" if destination is Destination.HUBSPOT else "salesforce_accounts"
            text = _plain_upserts((REPO / "mappings" / f"{shipped}.yaml").read_text())
        if destination is Destination.SALESFORCE_BULK:
            text = text.replace("name: salesforce_accounts", "name: salesforce_bulk_accounts")
            text = text.replace("connector: salesforce\n", "connector: salesforce_bulk\n")
        (root / "mappings" / f"{SYNCS[destination]}.yaml").write_text(text)
    (root / "syncer.yaml").write_text(
        PROJECT_YAML.format(
            state_url=state_url,
            park_after=PARK_AFTER,
            hubspot=urls["hubspot"],
            salesforce=urls["salesforce"],
            ca_file=ca_file,
            webhook=urls["webhook"],
            timeout=CLIENT_TIMEOUT_S,
        )
    )
    build_sample_warehouse(root / "warehouse.duckdb", accounts=accounts)


def _plain_upserts(mapping: str) -> str:
    """A shipped mapping without ``adopt_by`` and ``create_when``: the matrix's faults hit every account's write (a
    cold account would otherwise create nothing) in calls it counts (no adoption lookup before the creates)."""
    text = re.sub(r"^  (create_when|adopt_by):.*\n(    .*\n)*", "", mapping, flags=re.MULTILINE)
    assert "adopt_by" not in text and "create_when" not in text
    return text


@dataclass
class FakeTime:
    """The executor's clock and sleep: sleeping moves the clock, so waits cost no real time."""

    now: float = 1_000.0
    slept: list[float] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    def pacing(self) -> Pacing:
        return Pacing(clock=self.clock, sleep=self.sleep)


@dataclass
class Matrix:
    """One project against the sandbox; :meth:`run` runs one destination's sync once."""

    app: App
    sandbox: Sandbox
    time: FakeTime = field(default_factory=FakeTime)

    def sync(self, destination: Destination) -> SyncConfig:
        return self.app.project.sync(SYNCS[destination])

    def run(self, destination: Destination, progress: Callable[[int], None] | None = None) -> RunOutcome:
        options = RunOptions(batch_size=self.app.batch_size, retry=RetryPolicy(max_attempts=5, max_wait_s=MAX_WAIT_S))
        return run_sync(
            self.sync(destination),
            self.app.store,
            self.app.warehouse,
            naive_now,
            self.open,
            options,
            self.time.pacing(),
            progress,
        )

    def open(self, sync: SyncConfig) -> Writer | None:
        """The sync's destination, as the registry opens it but with a short client timeout and the fake clock."""
        dest = sync.destination
        assert dest is not None  # every sync of the matrix writes somewhere
        kind = REGISTRY[self.app.project.config.connectors[dest.connector].type]
        settings = kind.resolve_paths(self.app.project.connectors[dest.connector], self.app.root)
        types = {field: spec.type or FieldType.STRING for field, spec in sync.fields.items()}
        target = Target(dest.object, dest.mode, dest.match.field, types)
        if isinstance(settings, HubSpotSettings):
            client = HubSpotClient(settings, target.object, timeout_s=CLIENT_TIMEOUT_S)
            return HubSpotDestination(settings, target, client=client)
        if isinstance(settings, SalesforceSettings):
            return SalesforceDestination(
                settings,
                target,
                timeout_s=CLIENT_TIMEOUT_S,
                wait=BulkWait(sleep=self.time.sleep, clock=self.time.clock),
            )
        return kind.open(settings, target)

    def emulator(self, destination: Destination) -> Any:
        """The emulator that stands in for ``destination``."""
        return {
            Destination.HUBSPOT: self.sandbox.hubspot,
            Destination.SALESFORCE: self.sandbox.salesforce,
            Destination.SALESFORCE_BULK: self.sandbox.salesforce,
            Destination.WEBHOOK: self.sandbox.webhook,
        }[destination]

    def records(self, destination: Destination) -> list[DestinationRecord]:
        """The destination's records of the sync's object, from the emulator's stored state."""
        sync = self.sync(destination)
        vendor = "salesforce" if destination is Destination.SALESFORCE_BULK else destination.value
        assert sync.destination is not None
        return destination_records(
            vendor, self.emulator(destination).state(), sync.destination.object, sync.destination.match.field
        )

    def tally(self, destination: Destination) -> FieldTally:
        return field_tally(self.sync(destination), self.app.store, self.app.warehouse, self.records(destination))


def open_matrix(root: Path, sandbox: Sandbox, state_url: str = "duckdb:///.syncer/state.duckdb") -> Iterator[Matrix]:
    """A :class:`Matrix` in ``root`` (a generator for fixtures: closes the project at the end)."""
    write_project(root, sandbox.urls, sandbox.ca_file, state_url)
    app = App(root, ENVIRONMENT)
    try:
        yield Matrix(app, sandbox)
    finally:
        app.close()
