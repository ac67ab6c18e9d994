"""RevOps' mistakes in triggers, alerts and tasks: each is named at file:line with the key, before any run."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors import REGISTRY
from syncer.config.errors import ConfigError
from syncer.config.loader import load_project
from tests.project import ENVIRONMENT, make_project
from tests.test_cli import invoke

WATCH = """\
name: watch
model:
  table: scored_accounts
key: account_id
fields:
  pql_tier: pql_tier
triggers:
  - name: turned_hot
    when: "new.pql_tier = 'hot'"
    alert:
      connector: slack
      template: "*{{ acount_name }}* is hot"
"""


def test_a_watch_needs_no_destination_and_a_misspelt_alert_variable_is_named_at_its_line(tmp_path: Path) -> None:
    make_project(tmp_path, WATCH)
    result = invoke("validate", "--project", str(tmp_path))
    assert result.exit_code == 2
    assert (
        "mappings/companies.yaml:12: triggers[0].alert.template: template variable 'acount_name' is not a "
        "column of the model"
    ) in result.output


def test_an_alert_that_renders_past_slacks_section_limit_on_a_sample_row_is_refused(tmp_path: Path) -> None:
    make_project(
        tmp_path,
        WATCH.replace("*{{ acount_name }}* is hot", "{% for i in range(400) %}{{ account_name }} {% endfor %}"),
    )
    result = invoke("validate", "--project", str(tmp_path))
    assert result.exit_code == 2 and "an alert shows at most 3000 in one block" in result.output


def test_a_task_on_a_watch_and_an_alert_through_a_crm_connector_are_refused(tmp_path: Path) -> None:
    mapping = (
        WATCH.replace("connector: slack", "connector: hubspot")
        + """\
  - name: with_task
    when: "new.pql_tier = 'hot'"
    task:
      subject: "call them"
"""
    )
    make_project(tmp_path, mapping)
    with pytest.raises(ConfigError) as caught:
        load_project(tmp_path, REGISTRY, ENVIRONMENT)
    problems = [str(p) for p in caught.value.problems]
    assert any("a watch (no 'destination') can only alert" in p for p in problems), problems


def test_an_alert_through_a_connector_that_is_not_slack_is_named(tmp_path: Path) -> None:
    make_project(tmp_path, WATCH.replace("connector: slack", "connector: hubspot"))
    with pytest.raises(ConfigError) as caught:
        load_project(tmp_path, REGISTRY, ENVIRONMENT)
    assert [str(p) for p in caught.value.problems] == [
        "mappings/companies.yaml:11: triggers[0].alert.connector: 'hubspot' is not a connector that posts alerts "
        "(known: hubspot, slack)"
    ]
