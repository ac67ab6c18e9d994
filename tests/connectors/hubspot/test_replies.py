"""Mapping replies HubSpot can send but the emulator does not: a 400 that names its inputs, results out of order."""

from __future__ import annotations

import json
from collections.abc import Mapping

from connectors.hubspot.errors import Reply
from connectors.hubspot.replies import Entry, Outcome
from syncer.contract.destination import RecordStatus


def _entries(count: int) -> list[Entry]:
    return [Entry(i, str(100 + i), {"id": str(100 + i), "properties": {}}) for i in range(count)]


def _reply(status: int, body: Mapping[str, object]) -> Reply:
    return Reply.parse(status, json.dumps(body).encode(), {})


def test_a_refused_batch_that_names_an_input_rejects_it_and_leaves_the_rest_retryable() -> None:
    body = {
        "status": "error",
        "category": "VALIDATION_ERROR",
        "message": "Property values were not valid",
        "errors": [
            {
                "message": "bad option",
                "code": "INVALID_OPTION",
                "context": {"objectWriteTraceId": ["1"], "propertyName": ["pql_tier"]},
            }
        ],
    }
    outcome = Outcome()
    assert outcome.refuse(_entries(3), _reply(400, body)) is True
    assert [outcome.results[i].status for i in range(3)] == [
        RecordStatus.RETRYABLE,
        RecordStatus.REJECTED,
        RecordStatus.RETRYABLE,
    ]
    assert outcome.results[1].code == "INVALID_OPTION" and "pql_tier" in str(outcome.results[1].message)


def test_a_refused_batch_naming_nobody_is_left_to_the_executor() -> None:
    body = {"category": "VALIDATION_ERROR", "message": "bad", "errors": [{"code": "X", "context": {}}]}
    outcome = Outcome()
    assert outcome.refuse(_entries(2), _reply(400, body)) is False and outcome.results == {}


def test_results_in_any_order_map_by_key_and_silence_is_retryable() -> None:
    body = {
        "status": "COMPLETE",
        "results": [{"id": "102"}, {"id": "100"}],
        "errors": [{"category": "OBJECT_NOT_FOUND", "message": "gone", "context": {"ids": ["103"]}}],
    }
    outcome = Outcome()
    outcome.absorb(_entries(4), _reply(207, body), lambda result: str(result.get("id")))
    assert [(outcome.results[i].status, outcome.results[i].record_id) for i in (0, 2)] == [
        (RecordStatus.CONFIRMED, "100"),
        (RecordStatus.CONFIRMED, "102"),
    ]
    assert outcome.results[3].code == "OBJECT_NOT_FOUND"
    assert outcome.results[1].status is RecordStatus.RETRYABLE
