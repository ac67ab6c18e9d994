"""SOQL through ``sf.query`` / ``sf.query_all``: filters, paging with nextRecordsUrl, and query errors."""

from __future__ import annotations

import re

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest

from connectors.sandbox.people import sample_reps
from tests.sandbox.salesforce.conftest import SF, Org, content


def test_find_user_id_by_email(sf: SF) -> None:
    rep = sample_reps()[7]
    result = sf.query(f"SELECT Id, Name FROM User WHERE Email = '{rep.email.upper()}'")
    assert result["totalSize"] == 1 and result["done"] is True
    [record] = result["records"]
    assert record["attributes"]["type"] == "User"
    assert (record["Id"], record["Name"]) == (rep.salesforce_user_id, rep.name)


def test_in_and_limit_order(sf: SF, org: Org) -> None:
    org.emulator.seed_accounts(
        [
            {"Name": n, "Product_Account_Id__c": k, "PQL_Score__c": s}
            for n, k, s in [("A", "p1", 10), ("B", "p2", 90), ("C", "p3", 50), ("D", "p4", 70)]
        ]
    )
    result = sf.query(
        "select Name from Account where Product_Account_Id__c in ('p1','p2','p3') "
        "and PQL_Score__c >= 50 order by PQL_Score__c desc limit 5"
    )
    assert [r["Name"] for r in result["records"]] == ["B", "C"]
    assert sf.query("SELECT COUNT() FROM Account WHERE NOT Name = 'A' OR PQL_Score__c < 0")["totalSize"] == 3
    assert sf.query("SELECT Name FROM Account WHERE Name LIKE 'c%'")["records"][0]["Name"] == "C"


def test_large_results_page_with_next_records_url(sf: SF, org: Org) -> None:
    org.emulator.seed_accounts([{"Name": f"Acct {i:03d}"} for i in range(450)])
    options = {"Sforce-Query-Options": "batchSize=200"}
    first = sf.query("SELECT Id, Name FROM Account ORDER BY Name", headers=options)
    assert (first["totalSize"], first["done"], len(first["records"])) == (450, False, 200)
    assert re.fullmatch(r"/services/data/v59\.0/query/01g\w{15}-200", first["nextRecordsUrl"])
    everything = sf.query_all("SELECT Id, Name FROM Account ORDER BY Name", headers=options)
    assert [r["Name"] for r in everything["records"]] == [f"Acct {i:03d}" for i in range(450)]
    default = sf.query("SELECT Id FROM Account")
    assert default["done"] is True and len(default["records"]) == 450  # default batch is 2,000


def test_query_locator_expires_after_idle_time(sf: SF, org: Org) -> None:
    org.emulator.seed_accounts([{"Name": f"A{i}"} for i in range(201)])
    first = sf.query("SELECT Id FROM Account", headers={"Sforce-Query-Options": "batchSize=200"})
    org.clock.advance(901)
    with pytest.raises(SalesforceMalformedRequest) as raised:
        sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)
    assert content(raised)[0]["errorCode"] == "INVALID_QUERY_LOCATOR"


@pytest.mark.parametrize(
    ("soql", "code", "fragment"),
    [
        ("SELECT Id FROM Account WHERE", "MALFORMED_QUERY", "unexpected token: <EOF>"),
        ("SELECT Id Account", "MALFORMED_QUERY", "unexpected token: 'Account'"),
        ("SELECT Id FROM Account WHERE Name = 'open", "MALFORMED_QUERY", "unexpected token"),
        ("SELECT Id, Nope__c FROM Account", "INVALID_FIELD", "No such column 'Nope__c' on entity 'Account'"),
        ("SELECT Id FROM Account WHERE Bogus = 1", "INVALID_FIELD", "ERROR at Row:1:Column:30"),
        ("SELECT Id FROM Widget__c", "INVALID_TYPE", "sObject type 'Widget__c' is not supported"),
        ("SELECT Id FROM Task WHERE ActivityDate = '2026-01-01'", "INVALID_FIELD", "should not be enclosed in quotes"),
    ],
)
def test_bad_queries(sf: SF, soql: str, code: str, fragment: str) -> None:
    with pytest.raises(SalesforceMalformedRequest) as raised:
        sf.query(soql)
    [error] = content(raised)
    assert error["errorCode"] == code
    assert fragment in error["message"]


def test_date_literals_compare_unquoted(sf: SF, org: Org) -> None:
    account = org.emulator.add_record("Account", {"Name": "A"})
    org.emulator.add_record("Task", {"WhatId": account, "Subject": "early", "ActivityDate": "2026-01-05"})
    org.emulator.add_record("Task", {"WhatId": account, "Subject": "late", "ActivityDate": "2026-03-05"})
    result = sf.query(f"SELECT Subject FROM Task WHERE ActivityDate > 2026-02-01 AND WhatId = '{account[:15]}'")
    assert [r["Subject"] for r in result["records"]] == ["late"]
