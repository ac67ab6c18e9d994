"""``syncer validate`` on a destination's adopt_by, create_when and owner: every mistake at its file:line."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from connectors import REGISTRY
from syncer.cli import cli
from syncer.contract.enums import SyncMode
from tests.project import ENVIRONMENT, MAPPING_YAML, make_project

MATCH = "    field: product_account_id\n"


def _validate(root: Path) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["validate", "-p", str(root)], env=ENVIRONMENT, catch_exceptions=False)
    return result.exit_code, result.output


def test_a_good_populated_crm_destination_validates(tmp_path: Path) -> None:
    make_project(
        tmp_path,
        MAPPING_YAML.replace(
            MATCH,
            MATCH + "  adopt_by: domain\n  owner: owner_email\n  create_when: \"new.pql_tier IN ('hot', 'warm')\"\n",
        ),
    )
    code, output = _validate(tmp_path)
    assert code == 0, output


@pytest.mark.parametrize(
    ("added", "expected"),
    [
        (
            "  create_when: new.no_such_column > 1\n",
            "mappings/companies.yaml:11: destination.create_when: the condition does not bind",
        ),
        (
            "  create_when: new.pql_score + 1\n",
            "mappings/companies.yaml:11: destination.create_when: must be true or false, but it gives a DECIMAL",
        ),
        ('  create_when: "true; DROP TABLE x"\n', "mappings/companies.yaml:11: destination.create_when:"),
        (
            "  adopt_by: {column: web_domain, field: domain}\n",
            "mappings/companies.yaml:11: destination.adopt_by.column: adopt_by column 'web_domain' is not a column",
        ),
        (
            "  owner: {column: rep_email, required: true}\n",
            "mappings/companies.yaml:11: destination.owner.column: owner column 'rep_email' is not a column",
        ),
        ("  mode: update\n  adopt_by: domain\n", "mode 'update' never creates a record: 'adopt_by'"),
    ],
)
def test_mistakes_are_named_at_file_and_line(tmp_path: Path, added: str, expected: str) -> None:
    make_project(tmp_path, MAPPING_YAML.replace(MATCH, MATCH + added))
    code, output = _validate(tmp_path)
    assert code == 2
    assert expected in " ".join(output.split()), output


def test_a_connector_declares_whether_it_adopts_and_has_owners() -> None:
    webhook = REGISTRY["webhook"]
    settings = webhook.settings.model_validate({"type": "webhook", "url": "https://hooks.example/pql"})
    problems = dict(webhook.target_problems(settings, "accounts", SyncMode.UPSERT, adopt=True, owner=True))
    assert problems == {
        "adopt_by": "a webhook destination cannot look up existing records to adopt",
        "owner": "a webhook destination's records have no owner to set",
    }
    hubspot = REGISTRY["hubspot"]
    token = hubspot.settings.model_validate({"type": "hubspot", "access_token": "t"})
    assert hubspot.target_problems(token, "companies", SyncMode.UPSERT, adopt=True, owner=True) == []
