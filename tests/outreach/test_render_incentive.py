"""A campaign's incentive is named in every message, in the message's language: email (text and
HTML), letter, SMS (GSM-7 only) and the contact-moment block; a campaign without one says
nothing of it."""

from __future__ import annotations

import html
from pathlib import Path

import pytest

from models.campaigns.spec import load_campaign
from models.incentives.terms import load_terms
from outreach.config import OutreachConfig
from outreach.incentive_line import IncentiveLines
from outreach.moment_block import render_moment_block
from outreach.render import Renderer
from outreach.segments import encoding, sms_segments
from tests.factories import NOW
from tests.outreach.conftest import MakeMessage
from tests.paths import REPO

LANGUAGES = ("nl", "en", "de", "fr", "sv", "es", "pt")
SPEC = load_campaign(REPO / "campaigns" / "prize-draw.yaml")
# The sentence around the headline, per language (the message's own words, not the file's).
THANKS = {
    "nl": "Als dank voor het aanvullen van uw gegevens:",
    "en": "As a thank-you for completing your details:",
    "de": "Als Dankeschön für das Vervollständigen Ihrer Daten:",
    "fr": "Pour vous remercier de compléter vos coordonnées :",
    "sv": "Som tack för att du fyller i dina uppgifter:",
    "es": "Como agradecimiento por completar sus datos:",
    "pt": "Como agradecimento por completar os seus dados:",
}


def headline(language: str) -> str:
    assert SPEC.incentive is not None
    return load_terms(
        REPO / "templates", key=SPEC.incentive.key, version="2026-12", locale=language
    ).headline


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_channel_names_the_incentive_in_the_message_language(
    outbox_config: OutreachConfig, make_message: MakeMessage, language: str
) -> None:
    renderer = Renderer(outbox_config)
    lines = IncentiveLines(outbox_config, SPEC)
    line = {c: lines.headline(language, c) for c in ("email", "sms", "letter")}
    assert set(line.values()) == {headline(language)}  # the message's language, every channel

    email = renderer.email(make_message("email", locale=language, incentive=line["email"]))
    letter = renderer.letter_page(make_message("letter", locale=language, incentive=line["letter"]))
    sms = renderer.sms(make_message("sms", locale=language, incentive=line["sms"]))
    for name, body in (
        ("email text", email.text),
        ("email html", html.unescape(email.html)),
        ("letter", html.unescape(letter)),
    ):
        assert f"{THANKS[language]} {headline(language)}" in body, name
    assert headline(language) in sms
    assert encoding(sms) == "GSM-7", sms
    # What the incentive adds to the SMS: reported per language (see the report of the change).
    plain = renderer.sms(make_message("sms", locale=language))
    assert sms_segments(sms) <= sms_segments(plain) + 1, (sms_segments(plain), sms_segments(sms))


@pytest.mark.parametrize("language", ["nl", "fr"])
def test_without_an_incentive_no_message_mentions_one(
    outbox_config: OutreachConfig, make_message: MakeMessage, language: str
) -> None:
    renderer = Renderer(outbox_config)
    default = load_campaign(REPO / "campaigns" / "default.yaml")
    assert IncentiveLines(outbox_config, default).headline(language, "email") is None
    email = renderer.email(make_message("email", locale=language))
    assert THANKS[language] not in html.unescape(email.html) + email.text
    assert headline(language) not in renderer.sms(make_message("sms", locale=language))


def test_the_moment_block_names_the_incentive(outbox_config: OutreachConfig) -> None:
    renderer = Renderer(outbox_config)
    for channel in ("email", "sms", "letter"):
        block = render_moment_block(
            renderer,
            locale="de",
            channel=channel,
            context="invoice",
            link="https://enrich.example.org/c/abc",
            expires_at=NOW,
            incentive=IncentiveLines(outbox_config, SPEC).headline("de", channel),
        )
        assert headline("de") in block.text, channel
        assert headline("de") in html.unescape(block.html), channel


def test_a_regional_or_unknown_locale_gets_its_language_or_the_default(
    outbox_config: OutreachConfig,
) -> None:
    lines = IncentiveLines(outbox_config, SPEC)
    assert lines.headline("fr-BE", "email") == headline("fr")
    assert lines.headline("ja", "email") == headline("nl")  # the default locale's
    assert lines.headline(None, "sms") == headline("nl")


def test_an_sms_leaves_out_a_headline_outside_gsm7(
    outbox_config: OutreachConfig, templates_dir: Path, make_message: MakeMessage
) -> None:
    path = templates_dir / "incentives" / "gift-vouchers" / "2026-12.pt.md"
    text = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("# Ganhe um vale de oferta: são dez\n" + "".join(text[1:]), encoding="utf-8")
    lines = IncentiveLines(outbox_config, SPEC)
    assert lines.headline("pt", "email") == "Ganhe um vale de oferta: são dez"
    assert lines.headline("pt", "sms") is None
    sms = Renderer(outbox_config).sms(make_message("sms", locale="pt", incentive=None))
    assert encoding(sms) == "GSM-7"


def test_unreadable_terms_leave_the_message_without_a_mention(
    outbox_config: OutreachConfig, templates_dir: Path
) -> None:
    for path in (templates_dir / "incentives" / "gift-vouchers").iterdir():
        path.unlink()
    assert IncentiveLines(outbox_config, SPEC).headline("nl", "email") is None
