"""The landing page speaks the language of the message the customer came from, switches to any
supported language, ignores one it does not support, and shows the consent notice in the
default language (saying so) where no translation of that legal text is published."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from enrich.settings import Settings
from models.tables import CONSENT, OUTREACH, PROFILE
from tests.enrich.landing_helpers import client_for, email_text, emails, submit
from tests.models.answers.personal_link_data import EMAIL_OK, MOBILE_OK, POSTAL_OK, make_case

FULL: list[dict[str, Any]] = [EMAIL_OK, MOBILE_OK, POSTAL_OK]
# The page's heading in each language, and its own name in the language switch.
TITLE = {
    "nl": "Uw contactgegevens",
    "en": "Your contact details",
    "de": "Ihre Kontaktdaten",
    "fr": "Vos coordonnées",
    "sv": "Dina kontaktuppgifter",
    "es": "Sus datos de contacto",
    "pt": "Os seus dados de contacto",
}
NAMES = {
    "nl": "Nederlands",
    "en": "English",
    "de": "Deutsch",
    "fr": "Français",
    "sv": "Svenska",
    "es": "Español",
    "pt": "Português",
}
SWITCH = re.compile(r'<a href="\?lang=([a-z]+)" hreflang="\1" lang="\1"( aria-current="true")?>')


def language_of(page: str) -> str:
    match = re.search(r'<html lang="([a-z-]+)">', page)
    assert match, page[:200]
    return match.group(1)


def came_from(engine: Engine, locale: str | None, profile_locale: str = "nl") -> str:
    """A customer's personal link, from a message written in ``locale``."""
    case = make_case(engine, FULL, gaps=["missing_mobile"])
    with engine.begin() as conn:
        conn.execute(update(OUTREACH).values(locale=locale))
        conn.execute(update(PROFILE).values(locale=profile_locale))
    return case.token


@pytest.mark.parametrize("language", sorted(TITLE))
def test_the_page_follows_the_message_and_offers_every_language(
    settings: Settings, engine: Engine, language: str
) -> None:
    token = came_from(engine, language)
    with client_for(settings) as client:
        page = client.get(f"/c/{token}").text
        assert language_of(page) == language
        assert f'<h1 id="title">{TITLE[language]}</h1>' in page
        switch = SWITCH.findall(page)
        assert [code for code, _ in switch] == ["nl", "en", "de", "fr", "sv", "es", "pt"]
        assert [code for code, current in switch if current] == [language]
        for code, name in NAMES.items():
            assert f'lang="{code}">{name}</a>' in page or f'aria-current="true">{name}</a>' in page
        # Every language of the switch works from this page.
        for other, title in TITLE.items():
            switched = client.get(f"/c/{token}?lang={other}").text
            assert language_of(switched) == other and f">{title}</h1>" in switched


def test_an_unsupported_language_is_ignored(settings: Settings, engine: Engine) -> None:
    token = came_from(engine, "de")
    with client_for(settings) as client:
        page = client.get(f"/c/{token}?lang=it").text
    assert language_of(page) == "de"


def test_without_a_recorded_message_locale_the_profile_decides(
    settings: Settings, engine: Engine
) -> None:
    token = came_from(engine, None, profile_locale="sv")
    with client_for(settings) as client:
        assert language_of(client.get(f"/c/{token}").text) == "sv"


def test_a_message_locale_without_catalogue_shows_the_default(
    settings: Settings, engine: Engine
) -> None:
    token = came_from(engine, "it", profile_locale="it")
    with client_for(settings) as client:
        assert language_of(client.get(f"/c/{token}").text) == "nl"


def test_errors_are_worded_in_the_page_language(settings: Settings, engine: Engine) -> None:
    token = came_from(engine, "es")
    with client_for(settings) as client:
        page = submit(client, token, {"mobile_action": "change", "mobile": "12", "lang": "es"})
    assert page.status_code == 422
    assert "Este número de móvil no es válido." in page.text


def test_a_notice_without_translation_is_shown_in_the_default_language_and_says_so(
    settings: Settings, engine: Engine
) -> None:
    token = came_from(engine, "sv")
    with client_for(settings) as client:
        page = client.get(f"/c/{token}").text
        assert language_of(page) == "sv"
        assert "Den här texten finns bara på Nederlands." in page
        assert re.search(r'<div class="notice" id="notice-service" lang="nl">', page)
        answered = submit(client, token, {"consent_service_email": "granted", "lang": "sv"})
    assert answered.status_code == 200, answered.text
    with engine.connect() as conn:
        [shown] = conn.execute(select(CONSENT.c.text_locale)).scalars().all()
    assert shown == "nl"  # the consent records the text the customer actually read


def test_a_notice_in_the_page_language_is_not_marked(settings: Settings, engine: Engine) -> None:
    token = came_from(engine, "en")
    with client_for(settings) as client:
        page = client.get(f"/c/{token}").text
    assert '<div class="notice" id="notice-service">' in page
    assert "only available in" not in page


def test_the_confirmation_email_and_its_page_keep_the_language_chosen(
    settings: Settings, engine: Engine
) -> None:
    token = came_from(engine, "nl")
    with client_for(settings) as client:
        done = submit(
            client, token, {"email_action": "change", "email": "nieuw@example.nl", "lang": "pt"}
        )
        assert done.status_code == 200 and language_of(done.text) == "pt"
        [mail] = emails(settings)
        assert mail["Subject"] == "Confirme o seu endereço de e-mail"
        found = re.search(r"https://\S+/e/\S+", email_text(mail))
        assert found, email_text(mail)
        page = client.get(found.group(0).removeprefix(settings.base_url.rstrip("/")))
    assert page.status_code == 200 and language_of(page.text) == "pt"
    assert "Clique no botão para confirmar o seu endereço de e-mail." in page.text
