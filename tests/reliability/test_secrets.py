"""Secrets everywhere: recognisable fake secrets in every secret setting, and a representative slice of commands and
failures, must never show them in command output (text and ``--json``), log records, exception text, metrics, any
table of the control store (on DuckDB and PostgreSQL state alike), the alert log written back to the warehouse, or
what Slack and the CRM received (alerts and tasks).

Every secret is checked in full and by its distinctive tail, so a half-masked secret counts as a leak.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pytest

from connectors.salesforce.sandbox.auth import SalesforceCredentials
from connectors.sandbox import Sandbox
from connectors.slack.sandbox.tokens import TokenRegistry
from connectors.webhook.sandbox.emulator import DEFAULT_SECRET
from syncer.app import App
from syncer.config.errors import ConfigError
from syncer.daemon.metrics import Metrics
from syncer.runner import RunOptions

SYNCER_BIN = str(Path(sys.executable).with_name("syncer"))  # the installed command, as users run it
PG_PASSWORD = "pg-SECRET-warehouse-5c1e9a"
SECRETS = {
    "HUBSPOT_ACCESS_TOKEN": "pat-na1-SECRET-hubspot-7f3a2b",
    "SALESFORCE_CLIENT_SECRET": "sf-SECRET-salesforce-91d4c0",
    "SLACK_BOT_TOKEN": "xoxb-SECRET-slack-3e8f1a",
    "WEBHOOK_SIGNING_SECRET": "whsec-SECRET-webhook-b27d44",
}
TELLTALES = [PG_PASSWORD, "5c1e9a", *SECRETS.values(), *(value.rsplit("-", 1)[1] for value in SECRETS.values())]
SYNCS = ("hubspot_companies", "salesforce_accounts", "webhook_accounts", "slack_alerts", "pql_watch")

MAPPINGS = {
    "hubspot_companies": """\
        destination: {connector: hubspot, object: companies, mode: upsert,
                      match: {column: account_id, field: product_account_id}}
        fields: {name: account_name, pql_score: {source: pql_score, type: number, round: 0}, pql_tier: pql_tier}
        triggers:
          - {name: hot, when: "new.pql_tier = 'hot'", task: {subject: "Call {{ account_name }}", priority: HIGH}}
        """,
    "pql_watch": """        fields: {pql_tier: pql_tier}
        triggers:
          - name: hot
            when: "new.pql_tier = 'hot'"
            alert: {connector: slack, template: "*{{ account_name }}* is hot ({{ pql_score }})"}
        """,
    "salesforce_accounts": """\
        destination: {connector: salesforce, object: Account, mode: upsert,
                      match: {column: account_id, field: Product_Account_Id__c}}
        fields: {Name: {source: account_name, required: true}, PQL_Score__c: {source: pql_score, type: number},
                 PQL_Tier__c: pql_tier}
        """,
    "webhook_accounts": """\
        destination: {connector: webhook, object: accounts, mode: upsert, match: {column: account_id, field: id}}
        fields: {score: {source: pql_score, type: number}, tier: pql_tier}
        """,
    "slack_alerts": """\
        destination: {connector: slack, object: alerts, mode: upsert, match: {column: owner_email, field: email}}
        fields: {pql_tier: pql_tier}
        on_remove: ignore
        """,
}


def _project(root: Path, sandbox: Sandbox, warehouse_url: str, state_url: str) -> dict[str, str]:
    """The project in ``root``; returns the environment its commands run with (every secret in it)."""
    (root / "mappings").mkdir(parents=True)
    (root / "syncer.yaml").write_text(
        textwrap.dedent(f"""\
        warehouse: {{url: "${{WAREHOUSE_URL}}"}}
        state: {{url: "${{STATE_URL}}"}}
        connectors:
          hubspot: {{type: hubspot, access_token: "${{HUBSPOT_ACCESS_TOKEN}}", base_url: "{sandbox.urls["hubspot"]}"}}
          salesforce:
            type: salesforce
            instance_url: "{sandbox.urls["salesforce"]}"
            client_id: sandbox-consumer-key
            client_secret: "${{SALESFORCE_CLIENT_SECRET}}"
            ca_bundle: "{sandbox.ca_file}"
          slack: {{type: slack, token: "${{SLACK_BOT_TOKEN}}", base_url: "{sandbox.urls["slack"]}"}}
          webhook: {{type: webhook, url: "{sandbox.urls["webhook"]}", signing_secret: "${{WEBHOOK_SIGNING_SECRET}}"}}
        alerts: {{first_run: cap, quiet_hours: null}}
        """)
    )
    for name, body in MAPPINGS.items():
        (root / "mappings" / f"{name}.yaml").write_text(
            f"name: {name}\nmodel: {{table: scored_accounts}}\nkey: account_id\n{textwrap.dedent(body)}"
        )
    return {**SECRETS, "WAREHOUSE_URL": warehouse_url, "STATE_URL": state_url}


def _with_password(url: str, driver: str = "postgresql") -> str:
    return url.replace("postgresql://syncer@", f"{driver}://syncer:{PG_PASSWORD}@")


@pytest.fixture
def warehouse_url(pg_url: str) -> str:
    """A PostgreSQL warehouse of 40 scored accounts, reached with a password in its URL."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE scored_accounts AS SELECT 'acc_' || i AS account_id, 'Account ' || i AS "
            "account_name, 'dana.kim@yourco.com' AS owner_email, (i * 2.5)::numeric(4,1) AS pql_score, "
            "CASE WHEN i % 3 = 0 THEN 'hot' ELSE 'warm' END AS pql_tier FROM generate_series(1, 40) AS i"
        )
    return _with_password(pg_url, "postgresql+psycopg")


