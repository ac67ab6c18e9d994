"""The webhook's body names the sync that sent it, in every batch, when the engine opens the destination."""

from __future__ import annotations

import textwrap
from pathlib import Path

from connectors.sandbox import Sandbox
from connectors.webhook.sandbox import DEFAULT_SECRET
from syncer.app import App
from syncer.demo.sample_warehouse import build_sample_warehouse
from syncer.state.base import RunStatus

SYNCER_YAML = """\
warehouse:
  url: duckdb:///warehouse.duckdb
state:
  url: duckdb:///.syncer/state.duckdb
connectors:
  hook:
    type: webhook
    url: {url}
    signing_secret: ${{TEST_HOOK_SECRET}}
    batch_size: 2
"""

MAPPING = """\
name: scores_to_hook
model:
  table: scored_accounts
key: account_id
destination:
  connector: hook
  object: accounts
  match:
    column: account_id
    field: account_id
fields:
  pql_score:
    source: pql_score
    type: number
"""


def test_every_batch_a_run_sends_carries_the_sync_name(tmp_path: Path, sandbox: Sandbox) -> None:
    (tmp_path / "syncer.yaml").write_text(SYNCER_YAML.format(url=sandbox.urls["webhook"]))
    (tmp_path / "mappings").mkdir()
    (tmp_path / "mappings" / "hook.yaml").write_text(textwrap.dedent(MAPPING))
    build_sample_warehouse(tmp_path / "warehouse.duckdb", accounts=5)
    app = App(tmp_path, {"TEST_HOOK_SECRET": DEFAULT_SECRET})
    try:
        sync = app.project.sync("scores_to_hook")
        outcome = app.run(sync, app.run_options())
    finally:
        app.close()
    assert outcome.status is RunStatus.SUCCEEDED and outcome.delivery is not None
    assert outcome.delivery.confirmed == 5
    assert sandbox.webhook.batches == 3  # 2 + 2 + 1: each record was stored by exactly one of the batches
    stored = sandbox.webhook.records("accounts")
    assert len(stored) == 5 and {record["sync"] for record in stored} == {"scores_to_hook"}
