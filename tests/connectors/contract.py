"""The connector contract: what every field-writing destination must do, as functions any connector's tests call.

A connector's test module supplies two things and calls the ``check_*`` functions with them:

- ``open_destination``: a :data:`Factory` building a destination for a :class:`Target` against its sandbox;
- ``inspect``: an :data:`Inspector` returning the vendor's current values of ``fields`` for one record id
  (``None`` when the record does not exist), read straight from the emulator, not through the connector.

Each check writes through the protocol only (``write``, ``capabilities``) and asserts what the engine relies on:
one result per record in input order, confirmations that really hold at the vendor, refusals that name the vendor's
reason without spoiling the rest of the batch, re-sends that change nothing, and declared batch sizes that work.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

from syncer.contract.destination import (
    BatchResult,
    Destination,
    Operation,
    RecordStatus,
    Target,
    WriteRecord,
)

Factory = Callable[[Target], Destination]
Inspector = Callable[[str, Sequence[str]], Mapping[str, str | None] | None]


def _written(destination: Destination, records: Sequence[WriteRecord], op: Operation = Operation.CREATE) -> BatchResult:
    result = destination.write(op, records)
    assert len(result.results) == len(records), "one result per record"
    return result


def check_confirms(
    open_destination: Factory, inspect: Inspector, target: Target, records: Sequence[WriteRecord]
) -> list[str]:
    """Every record is confirmed with a record id, and the vendor then holds exactly the values sent
    (``None`` read back as empty). Returns the record ids, in input order."""
    destination = open_destination(target)
    try:
        result = _written(destination, records)
    finally:
        destination.close()
    ids = []
    for record, outcome in zip(records, result.results, strict=True):
        assert outcome.status is RecordStatus.CONFIRMED, (record.key, outcome)
        assert outcome.record_id, (record.key, "a confirmation names the record id")
        held = inspect(outcome.record_id, list(record.values))
        assert held is not None, (record.key, "the confirmed record exists")
        assert {k: held.get(k) or None for k in record.values} == {k: v or None for k, v in record.values.items()}
        ids.append(outcome.record_id)
    return ids


def check_rejects(open_destination: Factory, target: Target, good: Sequence[WriteRecord], bad: WriteRecord) -> None:
    """``bad`` (placed mid-batch) is rejected with the vendor's code and message; every ``good`` record confirms."""
    middle = len(good) // 2
    records = [*good[:middle], bad, *good[middle:]]
    destination = open_destination(target)
    try:
        result = _written(destination, records)
    finally:
        destination.close()
    refused = result.results[middle]
    assert refused.status is RecordStatus.REJECTED, refused
    assert refused.code and refused.message, "a refusal names the vendor's code and message"
    others = [r for i, r in enumerate(result.results) if i != middle]
    assert all(r.status is RecordStatus.CONFIRMED for r in others), others


def check_idempotent(
    open_destination: Factory, inspect: Inspector, target: Target, records: Sequence[WriteRecord]
) -> None:
    """Sending the same confirmed batch again (a crash between send and commit) confirms the same record ids and
    leaves the vendor's values as they were."""
    first = check_confirms(open_destination, inspect, target, records)
    before = [inspect(record_id, list(r.values)) for record_id, r in zip(first, records, strict=True)]
    # The re-send knows the ids only if the first commit happened; both cases must be harmless.
    for again in (records, [replace(r, record_id=i) for r, i in zip(records, first, strict=True)]):
        second = check_confirms(open_destination, inspect, target, again)
        assert second == first, "a re-send finds the same records"
        assert [inspect(i, list(r.values)) for i, r in zip(second, records, strict=True)] == before


def check_capabilities(
    open_destination: Factory, target: Target, make_records: Callable[[int], Sequence[WriteRecord]]
) -> None:
    """The declared capabilities are usable: the target's mode is supported, and a batch of the declared
    ``max_batch`` records for a create is accepted whole, one confirmation per record in input order."""
    destination = open_destination(target)
    try:
        caps = destination.capabilities
        assert target.mode in caps.modes
        assert caps.rate.requests > 0 and caps.rate.window_s > 0 and caps.rate.concurrency >= 1
        size = caps.max_batch[Operation.CREATE]
        assert all(caps.max_batch[op] >= 1 for op in Operation)
        records = make_records(size)
        result = _written(destination, records)
        assert all(r.status is RecordStatus.CONFIRMED for r in result.results), result.results
        assert len({r.record_id for r in result.results}) == size, "each record confirmed as its own record"
    finally:
        destination.close()
