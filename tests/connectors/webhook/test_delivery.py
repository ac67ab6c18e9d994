"""The webhook connector against the served sandbox receiver, over real HTTP: the delivery contract end to end."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from pydantic import SecretStr

from connectors import REGISTRY
from connectors.sandbox import Sandbox
from connectors.sandbox.core import FaultRule
from syncer.contract.destination import Destination, Operation, RecordStatus, WriteRecord
from syncer.contract.errors import DestinationStoppedError, RateLimitedError, TransientError
from tests.fakes import FakeClock

from .conftest import TARGET, DestinationFactory, records, settings


def test_a_batch_lands_and_every_record_is_confirmed_with_its_id(
    sandbox: Sandbox, make_destination: DestinationFactory
) -> None:
    result = make_destination().write(Operation.CREATE, records(3))
    assert [r.status for r in result.results] == [RecordStatus.CONFIRMED] * 3
    stored = sandbox.webhook.records("accounts")
    assert [r["key"] for r in stored] == ["k0.com", "k1.com", "k2.com"]
    assert stored[1]["fields"] == {"score": "1", "tier": "A"} and stored[1]["sync"] == "pql_accounts"
    assert [r.record_id for r in result.results] == [r["id"] for r in stored]
    assert result.calls == 1 and sandbox.webhook.log.count("POST /hook") == 1


def test_update_merges_and_clear_empties_fields(sandbox: Sandbox, make_destination: DestinationFactory) -> None:
    destination = make_destination()
    created = destination.write(Operation.CREATE, records(1)).results[0]
    destination.write(
        Operation.UPDATE, [WriteRecord("k0.com", Operation.UPDATE, created.record_id, "k0.com", {"score": "99"})]
    )
    assert sandbox.webhook.record("k0.com", "accounts")["fields"] == {"score": "99", "tier": "A"}  # type: ignore[index]
    destination.write(
        Operation.CLEAR,
        [WriteRecord("k0.com", Operation.CLEAR, created.record_id, "k0.com", {"score": None, "tier": None})],
    )
    stored = sandbox.webhook.record("k0.com", "accounts")
    assert stored is not None and stored["fields"] == {"score": None, "tier": None} and stored["writes"] == 3


def test_a_bad_signature_is_refused_and_stops_the_destination(
    sandbox: Sandbox, make_destination: DestinationFactory
) -> None:
    destination = make_destination(signing_secret=SecretStr("not-the-receivers-secret"))
    with pytest.raises(DestinationStoppedError) as excinfo:
        destination.write(Operation.CREATE, records(2))
    assert excinfo.value.code == "401"
    assert "not-the-receivers-secret" not in str(excinfo.value)
    assert sandbox.webhook.records() == []


def test_an_unsigned_batch_is_refused_by_a_receiver_that_expects_signatures(
    sandbox: Sandbox, make_destination: DestinationFactory
) -> None:
    with pytest.raises(DestinationStoppedError):
        make_destination(signing_secret=None).write(Operation.CREATE, records(1))
    assert sandbox.webhook.records() == []


def test_a_stale_timestamp_is_refused_so_a_captured_batch_cannot_be_replayed(
    sandbox: Sandbox, make_destination: DestinationFactory
) -> None:
    with pytest.raises(DestinationStoppedError):
        make_destination(clock=FakeClock(1_000.0)).write(Operation.CREATE, records(1))  # signed in 1970
    assert sandbox.webhook.records() == []


def test_per_record_rejections_map_back_to_their_records(
    sandbox: Sandbox, make_destination: DestinationFactory
) -> None:
    sandbox.webhook.reject_keys(["k1.com"], "tier A needs an owner")
    result = make_destination().write(Operation.CREATE, records(3))
    assert [r.status for r in result.results] == [RecordStatus.CONFIRMED, RecordStatus.REJECTED, RecordStatus.CONFIRMED]
    assert result.results[1].message == "tier A needs an owner" and result.results[1].record_id is None
    assert [r["key"] for r in sandbox.webhook.records()] == ["k0.com", "k2.com"]


def test_a_rate_limit_storm_raises_rate_limited_with_the_receivers_retry_after(
    sandbox: Sandbox, make_destination: DestinationFactory
) -> None:
    sandbox.webhook.retry_after_s = 7
    sandbox.webhook.set_faults([FaultRule(route="POST /hook", ratelimit_rate=1.0)])
    with pytest.raises(RateLimitedError) as excinfo:
        make_destination().write(Operation.CREATE, records(2))
    assert excinfo.value.retry_after == 7.0
    assert sandbox.webhook.records() == []


@pytest.mark.parametrize("status", [500, 502, 503])
def test_a_server_error_is_transient(sandbox: Sandbox, make_destination: DestinationFactory, status: int) -> None:
    sandbox.webhook.set_faults([FaultRule(route="POST /hook", error_rate=1.0, error_status=status)])
    with pytest.raises(TransientError) as excinfo:
        make_destination().write(Operation.CREATE, records(2))
    assert excinfo.value.code == str(status)


def test_a_dropped_connection_is_transient(sandbox: Sandbox, make_destination: DestinationFactory) -> None:
    sandbox.webhook.set_faults([FaultRule(route="POST /hook", drop_rate=1.0)])
    with pytest.raises(TransientError):
        make_destination().write(Operation.CREATE, records(2))
    assert sandbox.webhook.records() == []


def test_a_batch_resent_after_its_reply_was_lost_is_stored_once(
    sandbox: Sandbox, make_destination: DestinationFactory
) -> None:
    destination = make_destination()
    sandbox.webhook.set_faults([FaultRule(route="POST /hook", lost_response_rate=1.0)])
    with pytest.raises(TransientError):
        destination.write(Operation.CREATE, records(3))
    assert sandbox.webhook.batches == 1  # the receiver stored it; we never heard
    sandbox.webhook.set_faults([])
    again = destination.write(Operation.CREATE, records(3))  # what the executor's retry does
    assert [r.status for r in again.results] == [RecordStatus.CONFIRMED] * 3
    assert sandbox.webhook.batches == 1
    assert [r["writes"] for r in sandbox.webhook.records()] == [1, 1, 1]
    assert [r.record_id for r in again.results] == [r["id"] for r in sandbox.webhook.records()]


def test_each_write_is_one_post_so_n_records_take_ceil_n_over_batch_size_calls(
    sandbox: Sandbox, make_destination: DestinationFactory
) -> None:
    destination = make_destination(batch_size=4)
    pending = records(10)
    size = destination.capabilities.batch_size(Operation.CREATE, len(pending))
    assert size == 4
    for start in range(0, len(pending), size):  # the executor's chunking
        destination.write(Operation.CREATE, pending[start : start + size])
    assert sandbox.webhook.log.count("POST /hook") == math.ceil(10 / 4) == 3
    assert len(sandbox.webhook.records()) == 10
    with pytest.raises(ValueError, match="at most 4 records"):
        destination.write(Operation.CREATE, records(5))


def test_check_sends_a_signed_empty_batch_and_stores_nothing(
    sandbox: Sandbox, make_destination: DestinationFactory
) -> None:
    assert make_destination().check() == []
    assert sandbox.webhook.log.count("POST /hook") == 1 and sandbox.webhook.batches == 0
    with pytest.raises(DestinationStoppedError, match="signing secret"):
        make_destination(signing_secret=SecretStr("wrong")).check()
    assert make_destination().setup() == [
        f"nothing to create: the webhook at {sandbox.urls['webhook'].removesuffix('/hook')} takes any fields"
    ]


def test_check_against_a_wrong_path_says_so(sandbox: Sandbox, make_destination: DestinationFactory) -> None:
    with pytest.raises(DestinationStoppedError, match="check the url setting") as excinfo:
        make_destination(url=sandbox.urls["webhook"] + "s/secret-path-token").check()
    assert "secret-path-token" not in str(excinfo.value)


def test_the_registry_opens_a_destination_that_keeps_the_protocol(sandbox: Sandbox) -> None:
    destination = REGISTRY["webhook"].open(settings(sandbox.urls["webhook"]), replace(TARGET, sync="pql_accounts"))
    try:
        assert isinstance(destination, Destination)
        assert destination.capabilities.max_batch[Operation.CLEAR] == 500
        results = destination.write(Operation.CREATE, records(2)).results
        assert [r.status for r in results] == [RecordStatus.CONFIRMED] * 2
        assert sandbox.webhook.records()[0]["sync"] == "pql_accounts"  # the registry's factory reads the target's
    finally:
        destination.close()
