"""The sandbox's people are the sample warehouse's reps: every account owner resolves in all three vendors."""

from __future__ import annotations

from pathlib import Path

import duckdb
import requests
from hubspot import HubSpot
from simple_salesforce.api import Salesforce
from slack_sdk import WebClient

from connectors.sandbox import Sandbox
from syncer.demo.sample_warehouse import build_sample_warehouse


def test_every_owner_email_resolves_to_a_crm_owner_and_a_slack_user(sandbox: Sandbox, tmp_path: Path) -> None:
    build_sample_warehouse(tmp_path / "w.duckdb", accounts=500)
    con = duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True)
    owners = sorted(row[0] for row in con.execute("SELECT DISTINCT owner_email FROM scored_accounts").fetchall())
    con.close()

    hubspot = HubSpot(access_token="sandbox", host=sandbox.urls["hubspot"])
    slack = WebClient(token="xoxb-sandbox", base_url=sandbox.urls["slack"])
    session = requests.Session()
    session.verify, session.trust_env = str(sandbox.ca_file), False
    salesforce = Salesforce(
        instance_url=sandbox.urls["salesforce"], session_id=sandbox.salesforce.issue_token(), session=session
    )
    quoted = ", ".join(f"'{email}'" for email in owners)
    users = salesforce.query(f"SELECT Id, Email FROM User WHERE Email IN ({quoted})")["records"]
    assert sorted(user["Email"] for user in users) == owners
    for email in owners:
        assert [o.email for o in hubspot.crm.owners.owners_api.get_page(email=email).results] == [email]
        profile = slack.users_lookupByEmail(email=email)["user"]
        assert profile["profile"]["email"] == email
        assert profile["tz"]  # quiet hours need the rep's own time zone
