"""Every message, in every language, shows its own reference and how to check that it is
genuine: the organisation's published phone number and the page on its website to type in."""

from __future__ import annotations

import html
from dataclasses import replace
from datetime import date, datetime

import pytest

from outreach.config import OutreachConfig
from outreach.moment_block import render_moment_block
from outreach.reference import message_reference
from outreach.render import Renderer
from outreach.segments import encoding, sms_segments
from tests.outreach.conftest import MakeMessage

LANGUAGES = ("nl", "en", "de", "fr", "sv", "es", "pt")
PHONE = "+31 (0)20 555-0123"
SITE = "https://www.energie-voorbeeld.nl"
PATH = "/echt-of-nep"
LINK = "https://enrich.example.org/c/" + "A" * 22
# The phrase of the genuine-check sentence in each language, around the address.
TYPE_IT = {
    "nl": "typ het adres in uw browser",
    "en": "type the address into your browser",
    "de": "Geben Sie die Adresse in Ihren Browser ein",
    "fr": "saisissez l'adresse dans votre navigateur",
    "sv": "skriv in adressen i webbläsaren",
    "es": "escriba la dirección en su navegador",
    "pt": "escreva o endereço no seu navegador",
}


@pytest.fixture
def renderer(outbox_config: OutreachConfig) -> Renderer:
    return Renderer(
        replace(outbox_config, trust_phone=PHONE, organisation_website=SITE, trust_web_path=PATH)
    )


def read(renderer: Renderer, make_message: MakeMessage, language: str) -> dict[str, str]:
    """Each message as the customer reads it, keyed by channel and part."""
    ask = renderer.email(make_message("email", locale=language, outreach_id=4711))
    confirm = renderer.email(
        make_message("email", template="confirm", locale=language, outreach_id=4711)
    )
    moment = {
        channel: render_moment_block(
            renderer,
            locale=language,
            channel=channel,
            context="invoice",
            link=LINK,
            expires_at=datetime(2027, 1, 31),
            outreach_id=4711,
        )
        for channel in ("email", "letter", "sms")
    }
    return {
        "email text": ask.text,
        "email html": html.unescape(ask.html),
        "confirm text": confirm.text,
        "confirm html": html.unescape(confirm.html),
        "sms": renderer.sms(make_message("sms", locale=language, outreach_id=4711)),
        "letter": html.unescape(
            renderer.letter_page(make_message("letter", locale=language, outreach_id=4711))
        ),
        "moment text": moment["email"].text,
        "moment html": html.unescape(moment["email"].html),
        "moment letter": html.unescape(moment["letter"].html),
        "moment sms": moment["sms"].text,
    }


CHANNEL = {"email": "email", "confirm": "email", "sms": "sms", "letter": "letter"}


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_message_shows_its_reference_and_how_to_check_it_is_genuine(
    renderer: Renderer, make_message: MakeMessage, language: str
) -> None:
    for part, text in read(renderer, make_message, language).items():
        channel = CHANNEL.get(part.split()[0], "moment")
        assert message_reference(channel, 4711) in text, (part, text)
        assert PHONE in text, (part, text)
        if part not in ("sms", "moment sms"):  # an SMS has room for the number only
            assert "www.energie-voorbeeld.nl/echt-of-nep" in text, (part, text)
            assert TYPE_IT[language] in text, (part, text)
            assert "None" not in text, part


@pytest.mark.parametrize("language", LANGUAGES)
def test_an_sms_ask_with_its_reference_takes_two_gsm_parts(
    renderer: Renderer, make_message: MakeMessage, language: str
) -> None:
    sms = renderer.sms(make_message("sms", locale=language, outreach_id=1_234_567))
    assert "S-1234567-" in sms and PHONE in sms
    assert encoding(sms) == "GSM-7" and sms_segments(sms) == 2


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_one_time_code_quotes_its_reference_in_one_part(
    renderer: Renderer, make_message: MakeMessage, language: str
) -> None:
    sms = renderer.sms(
        make_message("sms", template="otp", locale=language, code="123456", outreach_id=4711)
    )
    assert message_reference("sms", 4711) in sms and PHONE in sms and "123456" in sms
    assert encoding(sms) == "GSM-7" and sms_segments(sms) == 1


def test_markup_in_the_organisation_name_is_escaped_in_the_sentence(
    outbox_config: OutreachConfig, make_message: MakeMessage
) -> None:
    name = "<script>x()</script> & Co"
    renderer = Renderer(replace(outbox_config, organisation_name=name))
    email = renderer.email(make_message("email", locale="en"))
    letter = renderer.letter_page(make_message("letter", locale="en"))
    block = renderer.moment(
        "ask", "en", {"channel": "email", "link": LINK}, valid_until=date(2027, 1, 31)
    )
    for page in (email.html, letter, block.html):
        assert "<script>" not in page
        assert "really comes from &lt;script&gt;x()&lt;/script&gt; &amp; Co, call" in page
    assert f"really comes from {name}, call" in email.text  # plain text stays as written


def test_a_block_without_an_outreach_quotes_no_reference(renderer: Renderer) -> None:
    block = renderer.moment(
        "ask", "en", {"channel": "email", "link": LINK}, valid_until=date(2027, 1, 31)
    )
    assert "reference" not in block.text.lower() and PHONE in block.text
    sms = renderer.moment(
        "ask", "en", {"channel": "sms", "link": LINK}, valid_until=date(2027, 1, 31)
    )
    assert sms.text.strip().endswith(f"Unsure? Call {PHONE}.")
