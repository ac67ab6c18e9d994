"""Change rows for delivery tests: a :class:`ChangeRows` over an Arrow table, and a sink that records what it got."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from syncer.delivery.executor import RowFailure

FIELDS = ("name", "score")
VALUES = pa.struct([(name, pa.string()) for name in FIELDS])
CHANGE_SCHEMA = pa.schema(
    [
        ("op", pa.string()),
        ("key", pa.string()),
        ("record_id", pa.string()),
        ("match", pa.string()),
        ("changed", pa.list_(pa.string())),
        ("values", VALUES),
        ("hash", pa.int64()),
    ]
)


class TableChanges:
    """The change rows of a plan held in one Arrow table (the planner keeps them in DuckDB)."""

    def __init__(self, table: pa.Table) -> None:
        self._table = table.sort_by("key")

    @property
    def count(self) -> int:
        return int(self._table.num_rows)

    def batches(self, size: int = 10_000, op: str | None = None) -> Iterator[pa.RecordBatch]:
        yield from self.to_table(op).to_batches(max_chunksize=size)

    def to_table(self, op: str | None = None, limit: int | None = None) -> pa.Table:
        table = self._table if op is None else self._table.filter(pc.equal(self._table["op"], op))
        return table if limit is None else table.slice(0, limit)


def change_rows(*groups: tuple[str, Iterable[str]]) -> TableChanges:
    """Change rows from ``(op, keys)`` groups: creates and updates set both fields, clears empty both."""
    rows = []
    for op, keys in groups:
        for key in keys:
            known = None if op == "create" else f"id-{key}"
            values = dict.fromkeys(FIELDS) if op == "clear" else {"name": f"Account {key}", "score": str(len(key))}
            rows.append(
                {
                    "op": op,
                    "key": key,
                    "record_id": known,
                    "match": f"{key}.example.com",
                    "changed": list(FIELDS),
                    "values": values,
                    "hash": sum(map(ord, key)),
                }
            )
    return TableChanges(pa.Table.from_pylist(rows, schema=CHANGE_SCHEMA))


def keys(prefix: str, count: int) -> list[str]:
    return [f"{prefix}{n:05d}" for n in range(count)]


@dataclass
class RecordingSink:
    """Keeps every call, and the thread it came on. ``fail_on``: raise on that confirmed call (1-based)."""

    fail_on: int | None = None
    confirmed_batches: list[list[tuple[str, str | None]]] = field(default_factory=list)
    failures: list[RowFailure] = field(default_factory=list)
    threads: set[int] = field(default_factory=set)

    def confirmed(self, rows: pa.Table, record_ids: list[str | None]) -> None:
        self.threads.add(threading.get_ident())
        assert rows.schema == CHANGE_SCHEMA and rows.num_rows == len(record_ids)
        if self.fail_on is not None and len(self.confirmed_batches) + 1 == self.fail_on:
            raise RuntimeError("the state store went away")
        self.confirmed_batches.append(list(zip(rows.column("key").to_pylist(), record_ids, strict=True)))

    def failed(self, failures: Sequence[RowFailure]) -> None:
        self.threads.add(threading.get_ident())
        self.failures.extend(failures)

    @property
    def confirmed_ids(self) -> dict[str, str | None]:
        return {key: record_id for batch in self.confirmed_batches for key, record_id in batch}

    @property
    def confirmed_keys(self) -> list[str]:
        return [key for batch in self.confirmed_batches for key, _ in batch]

    def failure(self, key: str) -> RowFailure:
        (found,) = [f for f in self.failures if f.key == key]
        return found
