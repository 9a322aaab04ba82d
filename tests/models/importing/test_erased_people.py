"""A CRM export still holding an erased person: the row is rejected and the person is not created
again, whichever id the row names; the other rows import (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import Engine

from models.data_subject.erasure import erase_on_request
from models.data_subject.request import Request
from models.importing.apply_rows import ERASED
from tests.factories import NOW
from tests.models.importing.import_data import (
    ANNA,
    BRAM,
    HEADER,
    P,
    count,
    outcomes,
    profile,
    row,
    run,
    write,
)


def erase(engine: Engine, external_id: str) -> str:
    request = Request.checked(requested_by="dpo", reason="request 7", via="cli")
    with engine.begin() as conn:
        return erase_on_request(conn, external_id=external_id, request=request, now=NOW).external_id


def test_an_erased_person_in_the_next_export_is_rejected_not_created_again(
    engine: Engine, tmp_path: Path
) -> None:
    path = write(tmp_path, HEADER, ANNA, BRAM)
    run(engine, path)
    marker = erase(engine, "C1")
    profiles = count(engine, P)

    changed_bram = BRAM.replace("Molenweg", "Kerkweg")
    report = run(engine, write(tmp_path, HEADER, ANNA, changed_bram, row(external_id=marker)))
    assert (report.rows_read, report.rows_rejected, report.rows_erased) == (3, 2, 2)
    assert outcomes(report) == [
        (2, "external_id", ERASED, "rejected"),
        (4, "external_id", ERASED, "rejected"),
    ]
    assert (report.profiles_created, report.profiles_updated) == (0, 1)
    assert count(engine, P) == profiles
    with engine.connect() as conn:
        ids = set(conn.execute(select(P.c.external_id)).scalars())
    assert ids == {"C2", marker}
    erased = profile(engine, marker)
    assert (erased["given_name"], erased["family_name"]) == (None, None)
