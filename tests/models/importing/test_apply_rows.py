"""The customer CSV import, on SQLite and PostgreSQL: rejects, invalid values, re-imports, audit."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from models.importing.apply_rows import ImportFileError
from tests.models.importing.import_data import (
    ANNA,
    BRAM,
    CAMILLE,
    HEADER,
    A,
    C,
    P,
    audits,
    count,
    outcomes,
    points,
    profile,
    row,
    run,
    write,
)

T0 = datetime(2025, 1, 1, 9, 0, tzinfo=UTC)

T1 = datetime(2025, 2, 1, 9, 0, tzinfo=UTC)


def test_good_rows_become_profiles_with_contact_points_provenance_and_audit(
    engine: Engine, tmp_path: Path
) -> None:
    path = write(tmp_path, HEADER, ANNA, BRAM, CAMILLE)
    report = run(engine, path, now=T0)

    assert (report.rows_read, report.profiles_created, report.rows_rejected) == (3, 3, 0)
    # French is not supported here: the default is stored, and the report says so, per line.
    assert outcomes(report) == [(4, "locale", "locale fr-FR not supported: nl used", "substituted")]
    assert report.substituted_values == {"locale": 1}
    anna = profile(engine, "C1")
    assert (anna["given_name"], anna["family_name"], anna["locale"], anna["country"]) == (
        "Anna",
        "de Vries",
        "nl",
        "NL",
    )
    assert (anna["source"], anna["source_at"]) == ("import:customers.csv:2", T0)
    assert profile(engine, "C3")["locale"] == "nl"  # fr is not supported: the default
    cps = points(engine, "C1")
    assert {k: (v["value"], v["status"]) for k, v in cps.items()} == {
        "email": ("anna@example.com", "valid"),
        "mobile": ("+31612345678", "valid"),
        "postal": ("Kerkstraat 12, 1017 GC Amsterdam, NL", "unverified"),
    }
    assert cps["mobile"]["raw_value"] == "06-12345678"
    assert cps["postal"]["postal_code"] == "1017 GC"
    assert all(cp["source"] == "import:customers.csv:2" for cp in cps.values())
    assert points(engine, "C3")["mobile"]["value"] == "+33612345678"  # read as French

    events = audits(engine)
    assert len(events) == 3 * 4
    create = next(e for e in events if e["action"] == "profile.create")
    assert create["after"]["external_id"] == "C1"
    assert create["reason"] == "import"
    assert create["evidence"] == {"file": "customers.csv", "line": 2}
    assert create["actor"] == "system:import"
    email = next(
        e
        for e in events
        if e["entity_type"] == "contact_point" and e["entity_id"] == cps["email"]["id"]
    )
    assert email["action"] == "contact_point.create"
    assert email["after"]["value"] == "anna@example.com"


def test_row_without_external_id_is_rejected(engine: Engine, tmp_path: Path) -> None:
    report = run(engine, write(tmp_path, HEADER, ANNA.replace("C1,", ",", 1), BRAM))
    assert outcomes(report) == [(2, "external_id", "missing external_id", "rejected")]
    assert count(engine, P) == 1


def test_repeated_external_id_rejects_later_rows_naming_the_first(
    engine: Engine, tmp_path: Path
) -> None:
    report = run(engine, write(tmp_path, HEADER, ANNA, BRAM, ANNA.replace("Anna", "Ann")))
    assert outcomes(report) == [
        (4, "external_id", "duplicate external_id (first on line 2)", "rejected")
    ]
    assert report.rejects[0].value == "C1"
    assert profile(engine, "C1")["given_name"] == "Anna"


def test_wrong_number_of_fields_is_rejected(engine: Engine, tmp_path: Path) -> None:
    report = run(engine, write(tmp_path, HEADER, ANNA + ",extra", "C2,Bram", CAMILLE))
    assert outcomes(report) == [
        (2, "", "wrong number of fields: expected 11, got 12", "rejected"),
        (3, "", "wrong number of fields: expected 11, got 2", "rejected"),
        (4, "locale", "locale fr-FR not supported: nl used", "substituted"),
    ]
    assert report.rejects[1].value == "C2,Bram"
    assert count(engine, P) == 1


def test_broken_quote_costs_one_row_and_the_rows_after_it_import(
    engine: Engine, tmp_path: Path
) -> None:
    broken = 'C9,"Unterminated,Name,x@example.com,,,,,,NL,nl'
    report = run(engine, write(tmp_path, HEADER, ANNA, broken, BRAM, CAMILLE))
    assert outcomes(report) == [
        (3, "", "broken quoting: unterminated quote", "rejected"),
        (5, "locale", "locale fr-FR not supported: nl used", "substituted"),
    ]
    assert report.profiles_created == 3
    assert profile(engine, "C2")["source"] == "import:customers.csv:4"


def test_stray_quote_inside_a_field_is_rejected(engine: Engine, tmp_path: Path) -> None:
    stray = 'C9,"Jan" x,Name,x@example.com,,,,,,NL,nl'
    report = run(engine, write(tmp_path, HEADER, stray, BRAM))
    assert [(r.line, r.kind) for r in report.rejects] == [(2, "rejected")]
    assert report.rejects[0].reason.startswith("broken quoting:")
    assert report.profiles_created == 1


def test_quoted_field_may_span_lines_and_line_numbers_stay_physical(
    engine: Engine, tmp_path: Path
) -> None:
    multi = 'C4,Dirk,"de\nJong",dirk@example.com,,Dorpsstraat,1,9711 LM,Groningen,NL,nl'
    report = run(engine, write(tmp_path, HEADER, multi, row(external_id="C5", email="bad-email")))
    # The line break inside the cell is a space (a spreadsheet's Alt+Enter), never stored.
    assert profile(engine, "C4")["family_name"] == "de Jong"
    assert outcomes(report) == [(4, "email", "email syntax: missing @", "invalid")]


def test_latin1_file_is_refused_naming_the_encoding_option(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    text = "\n".join([HEADER, BRAM, ANNA.replace("Anna", "Zoë").replace("Kerkstraat", "Rüdiger")])
    path.write_bytes((text + "\n").encode("latin-1"))

    with pytest.raises(ImportFileError) as caught:
        run(engine, path)
    message = str(caught.value)
    assert "not valid utf-8" in message
    assert "byte 0xeb at line 3" in message
    assert "--encoding latin-1" in message
    assert "Zo" not in message
    assert count(engine, P) == 0  # nothing written before the check

    report = run(engine, path, encoding="latin-1")
    assert report.profiles_created == 2
    assert profile(engine, "C1")["given_name"] == "Zoë"


def test_unknown_columns_are_reported_once(engine: Engine, tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + ",loyalty_tier,Notes", ANNA + ",gold,x", BRAM + ",,")
    report = run(engine, path)
    assert report.unknown_columns == ["loyalty_tier", "notes"]
    assert report.rejects == []
    assert report.profiles_created == 2


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (["given_name,email", "Anna,a@example.com"], "missing required column(s)"),
        ([HEADER + ",email"], "repeated in the header: email"),
        ([""], "is empty"),
    ],
)
def test_bad_header_is_a_file_error(
    engine: Engine, tmp_path: Path, lines: list[str], message: str
) -> None:
    with pytest.raises(ImportFileError, match=message.replace("(", r"\(").replace(")", r"\)")):
        run(engine, write(tmp_path, *lines))


def test_missing_required_column_names_it(engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(ImportFileError) as caught:
        run(engine, write(tmp_path, "id,given_name,family_name,email", "C1,A,B,c@d.nl"))
    assert "missing required column(s): external_id (required: external_id)" in str(caught.value)
    assert count(engine, P) == 0


def test_missing_file_is_a_file_error(engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(ImportFileError, match=r"file not found: nope\.csv"):
        run(engine, tmp_path / "nope.csv")


@pytest.mark.parametrize(
    ("replace", "kind", "column", "reason"),
    [
        (
            ("anna@example.com", "anna@example"),
            "email",
            "email",
            "email syntax: domain without dot",
        ),
        (("06-12345678", "020 123 4567"), "mobile", "mobile", "phone: not a mobile number"),
        (("06-12345678", "n/a"), "mobile", "mobile", "phone: cannot parse"),
        (("06-12345678", "06-1234"), "mobile", "mobile", "phone: not a valid number"),
        (
            ("12,1017", ",1017"),
            "postal",
            "house_number",
            "address incomplete: missing house number",
        ),
        (("1017 GC", "10170"), "postal", "postal_code", "address: postal code not in NL format"),
        ((",NL,", ",Atlantis,"), "postal", "country", "address: unknown country"),
    ],
)
def test_bad_value_is_kept_as_invalid_with_its_reason(
    engine: Engine, tmp_path: Path, replace: tuple[str, str], kind: str, column: str, reason: str
) -> None:
    row = ANNA.replace(*replace)
    report = run(engine, write(tmp_path, HEADER, row))

    assert report.profiles_created == 1
    assert report.rows_rejected == 0
    stored = points(engine, "C1")[kind]
    assert stored["status"] == "invalid"
    assert stored["invalid_reason"] == reason
    assert replace[1].strip(",") in stored["raw_value"]
    assert report.invalid_values[column] == 1
    if column == "country":  # the profile's country column is reported, once
        assert outcomes(report) == [(2, "country", "country: unknown", "invalid")]
    else:
        assert outcomes(report) == [(2, column, reason, "invalid")]


def test_optional_columns_bounced_email_and_fixed_line_phone(
    engine: Engine, tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        HEADER + ",email_bounced_at,phone",
        ANNA + ",2024-11-03,020 123 4567",
        BRAM + ",2024-11-03T10:15:00+01:00,",
        CAMILLE + ",yesterday,+33 1 23 45 67 89",
    )
    report = run(engine, path)
    anna = points(engine, "C1")
    assert (anna["email"]["status"], anna["email"]["bounced_at"]) == (
        "bounced",
        datetime(2024, 11, 3, tzinfo=UTC),
    )
    assert (anna["phone"]["value"], anna["phone"]["status"]) == ("+31201234567", "valid")
    assert points(engine, "C2")["email"]["bounced_at"] == datetime(2024, 11, 3, 9, 15, tzinfo=UTC)
    assert "phone" not in points(engine, "C2")
    assert points(engine, "C3")["email"]["status"] == "valid"
    assert outcomes(report) == [
        (4, "locale", "locale fr-FR not supported: nl used", "substituted"),
        (4, "email_bounced_at", "date: not ISO 8601", "invalid"),
    ]


def test_semicolon_separated_export_with_bom(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    text = "\n".join(line.replace(",", ";") for line in (HEADER, ANNA, BRAM))
    path.write_text(text + "\n", encoding="utf-8-sig")
    report = run(engine, path)
    assert (report.profiles_created, report.rejects) == (2, [])


def test_reimporting_the_same_file_changes_nothing(engine: Engine, tmp_path: Path) -> None:
    junk = row(external_id="C2", email="x@", mobile="n/a", city="X", extra=("phone",))
    path = write(tmp_path, HEADER + ",phone", ANNA + ",020 123 4567", junk, CAMILLE + ",")
    run(engine, path, now=T0)
    before = (count(engine, P), count(engine, C), count(engine, A))
    with engine.connect() as conn:
        stamps = sorted(conn.execute(select(C.c.id, C.c.updated_at)).all())

    report = run(engine, path, now=T1)

    assert (count(engine, P), count(engine, C), count(engine, A)) == before
    assert (report.profiles_created, report.profiles_updated, report.profiles_unchanged) == (
        0,
        0,
        3,
    )
    with engine.connect() as conn:
        assert sorted(conn.execute(select(C.c.id, C.c.updated_at)).all()) == stamps
    assert profile(engine, "C1")["updated_at"] == T0


def test_changed_file_updates_in_place_with_audit_and_provenance(
    engine: Engine, tmp_path: Path
) -> None:
    run(engine, write(tmp_path, HEADER, ANNA, BRAM), now=T0)
    old = points(engine, "C1")
    first_audit_id = audits(engine)[-1]["id"]
    changed = ANNA.replace("de Vries", "Visser").replace("06-12345678", "06-87654321")
    report = run(engine, write(tmp_path, HEADER, BRAM, changed, name="v2.csv"), now=T1)

    assert (report.profiles_updated, report.profiles_unchanged) == (1, 1)
    anna = profile(engine, "C1")
    assert (anna["family_name"], anna["source"], anna["updated_at"]) == (
        "Visser",
        "import:v2.csv:3",
        T1,
    )
    new = points(engine, "C1")
    assert new["mobile"]["id"] == old["mobile"]["id"]  # replaced in place
    assert (new["mobile"]["value"], new["mobile"]["source"]) == ("+31687654321", "import:v2.csv:3")
    assert new["email"]["updated_at"] == T0  # unchanged values keep their stamps
    assert count(engine, C) == 6

    fresh = [e for e in audits(engine) if e["id"] > first_audit_id]
    assert {e["action"] for e in fresh} == {"profile.update", "contact_point.update"}
    by_action = {e["action"]: e for e in fresh}
    assert by_action["profile.update"]["before"] == {"family_name": "de Vries"}
    assert by_action["profile.update"]["after"] == {"family_name": "Visser"}
    mobile = by_action["contact_point.update"]
    assert mobile["before"] == {"kind": "mobile", "value": "+31612345678"}
    assert mobile["after"] == {"kind": "mobile", "value": "+31687654321"}
    assert mobile["evidence"] == {"file": "v2.csv", "line": 3}
    assert mobile["at"] == T1


def test_empty_cell_keeps_the_stored_value(engine: Engine, tmp_path: Path) -> None:
    run(engine, write(tmp_path, HEADER, ANNA))
    emptied = ANNA.replace("anna@example.com", "").replace("Anna", "")
    report = run(engine, write(tmp_path, HEADER, emptied, name="v2.csv"))
    assert report.profiles_unchanged == 1
    assert points(engine, "C1")["email"]["value"] == "anna@example.com"
    assert profile(engine, "C1")["given_name"] == "Anna"


def test_what_enrich_learned_itself_is_kept(engine: Engine, tmp_path: Path) -> None:
    run(engine, write(tmp_path, HEADER, ANNA, BRAM))
    ids = {k: v["id"] for k, v in points(engine, "C1").items()}
    with engine.begin() as conn:
        verified = {"status": "verified", "verified_at": T0, "verification_method": "link"}
        conn.execute(update(C).where(C.c.id == ids["email"]).values(**verified))
        conn.execute(update(C).where(C.c.id == ids["postal"]).values(**verified))
        conn.execute(update(C).where(C.c.id == ids["mobile"]).values(status="bounced"))
    audit_count = count(engine, A)

    # The same values again: verified and bounced stay as they are.
    report = run(engine, write(tmp_path, HEADER, ANNA.replace("anna@", "Anna@"), BRAM))
    assert report.profiles_unchanged == 2
    assert count(engine, A) == audit_count
    stored = points(engine, "C1")
    assert (stored["email"]["status"], stored["email"]["value"]) == ("verified", "anna@example.com")
    assert stored["mobile"]["status"] == "bounced"

    # A bounce the CRM saw after our verification does count.
    path = write(tmp_path, HEADER + ",email_bounced_at", ANNA + ",2025-01-05", name="bounce.csv")
    run(engine, path)
    assert points(engine, "C1")["email"]["status"] == "bounced"

    # A new value replaces the verified one and its verification.
    moved = ANNA.replace("Kerkstraat,12", "Kerkstraat,14")
    run(engine, write(tmp_path, HEADER, moved, name="moved.csv"))
    postal = points(engine, "C1")["postal"]
    assert (postal["status"], postal["verified_at"], postal["house_number"]) == (
        "unverified",
        None,
        "14",
    )


def test_opted_out_contact_point_is_not_resurrected(engine: Engine, tmp_path: Path) -> None:
    run(engine, write(tmp_path, HEADER, ANNA))
    email_id = points(engine, "C1")["email"]["id"]
    with engine.begin() as conn:
        conn.execute(
            update(C).where(C.c.id == email_id).values(status="opted_out", opted_out_at=T0)
        )
    audit_count = count(engine, A)

    same = run(engine, write(tmp_path, HEADER, ANNA, name="same.csv"))
    other = run(engine, write(tmp_path, HEADER, ANNA.replace("anna@", "a.vries@"), name="new.csv"))

    email = points(engine, "C1")["email"]
    assert (email["status"], email["value"], email["opted_out_at"]) == (
        "opted_out",
        "anna@example.com",
        T0,
    )
    assert (same.opted_out_kept, other.opted_out_kept) == (1, 1)
    assert count(engine, A) == audit_count
    assert count(engine, C) == 3


def test_more_rows_than_one_chunk(engine: Engine, tmp_path: Path) -> None:
    rows = [f"X{i},Name{i},Fam,u{i}@example.com,,,,,,NL,nl" for i in range(2500)]
    report = run(engine, write(tmp_path, HEADER, *rows))
    assert report.profiles_created == 2500
    assert count(engine, C) == 2500
    assert count(engine, A) == 5000
    again = run(engine, write(tmp_path, HEADER, *rows))
    assert again.profiles_unchanged == 2500
