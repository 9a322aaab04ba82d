"""Every landing page says how to check that it is genuine (the same sentence as the messages),
shows the reference of the message the customer came from when it has one, promises never to
ask for a password, bank details or an identity number, and the form asks for nothing else
than the organisation needs."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from enrich.runtime import outreach_config
from enrich.settings import Settings
from enrich.web.pages import Pages
from outreach.reference import message_reference
from outreach.render import Renderer
from tests.enrich.landing_helpers import client_for
from tests.models.answers.personal_link_data import EMAIL_OK, MOBILE_OK, POSTAL_OK, make_case

FULL: list[dict[str, Any]] = [EMAIL_OK, MOBILE_OK, POSTAL_OK]
ADDRESS = "www.example.org/contact-check"  # the default ENRICH_ORGANISATION_WEBSITE + path
PHONE = "020 123 4567"
CHECK = {
    "nl": "Wilt u nagaan of dit verzoek echt van Example Energy B.V. komt? Bel dan",
    "en": "To check that this request really comes from Example Energy B.V., call",
    "de": "Um zu prüfen, ob diese Anfrage wirklich von Example Energy B.V. kommt",
    "fr": "Pour vérifier que cette demande vient bien de Example Energy B.V.",
    "sv": "Vill du kontrollera att den här förfrågan verkligen kommer från Example Energy B.V.?",
    "es": "Para comprobar que esta solicitud procede realmente de Example Energy B.V.",
    "pt": "Para confirmar que este pedido vem mesmo de Example Energy B.V.",
}
NEVER = {
    "nl": "Wij vragen u nooit om een wachtwoord, bankgegevens of een identiteitsnummer.",
    "en": "We will never ask you for a password, bank details or an identity number.",
    "de": "Wir fragen Sie niemals nach einem Passwort, Ihren Bankdaten oder einer Ausweisnummer.",
    "fr": "Nous ne vous demanderons jamais de mot de passe, de coordonnées bancaires ni de "
    "numéro d'identité.",
    "sv": "Vi ber dig aldrig om ett lösenord, bankuppgifter eller ett personnummer.",
    "es": "Nunca le pediremos una contraseña, datos bancarios ni un número de identidad.",
    "pt": "Nunca lhe pediremos uma palavra-passe, dados bancários ou um número de identificação.",
}
REFERENCE = {
    "nl": "Referentie: E-000123-0",
    "en": "Reference: E-000123-0",
    "de": "Referenz: E-000123-0",
    "fr": "Référence : E-000123-0",
    "sv": "Referens: E-000123-0",
    "es": "Referencia: E-000123-0",
    "pt": "Referência: E-000123-0",
}

# What the personal-link form may ask: the contact data, what to do with each, the consent
# answers with the notice shown, the objection, the incentive, and the form's own fields.
ALLOWED = {
    "csrf_token",
    "lang",
    "email",
    "mobile",
    "street",
    "house_number",
    "postal_code",
    "city",
    "country",
    "stop_contacting",
    "incentive",
    "incentive_terms",
}
ALLOWED_PATTERN = re.compile(r"[a-z]+_action|consent_[a-z0-9_-]+|notice_[a-z0-9_-]+")
# What an organisation asking for contact data never needs.
FORBIDDEN = re.compile(
    r"pass(word)?|pwd|iban|bic|bank|account|birth|bday|ssn|bsn|social|passport|identity|"
    r"national|tax|card|cc-|cvc|cvv|pin\b|secret|security",
    re.IGNORECASE,
)


class Controls(HTMLParser):
    """Every form control of a page: its tag and attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("input", "select", "textarea", "button"):
            self.found.append((tag, {k: v or "" for k, v in attrs}))


def controls(html: str) -> list[tuple[str, dict[str, str]]]:
    parser = Controls()
    parser.feed(html)
    return parser.found


@pytest.mark.parametrize("language", sorted(CHECK))
def test_the_personal_page_says_how_to_check_it_is_genuine_in_every_language(
    settings: Settings, engine: Engine, language: str
) -> None:
    case = make_case(engine, FULL, gaps=["missing_mobile"])
    with client_for(settings) as client:
        page = client.get(f"/c/{case.token}?lang={language}").text
    footer = html.unescape(page[page.index('<footer class="trust">') :])
    assert CHECK[language] in footer and PHONE in footer and ADDRESS in footer
    assert NEVER[language] in footer
    # The reference of the email the customer came from, as that email printed it.
    shown = REFERENCE[language].replace("E-000123-0", message_reference("email", case.outreach_id))
    assert f'<p class="reference">{shown}</p>' in footer
    assert f'href="https://{ADDRESS}' not in page  # named to type in, never a link


def test_an_unknown_link_still_says_how_to_check_and_quotes_no_reference(
    settings: Settings,
) -> None:
    with client_for(settings) as client:
        page = client.get("/c/not-a-token?lang=en")
    assert page.status_code == 404
    assert CHECK["en"] in page.text and NEVER["en"] in page.text
    assert "Reference:" not in page.text and "quote reference" not in page.text
    assert 'class="reference"' not in page.text


def pages(settings: Settings) -> Pages:
    return Pages(settings, Renderer(outreach_config(settings)))


@pytest.mark.parametrize("language", sorted(REFERENCE))
def test_a_page_given_the_reference_shows_it_and_asks_to_quote_it(
    settings: Settings, language: str
) -> None:
    page = pages(settings).render(
        "message.html", language, heading="h", heading_id="h", body="b", reference="E-000123-0"
    )
    body = bytes(page.body).decode()
    assert f'<p class="reference">{REFERENCE[language]}</p>' in body
    assert body.count("E-000123-0") == 2  # shown, and quoted in the sentence
    without = pages(settings).render(
        "message.html", language, heading="h", heading_id="h", body="b", reference=None
    )
    assert "E-000123-0" not in bytes(without.body).decode()
    assert 'class="reference"' not in bytes(without.body).decode()


def test_a_reference_is_escaped(settings: Settings) -> None:
    page = pages(settings).render(
        "message.html", "en", heading="h", heading_id="h", body="b", reference="<b>x</b>"
    )
    assert (
        "<b>x</b>" not in bytes(page.body).decode()
        and "&lt;b&gt;x&lt;/b&gt;" in bytes(page.body).decode()
    )


@pytest.mark.parametrize(
    "gaps", [["missing_mobile"], ["bounced_email", "unverified_postal"], ["stale_verification"]]
)
def test_the_form_asks_for_nothing_the_organisation_does_not_need(
    settings: Settings, engine: Engine, gaps: list[str]
) -> None:
    case = make_case(engine, FULL, gaps=gaps)
    with client_for(settings) as client:
        page = client.get(f"/c/{case.token}?lang=en")
    assert page.status_code == 200
    found = controls(page.text)
    names = {attrs["name"] for tag, attrs in found if "name" in attrs}
    assert {"csrf_token", "email", "mobile", "street", "postal_code"} <= names
    unexpected = {n for n in names if n not in ALLOWED and not ALLOWED_PATTERN.fullmatch(n)}
    assert not unexpected, unexpected
    for tag, attrs in found:
        assert attrs.get("type") != "password", attrs
        for key in ("name", "id", "autocomplete"):
            value = attrs.get(key, "")
            if value.startswith("consent_") or value.startswith("notice_"):
                value = ""  # named by the campaign's purposes, checked by the pattern above
            assert not FORBIDDEN.search(value), (tag, attrs)
        assert tag != "textarea", attrs  # no free text field to ask for anything else
