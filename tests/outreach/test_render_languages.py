"""Every message in every supported language, from one template each and the catalogues: the
customer reads their own language and no English source text; plurals follow the language; a
locale without a catalogue gets the default language and the row says why."""

from __future__ import annotations

import html
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from enrich.web import i18n as page_text
from enrich.web.i18n import PageText
from models.campaigns.asks import asks_of
from models.tables import ENROLLMENT, OUTREACH, PROFILE
from outreach.config import OutreachConfig
from outreach.i18n import translations, used_messages
from outreach.render import Renderer
from outreach.segments import encoding
from outreach.sending.write_ahead import write_ahead
from tests.models.answers.personal_link_data import EMAIL_OK, MOBILE_OK, NOW, SPEC, make_case
from tests.outreach.conftest import MakeMessage
from tests.paths import REPO

LANGUAGES = ("nl", "en", "de", "fr", "sv", "es", "pt")
# A phrase each language's ask says, whatever the channel.
ASKED = {
    "nl": "contactgegevens",
    "en": "contact details",
    "de": "Kontaktdaten",
    "fr": "coordonnées",
    "sv": "kontaktuppgifter",
    "es": "datos",
    "pt": "dados",
}
# How each language greets and signs off in the email.
GREETING = {
    "nl": "Beste Jan,",
    "en": "Dear Jan,",
    "de": "Guten Tag Jan de Vries,",
    "fr": "Bonjour Jan,",
    "sv": "Hej Jan,",
    "es": "Estimado/a Jan:",
    "pt": "Caro(a) Jan,",
}
CONFIRM = {
    "nl": "Bevestig uw e-mailadres",
    "en": "Confirm your email address",
    "de": "Bestätigen Sie Ihre E-Mail-Adresse",
    "fr": "Confirmez votre adresse e-mail",
    "sv": "Bekräfta din e-postadress",
    "es": "Confirme su dirección de correo electrónico",
    "pt": "Confirme o seu endereço de e-mail",
}
STOP = {
    "nl": "Antwoord STOP",
    "en": "Reply STOP",
    "de": "Antwort STOP",
    "fr": "Répondez STOP",
    "sv": "Svara STOP",
    "es": "Responda STOP",
    "pt": "Responda STOP",
}


def _english_sources() -> set[str]:
    """The English source strings long enough to be told apart from a translation."""
    used = used_messages(REPO / "templates", [page_text.__file__])  # type: ignore[list-item]
    return {msgid.split("%(")[0].strip() for _ctx, msgid in used if len(msgid) > 15}


ENGLISH = _english_sources()


def leftovers(text: str, language: str) -> list[str]:
    """English source strings left in ``text``, where the language's own translation differs."""
    if language == "en":
        return []
    tr = translations(REPO / "templates", language)
    return [s for s in ENGLISH if s in text and tr.gettext(s) != s]


