"""docs/reliability.md carries the fault matrix exactly as the tests run it."""

from __future__ import annotations

from tests.reliability.matrix import FAULTS
from tests.reliability.matrix_doc import PAGE, render, table


def test_the_page_holds_the_current_matrix() -> None:
    page = PAGE.read_text()
    assert render(page) == page, "docs/reliability.md is out of date: run python -m tests.reliability.matrix_doc"


def test_the_table_has_a_row_per_fault_and_names_every_n_a_reason() -> None:
    rows = table().splitlines()[2:]
    assert len(rows) == len(FAULTS)
    for fault, row in zip(FAULTS, rows, strict=True):
        assert row.startswith(f"| {fault.title} |")
        for cell in fault.cells.values():
            if not cell.applies:
                assert f"n/a: {cell.note}" in row
