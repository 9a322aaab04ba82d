"""Refused characters in an import, on SQLite and PostgreSQL: reported with line, column and
reason, left out of the database, and the rest of the row imported."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Engine

from models.tables import PROFILE
from tests.models.importing.import_data import HEADER, count, outcomes, points, profile, run, write
from tests.stored_text import refused_characters

P = PROFILE
# HEADER: external_id, given_name, family_name, email, mobile, street, house_number,
# postal_code, city, country, locale
GOOD = "C1,Zoë,van 't Hof-Müller,zoe@example.com,0612345678,Kerkstraat,12,1017 GC,Amsterdam,NL,nl"
SCRIPTS = "C2,क्\u200dष,می\u200cخواهم,,,Rue de l'E\u0301glise,3,75001,Paris,FR,en"


def test_refused_names_leave_the_profile_without_them(engine: Engine, tmp_path: Path) -> None:
    rows = [
        HEADER,
        "C3,Jan\x00,Jansen\u202e,jan@example.com,,,,,,NL,nl",
        "C4,😀,---,,,,,,,NL,nl",
    ]
    report = run(engine, write(tmp_path, *rows))

    assert outcomes(report) == [
        (2, "given_name", "text: control character U+0000", "refused"),
        (2, "family_name", "text: direction control character U+202E", "refused"),
        (3, "given_name", "text: no letter or digit", "refused"),
        (3, "family_name", "text: no letter or digit", "refused"),
    ]
    assert [r.value for r in report.rejects[:2]] == ["Jan<U+0000>", "Jansen<U+202E>"]
    assert report.profiles_created == 2 and report.rows_rejected == 0
    assert report.refused_values == {"given_name": 2, "family_name": 2}
    assert (profile(engine, "C3")["given_name"], profile(engine, "C3")["family_name"]) == (
        None,
        None,
    )
    assert points(engine, "C3")["email"]["value"] == "jan@example.com"
    assert refused_characters(engine) == []


def test_a_refused_name_in_a_later_file_keeps_the_stored_name(
    engine: Engine, tmp_path: Path
) -> None:
    run(engine, write(tmp_path, HEADER, GOOD))
    report = run(engine, write(tmp_path, HEADER, GOOD.replace("Zoë", "Zo\ufffd"), name="b.csv"))
    assert outcomes(report) == [(2, "given_name", "text: unreadable character U+FFFD", "refused")]
    assert profile(engine, "C1")["given_name"] == "Zoë"
    assert report.profiles_unchanged == 1


def test_refused_contact_values_are_left_out_not_stored_as_invalid(
    engine: Engine, tmp_path: Path
) -> None:
    rows = [
        HEADER + ",phone",
        "C5,Anna,Smit,anna\x85@example.com,06\u2066123\u206945678,Dorpsstraat,1,1234 AB,"
        "Amster\x1bdam,NL,nl,020\x00 1234567",
        "C6,Bram,Dijk,,,😀🏠,1,1234 AB,Utrecht,NL,nl,",
    ]
    report = run(engine, write(tmp_path, *rows))

    assert outcomes(report) == [
        (2, "email", "text: control character U+0085", "refused"),
        (2, "mobile", "text: direction control character U+2066", "refused"),
        (2, "phone", "text: control character U+0000", "refused"),
        (2, "city", "text: control character U+001B", "refused"),
        (3, "street", "text: no letter or digit", "refused"),
    ]
    # An address with a refused part is left out whole, not stored as "missing city".
    assert points(engine, "C5") == {} and points(engine, "C6") == {}
    assert profile(engine, "C5")["given_name"] == "Anna"
    assert refused_characters(engine) == []


def test_an_external_id_with_a_refused_character_rejects_the_row(
    engine: Engine, tmp_path: Path
) -> None:
    report = run(engine, write(tmp_path, HEADER, GOOD.replace("C1,", "C\x001,"), SCRIPTS))
    assert outcomes(report) == [(2, "external_id", "text: control character U+0000", "rejected")]
    assert count(engine, P) == 1
    assert refused_characters(engine) == []


def test_real_names_in_any_script_are_kept(engine: Engine, tmp_path: Path) -> None:
    report = run(engine, write(tmp_path, HEADER, GOOD, SCRIPTS))
    assert report.rejects == []
    zoe, c2 = profile(engine, "C1"), profile(engine, "C2")
    assert (zoe["given_name"], zoe["family_name"]) == ("Zoë", "van 't Hof-Müller")
    assert (c2["given_name"], c2["family_name"]) == ("क्\u200dष", "می\u200cخواهم")
    assert points(engine, "C2")["postal"]["street"] == "Rue de l'E\u0301glise"


def test_a_control_character_at_the_edge_of_a_cell_is_refused_not_trimmed(
    engine: Engine, tmp_path: Path
) -> None:
    row = GOOD.replace("Zoë", "\x0bZoë").replace("Amsterdam", "Amsterdam\x85")
    report = run(engine, write(tmp_path, HEADER, row))
    assert outcomes(report) == [
        (2, "given_name", "text: control character U+000B", "refused"),
        (2, "city", "text: control character U+0085", "refused"),
    ]
    assert refused_characters(engine) == []
