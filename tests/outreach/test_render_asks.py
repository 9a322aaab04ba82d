"""Each message names what is asked of this customer (their own gaps), in every language, and
keeps the generic wording when there is no contact field to name."""

from __future__ import annotations

import html

import pytest

from models.campaigns.asks import GAP_ASK, asks_of
from models.campaigns.gaps import GAPS
from outreach.channels.base import Message
from outreach.config import OutreachConfig
from outreach.render import Renderer
from outreach.segments import encoding, sms_segments
from tests.outreach.conftest import MakeMessage

LOCALES = ("nl", "en", "de", "fr")
# How each language names the fields, and a bounce, in every channel's wording.
MOBILE = {"nl": "mobiel nummer", "en": "mobile number", "de": "Mobilnummer", "fr": "mobile"}
EMAIL = {"nl": "e-mailadres", "en": "email address", "de": "E-Mail-Adresse", "fr": "adresse e-mail"}
POSTAL = {"nl": "postadres", "en": "postal address", "de": "Postanschrift", "fr": "adresse postale"}
BOUNCED = {"nl": "onbestelbaar", "en": "bounced", "de": "unzustellbar", "fr": "parviennent pas"}
GENERIC = {
    "nl": "Wilt u uw contactgegevens controleren en waar nodig aanvullen?",
    "en": "Would you check your contact details and complete them where needed?",
    "de": "Bitte prüfen Sie Ihre Kontaktdaten und ergänzen Sie sie bei Bedarf.",
    "fr": "Pourriez-vous vérifier vos coordonnées et les compléter si nécessaire",
}
LONG_LINK = "https://contact.example-energy-company.org/c/" + "A" * 22


def texts(
    renderer: Renderer, make_message: MakeMessage, locale: str, gaps: list[str]
) -> dict[str, str]:
    """What the customer reads of each channel's message asking for ``gaps``."""

    def message(channel: str) -> Message:
        return make_message(channel, locale=locale, asks=asks_of(gaps, channel=channel))

    email = renderer.email(message("email"))
    return {
        "email text": email.text,
        "email html": html.unescape(email.html),
        "sms": renderer.sms(message("sms")),
        "letter": html.unescape(renderer.letter_page(message("letter"))),
    }


@pytest.mark.parametrize("locale", LOCALES)
def test_a_missing_mobile_is_named_and_the_address_is_not(
    outbox_config: OutreachConfig, make_message: MakeMessage, locale: str
) -> None:
    read = texts(Renderer(outbox_config), make_message, locale, ["missing_mobile"])
    for part in ("email text", "email html", "letter"):
        assert MOBILE[locale] in read[part], part
        assert POSTAL[locale] not in read[part], part
        assert GENERIC[locale] not in read[part], part


@pytest.mark.parametrize("locale", LOCALES)
def test_an_sms_names_the_missing_email_address_and_not_the_address(
    outbox_config: OutreachConfig, make_message: MakeMessage, locale: str
) -> None:
    sms = texts(Renderer(outbox_config), make_message, locale, ["missing_email"])["sms"]
    assert EMAIL[locale] in sms and POSTAL[locale] not in sms


@pytest.mark.parametrize("locale", LOCALES)
def test_a_bounced_email_address_is_named_as_bounced(
    outbox_config: OutreachConfig, make_message: MakeMessage, locale: str
) -> None:
    read = texts(Renderer(outbox_config), make_message, locale, ["bounced_email"])
    assert BOUNCED[locale] in read["sms"]
    assert BOUNCED[locale] in read["letter"]
    # The email went to a working address after all: it does not claim the address bounced.
    assert BOUNCED[locale] not in read["email text"]
    assert GENERIC[locale] in read["email text"]


@pytest.mark.parametrize("locale", LOCALES)
def test_no_contact_field_to_name_keeps_the_generic_wording(
    outbox_config: OutreachConfig, make_message: MakeMessage, locale: str
) -> None:
    read = texts(Renderer(outbox_config), make_message, locale, ["outdated_consent"])
    for part in ("email text", "email html", "letter"):
        assert GENERIC[locale] in read[part], part


def test_the_letter_and_email_read_as_written(
    outbox_config: OutreachConfig, make_message: MakeMessage
) -> None:
    renderer = Renderer(outbox_config)
    gaps = ["bounced_email", "missing_mobile", "unverified_postal"]
    letter = renderer.letter_page(make_message("letter", locale="en", asks=asks_of(gaps)))
    assert (
        "during an outage. Your email address bounced: our emails to it come back undelivered. "
        "Please give us one that works. We have no mobile number for you: please add one. "
        "Please confirm your postal address. It takes less than a minute."
    ) in letter
    email = renderer.email(make_message("email", locale="en", asks=asks_of(gaps, channel="email")))
    assert (
        "during an outage. We have no mobile number for you: please add one. "
        "Please confirm your postal address. It takes less than a minute."
    ) in email.text


@pytest.mark.parametrize("locale", LOCALES)
def test_every_ask_renders_on_every_channel_and_an_sms_stays_short(
    outbox_config: OutreachConfig, make_message: MakeMessage, locale: str
) -> None:
    """Every wording exists in every language (a missing one would fail the render), and the
    longest ask an SMS can carry stays in the GSM alphabet and within two parts."""
    renderer = Renderer(outbox_config)
    for gap in GAPS:
        texts(renderer, make_message, locale, [gap])
    every = renderer.sms(make_message("sms", locale=locale, asks=tuple(GAP_ASK.values())))
    assert encoding(every) == "GSM-7"
    longest = ["invalid_email", "unverified_postal", "stale_verification"]
    sms = renderer.sms(
        make_message("sms", locale=locale, link=LONG_LINK, asks=asks_of(longest, channel="sms"))
    )
    assert encoding(sms) == "GSM-7" and sms_segments(sms) <= 2
    one = renderer.sms(make_message("sms", locale=locale, asks=asks_of(["missing_email"])))
    assert sms_segments(one) == 2  # with its reference and the number to check it is genuine
