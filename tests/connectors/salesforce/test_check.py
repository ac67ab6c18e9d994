"""check() and setup() from the org's describe, and the capabilities the connector declares."""

from __future__ import annotations

from collections.abc import Callable

from connectors.salesforce.connector import SalesforceDestination
from syncer.contract.destination import Destination, FieldCheck, Operation, Target
from syncer.contract.enums import FieldType, SyncMode
from tests.connectors.salesforce.conftest import BY_PRODUCT_ID

BROKEN = Target(
    "Account",
    SyncMode.UPSERT,
    "Name",
    {
        "PQL_Score__c": FieldType.NUMBER,
        "Churn_Risk__c": FieldType.NUMBER,
        "PQL_Tier__c": FieldType.BOOLEAN,
        "CreatedDate": FieldType.DATETIME,
        "Seats": FieldType.INTEGER,
        "Payload__c": FieldType.JSON,
    },
)


def test_a_matching_org_passes(destination: SalesforceDestination) -> None:
    assert destination.check() == []
    assert destination.setup() == []


def test_check_names_missing_fields_bad_types_and_a_match_field_that_is_no_external_id(
    open_destination: Callable[..., SalesforceDestination],
) -> None:
    problems = open_destination(BROKEN).check()
    assert problems == [
        FieldCheck("Churn_Risk__c", "Account has no field Churn_Risk__c"),
        FieldCheck(
            "PQL_Tier__c",
            "Account.PQL_Tier__c is of type picklist; a boolean value needs one of boolean",
            about_type=True,
        ),
        FieldCheck("CreatedDate", "Account.CreatedDate is read-only for the API user"),
        FieldCheck("Seats", "Account has no field Seats"),
        FieldCheck("Payload__c", "Account has no field Payload__c"),
        FieldCheck("Name", "Account.Name is not an External ID field, so records cannot be matched on it"),
    ]
    assert not any(problem.fixable for problem in problems)


def test_setup_says_exactly_what_to_create(open_destination: Callable[..., SalesforceDestination]) -> None:
    assert open_destination(BROKEN).setup() == [
        'Create on Account: label "Churn Risk", API name Churn_Risk__c (field name Churn_Risk), type Number, '
        "length 16, decimal places 2",
        "Change Account.PQL_Tier__c from picklist to Checkbox, default unchecked, or map a field of a compatible type",
        "Account.Seats does not exist and is not a custom field name (custom fields end in __c): map a custom field "
        "such as Seats__c instead",
        'Create on Account: label "Payload", API name Payload__c (field name Payload), type Long Text Area, '
        "length 131072",
        "Account.Name is a standard field and cannot be an External ID: match on a custom External ID field (such "
        "as Name_Key__c) or on Id",
    ]


def test_setup_asks_to_mark_a_custom_match_field_as_external_id(
    open_destination: Callable[..., SalesforceDestination],
) -> None:
    destination = open_destination(Target("Account", SyncMode.UPSERT, "PQL_Reason__c", {}))
    assert destination.check() == [
        FieldCheck(
            "PQL_Reason__c", "Account.PQL_Reason__c is not an External ID field, so records cannot be matched on it"
        )
    ]
    assert destination.setup() == [
        "Edit Account.PQL_Reason__c: tick External ID (and Unique), so syncer can upsert on it"
    ]


def test_a_missing_match_field_is_created_as_a_unique_external_id(
    open_destination: Callable[..., SalesforceDestination],
) -> None:
    destination = open_destination(Target("Lead", SyncMode.UPSERT, "Product_User_Id__c", {"Title": FieldType.STRING}))
    assert destination.check() == [FieldCheck("Product_User_Id__c", "Lead has no field Product_User_Id__c to match on")]
    assert destination.setup() == [
        'Create on Lead: label "Product User Id", API name Product_User_Id__c (field '
        "name Product_User_Id), type Text, length 255; tick External ID and Unique"
    ]


def test_an_unknown_object_is_reported(open_destination: Callable[..., SalesforceDestination]) -> None:
    destination = open_destination(Target("Widget__c", SyncMode.UPSERT, "Id", {}))
    assert destination.check() == [FieldCheck("Widget__c", "this org has no object Widget__c")]


def test_capabilities_are_declared_as_data(destination: SalesforceDestination) -> None:
    assert isinstance(destination, Destination)
    caps = destination.capabilities
    assert dict(caps.max_batch) == {op: 200 for op in Operation}
    assert (caps.bulk_threshold, caps.bulk_batch) == (2_000, 10_000)
    assert caps.rate.daily is None and caps.modes == frozenset(SyncMode)
    assert caps.batch_size(Operation.UPDATE, 1_999) == 200
    assert caps.batch_size(Operation.UPDATE, 2_000) == 10_000
    assert BY_PRODUCT_ID.match_field == "Product_Account_Id__c"