@pytest.fixture(params=["duckdb", "postgres"])
def state_url(request: pytest.FixtureRequest) -> str:
    if request.param == "duckdb":
        return "duckdb:///.syncer/state.duckdb"
    return _with_password(request.getfixturevalue("pg_url"))


@pytest.fixture
def accepting(sandbox: Sandbox) -> Iterator[Sandbox]:
    """The sandbox accepting the fake secrets (HubSpot takes any token; Salesforce and the receiver are told)."""
    sandbox.salesforce.credentials = SalesforceCredentials(client_secret=SECRETS["SALESFORCE_CLIENT_SECRET"])
    sandbox.webhook.secret = SECRETS["WEBHOOK_SIGNING_SECRET"]
    issued = sandbox.slack.tokens
    with sandbox.slack.lock:
        sandbox.slack.tokens = TokenRegistry(issued.issued | {SECRETS["SLACK_BOT_TOKEN"]})
    try:
        yield sandbox
    finally:
        _refusing(sandbox)
        sandbox.hubspot.accept_tokens(None)
        with sandbox.slack.lock:
            sandbox.slack.tokens = issued


def _refusing(sandbox: Sandbox) -> None:
    """Every destination refuses the fake secrets from now on: 401s and a refused login."""
    sandbox.salesforce.credentials = SalesforceCredentials()
    sandbox.webhook.secret = DEFAULT_SECRET
    sandbox.hubspot.accept_tokens(frozenset({"another-token"}))


def assert_clean(where: str, text: str) -> None:
    leaked = [t for t in TELLTALES if t in text]
    assert not leaked, f"{where} shows {leaked}"


def test_commands_never_show_a_secret(tmp_path: Path, accepting: Sandbox, warehouse_url: str, pg_url: str) -> None:
    """As subprocesses, on PostgreSQL state (both database URLs carry a password); the in-process test below covers
    DuckDB state too."""
    state_url = _with_password(pg_url)
    environment = _project(tmp_path, accepting, warehouse_url, state_url)
    seen: list[str] = []

    def syncer(*args: str, exit_codes: tuple[int, ...] = (0,), **changed: str) -> str:
        done = subprocess.run(
            [SYNCER_BIN, *args],
            cwd=tmp_path,
            capture_output=True,
            check=False,
            text=True,
            env={**os.environ, **environment, **changed},
            timeout=120,
        )
        assert done.returncode in exit_codes, (args, done.stdout, done.stderr)
        assert_clean(f"syncer {' '.join(args)}", done.stdout + done.stderr)
        seen.append(done.stdout)
        return done.stdout

    syncer("validate")
    syncer("plan", "hubspot_companies")
    syncer("plan", "salesforce_accounts", "--json")
    assert '"status": "succeeded"' in syncer("run", "--all", "--json")
    syncer("check", exit_codes=(0, 1))
    _refusing(accepting)
    app = App(tmp_path, environment)
    try:
        for name in SYNCS:
            app.store.snapshot.reset(name)  # so the next run sends everything again, to destinations that now refuse
    finally:
        app.close()
    syncer("run", "--all", exit_codes=(1,))  # Salesforce refuses the login: that run fails
    syncer("check", "--json", exit_codes=(1,))
    syncer("errors", "hubspot_companies")
    status = json.loads(syncer("status", "--json"))
    ended = {sync["sync"]: sync["last_run"]["status"] for sync in status}
    # HubSpot's 401 and the webhook's stop their destinations; Salesforce's refused login fails the run.
    assert ended == {
        "hubspot_companies": "partial",
        "webhook_accounts": "partial",
        "salesforce_accounts": "failed",
        "slack_alerts": "succeeded",
        "pql_watch": "succeeded",
    }, ended
    unreachable = re.sub(r"@127\.0\.0\.1:\d+/", "@127.0.0.1:9/", warehouse_url)  # nothing listens on port 9
    syncer("plan", "hubspot_companies", exit_codes=(1, 2), WAREHOUSE_URL=unreachable)  # the warehouse is down
    assert any("refused" in out for out in seen)  # the refusals are reported, only without the secrets
    _dump_state(tmp_path, state_url)


