"""check() and setup(): credentials, missing and mistyped properties, and creating what is missing."""

from __future__ import annotations

from connectors.hubspot.sandbox import HubSpotEmulator
from syncer.contract.destination import Operation, RecordStatus
from syncer.contract.enums import FieldType
from tests.connectors.hubspot.conftest import Open, record, target

FIELDS = {
    "name": FieldType.STRING,
    "pql_score": FieldType.INTEGER,
    "pql_tier": FieldType.STRING,
    "pql_since": FieldType.DATETIME,
    "seats_used": FieldType.NUMBER,
    "is_trial": FieldType.BOOLEAN,
    "renewal_on": FieldType.DATE,
    "usage_blob": FieldType.JSON,
}


def test_a_clean_target_checks_clean(open_hubspot: Open) -> None:
    assert open_hubspot(target()).check() == []


def test_check_reports_a_refused_token(open_hubspot: Open) -> None:
    findings = open_hubspot(token="pat-na1-wrong").check()
    assert [f.field for f in findings] == ["access_token"] and not findings[0].fixable
    assert "pat-na1-wrong" not in findings[0].problem


def test_missing_properties_are_fixable_and_setup_creates_them(open_hubspot: Open, hubspot: HubSpotEmulator) -> None:
    destination = open_hubspot(target(fields=FIELDS))
    findings = destination.check()
    assert sorted(f.field for f in findings) == ["is_trial", "renewal_on", "seats_used", "usage_blob"]
    assert all(f.fixable for f in findings)

    done = destination.setup()
    assert len(done) == 4 and all(line.startswith("created companies property") for line in done)
    defs = hubspot.portal.store.definitions["companies"]
    assert [
        (defs[n].type, defs[n].field_type, defs[n].group_name)
        for n in ("is_trial", "renewal_on", "seats_used", "usage_blob")
    ] == [
        ("bool", "booleancheckbox", "companyinformation"),
        ("date", "date", "companyinformation"),
        ("number", "number", "companyinformation"),
        ("string", "textarea", "companyinformation"),
    ]
    assert destination.check() == []
    written = destination.write(
        Operation.CREATE, [record("acct-1", {"seats_used": "12", "is_trial": "true", "renewal_on": "2027-01-31"})]
    )
    assert written.results[0].status is RecordStatus.CONFIRMED


def test_an_incompatible_type_is_reported_and_not_fixable(open_hubspot: Open) -> None:
    destination = open_hubspot(
        target(fields={"pql_score": FieldType.DATETIME, "name": FieldType.BOOLEAN, "hs_custom_thing": FieldType.STRING})
    )
    findings = {f.field: f for f in destination.check()}
    assert sorted(findings) == ["hs_custom_thing", "name", "pql_score"]
    assert not any(f.fixable for f in findings.values())
    assert "number" in findings["pql_score"].problem and "datetime" in findings["pql_score"].problem
    assert all(line.startswith("not fixable here") for line in destination.setup())


def test_a_missing_match_property_is_reported(open_hubspot: Open) -> None:
    findings = open_hubspot(target(match="external_key", fields={})).check()
    assert [(f.field, f.fixable) for f in findings] == [("external_key", True)]
