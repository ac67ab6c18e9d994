"""Change rows to write records, in chunks of exactly the destination's batch size."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pyarrow as pa
import pytest

from syncer.contract.destination import Operation
from syncer.delivery.records import ChunkSource, write_records
from tests.delivery.plans import CHANGE_SCHEMA, TableChanges, change_rows, keys


class RaggedChanges(TableChanges):
    """Hands out record batches of uneven sizes, as a database cursor may."""

    def batches(self, size: int = 10_000, op: str | None = None) -> Iterator[pa.RecordBatch]:
        table = self.to_table(op)
        start, steps = 0, itertools.cycle([1, 7, 3, 12, 2])
        while start < table.num_rows:
            step = next(steps)
            yield from table.slice(start, step).to_batches()
            start += step


def _chunks(source: ChunkSource) -> list[list[str]]:
    out = []
    while (chunk := source.next()) is not None:
        assert chunk.rows.column("key").to_pylist() == [r.key for r in chunk.records]
        out.append([r.key for r in chunk.records])
    return out


def test_chunks_have_exactly_the_batch_size_across_uneven_reads_and_skip_keys() -> None:
    changes = RaggedChanges(change_rows(("create", keys("c", 40)), ("update", keys("u", 3))).to_table())
    source = ChunkSource(changes, Operation.CREATE, 6, skip={"c00000", "c00013", "c00039"})
    chunks = _chunks(source)
    assert [len(c) for c in chunks] == [6] * 6 + [1]
    assert [k for c in chunks for k in c] == [k for k in keys("c", 40) if k not in {"c00000", "c00013", "c00039"}]
    assert source.exhausted and source.count_rest() == 0


def test_what_was_not_handed_out_is_counted_without_making_records() -> None:
    source = ChunkSource(
        RaggedChanges(change_rows(("clear", keys("x", 25))).to_table()), Operation.CLEAR, 10, skip={"x00024"}
    )
    assert source.next() is not None
    assert source.count_rest() == 14
    assert source.next() is None


def test_records_carry_only_the_changed_fields_and_refuse_a_field_without_a_value() -> None:
    row = {
        "op": "update",
        "key": "a",
        "record_id": "7",
        "match": "a.com",
        "changed": ["score"],
        "values": {"name": "Acme", "score": "3"},
        "hash": 1,
    }
    (record,) = write_records(Operation.UPDATE, pa.Table.from_pylist([row], schema=CHANGE_SCHEMA))
    assert (record.key, record.record_id, record.match, dict(record.values)) == ("a", "7", "a.com", {"score": "3"})

    (cleared,) = write_records(Operation.CLEAR, pa.Table.from_pylist([row], schema=CHANGE_SCHEMA))
    assert dict(cleared.values) == {"score": None}

    bad = pa.Table.from_pylist([{**row, "changed": ["score", "owner"]}], schema=CHANGE_SCHEMA)
    with pytest.raises(ValueError, match="change row 'a' names fields it has no value for: owner"):
        write_records(Operation.UPDATE, bad)


def test_a_batch_size_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one record"):
        ChunkSource(change_rows(), Operation.CREATE, 0, skip=())
