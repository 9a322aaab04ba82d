"""Letters: one merged PDF and a manifest per batch, the address in the window, a readable QR."""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path

import pypdfium2 as pdfium
import pytest
import zxingcpp

from models.feedback.returned_letters import parse_return_code
from outreach.channels.base import PostalAddress, in_doubt
from outreach.channels.letter_outbox import LetterOutbox
from outreach.config import OutreachConfig
from outreach.letters import return_code
from tests.outreach.conftest import ADDRESSES, MakeMessage

MM = 72 / 25.4  # PDF points per millimetre


def batch_files(config: OutreachConfig) -> list[tuple[Path, Path]]:
    folder = config.outbox_dir / "letters"
    return [(pdf, pdf.with_suffix(".csv")) for pdf in sorted(folder.glob("batch-*.pdf"))]


def manifest(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def page_text(page: pdfium.PdfPage) -> str:
    return str(page.get_textpage().get_text_range())


def char_boxes_mm(page: pdfium.PdfPage, needle: str) -> list[tuple[float, float, float, float]]:
    """(left, top, right, bottom) in mm from the sheet's top-left corner, for each character."""
    textpage = page.get_textpage()
    found = textpage.search(needle, match_case=True).get_next()
    assert found is not None, f"{needle!r} not on the page"
    start, count = found
    height = page.get_height()
    boxes = []
    for index in range(start, start + count):
        left, bottom, right, top = textpage.get_charbox(index)
        boxes.append((left / MM, (height - top) / MM, right / MM, (height - bottom) / MM))
    return boxes


def test_one_pdf_page_per_letter_in_manifest_order(
    outbox_config: OutreachConfig, make_message: MakeMessage
) -> None:
    messages = [
        make_message("letter", address=ADDRESSES[country], locale=locale)
        for country, locale in (("NL", "nl"), ("FR", "fr"), ("DE", "de"), ("BE", "nl-BE"))
    ]
    results = LetterOutbox(outbox_config).send_batch(messages)
    assert all(r.ok for r in results)
    [(pdf_path, csv_path)] = batch_files(outbox_config)
    assert {r.batch_ref for r in results} == {pdf_path.name}
    rows = manifest(csv_path)
    pdf = pdfium.PdfDocument(pdf_path)
    assert len(pdf) == len(messages) == len(rows)
    for index, (row, message) in enumerate(zip(rows, messages, strict=True)):
        assert row["sequence"] == row["page"] == str(index + 1)
        assert row["outreach_id"] == str(message.outreach_id)
        assert message.address is not None
        assert row["name"] == message.address.name
        assert row["country"] == message.address.country
        assert row["return_code"] == return_code(message.outreach_id)
        text = page_text(pdf[index])
        assert row["return_code"] in text
        assert message.address.name in text
        assert message.link in text  # the link is printed as text, too
    assert "75001 PARIS" in page_text(pdf[1]) and "FRANCE" in page_text(pdf[1])
    assert "Sind Ihre Kontaktdaten noch aktuell?" in page_text(pdf[2])


def test_batches_follow_letter_batch_size(
    outbox_config: OutreachConfig, make_message: MakeMessage
) -> None:
    config = replace(outbox_config, letter_batch_size=2)
    messages = [make_message("letter") for _ in range(5)]
    results = LetterOutbox(config).send_batch(messages)
    assert [r.outreach_id for r in results] == [m.outreach_id for m in messages]
    batches = batch_files(config)
    assert [len(pdfium.PdfDocument(pdf)) for pdf, _ in batches] == [2, 2, 1]
    listed = [int(row["outreach_id"]) for _, csv_path in batches for row in manifest(csv_path)]
    assert sorted(listed) == [m.outreach_id for m in messages]


def test_qr_code_decodes_to_exactly_the_personal_link(
    outbox_config: OutreachConfig, make_message: MakeMessage
) -> None:
    messages = [make_message("letter"), make_message("letter", locale="en")]
    LetterOutbox(outbox_config).send_batch(messages)
    [(pdf_path, _)] = batch_files(outbox_config)
    pdf = pdfium.PdfDocument(pdf_path)
    for page, message in zip(pdf, messages, strict=True):
        image = page.render(scale=200 / 72).to_pil()  # 200 dpi, like an office scanner
        codes = zxingcpp.read_barcodes(image)
        assert [(c.format, c.text) for c in codes] == [
            (zxingcpp.BarcodeFormat.QRCode, message.link)
        ]


def test_address_sits_in_the_din_5008_window(
    outbox_config: OutreachConfig, make_message: MakeMessage
) -> None:
    address = PostalAddress("Jürgen Weiß", "Hauptstraße", "5", "10115", "Berlin", "DE")
    message = make_message("letter", address=address, locale="de")
    LetterOutbox(outbox_config).send_batch([message])
    [(pdf_path, _)] = batch_files(outbox_config)
    page = pdfium.PdfDocument(pdf_path)[0]
    assert round(page.get_width() / MM) == 210 and round(page.get_height() / MM) == 297
    for line in address.lines():
        for left, top, right, bottom in char_boxes_mm(page, line):
            assert left >= 20 and right <= 105, line
            assert top >= 45 and bottom <= 90, line
    # The return address is in the field too, above the recipient's name.
    sender_top = min(t for _, t, _, _ in char_boxes_mm(page, "Example Energy B.V. · Postbus"))
    name_top = min(t for _, t, _, _ in char_boxes_mm(page, address.name))
    assert 45 <= sender_top < name_top


def test_a_letter_without_address_fails_alone(
    outbox_config: OutreachConfig, make_message: MakeMessage
) -> None:
    messages = [make_message("letter", address=None), make_message("letter")]
    results = LetterOutbox(outbox_config).send_batch(messages)
    assert [r.ok for r in results] == [False, True]
    assert results[0].error == "letter without a postal address"
    [(pdf_path, _)] = batch_files(outbox_config)
    assert len(pdfium.PdfDocument(pdf_path)) == 1


def test_already_sent_counts_only_batches_with_a_manifest(
    outbox_config: OutreachConfig, make_message: MakeMessage
) -> None:
    outbox = LetterOutbox(outbox_config)
    messages = [make_message("letter"), make_message("letter")]
    results = outbox.send_batch(messages)
    folder = outbox_config.outbox_dir / "letters"
    # A crash between the PDF and its manifest leaves a PDF alone, or a temporary manifest.
    (folder / "batch-50-20260101T000000000000Z.pdf").write_bytes(b"%PDF-1.7 orphan")
    (folder / ".batch-50-20260101T000000000000Z.csv.x.tmp").write_text(
        "sequence,page,outreach_id\n1,1,50\n"
    )
    found = outbox.already_sent(in_doubt([m.outreach_id for m in messages] + [50, 51]))
    assert sorted(found) == [m.outreach_id for m in messages]
    for result in results:
        assert found[result.outreach_id] == result
    assert outbox.already_sent(in_doubt([51])) == {}


@pytest.mark.parametrize("outreach_id", [0, 1, 123, 999_999, 1_234_567])
def test_return_code_round_trip(outreach_id: int) -> None:
    code = return_code(outreach_id)
    assert code.startswith("L-")
    assert parse_return_code(code) == outreach_id
    assert parse_return_code(code.lower().replace("-", " ")) == outreach_id


def test_return_code_catches_typos() -> None:
    assert return_code(123) == "L-000123-0"
    with pytest.raises(ValueError, match="check digit"):
        parse_return_code("L-000124-0")  # one digit wrong
    with pytest.raises(ValueError, match="check digit"):
        parse_return_code("L-001023-0")  # two neighbours swapped
    with pytest.raises(ValueError, match="not a return code"):
        parse_return_code("123")


@pytest.mark.parametrize(
    ("country", "expected"),
    [
        ("NL", ["Jan de Vries", "Dorpsstraat 12a", "1234 AB  AMSTERDAM"]),
        ("BE", ["Anne Peeters", "Wetstraat 16", "1000 Brussel", "BELGIUM"]),
        ("DE", ["Jürgen Weiß", "Hauptstraße 5", "10115 Berlin", "GERMANY"]),
        ("FR", ["Marie Dupont", "12 rue de Rivoli", "75001 PARIS", "FRANCE"]),
    ],
)
def test_address_lines_follow_the_destination_country(country: str, expected: list[str]) -> None:
    assert ADDRESSES[country].lines() == expected


def test_no_country_line_for_domestic_mail_from_elsewhere() -> None:
    assert ADDRESSES["DE"].lines(origin_country="DE")[-1] == "10115 Berlin"
    assert ADDRESSES["NL"].lines(origin_country="DE")[-1] == "NETHERLANDS"