def everything(renderer: Renderer, make_message: MakeMessage, language: str) -> dict[str, str]:
    """What a customer reads of every message, in ``language``."""
    gaps = ["missing_mobile", "bounced_email"]
    email = renderer.email(make_message("email", locale=language))
    asked = renderer.email(
        make_message("email", locale=language, asks=asks_of(gaps, channel="email"))
    )
    confirm = renderer.email(make_message("email", template="confirm", locale=language))
    moment = renderer.moment(
        "ask", language, {"channel": "email", "link": "https://x.example/c/t"},
        valid_until=date(2027, 1, 31),
    )  # fmt: skip
    moment_sms = renderer.moment(
        "ask",
        language,
        {"channel": "sms", "link": "https://x.example/c/t", "asks": asks_of(gaps, channel="sms")},
        valid_until=date(2027, 1, 31),
    )
    return {
        "email subject": email.subject,
        "email text": email.text,
        "email html": html.unescape(email.html),
        "email asking": asked.text,
        "confirm": confirm.subject + "\n" + confirm.text + html.unescape(confirm.html),
        "sms": renderer.sms(make_message("sms", locale=language)),
        "sms asking": renderer.sms(
            make_message("sms", locale=language, asks=asks_of(gaps, channel="sms"))
        ),
        "code": renderer.sms(make_message("sms", template="otp", locale=language, code="123456")),
        "letter": html.unescape(
            renderer.letter_page(make_message("letter", locale=language, asks=()))
        ),
        "moment": moment.text + html.unescape(moment.html),
        "moment sms": moment_sms.text,
    }


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_message_is_written_in_the_customers_language(
    outbox_config: OutreachConfig, make_message: MakeMessage, language: str
) -> None:
    renderer = Renderer(outbox_config)
    assert renderer.choice(language).reason is None
    read = everything(renderer, make_message, language)
    for part in ("email subject", "email text", "email html", "letter", "moment", "sms"):
        assert ASKED[language] in read[part], (part, read[part])
    assert GREETING[language] in read["email text"] and GREETING[language] in read["email html"]
    assert CONFIRM[language] in read["confirm"]
    assert STOP[language] in read["sms"] and STOP[language] in read["sms asking"]
    assert "123456" in read["code"]
    for part, text in read.items():
        assert leftovers(text, language) == [], (part, text)


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_sms_stays_in_the_gsm_alphabet(
    outbox_config: OutreachConfig, make_message: MakeMessage, language: str
) -> None:
    read = everything(Renderer(outbox_config), make_message, language)
    for part in ("sms", "sms asking", "code", "moment sms"):
        assert encoding(read[part]) == "GSM-7", (part, read[part])


@pytest.mark.parametrize(
    ("language", "one", "three"),
    [
        ("en", "You can try 1 more time.", "You can try 3 more times."),
        ("fr", "Il vous reste 1 essai.", "Il vous reste 3 essais."),
        ("sv", "Du kan försöka 1 gång till.", "Du kan försöka 3 gånger till."),
        ("es", "Le queda 1 intento.", "Le quedan 3 intentos."),
        ("pt", "Resta-lhe 1 tentativa.", "Restam-lhe 3 tentativas."),
        ("nl", "U kunt het nog 1 keer proberen.", "U kunt het nog 3 keer proberen."),
    ],
)
def test_counts_take_the_languages_plural_form(language: str, one: str, three: str) -> None:
    text = PageText(language, translations(REPO / "templates", language))
    assert text.attempts_left(1).endswith(one)
    assert text.attempts_left(3).endswith(three)


def test_a_code_is_valid_for_minutes_in_the_plural(
    outbox_config: OutreachConfig, make_message: MakeMessage
) -> None:
    renderer = Renderer(outbox_config)
    said = {
        lang: renderer.sms(make_message("sms", template="otp", locale=lang, code="1"))
        for lang in ("nl", "de", "sv", "pt")
    }
    assert "10 minuten geldig" in said["nl"] and "10 Minuten gültig" in said["de"]
    assert "10 minuter" in said["sv"] and "10 minutos" in said["pt"]


def test_a_locale_without_catalogue_is_written_in_the_default_and_the_row_says_why(
    engine: Engine, outbox_config: OutreachConfig
) -> None:
    """An Italian customer (imported before Italian was dropped, say) gets the Dutch message;
    the outreach row records the language used and why, for the audit trail."""
    spec = SPEC
    case = make_case(engine, [EMAIL_OK, MOBILE_OK], gaps=["missing_email"], spec=spec)
    renderer = Renderer(outbox_config)
    with engine.begin() as conn:
        conn.execute(update(PROFILE).values(locale="it"))
        conn.execute(update(ENROLLMENT).values(next_due_at=NOW))
        write_ahead(
            conn,
            enrollment_ids=[case.enrollment_id],
            spec=spec,
            now=NOW + timedelta(days=6),
            respect=None,
            languages=renderer.languages,
            default_locale="nl",
        )
        row: Any = conn.execute(
            select(OUTREACH.c.locale, OUTREACH.c.reason).where(OUTREACH.c.id != case.outreach_id)
        ).one()
    assert row.locale == "nl"
    assert row.reason.endswith("; locale it not supported: nl used")
