"""Spreadsheet-safe CSV cells: formula triggers are neutralised, and read back as written."""

from __future__ import annotations

import csv
import io

import pytest

from models import safe_csv

HOSTILE = [
    '=HYPERLINK("http://evil.example","click")',
    "+31 6 12345678",
    "-2+3",
    "@SUM(A1:A9)",
    "\t=1+1",
    "\r=1+1",
    "=cmd|' /C calc'!A0",
]
PLAIN = ["Anna", "'quoted'", "'", "", "O'Brien", "12", "x=1"]


@pytest.mark.parametrize("value", HOSTILE)
def test_a_cell_a_spreadsheet_would_run_starts_with_a_quote(value: str) -> None:
    assert safe_csv.neutralise(value) == "'" + value
    assert safe_csv.restore(safe_csv.neutralise(value)) == value


@pytest.mark.parametrize("value", PLAIN)
def test_other_cells_are_written_as_they_are(value: str) -> None:
    assert safe_csv.neutralise(value) == value
    assert safe_csv.restore(value) == value


def test_numbers_and_none_are_text() -> None:
    assert [safe_csv.neutralise(v) for v in (7, None, -1)] == ["7", "", "'-1"]


def test_written_rows_read_back_unchanged_and_no_cell_starts_with_a_trigger() -> None:
    buf = io.StringIO()
    writer = safe_csv.Writer(buf)
    writer.writerow(["name", "note"])
    for value in [*HOSTILE, *PLAIN]:
        writer.writerow([value, "x"])
    text = buf.getvalue()

    for row in csv.reader(io.StringIO(text)):
        for cell in row:
            assert cell[:1] not in safe_csv.FORMULA_TRIGGERS, cell
    names = [row["name"] for row in safe_csv.dict_rows(io.StringIO(text))]
    assert names == [*HOSTILE, *PLAIN]
