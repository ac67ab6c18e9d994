"""Effect payloads are typed values whose stored JSON keeps the keys state files already hold."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, date, datetime

import pytest

from syncer.effects.payloads import AlertPayload, DigestPayload, TaskPayload, payload_of
from syncer.state.outbox import EffectKind, OutboxRecord, OutboxStatus

FIRED = datetime(2026, 12, 5, 7, 30, tzinfo=UTC)

# Payloads as the outbox stored them before they were typed: json.dumps(..., default=str) of plain dicts, so
# dates and times in str() form.
STORED_TASK = {
    "connector": "hubspot",
    "owner_email": "Dana.Kim@yourco.com ",
    "due": "2026-12-07",
    "priority": "HIGH",
    "fired_at": "2026-12-05 07:30:00+00:00",
    "subject": "Call Acme",
    "body": "now",
}
STORED_ALERT = {
    "owner_email": "dana.kim@yourco.com",
    "connector": "slack",
    "channel": None,
    "template": "*{{ account_name }}* is hot",
    "title": "{{ account_name }}",
    "record_url": None,
    "row": {"account_name": "Acme", "pql_score": 91},
    "signals": {"invites": 4},
    "score": 91,
    "priority": 91.0,
    "tier": "hot",
    "trigger_priority": 1,
    "fired_at": "2026-12-05 07:30:00+00:00",
    "first_run": False,
    "changes": [["score", 70, 91]],
    "rep": "U_DANA",
    "rep_time_zone": "Europe/Berlin",
    "decision": "digest",
    "reason": "over the daily cap",
    "digest_key": "U_DANA/2026-12-05",
}
STORED_DIGEST = {
    "digest_key": "U_DANA/2026-12-05",
    "rep": "U_DANA",
    "connector": "slack",
    "owner_email": "dana.kim@yourco.com",
}


def _stored(payload: Mapping[str, object]) -> dict[str, object]:
    """What reading the outbox gives back for ``payload``: its JSON text parsed."""
    return dict(json.loads(json.dumps(payload, sort_keys=True, default=str)))


def test_payloads_stored_before_they_were_typed_read_back_typed() -> None:
    task = TaskPayload.from_json(_stored(STORED_TASK))
    assert task == TaskPayload("hubspot", "Dana.Kim@yourco.com ", date(2026, 12, 7), "HIGH", FIRED, "Call Acme", "now")
    alert = AlertPayload.from_json(_stored(STORED_ALERT))
    assert (alert.fired_at, alert.priority, alert.trigger_priority, alert.changes) == (
        FIRED,
        91.0,
        1,
        [["score", 70, 91]],
    )
    assert (alert.rep, alert.decision, alert.digest_key, alert.row["account_name"]) == (
        "U_DANA",
        "digest",
        "U_DANA/2026-12-05",
        "Acme",
    )
    assert DigestPayload.from_json(_stored(STORED_DIGEST)) == DigestPayload(
        "U_DANA/2026-12-05", "U_DANA", "slack", "dana.kim@yourco.com"
    )


@pytest.mark.parametrize(
    ("kind", "stored"), [(TaskPayload, STORED_TASK), (AlertPayload, STORED_ALERT), (DigestPayload, STORED_DIGEST)]
)
def test_a_payload_is_stored_under_the_same_keys_and_reads_back_equal(
    kind: type[TaskPayload] | type[AlertPayload] | type[DigestPayload], stored: Mapping[str, object]
) -> None:
    payload = kind.from_json(_stored(stored))
    written = payload.to_json()
    assert set(written) == set(stored)
    assert kind.from_json(_stored(written)) == payload


def test_an_alert_not_decided_yet_and_a_task_whose_template_failed_store_no_empty_keys() -> None:
    staged = AlertPayload("slack", None, "hot", FIRED)
    assert not {"rep", "rep_time_zone", "decision", "reason", "digest_key"} & set(staged.to_json())
    failed = TaskPayload("hubspot", None, date(2026, 12, 7), "HIGH", FIRED)
    assert not {"subject", "body"} & set(failed.to_json())
    assert TaskPayload.from_json(_stored(failed.to_json())).subject is None


def test_a_record_reads_back_as_the_payload_of_its_kind() -> None:
    record = OutboxRecord(
        "digest:U_DANA/2026-12-05",
        "",
        "digest",
        "U_DANA",
        EffectKind.DIGEST,
        _stored(STORED_DIGEST),
        OutboxStatus.PENDING,
        None,
        0,
        None,
        FIRED,
        FIRED,
    )
    assert payload_of(record) == DigestPayload.from_json(STORED_DIGEST)
