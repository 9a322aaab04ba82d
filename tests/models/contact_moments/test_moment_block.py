"""The block another system embeds: rendering failures, refused channels and contexts, the
customer's language, safe HTML, and a QR code that decodes to the link."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pypdfium2 as pdfium
import pytest
import zxingcpp
from sqlalchemy.engine import Engine
from weasyprint import HTML

from outreach.config import OutreachConfig
from outreach.errors import ConfigurationError
from tests.models.answers.personal_link_data import EMAIL_OK, NOW
from tests.models.contact_moments.moment_data import (
    GAPPY,
    POSTAL_UNVERIFIED,
    ask,
    counts,
    profile,
    the_ask,
)


def test_a_render_failure_records_nothing(
    engine: Engine, config: OutreachConfig, tmp_path: Path
) -> None:
    profile(engine, GAPPY)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigurationError, match=r"moment/ask\.txt"):
        ask(engine, replace(config, templates_dir=tmp_path / "empty"))
    assert counts(engine) == dict.fromkeys(counts(engine), 0)


@pytest.mark.parametrize(("channel", "context"), [("fax", "invoice"), ("email", "birthday")])
def test_unknown_channel_or_context_is_refused(
    engine: Engine, config: OutreachConfig, channel: str, context: str
) -> None:
    profile(engine, GAPPY)
    with pytest.raises(ValueError, match="unknown"):
        ask(engine, config, channel=channel, context=context)
    assert counts(engine)["outreach"] == 0


@pytest.mark.parametrize(
    ("locale", "title"),
    [
        ("nl", "Kloppen uw contactgegevens nog?"),
        ("en-GB", "Are your contact details still correct?"),
        ("de", "Sind Ihre Kontaktdaten noch aktuell?"),
        ("fr", "Vos coordonnées sont-elles toujours à jour ?"),
        ("sv", "Stämmer dina kontaktuppgifter fortfarande?"),
        ("es", "¿Siguen siendo correctos sus datos de contacto?"),
        ("pt-BR", "Os seus dados de contacto continuam corretos?"),
        ("it", "Kloppen uw contactgegevens nog?"),  # falls back to the default locale
    ],
)
def test_block_in_the_customers_language(
    engine: Engine, config: OutreachConfig, locale: str, title: str
) -> None:
    profile(engine, GAPPY, locale=locale)
    block = the_ask(ask(engine, config))
    assert block.text.startswith(title) and title in block.html
    sms = the_ask(ask(engine, config, channel="sms", now=NOW + timedelta(days=1)))
    assert "\n" not in sms.text.strip() and f"{sms.link} " in sms.text
    assert sms.text.strip().endswith(f"{config.trust_phone}.")  # after its reference


def test_block_names_the_customers_own_gaps(engine: Engine, config: OutreachConfig) -> None:
    profile(engine, [EMAIL_OK, POSTAL_UNVERIFIED], locale="en")  # no mobile either
    block = the_ask(ask(engine, config))
    said = "We have no mobile number for you: please add one. Please confirm your postal address."
    assert said in block.text and said in block.html
    profile(engine, GAPPY, "p2", locale="en")
    sms = the_ask(ask(engine, config, "p2", channel="sms"))
    assert sms.text.strip().startswith("Please confirm your postal address. It takes a minute:")
    assert "mobile" not in sms.text


def test_html_is_escaped_and_safe_to_embed(engine: Engine, config: OutreachConfig) -> None:
    profile(engine, GAPPY)
    hostile = replace(config, base_url='https://enrich.example.org/x"><script>alert(1)</script>')
    html = the_ask(ask(engine, hostile)).html
    assert "<script" not in html and "&lt;script&gt;" in html and "&#34;&gt;" in html
    assert html.lstrip().startswith("<div") and "<html" not in html and "<style" not in html
    assert 'style="' in html and "class=" not in html  # inline styles only


def test_qr_svg_is_xml_and_the_printed_letter_block_decodes_to_the_link(
    engine: Engine, config: OutreachConfig
) -> None:
    profile(engine, GAPPY)
    block = the_ask(ask(engine, config, channel="letter"))
    svg = ET.fromstring(block.qr_svg)
    assert svg.tag == "{http://www.w3.org/2000/svg}svg"
    assert block.qr_svg in block.html  # a letter shows the code; an email only the link
    page = f'<html><body style="margin:20mm">{block.html}</body></html>'
    pdf = pdfium.PdfDocument(HTML(string=page).write_pdf())
    image = pdf[0].render(scale=200 / 72).to_pil()
    codes = zxingcpp.read_barcodes(image)
    assert [(c.format, c.text) for c in codes] == [(zxingcpp.BarcodeFormat.QRCode, block.link)]
    email = the_ask(ask(engine, config, channel="email", now=NOW + timedelta(days=1)))
    assert "<svg" not in email.html
