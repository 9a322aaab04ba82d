"""Spreadsheet-safe CSV: every CSV file Enrich writes goes through :class:`Writer`.

A spreadsheet runs a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return as a formula (OWASP "CSV injection"), so a customer named ``=HYPERLINK(...)`` would run
on the steward's machine. Such a cell is written with a leading ``'``, which spreadsheets show
as text. Reading (:func:`restore`, :func:`dict_rows`) undoes exactly that prefix, so whatever
Enrich writes it reads back unchanged.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from typing import Any, Final, Protocol

FORMULA_TRIGGERS: Final = frozenset("=+-@\t\r")
ESCAPE: Final = "'"


class _TextSink(Protocol):
    def write(self, text: str, /) -> Any: ...


def neutralise(cell: object) -> str:
    """The cell as text, with a ``'`` in front when a spreadsheet would run it as a formula."""
    text = "" if cell is None else str(cell)
    return ESCAPE + text if text[:1] in FORMULA_TRIGGERS else text


def restore(cell: str) -> str:
    """Undo :func:`neutralise`: drop a leading ``'`` that stands before a trigger character."""
    if len(cell) > 1 and cell[0] == ESCAPE and cell[1] in FORMULA_TRIGGERS:
        return cell[1:]
    return cell


class Writer:
    """``csv.writer`` (comma-separated, CRLF as RFC 4180 says) whose every cell is neutralised."""

    def __init__(self, handle: _TextSink) -> None:
        self._writer = csv.writer(handle, lineterminator="\r\n")

    def writerow(self, row: Iterable[object]) -> None:
        self._writer.writerow([neutralise(cell) for cell in row])


def dict_rows(lines: Iterable[str]) -> Iterator[dict[str, str]]:
    """The rows of a CSV Enrich wrote, keyed by its header, with every cell restored."""
    for row in csv.DictReader(lines):
        yield {k: restore(v) if isinstance(v, str) else v for k, v in row.items()}
