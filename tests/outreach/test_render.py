"""Rendering: the locale picks the language, HTML is escaped, a missing variable fails alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from outreach.channels import build_channels
from outreach.channels.base import in_doubt
from outreach.config import OutreachConfig
from outreach.errors import ConfigurationError, RenderError
from outreach.i18n import LocaleChoice, choose_locale, po_path
from outreach.render import Renderer
from tests.outreach.conftest import MakeMessage
from tests.paths import REPO

HOSTILE = "<script>alert(1)</script>"


@pytest.mark.parametrize(
    ("locale", "subject"),
    [
        ("nl", "Kloppen uw contactgegevens nog?"),
        ("en", "Are your contact details still correct?"),
        ("nl-BE", "Kloppen uw contactgegevens nog?"),
        ("en_GB", "Are your contact details still correct?"),
        ("de-AT", "Sind Ihre Kontaktdaten noch aktuell?"),
        ("pt-BR", "Os seus dados de contacto continuam corretos?"),
        ("sv", "Stämmer dina kontaktuppgifter fortfarande?"),
        ("es", "¿Siguen siendo correctos sus datos de contacto?"),
        ("it", "Kloppen uw contactgegevens nog?"),
        ("", "Kloppen uw contactgegevens nog?"),
    ],
)
def test_email_language_follows_locale(
    outbox_config: OutreachConfig, make_message: MakeMessage, locale: str, subject: str
) -> None:
    rendered = Renderer(outbox_config).email(make_message("email", locale=locale))
    assert rendered.subject == subject


def test_sms_and_letter_language_follows_locale(
    outbox_config: OutreachConfig, make_message: MakeMessage
) -> None:
    renderer = Renderer(outbox_config)
    assert "Geen sms meer?" in renderer.sms(make_message("sms", locale="nl"))
    assert "No more texts?" in renderer.sms(make_message("sms", locale="en"))
    assert "Kloppen uw contactgegevens nog?" in renderer.letter_page(make_message("letter"))
    english = renderer.letter_page(make_message("letter", locale="en"))
    assert "Are your contact details still correct?" in english
    assert "Reference" in english


def test_unknown_language_falls_back_to_the_default_locale(
    outbox_config: OutreachConfig, make_message: MakeMessage
) -> None:
    po_path(outbox_config.templates_dir, "fr").unlink()
    renderer = Renderer(outbox_config)
    assert renderer.email(make_message("email", locale="fr-CA")).subject == (
        "Kloppen uw contactgegevens nog?"
    )
    assert "Geen sms meer?" in renderer.sms(make_message("sms", locale="fr-CA"))
    # Never silently: the reason names the locale asked for and the one used.
    assert renderer.choice("fr-CA") == LocaleChoice("nl", "locale fr-CA not supported: nl used")
    assert renderer.choice("nl-BE") == LocaleChoice("nl")  # the same language, no fallback


def test_language_fallback_before_default(
    outbox_config: OutreachConfig, make_message: MakeMessage
) -> None:
    subject = Renderer(outbox_config).email(make_message("email", locale="fr-CA")).subject
    assert subject.startswith("Vos coordonnées")


def test_locale_choice_order() -> None:
    assert choose_locale("nl_be", ["nl", "nl-BE"], "nl") == LocaleChoice("nl-BE")
    assert choose_locale("fr-CA", ["nl", "fr"], "nl") == LocaleChoice("fr")
    assert choose_locale("fr-CA", ["nl"], "nl").reason == "locale fr-CA not supported: nl used"
    assert choose_locale("", ["nl"], "nl") == LocaleChoice("nl", "no locale: nl used")
    # Stored text that is not a locale tag is never quoted in the reason.
    assert choose_locale("Jan de Vries", ["nl"], "nl").reason == (
        "locale (unreadable) not supported: nl used"
    )


def test_hostile_name_is_escaped_in_html_only(
    outbox_config: OutreachConfig, make_message: MakeMessage
) -> None:
    renderer = Renderer(outbox_config)
    email = renderer.email(make_message("email", given_name=HOSTILE))
    assert HOSTILE not in email.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in email.html
    assert HOSTILE in email.text  # plain text is not HTML: shown as typed
    page = renderer.letter_page(make_message("letter", given_name=HOSTILE))
    assert HOSTILE not in page
    assert "&lt;script&gt;" in page


def test_missing_variable_names_template_and_variable_not_the_data(
    outbox_config: OutreachConfig, make_message: MakeMessage
) -> None:
    message = make_message("email", template="broken", given_name="Geheimnaam")
    with pytest.raises(RenderError) as caught:
        Renderer(outbox_config).email(message)
    assert caught.value.variable == "contract_number"
    assert caught.value.template.startswith("email/broken.")
    assert "contract_number" in str(caught.value)
    assert "Geheimnaam" not in str(caught.value)
    assert message.recipient not in str(caught.value)


@pytest.mark.parametrize("channel", ["email", "sms", "letter"])
def test_a_broken_message_fails_alone_and_the_rest_of_the_batch_goes_out(
    outbox_config: OutreachConfig, make_message: MakeMessage, channel: str
) -> None:
    messages = [
        make_message(channel),
        make_message(channel, template="broken"),
        make_message(channel, locale="en"),
    ]
    results = build_channels(outbox_config)[channel].send_batch(messages)
    assert [r.outreach_id for r in results] == [m.outreach_id for m in messages]
    assert [r.ok for r in results] == [True, False, True]
    assert results[1].error is not None and "contract_number" in results[1].error
    sent = build_channels(outbox_config)[channel].already_sent(
        in_doubt([m.outreach_id for m in messages])
    )
    assert sorted(sent) == [messages[0].outreach_id, messages[2].outreach_id]


def test_template_missing_everywhere_is_a_configuration_error(
    outbox_config: OutreachConfig, make_message: MakeMessage
) -> None:
    renderer = Renderer(outbox_config)
    with pytest.raises(ConfigurationError, match=r"email/nosuch\.txt"):
        renderer.email(make_message("email", template="nosuch"))
    with pytest.raises(ConfigurationError):
        renderer.require("letter", "nosuch")
    renderer.require("letter", "ask")


def test_syntax_error_is_a_configuration_error(
    outbox_config: OutreachConfig, make_message: MakeMessage
) -> None:
    (outbox_config.templates_dir / "sms/bad.txt").write_text("Hello {{ link ")
    with pytest.raises(ConfigurationError, match=r"sms/bad\.txt line 1"):
        Renderer(outbox_config).sms(make_message("sms", template="bad"))


def test_the_shipped_templates_render_in_every_locale(
    tmp_path: Path, make_message: MakeMessage
) -> None:
    """Every template file in the repository renders with StrictUndefined (no typo variables)."""
    templates = REPO / "templates"
    config = OutreachConfig(
        outbox_dir=tmp_path, templates_dir=templates, base_url="https://enrich.example.org"
    )
    renderer = Renderer(config)
    locales = renderer.languages
    assert set(locales) == {"nl", "en", "de", "fr", "sv", "es", "pt"}
    for locale in locales:
        assert renderer.templates_for("email", "ask", locale)[0] == locale
        renderer.email(make_message("email", locale=locale, given_name=None))
        renderer.sms(make_message("sms", locale=locale))
        renderer.letter_page(make_message("letter", locale=locale, family_name=None))
