"""Refused characters on the landing page: each field says why, next to it, and nothing is stored.

Control and bidi characters, U+FFFD and values without a letter or digit are posted through the
real HTTP form, on SQLite and PostgreSQL; real names' characters still go through.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from enrich.settings import Settings
from enrich.web.i18n import PageText
from models.tables import ContactPoint
from outreach.i18n import translations
from tests.enrich.landing_helpers import client_for, submit
from tests.models.answers.personal_link_data import (
    EMAIL_OK,
    MOBILE_OK,
    POSTAL_OK,
    counts,
    make_case,
)
from tests.paths import REPO
from tests.stored_text import refused_characters

STRINGS = {lang: PageText(lang, translations(REPO / "templates", lang)) for lang in ("nl", "en")}
FULL: list[dict[str, Any]] = [EMAIL_OK, MOBILE_OK, POSTAL_OK]
GOOD = {
    "email": "nieuw@example.nl",
    "mobile": "0687654321",
    "street": "Dorpsstraat",
    "house_number": "12",
    "postal_code": "1234 AB",
    "city": "Amsterdam",
    "country": "NL",
}
ACTION = {"email": "email_action", "mobile": "mobile_action"}


def form_for(field: str, value: str) -> dict[str, str]:
    """A change of the field's group with ``value`` in ``field`` and good values elsewhere."""
    if field in ACTION:
        return {ACTION[field]: "change", field: value}
    address = {k: GOOD[k] for k in ("street", "house_number", "postal_code", "city", "country")}
    return {"postal_action": "change", **address, field: value}


def error_shown(page: str, field: str, text: str) -> bool:
    return f'<p class="error" id="error-{field}">{text}</p>' in page


@pytest.mark.parametrize(
    ("char", "key"),
    [
        ("\x00", "err_text_control"),
        ("\x1b", "err_text_control"),
        ("\x85", "err_text_control"),
        ("\u202e", "err_text_direction"),
        ("\u2067", "err_text_direction"),
        ("\ufffd", "err_text_unreadable"),
    ],
    ids=["nul", "escape", "c1-next-line", "rtl-override", "rtl-isolate", "replacement"],
)
def test_a_refused_character_in_any_field_is_named_next_to_it(
    settings: Settings, engine: Engine, char: str, key: str
) -> None:
    case = make_case(engine, FULL, gaps=["missing_mobile"])
    before = counts(engine)
    with client_for(settings) as client:
        for field, good in GOOD.items():
            hostile = good[:2] + char + good[2:]
            page = submit(client, case.token, form_for(field, hostile))
            assert page.status_code == 422, field
            assert error_shown(page.text, field, STRINGS["nl"][key]), (field, page.text)
        english = submit(client, case.token, {**form_for("city", "Ams" + char), "lang": "en"})
        assert error_shown(english.text, "city", STRINGS["en"][key])
    assert counts(engine) == before
    assert refused_characters(engine) == []


@pytest.mark.parametrize("value", ["😀🏠", "---", "?!"])
def test_an_address_without_a_letter_or_digit_is_refused(
    settings: Settings, engine: Engine, value: str
) -> None:
    case = make_case(engine, FULL, gaps=["missing_mobile"])
    before = counts(engine)
    expected = STRINGS["nl"]["err_text_no_letter"]
    with client_for(settings) as client:
        for field in ("street", "house_number", "postal_code", "city"):
            page = submit(client, case.token, form_for(field, value))
            assert page.status_code == 422, field
            assert error_shown(page.text, field, expected), (field, page.text)
        emoji_mail = submit(client, case.token, form_for("email", "😀😀@example.nl"))
        assert error_shown(emoji_mail.text, "email", expected)
    assert counts(engine) == before


def test_real_names_characters_go_through(settings: Settings, engine: Engine) -> None:
    case = make_case(engine, FULL, gaps=["missing_mobile"])
    street = "Rue de l'E\u0301glise-Saint\u200dMartin"  # combining accent, apostrophe, hyphen, ZWJ
    address = {"street": street, "house_number": "7", "postal_code": "5211 AB",
               "city": "'s-Hertogenbosch", "country": ""}  # fmt: skip
    with client_for(settings) as client:
        page = submit(client, case.token, {"postal_action": "change", **address})
    assert page.status_code == 200, page.text
    with engine.connect() as conn:
        row = conn.execute(
            select(ContactPoint.street, ContactPoint.city).where(  # type: ignore[call-overload]
                ContactPoint.kind == "postal",
                ContactPoint.is_primary.is_(True),  # type: ignore[attr-defined]
            )
        ).one()
    assert tuple(row) == (street, "'s-Hertogenbosch")
