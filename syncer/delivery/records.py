"""Change rows of a plan as :class:`WriteRecord` chunks of exactly the size a destination takes per call.

A chunk keeps its change rows (the plan's schema) next to the records made from them, in the same order, so
whatever the destination confirms can be committed from the very rows that were planned.
"""

from __future__ import annotations

from collections.abc import Container, Iterator
from dataclasses import dataclass

import pyarrow as pa

from syncer.contract.destination import Operation, WriteRecord
from syncer.core.plan import ChangeRows

_READ_ROWS = 10_000  # rows read from the plan at a time when the destination takes fewer per call


@dataclass(frozen=True)
class Chunk:
    """Change rows and the records made from them, index for index."""

    rows: pa.Table
    records: list[WriteRecord]

    def take(self, indices: list[int]) -> Chunk:
        return Chunk(self.rows.take(pa.array(indices, pa.int64())), [self.records[i] for i in indices])

    def halves(self) -> tuple[Chunk, Chunk]:
        middle = len(self.records) // 2
        return (
            Chunk(self.rows.slice(0, middle), self.records[:middle]),
            Chunk(self.rows.slice(middle), self.records[middle:]),
        )

    @staticmethod
    def join(chunks: list[Chunk]) -> Chunk:
        return Chunk(pa.concat_tables([c.rows for c in chunks]), [r for c in chunks for r in c.records])


def write_records(op: Operation, rows: pa.Table | pa.RecordBatch) -> list[WriteRecord]:
    """One record per change row: only the fields named in ``changed``, from ``values`` (``None`` for a clear).

    Raises :class:`ValueError` when ``changed`` names a field ``values`` lacks: sending ``None`` for it would
    empty a field in the destination that the plan never meant to touch.
    """
    records = []
    adopting = "adopt" in rows.schema.names  # the sync adopts existing records (a create carries its adopt value)
    columns = ["key", "record_id", "match", "changed", "values"] + (["adopt"] if adopting else [])
    for row in rows.select(columns).to_pylist():
        planned: dict[str, str | None] = row["values"] or {}
        changed: list[str] = row["changed"] or []
        unknown = [name for name in changed if name not in planned]
        if unknown:
            raise ValueError(f"change row {row['key']!r} names fields it has no value for: {', '.join(unknown)}")
        values = {name: None if op is Operation.CLEAR else planned[name] for name in changed}
        records.append(
            WriteRecord(
                key=row["key"],
                op=op,
                record_id=row["record_id"],
                match=row["match"],
                values=values,
                adopt=row.get("adopt"),
            )
        )
    return records


class ChunkSource:
    """The change rows of one operation, minus ``skip`` keys, as chunks of ``size`` (the last may be smaller).

    Reads the plan lazily, so at most about one read batch plus one chunk is held at a time.
    """

    def __init__(self, changes: ChangeRows, op: Operation, size: int, skip: Container[str]) -> None:
        if size < 1:
            raise ValueError(f"a batch must hold at least one record, not {size}")
        self.op = op
        self.size = size
        self._skip = skip
        self._input: Iterator[pa.RecordBatch] = changes.batches(max(size, _READ_ROWS), op=op.value)
        self._buffer: list[pa.RecordBatch] = []
        self._buffered = 0
        self._input_done = False

    @property
    def exhausted(self) -> bool:
        return self._input_done and self._buffered == 0

    def next(self) -> Chunk | None:
        """The next chunk, or ``None`` when every row has been handed out."""
        while self._buffered < self.size and not self._input_done:
            batch = self._read()
            if batch is not None and batch.num_rows:
                self._buffer.append(batch)
                self._buffered += batch.num_rows
        if self._buffered == 0:
            return None
        table = pa.Table.from_batches(self._buffer)
        taken, rest = table.slice(0, self.size), table.slice(self.size)
        self._buffer = rest.to_batches()
        self._buffered = rest.num_rows
        return Chunk(taken, write_records(self.op, taken))

    def count_rest(self) -> int:
        """How many rows were never handed out; reads (and drops) them without making records."""
        count = self._buffered
        self._buffer, self._buffered = [], 0
        while not self._input_done:
            batch = self._read()
            count += 0 if batch is None else batch.num_rows
        return count

    def close(self) -> None:
        close = getattr(self._input, "close", None)
        if close is not None:
            close()  # a generator over a database cursor releases it
        self._input_done = True
        self._buffer, self._buffered = [], 0

    def _read(self) -> pa.RecordBatch | None:
        batch = next(self._input, None)
        if batch is None:
            self._input_done = True
            return None
        keys = batch.column(batch.schema.get_field_index("key")).to_pylist()
        keep = [key not in self._skip for key in keys]
        return batch if all(keep) else batch.filter(pa.array(keep, pa.bool_()))
