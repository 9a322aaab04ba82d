"""The changes feed as a file for the CRM: CSV (spreadsheet-safe) or JSON Lines.

The file appears whole or not at all: it is written next to its place, then renamed over it.
It holds personal data, so only its owner may read it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Final

from sqlalchemy.engine import Connection

from models.changes_feed.changes import COLUMNS, Change, head, stream
from models.changes_feed.cursor import store_cursor, take_cursor
from models.safe_csv import Writer
from models.whole_files import written_whole

FORMATS: Final = (".csv", ".jsonl")


class ExportError(ValueError):
    """An export refused before anything was written (a bad cursor, an unknown format)."""


@dataclass(frozen=True, slots=True)
class Exported:
    since: int
    until: int
    rows: int


def _write_csv(handle: IO[str], lines: Iterable[Change]) -> int:
    writer = Writer(handle)
    writer.writerow(COLUMNS)
    count = 0
    for change in lines:
        writer.writerow([_cell(v) for v in change])
        count += 1
    return count


def _cell(value: object) -> object:
    return ("true" if value else "false") if isinstance(value, bool) else value


def _write_jsonl(handle: IO[str], lines: Iterable[Change]) -> int:
    count = 0
    for change in lines:
        handle.write(json.dumps(change.as_dict(), ensure_ascii=False) + "\n")
        count += 1
    return count


def export_changes(
    conn: Connection, out: Path, *, since: int | None, until: int | None, now: datetime
) -> Exported:
    """Write the changes of ``(since, until]`` to ``out`` and store ``until`` as the cursor.

    ``since`` defaults to where the last export stopped, ``until`` to the newest sealed row.
    Call it in a transaction: the cursor is stored with the file in place, or not at all. The
    stored cursor stays locked until that transaction ends, so a second export at the same time
    waits, then starts where this one stopped.
    """
    suffix = out.suffix.lower()
    if suffix not in FORMATS:
        raise ExportError(f"the file must end in {' or '.join(FORMATS)}, not {suffix or '(none)'}")
    stored = take_cursor(conn, now)
    start = stored if since is None else since
    end = head(conn) if until is None else until
    if start < 0 or end < start:
        raise ExportError(f"the cursor range {start}..{end} is empty or reversed")
    with written_whole(out, newline="") as file:  # mode 0600
        write = _write_csv if suffix == ".csv" else _write_jsonl
        rows = write(file, stream(conn, start, end))
    store_cursor(conn, end, rows, now)
    return Exported(start, end, rows)
