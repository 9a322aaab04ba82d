"""Every CSV Enrich writes opens in a spreadsheet without running a formula, and reads back.

Through the real paths: ``enrich import --rejects`` on a hostile file, ``enrich demo-data``
then ``enrich import``; letters are in tests/outreach/test_letter_manifest_safety.py.
"""

from __future__ import annotations

import csv
from pathlib import Path

from sqlalchemy import select
from typer.testing import CliRunner

from enrich.cli import app
from enrich.runtime import get_engine
from enrich.settings import Settings
from models.tables import CONTACT, PROFILE

C = CONTACT
P = PROFILE
TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
HEADER = "external_id,given_name,family_name,email,mobile"
LINK = '=HYPERLINK("http://evil.example","Klik")'


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def cells(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def formula_cells(path: Path) -> list[str]:
    return [cell for row in cells(path) for cell in row if cell.startswith(TRIGGERS)]


def test_the_import_report_of_a_hostile_file_runs_no_formula(
    settings: Settings, tmp_path: Path
) -> None:
    source = tmp_path / "hostile.csv"
    rows = [
        HEADER,
        f'C1,"{LINK.replace(chr(34), chr(34) * 2)}",+Jansen,@evil.example,-1+1',  # 2 invalid
        "=2,Anna,Smit,=1+1@example,",  # an invalid email that starts with "="
        "=2,Anna,Smit,,",  # a duplicate id: the row is rejected
        "@SUM(1+1),only two",  # wrong number of fields: the raw line goes into the report
    ]
    source.write_text("\n".join(rows) + "\n", encoding="utf-8")
    report = tmp_path / "rejects.csv"

    code, output = invoke("import", str(source), "--rejects", str(report))

    assert code == 1, output  # two rows were rejected
    assert formula_cells(report) == []
    values = [row[2] for row in cells(report)[1:]]
    assert sorted(values) == sorted(
        ["'@evil.example", "'-1+1", "'=1+1@example", "'=2", "'@SUM(1+1),only two"]
    )
    # The data itself is stored as it came: only the CSV cell is neutralised.
    with get_engine(settings).connect() as conn:
        names = dict(conn.execute(select(P.c.external_id, P.c.given_name)).tuples().all())
    assert names == {"C1": LINK, "=2": "Anna"}


def test_the_demo_file_runs_no_formula_and_imports_as_written(
    settings: Settings, tmp_path: Path
) -> None:
    demo = tmp_path / "demo.csv"
    assert invoke("demo-data", "--count", "200", "--seed", "3", "--out", str(demo))[0] == 0

    assert formula_cells(demo) == []
    header, *rows = cells(demo)
    mobiles = {row[0]: row[header.index("mobile")] for row in rows}
    escaped = {key: cell[1:] for key, cell in mobiles.items() if cell.startswith("'+")}
    assert len(escaped) > 50  # international numbers like +31 6 ... are common in the file

    code, output = invoke("import", str(demo))
    assert code == 0, output
    query = (
        select(P.c.external_id, C.c.raw_value)
        .join(C, C.c.profile_id == P.c.id)
        .where(C.c.kind == "mobile")
    )
    with get_engine(settings).connect() as conn:
        stored = dict(conn.execute(query).tuples().all())
    # Each escaped number is read back as the number itself, quote undone, and is valid.
    assert {key: stored[key] for key in escaped} == escaped
    with get_engine(settings).connect() as conn:
        statuses = {
            status
            for (status,) in conn.execute(
                select(C.c.status).where(C.c.raw_value.in_(list(escaped.values())))
            )
        }
    assert "valid" in statuses and not any(v.startswith("'") for v in stored.values())