def test_bad_configuration_never_shows_a_secret(tmp_path: Path, sandbox: Sandbox) -> None:
    environment = _project(tmp_path, sandbox, "duckdb:///warehouse.duckdb", "duckdb:///.syncer/state.duckdb")
    config = (tmp_path / "syncer.yaml").read_text()
    # A secret fed to a setting that rejects it (the wrong variable), and a mapping that names no destination.
    (tmp_path / "syncer.yaml").write_text(
        config.replace(
            'access_token: "${HUBSPOT_ACCESS_TOKEN}"', 'access_token: x, daily_limit: "${HUBSPOT_ACCESS_TOKEN}"'
        )
    )
    (tmp_path / "mappings" / "broken.yaml").write_text("name: broken\nkey: [${SLACK_BOT_TOKEN}]\n")
    done = subprocess.run(
        [SYNCER_BIN, "validate"],
        cwd=tmp_path,
        capture_output=True,
        check=False,
        text=True,
        env={**os.environ, **environment},
        timeout=120,
    )
    assert done.returncode == 2 and "daily_limit" in done.stdout + done.stderr
    assert_clean("syncer validate", done.stdout + done.stderr)
    with pytest.raises(ConfigError) as raised:
        _ = App(tmp_path, environment).project
    assert_clean("ConfigError", str(raised.value))


def test_runs_never_log_or_raise_a_secret(
    tmp_path: Path, accepting: Sandbox, warehouse_url: str, state_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """In process, with every logger at DEBUG (the SDKs' request logs included)."""
    caplog.set_level(logging.DEBUG)
    environment = _project(tmp_path, accepting, warehouse_url, state_url)
    texts: list[str] = []
    for refuse in (False, True):
        if refuse:
            _refusing(accepting)
        app = App(tmp_path, environment)
        try:
            if not refuse:
                app.open_task_destination("hubspot").setup()
            for name in SYNCS:
                sync = app.project.sync(name)
                if refuse:
                    app.store.snapshot.reset(name)
                outcome = app.run(sync, RunOptions())
                texts += [repr(outcome.summary()), str(outcome.error)]
                metrics = Metrics(lambda: [], lambda: 0)
                metrics.observe(outcome.summary(), name)
                texts.append(metrics.render().decode())
                try:
                    destination = app.open_destination(sync)
                    if destination is not None:
                        try:
                            texts.append(repr(destination.check()))
                        finally:  # a refused check raises: the client is closed all the same
                            destination.close()
                except Exception as exc:  # a refused login: its text is what an operator sees
                    texts += [str(exc), repr(exc)]
        finally:
            app.close()
    assert any("refused" in text for text in texts)
    messages = accepting.slack.all_messages()
    assert messages and accepting.hubspot.tasks()  # alerts and tasks were really sent
    assert_clean("Slack messages", json.dumps(messages))
    assert_clean("CRM tasks", json.dumps(accepting.hubspot.tasks()))
    with psycopg.connect(warehouse_url.replace("postgresql+psycopg", "postgresql")) as conn:
        log = conn.execute("SELECT * FROM syncer_alert_log").fetchall()
    assert log
    assert_clean("the alert log in the warehouse", repr(log))
    for record in caplog.records:
        assert_clean(f"log record {record.name}", record.getMessage() + repr(record.args))
    assert_clean("outcomes and exceptions", "\n".join(texts))
    _dump_state(tmp_path, state_url)


def _dump_state(root: Path, state_url: str) -> None:
    """Every text in every table of the control store."""
    if state_url.startswith("duckdb"):
        con = duckdb.connect(str(root / ".syncer" / "state.duckdb"), read_only=True)
        try:
            tables = [row[0] for row in con.execute("SELECT table_name FROM information_schema.tables").fetchall()]
            dump = {table: con.execute(f'SELECT * FROM "{table}"').fetchall() for table in tables}
        finally:
            con.close()
    else:
        with psycopg.connect(state_url.replace(f":{PG_PASSWORD}@", "@")) as conn:
            tables = [
                row[0]
                for row in conn.execute(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
                ).fetchall()
            ]
            dump = {table: conn.execute(f'SELECT * FROM "{table}"').fetchall() for table in tables}
    assert dump.get("runs"), sorted(dump)
    rows: list[Any] = [row for table_rows in dump.values() for row in table_rows]
    assert_clean("the control store", repr(dump))
    assert rows
