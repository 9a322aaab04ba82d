"""`enrich demo-data` and `enrich import` as a data steward uses them, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from enrich.cli import app
from enrich.cli.demo_data import write_demo_csv
from enrich.runtime import get_engine
from enrich.settings import Settings
from models.tables import CONTACT, PROFILE
from tests.paths import REPO

C = CONTACT
P = PROFILE
HEADER = (
    "external_id,given_name,family_name,email,mobile,street,house_number,postal_code,city,"
    "country,locale"
)
GOOD = "C1,Anna,de Vries,anna@example.com,06-12345678,Kerkstraat,12,1017 GC,Amsterdam,NL,nl"


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    assert "Traceback" not in result.output
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def test_demo_data_is_deterministic_per_seed(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "c.csv"
    assert write_demo_csv(a, count=300, seed=5) == 300
    write_demo_csv(b, count=300, seed=5)
    write_demo_csv(c, count=300, seed=6)
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()
    with a.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 300
    assert len({row["external_id"] for row in rows}) == 300
    assert {row["country"][:2].upper() for row in rows} >= {"NL", "BE", "DE", "GB", "FR"}


def test_demo_data_imports_without_rejects_and_with_realistic_gaps(
    settings: Settings, tmp_path: Path
) -> None:
    out = tmp_path / "demo.csv"
    code, output = invoke("demo-data", "--count", "2000", "--seed", "7", "--out", str(out))
    assert code == 0, output
    assert "2,000 demo customers" in output

    code, output = invoke("import", str(out))
    assert code == 0, output
    assert "rows rejected" in output

    with get_engine(settings).connect() as conn:
        total = conn.execute(select(func.count()).select_from(P)).scalar_one()
        statuses = dict(
            conn.execute(
                select(C.c.kind + ":" + C.c.status, func.count()).group_by(C.c.kind, C.c.status)
            ).all()
        )
        countries = dict(
            conn.execute(select(P.c.country, func.count()).group_by(P.c.country)).all()
        )
        landlines = conn.execute(
            select(func.count()).where(C.c.invalid_reason == "phone: not a mobile number")
        ).scalar_one()

    def share(n: int) -> float:
        return n / total

    assert total == 2000
    emails = sum(v for k, v in statuses.items() if k.startswith("email:"))
    mobiles = sum(v for k, v in statuses.items() if k.startswith("mobile:"))
    assert 0.11 < share(total - emails) < 0.19  # ~15% without email
    assert 0.03 < share(statuses["email:bounced"]) < 0.07  # ~5% bounced
    assert 0.02 < share(statuses["email:invalid"]) < 0.06  # ~4% malformed
    assert 0.21 < share(total - mobiles) < 0.29  # ~25% without mobile
    assert 0.015 < share(landlines) < 0.045  # ~3% landline in the mobile column
    assert 0.03 < share(statuses["mobile:invalid"]) < 0.07  # landlines and ~2% garbage
    assert 0.01 < share(statuses["postal:invalid"]) < 0.06  # missing address parts
    assert share(countries["NL"]) > 0.5
    assert set(countries) == {"NL", "BE", "DE", "GB", "FR"}


def test_example_file_imports_and_reimport_changes_nothing(
    settings: Settings, tmp_path: Path
) -> None:
    example = REPO / "examples" / "customers.csv"
    rejects = tmp_path / "rejects.csv"
    code, output = invoke("import", str(example), "--rejects", str(rejects))
    assert code == 0, output
    with rejects.open(encoding="utf-8") as handle:
        report = list(csv.DictReader(handle))
    assert report, "the example shows a few bad values"
    assert {row["outcome"] for row in report} == {"invalid"}

    code, output = invoke("import", str(example))
    assert code == 0, output
    assert re.search(r"profiles unchanged\W+13\b", output), output
    assert re.search(r"profiles created\W+0\b", output), output


def test_rejected_rows_exit_1_and_the_report_lists_them(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "crm.csv"
    bad_email = GOOD.replace("C1,", "C2,").replace("anna@example.com", "anna@example")
    path.write_text("\n".join([HEADER, GOOD, "C3,Only,Three", GOOD, bad_email]) + "\n")
    rejects = tmp_path / "out" / "rejects.csv"

    code, output = invoke("import", str(path), "--rejects", str(rejects))

    assert code == 1
    assert "2 row(s) rejected" in output
    with rejects.open(encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows == [
        ["line", "column", "value", "reason", "outcome"],
        ["3", "", "C3,Only,Three", "wrong number of fields: expected 11, got 3", "rejected"],
        ["4", "external_id", "C1", "duplicate external_id (first on line 2)", "rejected"],
        ["5", "email", "anna@example", "email syntax: domain without dot", "invalid"],
    ]
    with get_engine(settings).connect() as conn:
        assert conn.execute(select(func.count()).select_from(P)).scalar_one() == 2


def test_without_rejects_option_the_steward_is_told_how_to_get_the_report(
    settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "crm.csv"
    path.write_text("\n".join([HEADER, GOOD, GOOD]) + "\n")
    code, output = invoke("import", str(path))
    assert code == 1
    assert "--rejects PATH" in output


@pytest.mark.parametrize("case", ["latin-1", "missing", "header"])
def test_unreadable_file_exits_2_with_one_clear_line(
    settings: Settings, tmp_path: Path, case: str
) -> None:
    path = tmp_path / "crm.csv"
    if case == "latin-1":
        path.write_bytes(f"{HEADER}\n{GOOD.replace('Anna', 'Zoë')}\n".encode("latin-1"))
        expected = "rerun with --encoding latin-1"
    elif case == "header":
        path.write_text("id,name\n1,Anna\n")
        expected = "missing required column(s)"
    else:
        expected = "file not found"
    code, output = invoke("import", str(path))
    assert code == 2
    assert expected in output
    assert len(output.strip().splitlines()) == 1


def test_latin1_file_imports_with_the_encoding_option(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "crm.csv"
    path.write_bytes(f"{HEADER}\n{GOOD.replace('Anna', 'Zoë')}\n".encode("latin-1"))
    code, output = invoke("import", str(path), "--encoding", "latin-1")
    assert code == 0, output
    with get_engine(settings).connect() as conn:
        assert conn.execute(select(P.c.given_name)).scalar_one() == "Zoë"


def test_refused_characters_are_in_the_report_and_not_in_the_database(
    settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "crm.csv"
    hostile = GOOD.replace("Anna", "An\x00na").replace("Kerkstraat", "Kerk\u202estraat")
    path.write_text("\n".join([HEADER, hostile]) + "\n", encoding="utf-8")
    rejects = tmp_path / "rejects.csv"

    code, output = invoke("import", str(path), "--rejects", str(rejects))

    assert code == 0, output  # the row is imported, without the refused values
    assert re.search(r"refused given_name\W+1\b", output), output
    with rejects.open(encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows[1:] == [
        ["2", "given_name", "An<U+0000>na", "text: control character U+0000", "refused"],
        ["2", "street", "Kerk<U+202E>straat", "text: direction control character U+202E",
         "refused"],
    ]  # fmt: skip
    with get_engine(settings).connect() as conn:
        assert conn.execute(select(P.c.given_name)).scalar_one() is None
        kinds = {kind for (kind,) in conn.execute(select(C.c.kind))}
    assert kinds == {"email", "mobile"}
