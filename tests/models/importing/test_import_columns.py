"""Any subset of the known columns with ``external_id`` imports, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from models.importing.apply_rows import ImportFileError
from models.tables import CONTACT, PROFILE
from tests.models.importing.import_data import ANNA, HEADER, count, points, profile, run, write

P = PROFILE
C = CONTACT


def stored(engine: Engine) -> dict[str, dict[str, Any]]:
    """Per external id: the profile's names and country, and each contact point's value."""
    with engine.connect() as conn:
        ids = [row.external_id for row in conn.execute(select(P.c.external_id))]
    found: dict[str, dict[str, Any]] = {}
    for external_id in ids:
        p = profile(engine, external_id)
        found[external_id] = {f: p[f] for f in ("given_name", "family_name", "country")}
        for kind, cp in points(engine, external_id).items():
            found[external_id][kind] = (cp["value"], cp["status"])
    return found


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (["external_id", "C1", "C2"], {"C1": {}, "C2": {}}),
        (
            ["external_id,email", "C1,anna@example.com"],
            {"C1": {"email": ("anna@example.com", "valid")}},
        ),
        (
            ["external_id,mobile,country", "C1,0470 12 34 56,BE"],
            {"C1": {"mobile": ("+32470123456", "valid"), "country": "BE"}},
        ),
        (
            [
                "external_id,street,house_number,postal_code,city",
                "C1,Kerkstraat,12,1017gc,Amsterdam",
            ],
            {"C1": {"postal": ("Kerkstraat 12, 1017 GC Amsterdam, NL", "unverified")}},
        ),
        (
            ["family_name;email;External ID;given_name", "Jansen;bram@example.net;C7;Bram"],
            {
                "C7": {
                    "given_name": "Bram",
                    "family_name": "Jansen",
                    "email": ("bram@example.net", "valid"),
                }
            },
        ),
    ],
    ids=["only-id", "id-email", "id-mobile-country", "address-without-names", "other-order"],
)
def test_a_subset_of_columns_imports(
    engine: Engine, tmp_path: Path, lines: list[str], expected: dict[str, dict[str, Any]]
) -> None:
    report = run(engine, write(tmp_path, *lines))

    blank = {"given_name": None, "family_name": None, "country": None}
    assert stored(engine) == {key: {**blank, **want} for key, want in expected.items()}
    assert report.profiles_created == len(expected)
    assert report.unknown_columns == []
    assert report.rejects == []


def test_an_address_part_alone_is_an_incomplete_address(engine: Engine, tmp_path: Path) -> None:
    report = run(engine, write(tmp_path, "city,external_id", "Utrecht,C1"))
    assert [(r.column, r.reason, r.kind) for r in report.rejects] == [
        ("street", "address incomplete: missing street", "invalid")
    ]
    assert points(engine, "C1")["postal"]["status"] == "invalid"


def test_a_later_file_with_fewer_columns_erases_nothing(engine: Engine, tmp_path: Path) -> None:
    run(engine, write(tmp_path, HEADER, ANNA))
    before = stored(engine)

    report = run(engine, write(tmp_path, "external_id,email", "C1,anna@example.com", name="b.csv"))

    assert report.profiles_unchanged == 1
    assert stored(engine) == before
    assert count(engine, C) == 3


def test_without_external_id_the_file_is_refused(engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(ImportFileError, match=r"missing required column\(s\): external_id"):
        run(engine, write(tmp_path, "email,given_name", "anna@example.com,Anna"))
    assert count(engine, P) == 0
